import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** `20261125-153012`: sorts by time, safe in a path. */
export function timestamp(date: Date): string {
	const p = (n: number) => String(n).padStart(2, "0");
	return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

/**
 * A run's directory: the resolved plan, an append-only journal (one JSON record per line,
 * written synchronously so a killed run loses nothing it reported), logs, and results.json.
 */
export class RunDirectory {
	readonly journal: string;
	constructor(readonly dir: string) {
		mkdirSync(dir, { recursive: true });
		this.journal = path.join(dir, "journal.jsonl");
	}

	append(record: object): void {
		appendFileSync(this.journal, `${JSON.stringify(record)}\n`);
	}

	write(name: string, value: unknown): string {
		const file = path.join(this.dir, name);
		writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
		return file;
	}

	cellDir(cellId: string): string {
		return path.join(this.dir, "cells", cellId.replaceAll("/", "__"));
	}
}
