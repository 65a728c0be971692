// A failure on a kernel build and target on which earlier runs both passed and failed the same
// test says nothing new of the kernel: it is `flaky`, with its rate and the runs that show it,
// not a regression. Pure: the history index's answers come in as `earlier`.
import { isFailingStatus } from "../events/attempts.js";
import type { TestStatus } from "../events/types.js";
import type { FlakyHistory, Verdict } from "./classify.js";

/** What earlier runs did with a test on one kernel build and target, oldest first. */
export type EarlierResults = readonly {
	readonly runId: string;
	readonly status: TestStatus;
	readonly retried: boolean;
}[];

/** A cell of this run as the history sees it. */
export interface HistoryCell {
	readonly cell: string;
	/** Absent when nothing says the kernel is the same as another run's: no history applies. */
	readonly revision?: string;
	readonly target: string;
}

const REPLACEABLE = new Set<Verdict["verdict"]>(["regression", "new-failure", "still-failing"]);

/** The tests of a cell whose verdict history may change: the question to ask the index. */
export function historyQuestions(perTest: ReadonlyMap<string, Verdict>): string[] {
	return [...perTest].filter(([, v]) => REPLACEABLE.has(v.verdict)).map(([key]) => key);
}

/**
 * The verdict of one failing test given its earlier results on the same revision and target:
 * `flaky` when they show it failing and then passing again with nothing changed (a failure
 * followed by a pass, or a pass after a retry), else unchanged. Passes and then failures only is
 * a step, not flakiness: something outside the revision changed, and the verdict stands. A known
 * issue, a pending fix or the harness's failure is already explained and stays.
 */
export function withHistory(
	verdict: Verdict,
	attempts: readonly TestStatus[],
	cell: HistoryCell,
	earlier: EarlierResults,
): Verdict {
	if (verdict.verdict !== "regression" && verdict.verdict !== "new-failure" && verdict.verdict !== "still-failing")
		return verdict;
	if (cell.revision === undefined) return verdict;
	const telling = earlier.filter((e) => e.status === "pass" || isFailingStatus(e.status));
	const recovered =
		telling.some((e) => e.retried) ||
		telling.some((e, i) => isFailingStatus(e.status) && telling.slice(i + 1).some((later) => later.status === "pass"));
	if (!recovered) return verdict;
	const history: FlakyHistory = {
		revision: cell.revision,
		target: cell.target,
		runs: telling.length + 1,
		failed: telling.filter((e) => isFailingStatus(e.status) || e.retried).length + 1,
		seen: telling.map((e) => ({ run: e.runId, status: e.status, ...(e.retried ? { retried: true as const } : {}) })),
		instead: verdict.verdict,
	};
	return { verdict: "flaky", evidence: { attempts, history } };
}
