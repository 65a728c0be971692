// What a run has learnt, folded from its journal: the one place results, notes, cell ends and
// verdicts are read back from, for results.json, `classify` of a killed run, and `resume`.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { collapseAttempts, type FinalResult } from "../events/attempts.js";
import type { TestResult } from "../events/types.js";
import type { Verdict } from "../verdicts/classify.js";
import {
	type CellFailure,
	type ChangedSince,
	type JournalRecord,
	type MachineBoot,
	parseJournal,
	type ShardRecord,
} from "./journal.js";

/** A test on a running kernel that began and has no result: what its machine was doing last. */
export interface OpenTest {
	readonly suite: TestResult["suite"];
	readonly testId: string;
	readonly attempt: number;
	readonly machine: MachineBoot;
}

export type CellEnd =
	| { readonly state: "done" }
	| { readonly state: "failed"; readonly failure: CellFailure }
	| { readonly state: "cancelled" };

export interface CellRecord {
	/** Every attempt of every test, in the order they were journaled. */
	readonly attempts: readonly TestResult[];
	readonly notes: readonly string[];
	readonly accel?: { readonly accel: "kvm" | "tcg"; readonly warning?: string };
	readonly build?: { readonly key: string; readonly cacheHit: boolean };
	/** How the cell's own machine ended (a later retry from a view adds attempts, not an end). */
	readonly end?: CellEnd;
	readonly verdicts?: ReadonlyMap<string, Verdict>;
	/** Results carried over from an earlier run by `--changed-since`. */
	readonly carried?: { readonly run: string; readonly dir: string };
	/** Tests journaled as started with no result, in a cell that never ended: kvm-matrix was killed, or their machine went down. */
	readonly open?: readonly OpenTest[];
}

export interface RunRecord {
	readonly runId?: string;
	readonly started?: string;
	readonly cells: readonly string[];
	readonly matrix?: string;
	/** The digest of the matrix text the run last started or resumed with. */
	readonly matrixDigest?: string;
	/** Every tree@ref's commit, as the run (or its last resume) resolved them. */
	readonly resolved?: Readonly<Record<string, string>>;
	/** The CI shard the run is (`ci run`). */
	readonly shard?: ShardRecord;
	/** The shards a merged run was made of (`ci merge`). */
	readonly merged?: readonly { readonly runId: string; readonly shard: ShardRecord }[];
	readonly changedSince?: ChangedSince;
	readonly byCell: ReadonlyMap<string, CellRecord>;
	readonly outcome?: "completed" | "cancelled";
	readonly resumes: number;
	readonly problems: readonly string[];
}

interface MutableCell {
	attempts: TestResult[];
	notes: string[];
	accel?: { accel: "kvm" | "tcg"; warning?: string };
	build?: { key: string; cacheHit: boolean };
	end?: CellEnd;
	verdicts?: Map<string, Verdict>;
	carried?: { run: string; dir: string };
	open?: OpenTest[];
}

const openKey = (t: { suite: string; testId: string; attempt: number }) => `${t.suite}:${t.testId}#${t.attempt}`;

/** Folds journal records into what the run knows; later records win, results accumulate. */
export function foldJournal(records: readonly JournalRecord[], problems: readonly string[] = []): RunRecord {
	const byCell = new Map<string, MutableCell>();
	const of = (id: string) => {
		let c = byCell.get(id);
		if (c === undefined) {
			c = { attempts: [], notes: [] };
			byCell.set(id, c);
		}
		return c;
	};
	let head: {
		runId?: string;
		started?: string;
		cells: readonly string[];
		matrix?: string;
		matrixDigest?: string;
		resolved?: Readonly<Record<string, string>>;
		shard?: ShardRecord;
		merged?: readonly { readonly runId: string; readonly shard: ShardRecord }[];
		changedSince?: ChangedSince;
	} = { cells: [] };
	let outcome: "completed" | "cancelled" | undefined;
	let resumes = 0;
	for (const r of records) {
		switch (r.type) {
			case "run-started":
				head = {
					runId: r.runId,
					started: r.at,
					cells: r.cells,
					...(r.matrix === undefined ? {} : { matrix: r.matrix }),
					...(r.matrixDigest === undefined ? {} : { matrixDigest: r.matrixDigest }),
					...(r.resolved === undefined ? {} : { resolved: r.resolved }),
					...(r.shard === undefined ? {} : { shard: r.shard }),
					...(r.merged === undefined ? {} : { merged: r.merged }),
					...(r.changedSince === undefined ? {} : { changedSince: r.changedSince }),
				};
				for (const id of r.cells) of(id);
				break;
			case "run-resumed":
				resumes++;
				// A resumed run is running again until it says otherwise.
				outcome = undefined;
				head = {
					...head,
					matrix: r.matrix,
					matrixDigest: r.matrixDigest,
					...(r.resolved === undefined ? {} : { resolved: r.resolved }),
				};
				break;
			case "cell-state": {
				const c = of(r.cell);
				if (r.retry === true) break;
				if (r.state.stage === "done") c.end = { state: "done" };
				else if (r.state.stage === "cancelled") c.end = { state: "cancelled" };
				else if (r.state.stage === "failed")
					c.end = {
						state: "failed",
						failure: r.failure ?? { stage: r.state.failedIn, reason: r.state.reason, evidence: [] },
					};
				// A cell that runs again (resumed) has not ended, whatever stopped it before.
				else if (c.end !== undefined && !cellSettled(c)) delete c.end;
				// A cell (or a retry) that ended ran nothing more: its tests without a result were stopped.
				if (["done", "failed", "cancelled"].includes(r.state.stage)) delete c.open;
				break;
			}
			case "cell-note": {
				const c = of(r.cell);
				if (!c.notes.includes(r.text)) c.notes.push(r.text);
				break;
			}
			case "cell-carried":
				of(r.cell).carried = { run: r.from, dir: r.dir };
				break;
			case "cell-accel":
				of(r.cell).accel = { accel: r.accel, ...(r.warning === undefined ? {} : { warning: r.warning }) };
				break;
			case "cell-build":
				of(r.cell).build = { key: r.key, cacheHit: r.cacheHit };
				break;
			case "test-result": {
				const c = of(r.cell);
				c.attempts.push(r.result);
				if (c.open !== undefined) c.open = c.open.filter((t) => openKey(t) !== openKey(r.result));
				break;
			}
			case "test-started": {
				const c = of(r.cell);
				const started = { suite: r.suite, testId: r.testId, attempt: r.attempt, machine: r.machine };
				c.open = [...(c.open ?? []).filter((t) => openKey(t) !== openKey(started)), started];
				break;
			}
			case "verdicts":
				of(r.cell).verdicts = new Map(r.verdicts);
				break;
			case "run-finished":
				outcome = r.outcome;
				for (const c of byCell.values()) delete c.open;
				break;
			case "job-finished":
				break;
		}
	}
	return {
		...head,
		byCell,
		...(outcome === undefined ? {} : { outcome }),
		resumes,
		problems,
	};
}

/** Reads and folds a run directory's journal; a missing file is an empty run. */
export function readRunRecord(journalFile: string): RunRecord {
	let text = "";
	try {
		text = readFileSync(journalFile, "utf8");
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
	}
	const read = parseJournal(text, journalFile, { latestVerdictsOnly: true });
	return foldJournal(read.records, read.problems);
}

/**
 * The record as it stands once `verdicts` records for these cells are appended: what reading the
 * journal again would give, without reading it again.
 */
export function withVerdicts(
	record: RunRecord,
	verdicts: ReadonlyMap<string, ReadonlyMap<string, Verdict>>,
): RunRecord {
	const byCell = new Map(record.byCell);
	for (const [cell, perTest] of verdicts) {
		const c = byCell.get(cell) ?? { attempts: [], notes: [] };
		byCell.set(cell, { ...c, verdicts: new Map(perTest) });
	}
	return { ...record, byCell };
}

/** A cell's results as they stand after retries. */
export const finalResults = (cell: CellRecord | undefined): FinalResult[] => collapseAttempts(cell?.attempts ?? []);

/**
 * Whether a cell needs no more work on resume: its machine ended done or failed (a failed
 * build fails again; redoing it would only repeat the answer). A cancelled or unfinished cell runs,
 * and so does one that stopped on a lost connection.
 */
export const cellSettled = (cell: CellRecord | undefined): boolean =>
	cell?.end !== undefined &&
	cell.end.state !== "cancelled" &&
	!(cell.end.state === "failed" && cell.end.failure.resumable === true);

/** What the run in `dir` has learnt, or undefined when `dir` holds no run (no plan.json). */
export function readRunRecordOf(dir: string): RunRecord | undefined {
	if (!existsSync(path.join(dir, "plan.json"))) return undefined;
	return readRunRecord(path.join(dir, "journal.jsonl"));
}
