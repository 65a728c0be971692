// The history index's part in a run's verdicts: one question per cell with unexplained failures
// (never one per failure), asked of the runs next to this one. An index that cannot be read
// leaves the verdicts as they were and says so.
import { type Dirent, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { FinalResult } from "../events/attempts.js";
import { testKey } from "../events/attempts.js";
import type { TestResult } from "../events/types.js";
import { HistoryIndex, historyDbPath } from "../history/index-db.js";
import { earlierOnRevision, lastGoodRunOfCell, lastResultsOfCells } from "../history/queries.js";
import { historyRun } from "../history/rows.js";
import { idName } from "../paths/id-name.js";
import { readRunView, tailOf } from "../reports/run-view.js";
import { isCommitId } from "../sources/commit-id.js";
import type { BaselineSource, PreviousRun } from "./baseline.js";
import { type CellStop, cellRegression, type KernelBefore } from "./cell-regression.js";
import type { CellVerdict, Verdict } from "./classify.js";
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
		index.refresh([root], { matrix: run.matrix, exclude: runDir });
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

const BEFORE_BUILT = new Set(["queued", "checkout", "build"]);

/**
 * The cells of a run whose kernel stopped building or booting, each with its verdict: compared
 * with the baseline kernel on the same target in this run, and with the cell's last earlier run
 * (one question to the history index per stopped cell). A cell with nothing to compare with, or
 * stopped by the harness, is left as it is (`infra`).
 */
export function cellRegressions(
	runDir: string,
	cacheRoot: string,
	baselineKernel: string | undefined,
	onNote: (cell: string, line: string) => void,
): Map<string, CellVerdict> {
	const out = new Map<string, CellVerdict>();
	const view = readRunView(runDir, undefined, { logTails: false });
	const stopped = view.cells.filter((c) => c.state === "failed" && c.failure !== undefined && c.carried === undefined);
	if (stopped.length === 0 || view.started === undefined) return out;
	const started = view.started;
	let index: HistoryIndex | undefined;
	try {
		index = HistoryIndex.open(historyDbPath(cacheRoot));
		const root = path.dirname(path.resolve(runDir));
		index.refresh([root], { matrix: view.matrix, exclude: runDir });
		for (const cell of stopped) {
			const before: KernelBefore[] = [];
			const base = view.cells.find(
				(c) => c.kernel.id === baselineKernel && c.target === cell.target && c.id !== cell.id,
			);
			if (base !== undefined)
				before.push({
					kernel: base.kernel.id,
					...(base.kernel.sha === undefined ? {} : { sha: base.kernel.sha }),
					built: base.state === "done" || (base.failure !== undefined && !BEFORE_BUILT.has(base.failure.stage)),
					booted: base.results.some((r) => r.status !== "error"),
				});
			const need = cell.failure?.stage === "build" ? "built" : "booted";
			const last = lastGoodRunOfCell(index, [root], { matrix: view.matrix, cell: cell.id, before: started, need });
			if (last !== undefined)
				before.push({
					kernel: last.kernel,
					...(last.sha === undefined ? {} : { sha: last.sha }),
					run: last.runId,
					built: true,
					booted: need === "booted",
				});
			const stop = cell.failure as CellStop;
			// A boot's evidence is how its console ended: the panic's trace, the last lines before silence.
			const consoleLines = stop.stage === "boot" && stop.evidence.length === 0 ? consoleTail(runDir, cell.id) : [];
			const verdict = cellRegression(
				consoleLines.length === 0 ? stop : { ...stop, evidence: [stop.reason, ...consoleLines] },
				cell.kernel,
				before,
			);
			if (verdict !== undefined) out.set(cell.id, verdict);
		}
	} catch (error) {
		for (const cell of stopped)
			onNote(
				cell.id,
				`earlier runs not consulted (${error instanceof Error ? error.message.split("\n")[0] : String(error)}): a kernel that stopped building or booting may be named infra`,
			);
	} finally {
		index?.close();
	}
	return out;
}

/**
 * `baseline: history`: each cell of this run against the last earlier run of the matrix in which
 * the same cell ran, whatever runs came between. A cell no earlier run ran has no baseline.
 */
export function historyBaseline(
	runDir: string,
	cacheRoot: string,
	matrix: string,
	cells: readonly string[],
	started: string,
	onNote: (cell: string, line: string) => void,
): BaselineSource {
	let index: HistoryIndex | undefined;
	try {
		index = HistoryIndex.open(historyDbPath(cacheRoot));
		const root = path.dirname(path.resolve(runDir));
		index.refresh([root], { matrix, exclude: runDir });
		const last = lastResultsOfCells(index, [root], { matrix, cells, before: started });
		const byCell = new Map<string, PreviousRun["cells"][number] & { readonly run: string }>();
		for (const [cell, found] of last)
			byCell.set(cell, {
				id: cell,
				run: found.runId,
				kernel: {
					id: found.kernel,
					...(found.sha === undefined || !isCommitId(found.sha) ? {} : { sha: found.sha }),
				},
				results: found.results.map((r) => {
					const colon = r.test.indexOf(":");
					const suite = r.test.slice(0, colon) as TestResult["suite"];
					const testId = r.test.slice(colon + 1);
					// A pass after a retry failed first: what `earlier` says of it in a results.json.
					const earlier: TestResult[] = r.retried ? [{ suite, testId, status: "fail", durationMs: 0, attempt: 1 }] : [];
					return { suite, testId, status: r.status, ...(earlier.length === 0 ? {} : { earlier }) };
				}),
			});
		return { kind: "history", cells: byCell };
	} catch (error) {
		const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
		for (const cell of cells) onNote(cell, `baseline: history could not be read (${why}): no baseline`);
		return { kind: "history", cells: new Map() };
	} finally {
		index?.close();
	}
}

/** The last lines of the newest guest console a cell left (a console.log under `cells/<cell>/`). */
function consoleTail(runDir: string, cellId: string): string[] {
	const found: { file: string; mtime: number }[] = [];
	const walk = (dir: string, depth: number) => {
		if (depth > 4) return;
		let entries: Dirent[];
		try {
			entries = readdirSync(dir, { withFileTypes: true });
		} catch {
			return;
		}
		for (const e of entries) {
			const full = path.join(dir, e.name);
			if (e.isDirectory()) walk(full, depth + 1);
			else if (e.name === "console.log")
				try {
					found.push({ file: full, mtime: statSync(full).mtimeMs });
				} catch {}
		}
	};
	walk(path.join(runDir, "cells", idName(cellId)), 0);
	const newest = found.sort((a, b) => b.mtime - a.mtime)[0];
	if (newest === undefined) return [];
	try {
		const size = statSync(newest.file).size;
		const text = readFileSync(newest.file);
		const end = text.subarray(Math.max(0, size - 8192)).toString("utf8");
		return tailOf(end, 20)
			.split("\n")
			.filter((l) => l.trim() !== "");
	} catch {
		return [];
	}
}
