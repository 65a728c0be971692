// What the history index keeps of one run: a row per cell and per final result, derived from
// the run's view (its plan and journal). Pure, so the index holds exactly what reports show.
import { isFailing, testKey } from "../events/attempts.js";
import type { TestStatus } from "../events/types.js";
import type { RunView } from "../reports/run-view.js";

export interface HistoryCellRow {
	readonly cell: string;
	readonly kernel: string;
	/** The kernel's commit, for a kernel built from a tree. */
	readonly sha?: string;
	/**
	 * What says the kernel is unchanged between two runs: its commit and config when built from
	 * a tree, its build key for a prebuilt image; absent when nothing says it.
	 */
	readonly revision?: string;
	readonly target: string;
	readonly state: "done" | "failed" | "cancelled";
	readonly failure?: { readonly stage: string; readonly reason: string; readonly evidence: readonly string[] };
}

export interface HistoryResultRow {
	readonly cell: string;
	/** `suite:testId`, as every command names a test. */
	readonly test: string;
	readonly status: TestStatus;
	readonly verdict?: string;
	readonly explanation?: string;
	/** Failed first in this run and passed on a retry. */
	readonly passedOnRetry: boolean;
}

export interface HistoryRun {
	readonly runId: string;
	readonly matrix: string;
	/** The run's start: runs are ordered by it. */
	readonly started: string;
	readonly outcome: RunView["outcome"];
	readonly cells: readonly HistoryCellRow[];
	readonly results: readonly HistoryResultRow[];
}

/** How the engine names the kernel a host target's tests ran on (engine/stages.ts). */
const HOST_KERNEL_NOTE = /^host target: ran on this machine's kernel (\S+);/;
/** An ssh target's (engine/running-kernel.ts): a machine others may upgrade between two runs. */
const SSH_KERNEL_NOTE = /^ssh target: ran on /;

/**
 * What must be the same in two runs for a change of result to be the test's own doing: the
 * kernel (its build key: commit, final .config and compiler; or for a host target the release it
 * ran on) and the commits of the test suites. A prebuilt image or an ssh machine's kernel is not
 * known to be unchanged, so it has none, and no history calls its tests flaky.
 */
function revisionOf(
	c: RunView["cells"][number],
	config: string | undefined,
	suites: Readonly<Partial<Record<"selftests" | "kut", string>>> | undefined,
): string | undefined {
	if (c.notes.some((n) => SSH_KERNEL_NOTE.test(n))) return undefined;
	const host = c.notes.map((n) => HOST_KERNEL_NOTE.exec(n)?.[1]).find((r) => r !== undefined);
	// The build key covers what the config spec does not (a fragment file's contents, the compiler).
	const kernel =
		host !== undefined
			? `host ${host}`
			: c.kernel.build !== undefined && c.kernel.sha !== undefined
				? `${c.kernel.sha} build ${c.kernel.build.key}`
				: c.kernel.sha !== undefined && config !== undefined
					? `${c.kernel.sha} config ${config}`
					: undefined;
	if (kernel === undefined) return undefined;
	const tests = Object.entries(suites ?? {})
		.map(([suite, sha]) => `${suite} ${sha}`)
		.sort();
	return [kernel, ...tests].join(", ");
}

/** The index's rows of a run; a run that never journaled its start has none. */
export function historyRun(view: RunView): HistoryRun | undefined {
	if (view.started === undefined) return undefined;
	const configs = new Map(view.kernels.map((k) => [k.id, k.config]));
	const cells: HistoryCellRow[] = [];
	const results: HistoryResultRow[] = [];
	for (const c of view.cells) {
		// A cell whose results came from an earlier run is that run's history, not this one's.
		if (c.carried !== undefined) continue;
		const revision = revisionOf(c, configs.get(c.kernel.id), view.suiteShas?.get(c.id));
		cells.push({
			cell: c.id,
			kernel: c.kernel.id,
			...(c.kernel.sha === undefined ? {} : { sha: c.kernel.sha }),
			...(revision === undefined ? {} : { revision }),
			target: c.target,
			state: c.state,
			...(c.failure === undefined ? {} : { failure: c.failure }),
		});
		for (const r of c.results)
			results.push({
				cell: c.id,
				test: testKey(r),
				status: r.status,
				...(r.verdict === undefined ? {} : { verdict: r.verdict.verdict }),
				...(r.explanation === undefined ? {} : { explanation: r.explanation }),
				passedOnRetry: r.status === "pass" && (r.earlier ?? []).some(isFailing),
			});
	}
	return { runId: view.runId, matrix: view.matrix, started: view.started, outcome: view.outcome, cells, results };
}
