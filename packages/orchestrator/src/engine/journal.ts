// The journal's records and their reading. Owns the on-disk format of journal.jsonl: every fact a
// run learns is one line, appended as it happens, and everything else a run leaves (results.json,
// its summary, its verdicts after a kill, a resume) is derived from these lines.
import { z } from "zod";
import type { CellStage, CellState, TestResult } from "../events/types.js";
import { commitIdSchema } from "../sources/commit-id.js";
import type { Verdict } from "../verdicts/classify.js";

/** A cell's end as the journal keeps it: the state, and for a failure the evidence behind it. */
export interface CellFailure {
	readonly stage: CellStage;
	readonly reason: string;
	readonly evidence: readonly string[];
	/** The cell stopped on something outside it (a lost connection): `resume` runs what remains. */
	readonly resumable?: true;
}

/** /proc/sys/kernel/random/boot_id: a UUID the kernel makes at each boot. */
export const BOOT_ID = /^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$/;

/** A machine as it ran a test: a different boot id later means it went down meanwhile. */
export interface MachineBoot {
	/** `this machine`, `user@host` (a Shell's `where`). */
	readonly where: string;
	readonly bootId: string;
	/** For `this machine`: its hostname, since a run directory can be resumed on another. */
	readonly host?: string;
}

/** Which CI shard a run is: its place in a `ci plan`, which `ci merge` checks. */
export interface ShardRecord {
	readonly index: number;
	readonly count: number;
	/** The plan's id: shards of different plans are never merged. */
	readonly plan: string;
}

/** What `--changed-since` took from an earlier run: which tips moved, which cells it carried. */
export interface ChangedSince {
	readonly runId: string;
	readonly dir: string;
	/** Every tree@ref whose commit is not the earlier run's (`from` absent: not in it). */
	readonly moved: readonly { readonly ref: string; readonly from?: string; readonly to: string }[];
	readonly carried: readonly string[];
}

export type JournalRecord =
	| {
			readonly type: "run-started";
			readonly runId: string;
			readonly at: string;
			readonly cells: readonly string[];
			/** The matrix file and a digest of its text: a resume refuses a file that changed. */
			readonly matrix?: string;
			readonly matrixDigest?: string;
			/** Every tree@ref's commit: what the run tests, whatever the branches do later. */
			readonly resolved?: Readonly<Record<string, string>>;
			readonly shard?: ShardRecord;
			/** A run `ci merge` made: the shards it was made of. */
			readonly merged?: readonly { readonly runId: string; readonly shard: ShardRecord }[];
			readonly changedSince?: ChangedSince;
	  }
	| {
			readonly type: "run-resumed";
			readonly at: string;
			readonly matrix: string;
			readonly matrixDigest: string;
			readonly resolved?: Readonly<Record<string, string>>;
	  }
	| {
			readonly type: "job-finished";
			readonly job: string;
			readonly ok: boolean;
			readonly detail: string;
			/** How long the job took (a build's time, for `ci plan`). */
			readonly ms?: number;
	  }
	| {
			readonly type: "cell-state";
			readonly cell: string;
			readonly state: CellState;
			/** On a cell's final failed state: why, with the lines that show it. */
			readonly failure?: CellFailure;
			/** A retry asked for from a view: its end is not the cell's. */
			readonly retry?: true;
			/** When, in ms since the epoch (journals before `ci plan` lack it). */
			readonly at?: number;
	  }
	| { readonly type: "cell-note"; readonly cell: string; readonly text: string }
	/** The cell's results that follow are an earlier run's, carried over by `--changed-since`. */
	| { readonly type: "cell-carried"; readonly cell: string; readonly from: string; readonly dir: string }
	| { readonly type: "cell-accel"; readonly cell: string; readonly accel: "kvm" | "tcg"; readonly warning?: string }
	| { readonly type: "cell-build"; readonly cell: string; readonly key: string; readonly cacheHit: boolean }
	| { readonly type: "test-result"; readonly cell: string; readonly result: TestResult }
	/** A test on a running kernel began: until its result comes, it is what that machine runs. */
	| {
			readonly type: "test-started";
			readonly cell: string;
			readonly suite: TestResult["suite"];
			readonly testId: string;
			readonly attempt: number;
			readonly machine: MachineBoot;
	  }
	| {
			readonly type: "verdicts";
			readonly cell: string;
			readonly verdicts: readonly (readonly [string, Verdict])[];
	  }
	| { readonly type: "run-finished"; readonly outcome: "completed" | "cancelled" };

const stage = z.enum(["queued", "checkout", "build", "boot", "running", "collecting", "classified", "done"]);
const cellState = z.union([
	z.object({ stage: z.literal("failed"), failedIn: stage, reason: z.string() }),
	z.object({ stage: z.literal("cancelled"), cancelledIn: stage }),
	z.object({ stage }),
]);
const status = z.enum(["pass", "fail", "skip", "timeout", "crash", "error"]);
const testResult = z.looseObject({
	suite: z.enum(["selftests", "kut"]),
	testId: z.string().min(1),
	status,
	durationMs: z.number(),
	attempt: z.number().int().min(1),
});
const cell = z.string().min(1);
const shardRecord = z.object({ index: z.number().int().min(1), count: z.number().int().min(1), plan: z.string() });
// Shallow where the engine itself wrote the nested value (a verdict); strict where a reader acts on it.
const record = z.discriminatedUnion("type", [
	z.object({
		type: z.literal("run-started"),
		runId: z.string(),
		at: z.string(),
		cells: z.array(z.string()),
		matrix: z.string().optional(),
		matrixDigest: z.string().optional(),
		resolved: z.record(z.string(), commitIdSchema).optional(),
		shard: shardRecord.optional(),
		merged: z.array(z.object({ runId: z.string(), shard: shardRecord })).optional(),
		changedSince: z
			.object({
				runId: z.string(),
				dir: z.string(),
				moved: z.array(z.object({ ref: z.string(), from: z.string().optional(), to: z.string() })),
				carried: z.array(z.string()),
			})
			.optional(),
	}),
	z.object({
		type: z.literal("run-resumed"),
		at: z.string(),
		matrix: z.string(),
		matrixDigest: z.string(),
		resolved: z.record(z.string(), commitIdSchema).optional(),
	}),
	z.object({
		type: z.literal("job-finished"),
		job: z.string(),
		ok: z.boolean(),
		detail: z.string(),
		ms: z.number().optional(),
	}),
	z.object({
		type: z.literal("cell-state"),
		cell,
		state: cellState,
		failure: z
			.object({ stage, reason: z.string(), evidence: z.array(z.string()), resumable: z.literal(true).optional() })
			.optional(),
		retry: z.literal(true).optional(),
		at: z.number().optional(),
	}),
	z.object({ type: z.literal("cell-note"), cell, text: z.string() }),
	z.object({ type: z.literal("cell-carried"), cell, from: z.string(), dir: z.string() }),
	z.object({ type: z.literal("cell-accel"), cell, accel: z.enum(["kvm", "tcg"]), warning: z.string().optional() }),
	z.object({ type: z.literal("cell-build"), cell, key: z.string(), cacheHit: z.boolean() }),
	z.object({ type: z.literal("test-result"), cell, result: testResult }),
	z.object({
		type: z.literal("test-started"),
		cell,
		suite: z.enum(["selftests", "kut"]),
		testId: z.string().min(1),
		attempt: z.number().int().min(1),
		// The kernel's boot id is a UUID; anything else in its place was not written by kvm-matrix.
		machine: z.object({ where: z.string().min(1), bootId: z.string().regex(BOOT_ID), host: z.string().optional() }),
	}),
	z.object({
		type: z.literal("verdicts"),
		cell,
		verdicts: z.array(z.tuple([z.string(), z.looseObject({ verdict: z.string() })])),
	}),
	z.object({ type: z.literal("run-finished"), outcome: z.enum(["completed", "cancelled"]) }),
]);

export interface JournalRead {
	readonly records: readonly JournalRecord[];
	/** One line per line that could not be read: a torn last line, a garbled one. */
	readonly problems: readonly string[];
}

/**
 * Reads a journal's text. A process killed mid-write leaves a torn last line; it is dropped with a
 * note, as is any line that is not a record this version knows. Never throws.
 */
export function parseJournal(
	text: string,
	file = "journal.jsonl",
	options: { readonly latestVerdictsOnly?: boolean } = {},
): JournalRead {
	const records: JournalRecord[] = [];
	const problems: string[] = [];
	const lines = text.split("\n");
	const last = lines.length - 1;
	const superseded = options.latestVerdictsOnly === true ? supersededVerdicts(lines) : undefined;
	lines.forEach((line, index) => {
		if (line.trim() === "" || superseded?.has(index) === true) return;
		let value: unknown;
		try {
			value = JSON.parse(line);
		} catch {
			problems.push(
				index === last
					? `${file}:${index + 1}: a torn last line (the run was killed while writing it), ignored`
					: `${file}:${index + 1}: not JSON, ignored`,
			);
			return;
		}
		const parsed = record.safeParse(value);
		if (parsed.success) records.push(parsed.data as JournalRecord);
		else problems.push(`${file}:${index + 1}: not a journal record this kvm-matrix knows, ignored`);
	});
	return { records, problems };
}

/** How kvm-matrix writes a cell's verdicts record: the type, then the cell. */
const VERDICTS_LINE = /^\{"type":"verdicts","cell":("(?:[^"\\]|\\.)*"),/;

/**
 * The `verdicts` lines a later one for the same cell replaces (folding keeps the last): every
 * `classify` of a run appends a record per cell, and reading them all back made each classify
 * of a run slower than the last. Only lines in the form kvm-matrix writes are recognised; any
 * other is read as usual.
 */
function supersededVerdicts(lines: readonly string[]): Set<number> {
	const byCell = new Map<string, number[]>();
	lines.forEach((line, index) => {
		const cell = line.startsWith('{"type":"verdicts"') ? VERDICTS_LINE.exec(line)?.[1] : undefined;
		if (cell === undefined) return;
		const list = byCell.get(cell);
		if (list === undefined) byCell.set(cell, [index]);
		else list.push(index);
	});
	const skip = new Set<number>();
	for (const indexes of byCell.values()) {
		// The last one that is whole replaces those before it; a torn or garbled one replaces nothing.
		const whole = indexes.findLast((i) => {
			try {
				return (JSON.parse(lines[i] as string) as { type?: unknown }).type === "verdicts";
			} catch {
				return false;
			}
		});
		if (whole !== undefined) for (const i of indexes) if (i < whole) skip.add(i);
	}
	return skip;
}
