// `history --html DIR` and `report --format html --history`: the history page of the runs under
// some roots, from the index (which runs, the flaky list) and each shown run's own directory
// (verdicts, evidence, log tails), so the page says what the reports of each run say.
import { historyPage } from "../reports/history-page.js";
import { type RunView, readRunView } from "../reports/run-view.js";
import type { HistoryIndex } from "./index-db.js";
import { flakyTests, indexedRuns } from "./queries.js";

export interface HistoryPageOptions {
	readonly since?: string;
	/** The newest runs shown at most (default 30): the page stays a page. */
	readonly last?: number;
	/** Only runs that started at or before this one (a report of one run shows what came before it). */
	readonly upTo?: string;
	readonly title?: string;
	/** Only this matrix's runs (a runs directory may hold several). */
	readonly matrix?: string;
}

export function renderHistoryPage(
	index: HistoryIndex,
	roots: readonly string[],
	options: HistoryPageOptions = {},
): string {
	const all = indexedRuns(index, roots, options.since, options.matrix).filter(
		(r) => options.upTo === undefined || r.started <= options.upTo,
	);
	const chosen = all.slice(-(options.last ?? 30));
	const views: RunView[] = [];
	for (const run of chosen) {
		try {
			views.push(readRunView(run.dir));
		} catch {
			// A run removed since it was indexed: the page shows the others.
		}
	}
	const matrices = [...new Set(chosen.map((r) => r.matrix))];
	return historyPage({
		title: options.title ?? `kvm-matrix history: ${matrices.join(", ") || "no runs"}`,
		runs: views,
		flaky: flakyTests(index, roots, options.since, {
			...(options.matrix === undefined ? {} : { matrix: options.matrix }),
			...(options.upTo === undefined ? {} : { until: options.upTo }),
		}),
	});
}
