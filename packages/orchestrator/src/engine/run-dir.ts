import { appendFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** `20261125-153012`: sorts by time, safe in a path. */
export function timestamp(date: Date): string {
	const p = (n: number) => String(n).padStart(2, "0");
	return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

/**
 * Claims a new directory for a run under `parent`: `base`, or `base-2`, `base-3`… when a run
 * started in the same second holds it. mkdir without `recursive` fails on an existing directory,
 * so two runs never share one, even when they race.
 */
export function claimRunDirectory(parent: string, base: string): string {
	mkdirSync(parent, { recursive: true });
	for (let n = 1; ; n++) {
		const dir = path.join(parent, n === 1 ? base : `${base}-${n}`);
		try {
			mkdirSync(dir);
			return dir;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
		}
	}
}

/** Why `dir` cannot take a new run (it holds one: its journal would mix two), or undefined. */
export function runDirectoryInUse(dir: string): string | undefined {
	return existsSync(path.join(dir, "journal.jsonl"))
		? `${dir} already holds a run; give --run-dir a new directory`
		: undefined;
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
