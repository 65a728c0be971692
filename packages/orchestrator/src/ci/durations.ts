// What earlier runs of a matrix took, from their journals: each cell's time from its boot to its
// end, and each kernel's build time when it was really built (a cache hit is no measure of what
// a fresh CI machine pays). The newest run that timed a cell or a build wins.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseJournal } from "../engine/journal.js";
import type { Durations } from "./shards.js";

interface PlanHead {
	readonly name?: string;
	readonly cells?: readonly {
		readonly id: string;
		readonly kernel: string;
		readonly jobs?: { readonly kernel?: string };
	}[];
}

/** Run directories under each path: a run directory itself, or a directory of them (`runs/`), one level deep. */
export function runDirsUnder(paths: readonly string[]): string[] {
	const dirs: string[] = [];
	for (const p of paths) {
		if (!existsSync(p)) continue;
		if (existsSync(path.join(p, "plan.json"))) {
			dirs.push(p);
			continue;
		}
		for (const entry of readdirSync(p, { withFileTypes: true }))
			if (entry.isDirectory() && existsSync(path.join(p, entry.name, "plan.json"))) dirs.push(path.join(p, entry.name));
	}
	return dirs;
}

export interface RecordedDurations extends Durations {
	/** The runs that gave a figure, newest first. */
	readonly runs: readonly string[];
}

/**
 * Cell and build times of the runs of `matrixName` in `dirs`. A cell's time runs from its first
 * boot (or running, for a host target) to its end; builds are keyed by kernel id, since a build's
 * job id names a commit that moves every night.
 */
export function recordedDurations(dirs: readonly string[], matrixName: string): RecordedDurations {
	const runs = dirs
		.map((dir) => ({ dir, head: readHead(dir) }))
		.filter((r): r is { dir: string; head: PlanHead } => r.head !== undefined && r.head.name === matrixName)
		.map((r) => ({ ...r, mtime: mtimeOf(path.join(r.dir, "journal.jsonl")) }))
		.sort((a, b) => b.mtime - a.mtime || (a.dir < b.dir ? -1 : 1));
	const cellMs = new Map<string, number>();
	const buildMs = new Map<string, number>();
	const used: string[] = [];
	for (const run of runs) {
		let text: string;
		try {
			text = readFileSync(path.join(run.dir, "journal.jsonl"), "utf8");
		} catch {
			continue;
		}
		const { records } = parseJournal(text);
		const started = new Map<string, number>();
		const ended = new Map<string, number>();
		const hit = new Map<string, boolean>();
		const jobMs = new Map<string, number>();
		for (const r of records) {
			if (r.type === "cell-state" && r.at !== undefined && r.retry !== true) {
				const s = r.state.stage;
				if ((s === "boot" || s === "running") && !started.has(r.cell)) started.set(r.cell, r.at);
				if (s === "done" || s === "failed") ended.set(r.cell, r.at);
			} else if (r.type === "cell-build") hit.set(r.cell, r.cacheHit);
			else if (r.type === "job-finished" && r.ok && r.ms !== undefined) jobMs.set(r.job, r.ms);
		}
		let gave = false;
		for (const [cell, end] of ended) {
			const start = started.get(cell);
			if (start === undefined || cellMs.has(cell) || end < start) continue;
			cellMs.set(cell, end - start);
			gave = true;
		}
		for (const c of run.head.cells ?? []) {
			const job = c.jobs?.kernel;
			const ms = job === undefined ? undefined : jobMs.get(job);
			if (ms === undefined || hit.get(c.id) !== false || buildMs.has(c.kernel)) continue;
			buildMs.set(c.kernel, ms);
			gave = true;
		}
		if (gave) used.push(run.dir);
	}
	return { cellMs, buildMs, runs: used };
}

function readHead(dir: string): PlanHead | undefined {
	try {
		return JSON.parse(readFileSync(path.join(dir, "plan.json"), "utf8")) as PlanHead;
	} catch {
		return undefined;
	}
}

function mtimeOf(file: string): number {
	try {
		return statSync(file).mtimeMs;
	} catch {
		return 0;
	}
}
