// The run's summary and results.json, derived from the plan and the journal only: a finished run,
// a killed one and a resumed one are summarised by the same function from the same record.
import { type FinalResult, isFailing, testKey } from "../events/attempts.js";
import type { CellStage, TestResult } from "../events/types.js";
import { CELL_VERDICT_KEY, type CellVerdict, describeVerdict, type Verdict } from "../verdicts/classify.js";
import {
	DEFAULT_FAIL_ON,
	decideExit,
	type ExitDecision,
	type FailOn,
	type VerdictCounts,
	type VerdictName,
} from "../verdicts/exit-policy.js";
import type { ChangedSince } from "./journal.js";
import { finalResults, type RunRecord } from "./run-record.js";

export interface CellSummary {
	readonly id: string;
	readonly kernel: {
		readonly id: string;
		readonly sha?: string;
		readonly build?: { readonly key: string; readonly cacheHit: boolean };
	};
	readonly target: string;
	readonly state: "done" | "failed" | "cancelled";
	readonly failure?: { readonly stage: CellStage; readonly reason: string; readonly evidence: readonly string[] };
	/** A cell whose kernel stopped building or booting: its own verdict, and the line that says why. */
	readonly cellVerdict?: { readonly verdict: CellVerdict; readonly explanation: string };
	readonly counts: Readonly<Record<TestResult["status"], number>>;
	/** Every result; non-passing ones carry their verdict and its one-line explanation. */
	readonly results: readonly (FinalResult & { readonly verdict?: Verdict; readonly explanation?: string })[];
	readonly verdicts: Readonly<Partial<Record<Verdict["verdict"], number>>>;
	readonly notes: readonly string[];
	/** Not run here: its results are an earlier run's (`--changed-since`). */
	readonly carried?: { readonly run: string; readonly dir: string };
}

export interface RunSummary {
	readonly runId: string;
	readonly dir: string;
	readonly outcome: "completed" | "cancelled";
	readonly cells: readonly CellSummary[];
	readonly resultsFile: string;
	readonly changedSince?: ChangedSince;
}

/** What the summary needs of a planned cell (plan.json has the same shape). */
export interface SummaryCell {
	readonly id: string;
	readonly kernel: string;
	readonly target: string;
	/** The kernel's commit, for a kernel built from a tree. */
	readonly sha?: string;
}

const emptyCounts = (): Record<TestResult["status"], number> => ({
	pass: 0,
	fail: 0,
	skip: 0,
	timeout: 0,
	crash: 0,
	error: 0,
});

export function countVerdicts(
	perTest: ReadonlyMap<string, Verdict> | undefined,
	withCellVerdict = true,
): Partial<Record<Verdict["verdict"], number>> {
	const counts: Partial<Record<Verdict["verdict"], number>> = {};
	for (const [key, v] of perTest ?? []) {
		if (key === CELL_VERDICT_KEY && !withCellVerdict) continue;
		counts[v.verdict] = (counts[v.verdict] ?? 0) + 1;
	}
	return counts;
}

/** Each cell as the journal leaves it; a cell with no recorded end was cut short (cancelled). */
export function summariseCells(cells: readonly SummaryCell[], record: RunRecord): CellSummary[] {
	return cells.map((c) => {
		const cell = record.byCell.get(c.id);
		const results = finalResults(cell);
		const counts = emptyCounts();
		for (const r of results) counts[r.status]++;
		const end = cell?.end;
		const verdicts = cell?.verdicts;
		const own = verdicts?.get(CELL_VERDICT_KEY);
		const cellVerdict =
			end?.state === "failed" && (own?.verdict === "build-regression" || own?.verdict === "boot-regression")
				? { verdict: own, explanation: describeVerdict(own) }
				: undefined;
		return {
			id: c.id,
			kernel: {
				id: c.kernel,
				...(c.sha === undefined ? {} : { sha: c.sha }),
				...(cell?.build === undefined ? {} : { build: cell.build }),
			},
			target: c.target,
			state: end?.state ?? "cancelled",
			...(end?.state === "failed" ? { failure: end.failure } : {}),
			...(cellVerdict === undefined ? {} : { cellVerdict }),
			counts,
			results: results.map((r) => {
				const verdict = verdicts?.get(testKey(r));
				return verdict === undefined ? r : { ...r, verdict, explanation: describeVerdict(verdict, testKey(r)) };
			}),
			verdicts: countVerdicts(verdicts, cellVerdict !== undefined),
			notes: cell?.notes ?? [],
			...(cell?.carried === undefined ? {} : { carried: cell.carried }),
		};
	});
}

/** results.json's content. */
export function resultsDocument(
	head: { readonly runId: string; readonly matrix: string; readonly started: string; readonly finished: string },
	outcome: "completed" | "cancelled",
	cells: readonly CellSummary[],
) {
	return { runId: head.runId, matrix: head.matrix, outcome, started: head.started, finished: head.finished, cells };
}

/**
 * The verdicts the exit policy weighs: every classified result's; a failing result nothing
 * classified (a run cut short before its verdicts) counts as a new failure, and a cell that
 * never ran its tests as its own verdict (a kernel that stopped building or booting), else one infra.
 */
export function runVerdictCounts(
	cells: readonly {
		readonly state?: CellSummary["state"];
		readonly cellVerdict?: { readonly verdict: CellVerdict };
		readonly results: readonly (TestResult & { readonly verdict?: Verdict })[];
	}[],
): VerdictCounts {
	const counts: Partial<Record<VerdictName, number>> = {};
	const add = (v: VerdictName) => {
		counts[v] = (counts[v] ?? 0) + 1;
	};
	for (const cell of cells) {
		if (cell.state === "failed") add(cell.cellVerdict?.verdict.verdict ?? "infra");
		for (const r of cell.results) {
			if (r.verdict !== undefined) add(r.verdict.verdict);
			else if (isFailing(r)) add("new-failure");
		}
	}
	return counts;
}

/** The run's exit decision under the one exit policy (`verdicts/exit-policy.ts`). */
export function runExit(summary: Pick<RunSummary, "cells">, failOn: FailOn = DEFAULT_FAIL_ON): ExitDecision {
	return decideExit(runVerdictCounts(summary.cells), failOn);
}
