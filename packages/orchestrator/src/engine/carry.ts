// `--changed-since RUN_DIR`: a nightly runs only the cells whose inputs changed. A cell whose
// fingerprint (kernel commit and config, suite commits and selection, target) equals the
// earlier run's, and which finished there, has its results carried into this run's journal,
// marked with the run they came from; its verdicts are derived again with this run's evidence.
import { cpSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { idName } from "../paths/id-name.js";
import { type ChangedSince, type JournalRecord, parseJournal } from "./journal.js";
import type { RunDirectory } from "./run-dir.js";
import { readPlanFile, requireRun } from "./run-dir.js";
import { readRunRecord } from "./run-record.js";
import { RunSetupError } from "./setup-error.js";

export interface FingerprintedCell {
	readonly id: string;
	readonly fingerprint?: string;
}

/** Which cells carry over and which tips moved, from the two plans and the earlier journal. Pure. */
export function carryPlan(
	earlier: {
		readonly runId: string;
		readonly dir: string;
		readonly resolved: Readonly<Record<string, string>>;
		readonly cells: readonly FingerprintedCell[];
		/** Cells that finished there (a failed or cut-short cell runs again). */
		readonly done: ReadonlySet<string>;
	},
	now: { readonly resolved: Readonly<Record<string, string>>; readonly cells: readonly FingerprintedCell[] },
): ChangedSince {
	const before = new Map(earlier.cells.map((c) => [c.id, c.fingerprint]));
	const carried = now.cells
		.filter((c) => c.fingerprint !== undefined && before.get(c.id) === c.fingerprint && earlier.done.has(c.id))
		.map((c) => c.id);
	const moved = Object.entries(now.resolved)
		.filter(([ref, sha]) => earlier.resolved[ref] !== sha)
		.map(([ref, to]) => {
			const from = earlier.resolved[ref];
			return { ref, ...(from === undefined ? {} : { from }), to };
		});
	return { runId: earlier.runId, dir: earlier.dir, moved, carried };
}

/** Reads the earlier run and decides what carries; a directory that is no run of this matrix is refused. */
export function planChangedSince(
	dir: string,
	matrixName: string,
	now: { readonly resolved: Readonly<Record<string, string>>; readonly cells: readonly FingerprintedCell[] },
): ChangedSince {
	requireRun(dir);
	const plan = readPlanFile(dir) as ReturnType<typeof readPlanFile> & {
		readonly name?: string;
		readonly cells: readonly FingerprintedCell[];
	};
	if (plan.name !== undefined && plan.name !== matrixName)
		throw new RunSetupError(`--changed-since ${dir}: a run of matrix ${plan.name}, not ${matrixName}`);
	const record = readRunRecord(path.join(dir, "journal.jsonl"));
	const done = new Set([...record.byCell].filter(([, c]) => c.end?.state === "done").map(([id]) => id));
	return carryPlan({ runId: record.runId ?? plan.runId, dir, resolved: plan.resolved, cells: plan.cells, done }, now);
}

/** A log path of the earlier run, as it is once copied into this run's directory. */
const rebased = (to: string, logPath: string) => {
	const at = logPath.lastIndexOf(`${path.sep}cells${path.sep}`);
	return at < 0 ? logPath : path.join(to, logPath.slice(at + 1));
};

/**
 * Copies the carried cells' logs and journal records into `runDir`, each cell's preceded by a
 * `cell-carried` record. The earlier run's verdicts stay there: this run derives its own.
 */
export function carryOver(from: string, runDir: RunDirectory, cells: readonly string[]): void {
	const wanted = new Set(cells);
	const { records } = parseJournal(readFileSync(path.join(from, "journal.jsonl"), "utf8"));
	const earlier = readRunRecord(path.join(from, "journal.jsonl"));
	const runId = earlier.runId ?? path.basename(from);
	for (const cell of cells) {
		const logs = path.join(from, "cells", idName(cell));
		if (existsSync(logs)) cpSync(logs, runDir.cellDir(cell), { recursive: true });
		// A cell the earlier run carried too came from the run that ran it.
		const origin = earlier.byCell.get(cell)?.carried;
		runDir.append({ type: "cell-carried", cell, from: origin?.run ?? runId, dir: origin?.dir ?? from });
	}
	const carry = (r: JournalRecord): JournalRecord | undefined => {
		if (!("cell" in r) || !wanted.has(r.cell) || r.type === "verdicts" || r.type === "cell-carried") return undefined;
		if (r.type === "test-result" && r.result.logPath !== undefined)
			return { ...r, result: { ...r.result, logPath: rebased(runDir.dir, r.result.logPath) } };
		return r;
	};
	for (const r of records) {
		const copied = carry(r);
		if (copied !== undefined) runDir.append(copied);
	}
}
