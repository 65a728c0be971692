// The history index's part in a run's verdicts: one question per cell with unexplained failures
// (never one per failure), asked of the runs next to this one. An index that cannot be read
// leaves the verdicts as they were and says so.
import path from "node:path";
import type { FinalResult } from "../events/attempts.js";
import { testKey } from "../events/attempts.js";
import { HistoryIndex, historyDbPath } from "../history/index-db.js";
import { earlierOnRevision } from "../history/queries.js";
import { historyRun } from "../history/rows.js";
import { readRunView } from "../reports/run-view.js";
import type { Verdict } from "./classify.js";
import { historyQuestions, withHistory } from "./history-flaky.js";

export function verdictsWithHistory(
	runDir: string,
	cacheRoot: string,
	verdicts: ReadonlyMap<string, ReadonlyMap<string, Verdict>>,
	results: ReadonlyMap<string, readonly FinalResult[]>,
	onNote: (cell: string, line: string) => void,
): Map<string, Map<string, Verdict>> {
	const out = new Map([...verdicts].map(([cell, perTest]) => [cell, new Map(perTest)]));
	const asked = [...verdicts].filter(([, perTest]) => historyQuestions(perTest).length > 0);
	if (asked.length === 0) return out;
	let index: HistoryIndex | undefined;
	try {
		const run = historyRun(readRunView(runDir, undefined, { logTails: false }));
		if (run === undefined) return out;
		index = HistoryIndex.open(historyDbPath(cacheRoot));
		const root = path.dirname(path.resolve(runDir));
		index.refresh([root]);
		const cells = new Map(run.cells.map((c) => [c.cell, c]));
		for (const [cellId, perTest] of asked) {
			const cell = cells.get(cellId);
			if (cell?.revision === undefined) continue;
			const tests = historyQuestions(perTest);
			const earlier = earlierOnRevision(index, [root], {
				matrix: run.matrix,
				revision: cell.revision,
				target: cell.target,
				before: run.started,
				tests,
			});
			const finals = new Map((results.get(cellId) ?? []).map((r) => [testKey(r), r]));
			const mine = out.get(cellId) as Map<string, Verdict>;
			for (const key of tests) {
				const seen = earlier.get(key);
				const verdict = perTest.get(key);
				const final = finals.get(key);
				if (seen === undefined || verdict === undefined || final === undefined) continue;
				const attempts = [...(final.earlier ?? []).map((e) => e.status), final.status];
				mine.set(key, withHistory(verdict, attempts, cell, seen));
			}
		}
	} catch (error) {
		for (const [cellId] of asked)
			onNote(
				cellId,
				`history not consulted (${error instanceof Error ? error.message.split("\n")[0] : String(error)}): a flaky test may be named a regression`,
			);
	} finally {
		index?.close();
	}
	return out;
}
