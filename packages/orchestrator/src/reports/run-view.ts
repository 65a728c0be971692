// A run directory as the reports see it, read from its plan and journal (never from
// results.json, which a killed run may lack or hold stale): every report format is a pure
// function of this view, so JUnit, KCIDB, Markdown and HTML always agree with each other and
// with `classify`.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { readPlanFile, requireRun } from "../engine/run-dir.js";
import { readRunRecord } from "../engine/run-record.js";
import { type CellSummary, runVerdictCounts, summariseCells } from "../engine/summary.js";
import { isFailing, testKey } from "../events/attempts.js";
import type { TestResult } from "../events/types.js";
import { decideExit, type ExitDecision, type FailOn } from "../verdicts/exit-policy.js";
import type { PlanFile } from "../verdicts/reclassify.js";

export interface ReportKernel {
	readonly id: string;
	readonly tree?: string;
	readonly ref?: string;
	readonly sha?: string;
	/** The kernel build's config key, when the run built it. */
	readonly config?: string;
}

export interface RunView {
	readonly runId: string;
	readonly matrix: string;
	readonly dir: string;
	readonly outcome: "completed" | "cancelled" | "unfinished";
	readonly started?: string;
	readonly finished?: string;
	readonly kernels: readonly ReportKernel[];
	readonly targets: readonly string[];
	readonly cells: readonly CellSummary[];
	/** The last lines of the log of every result that did not pass, by cell id and test key. */
	readonly logTails: ReadonlyMap<string, string>;
	readonly decision: ExitDecision;
	/** Each cell's test suites' commits (`selftests`, `kut`), where plan.json has them. */
	readonly suiteShas?: ReadonlyMap<string, Readonly<Partial<Record<"selftests" | "kut", string>>>>;
}

/** How much of a failing test's log a report carries: enough to see the failure, not a novel. */
export const LOG_TAIL = { lines: 60, bytes: 16_384 } as const;

/** The key of a result in `RunView.logTails`. */
export const tailKey = (cellId: string, r: Pick<TestResult, "suite" | "testId">) => `${cellId}\u0000${testKey(r)}`;

/**
 * A log path as the run recorded it may point into the directory the run had on another
 * machine (a CI shard's workspace): the part from `cells/` on is the same in this one.
 */
export function localLogPath(dir: string, logPath: string): string | undefined {
	if (existsSync(logPath)) return logPath;
	const at = logPath.lastIndexOf(`${path.sep}cells${path.sep}`);
	if (at < 0) return undefined;
	const here = path.join(dir, logPath.slice(at + 1));
	return existsSync(here) ? here : undefined;
}

/** The end of a text, at most `lines` lines and `bytes` bytes, cut at a line where it can be. */
export function tailOf(text: string, lines: number = LOG_TAIL.lines, bytes: number = LOG_TAIL.bytes): string {
	let cut = text.endsWith("\n") ? text.slice(0, -1) : text;
	if (cut.length > bytes) {
		cut = cut.slice(cut.length - bytes);
		const nl = cut.indexOf("\n");
		if (nl >= 0 && nl < cut.length - 1) cut = cut.slice(nl + 1);
	}
	const all = cut.split("\n");
	return all.slice(Math.max(0, all.length - lines)).join("\n");
}

function readTail(file: string): string | undefined {
	try {
		const size = statSync(file).size;
		const text = readFileSync(file);
		// A log of megabytes is read only for its end.
		const slice = size > LOG_TAIL.bytes * 4 ? text.subarray(size - LOG_TAIL.bytes * 4) : text;
		return tailOf(slice.toString("utf8"));
	} catch {
		return undefined;
	}
}

/** plan.json with what reports read beyond what verdicts need. */
type ReportPlan = Omit<PlanFile, "cells" | "jobs"> & {
	readonly name?: string;
	readonly cells: readonly (PlanFile["cells"][number] & { readonly jobs: { readonly kernel?: string } })[];
	readonly jobs: readonly (PlanFile["jobs"][number] & { readonly configKey?: string })[];
};

/**
 * Reads a run directory into the view every report is made from. The history index reads
 * hundreds of runs and wants no logs: `logTails: false` leaves them unread.
 */
export function readRunView(dir: string, failOn?: FailOn, options: { readonly logTails?: boolean } = {}): RunView {
	// Read only: a report never writes into the run it reports on.
	requireRun(dir);
	const plan = readPlanFile(dir) as ReportPlan;
	const record = readRunRecord(path.join(dir, "journal.jsonl"));
	const jobs = new Map(plan.jobs.map((j) => [j.id, j]));
	const kernels = new Map<string, ReportKernel>();
	for (const c of plan.cells) {
		if (kernels.has(c.kernel)) continue;
		const job = c.jobs.kernel === undefined ? undefined : jobs.get(c.jobs.kernel);
		kernels.set(c.kernel, {
			id: c.kernel,
			...(job === undefined
				? {}
				: {
						tree: job.tree,
						ref: job.ref,
						...(job.sha === undefined ? {} : { sha: job.sha }),
						...(job.configKey === undefined ? {} : { config: job.configKey }),
					}),
		});
	}
	const cells = summariseCells(
		plan.cells.map((c) => {
			const sha = kernels.get(c.kernel)?.sha;
			return { id: c.id, kernel: c.kernel, target: c.target, ...(sha === undefined ? {} : { sha }) };
		}),
		record,
	);
	const logTails = new Map<string, string>();
	for (const cell of options.logTails === false ? [] : cells)
		for (const r of cell.results) {
			if (!isFailing(r) || r.logPath === undefined) continue;
			const file = localLogPath(dir, r.logPath);
			const tail = file === undefined ? undefined : readTail(file);
			if (tail !== undefined) logTails.set(tailKey(cell.id, r), tail);
		}
	const suiteShas = new Map<string, Partial<Record<"selftests" | "kut", string>>>();
	for (const c of plan.cells) {
		const shas: Partial<Record<"selftests" | "kut", string>> = {};
		for (const suite of ["selftests", "kut"] as const) {
			const id = (c.jobs as Partial<Record<"selftests" | "kut", string>>)[suite];
			const sha = id === undefined ? undefined : jobs.get(id)?.sha;
			if (sha !== undefined) shas[suite] = sha;
		}
		suiteShas.set(c.id, shas);
	}
	const finished = finishedAt(dir);
	return {
		runId: plan.runId,
		matrix: plan.name ?? path.basename(plan.matrix).replace(/\.ya?ml$/, ""),
		dir,
		outcome: record.outcome ?? "unfinished",
		...(record.started === undefined ? {} : { started: record.started }),
		...(record.outcome === undefined || finished === undefined ? {} : { finished }),
		kernels: [...kernels.values()],
		targets: [...new Set(plan.cells.map((c) => c.target))],
		cells,
		logTails,
		decision: decideExit(runVerdictCounts(cells), failOn),
		suiteShas,
	};
}

/** When the run last wrote its journal: its end, for a run that ended. */
function finishedAt(dir: string): string | undefined {
	try {
		return statSync(path.join(dir, "journal.jsonl")).mtime.toISOString();
	} catch {
		return undefined;
	}
}
