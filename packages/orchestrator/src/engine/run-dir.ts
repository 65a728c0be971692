import {
	appendFileSync,
	closeSync,
	existsSync,
	fdatasyncSync,
	fstatSync,
	fsyncSync,
	ftruncateSync,
	mkdirSync,
	openSync,
	readFileSync,
	renameSync,
	rmSync,
	writeSync,
} from "node:fs";
import path from "node:path";
import { z } from "zod";
import { syncDirectoryOf } from "../paths/atomic.js";
import { idName } from "../paths/id-name.js";
import { LockBusyError, LockCompromisedError, withLock } from "../paths/lock.js";
import { makeDirectory, UserPathError } from "../paths/user-paths.js";
import { commitIdSchema } from "../sources/commit-id.js";
import type { PlanFile } from "../verdicts/reclassify.js";
import type { JournalRecord } from "./journal.js";
import { firstIssue, RunSetupError } from "./setup-error.js";

// What a run's readers rely on in plan.json; the rest of it is for people.
const planFileShape = z.looseObject({
	runId: z.string(),
	matrix: z.string(),
	resolved: z.record(z.string(), commitIdSchema),
	cells: z.array(
		z.looseObject({
			id: z.string(),
			kernel: z.string(),
			target: z.string(),
			jobs: z.looseObject({ selftests: z.string().optional(), kut: z.string().optional() }),
		}),
	),
	jobs: z.array(z.looseObject({ id: z.string(), tree: z.string(), ref: z.string(), sha: commitIdSchema.optional() })),
});

/** `20261125-153012`: sorts by time, safe in a path. */
export function timestamp(date: Date): string {
	const p = (n: number) => String(n).padStart(2, "0");
	return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

/**
 * Claims a new directory for a run under `parent`: `base`, or `base-2`, `base-3`… when a run
 * started in the same second holds it. mkdir without `recursive` fails on an existing directory,
 * so two runs never share one, even when they race.
 */
export function claimRunDirectory(parent: string, base: string): string {
	makeRunDirectory(parent);
	for (let n = 1; ; n++) {
		const dir = path.join(parent, n === 1 ? base : `${base}-${n}`);
		try {
			mkdirSync(dir);
			return dir;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
		}
	}
}

/** `dir` made, or a one-line refusal before the run starts (see `makeDirectory`). */
function makeRunDirectory(dir: string): void {
	try {
		makeDirectory(dir);
	} catch (error) {
		if (error instanceof UserPathError) throw new RunSetupError(error.message);
		throw error;
	}
}

/** Why `dir` cannot take a new run (it holds one: its journal would mix two), or undefined. */
export function runDirectoryInUse(dir: string): string | undefined {
	return existsSync(path.join(dir, "journal.jsonl"))
		? `${dir} already holds a run; give --run-dir a new directory`
		: undefined;
}

/**
 * A run's directory: the resolved plan, an append-only journal (one JSON record per line,
 * written synchronously so a killed run loses nothing it reported), logs, and results.json.
 */
export class RunDirectory {
	readonly journal: string;
	/** The run lock's fence (see `fencedBy`); a directory nobody locked writes freely (tests, tools). */
	private fence: Pick<RunFence, "stillHeld" | "failed"> = { stillHeld: () => true, failed: () => {} };
	/** A write that failed: nothing is written after it, so the journal ends at its last whole record. */
	private broken = false;
	constructor(readonly dir: string) {
		makeRunDirectory(dir);
		this.journal = path.join(dir, "journal.jsonl");
	}

	/**
	 * Writes only while the fence says the run's lock is this process's: once another kvm-matrix
	 * has taken the run over (this one was stopped past the lock's stale time), its journal and
	 * results are that one's, and what this one still had to say is dropped, not interleaved.
	 * A write that fails (a full disk) is told to the fence, which stops the run.
	 */
	fencedBy(fence: Pick<RunFence, "stillHeld" | "failed">): this {
		this.fence = fence;
		return this;
	}

	/**
	 * Something of the run's could not be written for want of room (a boot's files, a log): the
	 * run stops as when its journal cannot be written, and resumes once there is room.
	 */
	refuse(error: unknown): void {
		if (this.broken) return;
		this.broken = true;
		this.fence.failed(new RunWriteError(this.dir, error));
	}

	private writable(): boolean {
		return !this.broken && this.fence.stillHeld();
	}

	/**
	 * Appends whole lines, synced to the disk before the call returns: a record a reader (resume,
	 * merge) sees survives a host crash. A write that fails part-way (ENOSPC) is cut back to where
	 * the journal ended, so it never holds half a line followed by more records.
	 */
	private appendLines(text: string): void {
		if (!this.writable()) return;
		let fd: number | undefined;
		let size = 0;
		try {
			const created = !existsSync(this.journal);
			fd = openSync(this.journal, "a");
			size = fstatSync(fd).size;
			writeWhole(fd, text);
			fdatasyncSync(fd);
			if (created) syncDirectoryOf(this.journal);
		} catch (error) {
			this.broken = true;
			if (fd !== undefined)
				try {
					ftruncateSync(fd, size);
				} catch {
					// The cut failed too: resume ends the torn line (see `existing`) and skips it.
				}
			this.fence.failed(new RunWriteError(this.journal, error));
		} finally {
			if (fd !== undefined) closeSync(fd);
		}
	}

	/**
	 * A directory an earlier run left, to resume or classify. A journal whose last line was torn
	 * by a kill gets its line ended, so the next record starts a line of its own.
	 */
	static existing(dir: string): RunDirectory {
		requireRun(dir);
		const runDir = new RunDirectory(dir);
		if (existsSync(runDir.journal)) {
			const text = readFileSync(runDir.journal, "utf8");
			if (text !== "" && !text.endsWith("\n")) appendFileSync(runDir.journal, "\n");
		}
		return runDir;
	}

	/** The run's plan.json; a directory whose plan cannot be read is refused in one line. */
	readPlan(): PlanFile {
		return readPlanFile(this.dir);
	}

	append(record: JournalRecord): void {
		this.appendLines(`${JSON.stringify(record)}\n`);
	}

	/** Appends records in writes of many lines each: for facts copied from elsewhere (`ci merge`). */
	appendAll(records: Iterable<JournalRecord>): void {
		let batch: string[] = [];
		for (const r of records) {
			batch.push(JSON.stringify(r));
			if (batch.length >= 1_000) {
				this.appendLines(`${batch.join("\n")}\n`);
				batch = [];
			}
		}
		if (batch.length > 0) this.appendLines(`${batch.join("\n")}\n`);
	}

	/** Writes a derived file whole or not at all: a kill mid-write leaves the old one. */
	write(name: string, value: unknown): string {
		const file = path.join(this.dir, name);
		if (!this.writable()) return file;
		const partial = `${file}.${process.pid}.partial`;
		let fd: number | undefined;
		try {
			fd = openSync(partial, "w");
			writeWhole(fd, `${JSON.stringify(value, null, 2)}\n`);
			fsyncSync(fd);
			closeSync(fd);
			fd = undefined;
			renameSync(partial, file);
			syncDirectoryOf(file);
		} catch (error) {
			if (fd !== undefined) closeSync(fd);
			rmSync(partial, { force: true });
			this.broken = true;
			this.fence.failed(new RunWriteError(file, error));
		}
		return file;
	}

	cellDir(cellId: string): string {
		return path.join(this.dir, "cells", idName(cellId));
	}
}

/** All of `text` at `fd`: a write may take only part of it (a signal, a disk filling up). */
function writeWhole(fd: number, text: string): void {
	const bytes = Buffer.from(text);
	for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
}

/** ENOSPC, EDQUOT, EFBIG: no room for what was written; the machine's state, not the cell's. */
export function isDiskFull(error: unknown): boolean {
	const code = (error as NodeJS.ErrnoException | undefined)?.code;
	if (code === "ENOSPC" || code === "EDQUOT" || code === "EFBIG") return true;
	// Errors re-thrown as messages keep the code at their start (`ENOSPC: no space left on device, write`).
	return error instanceof Error && /^(?:ENOSPC|EDQUOT|EFBIG)\b/.test(error.message);
}

/** A run's journal or results could not be written (a full disk): the run stopped, resumable. */
export class RunWriteError extends Error {
	override readonly name = "RunWriteError";
	constructor(
		readonly file: string,
		cause: unknown,
	) {
		const why = (cause as NodeJS.ErrnoException).code ?? (cause instanceof Error ? cause.message : String(cause));
		super(
			`${file}: cannot be written (${why}); the run stopped, its journal ends at its last whole record: resume it once there is room`,
			{ cause },
		);
	}
}

/** What `withRunDirectory` gives its work: when to stop, and what every write asks first. */
export interface RunFence {
	/** Aborts when the run must stop: its lock was taken over, or a write to it failed. */
	readonly signal: AbortSignal;
	/** Whether this process still holds the run's lock. */
	readonly stillHeld: () => boolean;
	/** A write failed: the run stops, and `withRunDirectory` ends in this error. */
	readonly failed: (error: RunWriteError) => void;
}

/** Another kvm-matrix took the run over while this one held it: this one stopped and wrote no more. */
export class RunTakenOverError extends Error {
	override readonly name = "RunTakenOverError";
	constructor(readonly dir: string) {
		super(
			`${dir}: another kvm-matrix took this run over (this one was stopped past its lock's stale time); this one stopped writing to it`,
		);
	}
}

/**
 * Runs `work` holding a run directory for this process: a run, or a resume of it, never two at
 * once (their journals would interleave). A holder this machine knows is gone (SIGKILL, OOM) is
 * taken over at once, so a resume right after a kill starts straight away; a live one is refused.
 * `work` gets the fence its writes must pass (`RunDirectory.fencedBy`), whose signal aborts if
 * the lock is lost or a write fails; those end in `RunTakenOverError` and `RunWriteError`.
 */
export async function withRunDirectory<T>(dir: string, work: (fence: RunFence) => Promise<T>): Promise<T> {
	const broken = new AbortController();
	try {
		const result = await withLock(
			path.join(dir, "run"),
			(lost, stillHeld) =>
				work({
					signal: AbortSignal.any([lost, broken.signal]),
					stillHeld,
					failed: (error) => broken.abort(error),
				}),
			{ maxWaitMs: 3_000, what: dir, whenLost: "stop" },
		);
		if (broken.signal.aborted) throw broken.signal.reason;
		return result;
	} catch (error) {
		if (broken.signal.aborted && !(error instanceof LockCompromisedError)) throw broken.signal.reason;
		if (error instanceof LockBusyError)
			throw new RunSetupError(`${dir} is in use by another kvm-matrix run or resume; let it finish or stop it first`);
		if (error instanceof LockCompromisedError) throw new RunTakenOverError(dir);
		throw error;
	}
}

/** The run's plan.json; a directory whose plan cannot be read is refused in one line. */
export function readPlanFile(dir: string): PlanFile {
	const file = path.join(dir, "plan.json");
	let value: unknown;
	try {
		value = JSON.parse(readFileSync(file, "utf8"));
	} catch (error) {
		throw new RunSetupError(`${file}: cannot be read (${error instanceof Error ? error.message : String(error)})`);
	}
	const parsed = planFileShape.safeParse(value);
	if (!parsed.success) throw new RunSetupError(`${file}: not a kvm-matrix plan (${firstIssue(parsed.error)})`);
	return value as PlanFile;
}

/** Refuses, in one line, a directory that holds no run (nothing to resume or classify). */
export function requireRun(dir: string): void {
	if (!existsSync(path.join(dir, "plan.json")))
		throw new RunSetupError(`${dir} holds no run (no plan.json): give the directory of a kvm-matrix run`);
}
