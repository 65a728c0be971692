// When a test started failing: in each cell, the failures it has now, the run before them in
// which it passed, and the commits between the two kernels. Pure, over a timeline.
import { isFailingStatus } from "../events/attempts.js";
import type { TimelineEntry } from "./queries.js";

export interface RunPoint {
	readonly runId: string;
	readonly dir: string;
	readonly started: string;
	readonly kernel: string;
	readonly sha?: string;
}

export type FirstFailure =
	| {
			readonly state: "failing";
			readonly cell: string;
			readonly test: string;
			/** The newest run before `firstFailed` in which it passed; absent when it never passed here. */
			readonly lastPassed?: RunPoint;
			readonly firstFailed: RunPoint & { readonly status: TimelineEntry["status"]; readonly verdict?: string };
			/** Runs it has failed in since (the first included). */
			readonly failedRuns: number;
			/** `lastPassed.sha..firstFailed.sha`, when both kernels are commits and they differ. */
			readonly range?: string;
	  }
	| { readonly state: "passing"; readonly cell: string; readonly test: string; readonly last: RunPoint }
	| { readonly state: "unknown"; readonly cell: string; readonly test: string; readonly last: RunPoint };

const point = (e: TimelineEntry): RunPoint => ({
	runId: e.runId,
	dir: e.dir,
	started: e.started,
	kernel: e.kernel,
	...(e.sha === undefined ? {} : { sha: e.sha }),
});

/**
 * Per cell and test, oldest first in `entries`: a test failing in its newest run that said
 * anything (an `error` or `skip` says nothing of it) with the run it last passed in.
 */
export function firstFailures(entries: readonly TimelineEntry[]): FirstFailure[] {
	const byCell = new Map<string, TimelineEntry[]>();
	for (const e of entries) {
		const key = `${e.cell}\u0000${e.test}`;
		const list = byCell.get(key) ?? [];
		list.push(e);
		byCell.set(key, list);
	}
	const out: FirstFailure[] = [];
	for (const list of byCell.values()) {
		const telling = list.filter((e) => e.status === "pass" || isFailingStatus(e.status));
		const newest = telling.at(-1);
		const last = list.at(-1) as TimelineEntry;
		if (newest === undefined) {
			out.push({ state: "unknown", cell: last.cell, test: last.test, last: point(last) });
			continue;
		}
		if (newest.status === "pass") {
			out.push({ state: "passing", cell: newest.cell, test: newest.test, last: point(newest) });
			continue;
		}
		let i = telling.length - 1;
		while (i > 0 && isFailingStatus((telling[i - 1] as TimelineEntry).status)) i--;
		const first = telling[i] as TimelineEntry;
		const passed = i > 0 ? (telling[i - 1] as TimelineEntry) : undefined;
		const range =
			passed?.sha !== undefined && first.sha !== undefined && passed.sha !== first.sha
				? `${passed.sha}..${first.sha}`
				: undefined;
		out.push({
			state: "failing",
			cell: first.cell,
			test: first.test,
			...(passed === undefined ? {} : { lastPassed: point(passed) }),
			firstFailed: {
				...point(first),
				status: first.status,
				...(first.verdict === undefined ? {} : { verdict: first.verdict }),
			},
			failedRuns: telling.length - i,
			...(range === undefined ? {} : { range }),
		});
	}
	return out;
}
