import { readFileSync, readlinkSync, statSync } from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { lock } from "proper-lockfile";
import { CancelledError } from "../proc/run.js";
import { writeAtomically } from "./atomic.js";

/** The lock was taken away while the work ran (another process judged it stale): the work's output is not trusted. */
export class LockCompromisedError extends Error {
	override readonly name = "LockCompromisedError";
	constructor(
		readonly target: string,
		cause: Error,
	) {
		super(`lost the lock on ${target} while using it: ${cause.message}`, { cause });
	}
}

export interface LockOptions {
	/** Stops the wait (with `CancelledError`) and, once the lock is held, the work's own signal. */
	readonly signal?: AbortSignal | undefined;
	/** Called once, when another process holds the lock, with a line to show while waiting. */
	readonly onWait?: ((line: string) => void) | undefined;
	/** What the lock protects, for that line; the target's path by default. */
	readonly what?: string | undefined;
	/**
	 * A lock whose holder stopped refreshing it for this long is taken over: its process died
	 * (`kill -9`, a crashed machine). Default 30 s; proper-lockfile's floor is 2 s.
	 */
	readonly staleMs?: number | undefined;
	/** Give up waiting for a live holder after this long, with `LockBusyError`; wait for ever if absent. */
	readonly maxWaitMs?: number | undefined;
	/**
	 * What a lost lock means for the work: by default it is stopped and started again (a build
	 * checks its cache again); `"stop"` stops it for good, and withLock throws the loss (a run:
	 * whoever took the lock owns the run's record now); `"finish"` lets it run on.
	 */
	readonly whenLost?: "restart" | "stop" | "finish" | undefined;
}

/** A live process holds the lock and `maxWaitMs` has passed. */
export class LockBusyError extends Error {
	override readonly name = "LockBusyError";
	constructor(readonly what: string) {
		super(`${what} is in use by another kvm-matrix`);
	}
}

const DEFAULT_STALE_MS = 30_000;
/** The holder refreshes the lock's mtime this often, well inside the stale limit. */
const MAX_REFRESH_MS = 5_000;
const FIRST_RETRY_MS = 50;
/** A wait may last a whole kernel build: polling every two seconds costs nothing and is prompt enough. */
const LAST_RETRY_MS = 2_000;

/** The lock of `target`: a directory beside it, created with mkdir (atomic even on NFS). */
export const lockPathOf = (target: string): string => `${target}.lock`;

/**
 * Runs `work` while holding the inter-process lock of `target` (one kvm-matrix at a time per
 * cache key, mirror, worktree or store). Another holder is waited for, polling with backoff until
 * it releases the lock or stops refreshing it; `signal` ends the wait. `work` gets a signal that
 * aborts when the caller's does or when the lock is lost, and the lock is released however it ends.
 */
export async function withLock<T>(
	target: string,
	work: (signal: AbortSignal, stillHeld: () => boolean) => Promise<T>,
	options: LockOptions = {},
): Promise<T> {
	// Two waiters taking over one stale lock can both get it (proper-lockfile's takeover is
	// check-then-act); the one that finds it lost stops its work and queues again, and its work
	// (check the cache, build if missing) then finds what the other made.
	for (let round = 1; ; round++) {
		try {
			return await holdingLock(target, work, options);
		} catch (error) {
			if (
				!(error instanceof LockCompromisedError) ||
				options.whenLost === "stop" ||
				options.signal?.aborted ||
				round >= MAX_ROUNDS
			)
				throw error;
		}
	}
}

/** How often a work whose lock was taken away is started again before the loss is its error. */
const MAX_ROUNDS = 3;

async function holdingLock<T>(
	target: string,
	work: (signal: AbortSignal, stillHeld: () => boolean) => Promise<T>,
	options: LockOptions,
): Promise<T> {
	const staleMs = Math.max(options.staleMs ?? DEFAULT_STALE_MS, 2_000);
	const held = new AbortController();
	let lost: LockCompromisedError | undefined;
	const { release, owner } = await acquire(target, staleMs, options, (error) => {
		if (options.whenLost === "finish") return;
		lost = new LockCompromisedError(target, error);
		held.abort(lost);
	});
	// A fence for writes the lock guards: the refresh timer notices a takeover only when it next
	// fires, and a process stopped past the stale time (Ctrl-Z, SIGSTOP, a frozen VM) runs its
	// pending writes first when it is continued. The lock's own directory and owner record are
	// asked instead, at each write.
	const stillHeld = () => {
		if (lost !== undefined) return false;
		if (heldSync(lockPathOf(target), owner)) return true;
		lost = new LockCompromisedError(target, new Error("another process holds it now"));
		held.abort(lost);
		return false;
	};
	const forward = () => held.abort(options.signal?.reason);
	options.signal?.addEventListener("abort", forward, { once: true });
	if (options.signal?.aborted) forward();
	try {
		const result = await work(held.signal, stillHeld);
		if (lost !== undefined) throw lost;
		return result;
	} catch (error) {
		// A work that failed because the lock went away says so, not "cancelled".
		throw lost ?? error;
	} finally {
		options.signal?.removeEventListener("abort", forward);
		// A lost lock is no longer ours to remove.
		await release().catch(() => {});
	}
}

async function acquire(
	target: string,
	staleMs: number,
	options: LockOptions,
	onCompromised: (error: Error) => void,
): Promise<{ readonly release: () => Promise<void>; readonly owner: Owner }> {
	const lockfilePath = lockPathOf(target);
	await mkdir(path.dirname(lockfilePath), { recursive: true });
	const started = Date.now();
	for (let attempt = 0; ; attempt++) {
		if (options.signal?.aborted) throw new CancelledError();
		try {
			// Retries are ours, not proper-lockfile's: its own cannot be interrupted by a signal.
			const release = await lock(target, {
				lockfilePath,
				// The target need not exist (a build directory not made yet).
				realpath: false,
				stale: staleMs,
				update: Math.min(MAX_REFRESH_MS, staleMs / 2),
				retries: 0,
				// Its default throws from a timer, which would end the whole process.
				onCompromised,
			});
			const owner = await claimOwnership(lockfilePath);
			return {
				owner,
				release: async () => {
					await dropOwnership(lockfilePath, owner);
					await release();
				},
			};
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== "ELOCKED") throw error;
		}
		// A holder on this machine that is gone (SIGKILL, OOM) is not waited for until its lock goes
		// stale: a resume right after a kill starts at once.
		if (await holderIsGone(lockfilePath)) continue;
		if (options.maxWaitMs !== undefined && Date.now() - started >= options.maxWaitMs)
			throw new LockBusyError(options.what ?? target);
		if (attempt === 0) options.onWait?.(`waiting for another kvm-matrix using ${options.what ?? target}`);
		await pause(retryDelay(attempt), options.signal);
	}
}

/**
 * Who holds a lock, beside it: this machine (host name and boot), the process, and the lock
 * directory's inode, so a record left by an earlier holder is never taken for the current one's.
 */
interface Owner {
	readonly host: string;
	readonly boot: string;
	/** The pid namespace (`pid:[4026531836]`): containers on one kernel share its boot id and may share a hostname. */
	readonly pidns?: string;
	readonly pid: number;
	/** When that process started (clock ticks since boot): a pid used again is another process. */
	readonly start?: string;
	readonly ino: number;
}

const ownerFileOf = (lockfilePath: string) => `${lockfilePath}.owner`;
const bootId = (() => {
	try {
		return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
	} catch {
		return "";
	}
})();
const pidNamespace = (() => {
	try {
		return readlinkSync("/proc/self/ns/pid");
	} catch {
		return "";
	}
})();

/** A process's start time, from /proc/PID/stat (the field after the command, 20 on); "" when unknown. */
function startTimeOf(pid: number): string {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		// The command may hold spaces and parentheses: the fields start after its last ")".
		return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
	} catch {
		return "";
	}
}
const ownStart = startTimeOf(process.pid);

const ownerOf = (ino: number): Owner => ({
	host: os.hostname(),
	boot: bootId,
	pidns: pidNamespace,
	pid: process.pid,
	start: ownStart,
	ino,
});

async function claimOwnership(lockfilePath: string): Promise<Owner> {
	const owner = ownerOf((await stat(lockfilePath)).ino);
	await writeAtomically(ownerFileOf(lockfilePath), JSON.stringify(owner));
	return owner;
}

/** Whether `owner` still holds the lock: the same lock directory, and its owner record still ours. */
function heldSync(lockfilePath: string, owner: Owner): boolean {
	try {
		return (
			statSync(lockfilePath).ino === owner.ino &&
			readFileSync(ownerFileOf(lockfilePath), "utf8") === JSON.stringify(owner)
		);
	} catch {
		return false;
	}
}

/** Removes the owner record only when it is still `owner`'s: a lock lost and taken over is another's now. */
async function dropOwnership(lockfilePath: string, owner: Owner): Promise<void> {
	const file = ownerFileOf(lockfilePath);
	const text = await readFile(file, "utf8").catch(() => undefined);
	if (text === JSON.stringify(owner)) await rm(file, { force: true });
}

/**
 * True (and the lock removed) when the lock's holder ran on this machine, in this boot and pid
 * namespace, and its process is gone (or its pid is another process's now). Anything uncertain
 * (another machine or container, no record yet, a record of an earlier lock, a live pid) leaves
 * the lock to the stale-time rule.
 */
async function holderIsGone(lockfilePath: string): Promise<boolean> {
	let owner: Owner;
	let ino: number;
	try {
		owner = JSON.parse(await readFile(ownerFileOf(lockfilePath), "utf8")) as Owner;
		ino = (await stat(lockfilePath)).ino;
	} catch {
		return false;
	}
	if (owner.host !== os.hostname() || owner.boot !== bootId || bootId === "" || owner.ino !== ino) return false;
	if ((owner.pidns ?? "") !== pidNamespace) return false;
	if (owner.pid === process.pid) return false;
	if (processExists(owner.pid)) {
		// The pid is taken: by the holder, unless it started at another time.
		const start = startTimeOf(owner.pid);
		if (owner.start === undefined || owner.start === "" || start === "" || start === owner.start) return false;
	}
	// Another waiter may have taken it over meanwhile: only the dead holder's own lock goes. (Two
	// waiters racing here is caught by the loser's refresh, and withLock starts its work again.)
	if ((await stat(lockfilePath).catch(() => undefined))?.ino !== ino) return false;
	await rm(lockfilePath, { recursive: true, force: true });
	await rm(ownerFileOf(lockfilePath), { force: true });
	return true;
}

function processExists(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		// EPERM: it exists, as another user's.
		return (error as NodeJS.ErrnoException).code === "EPERM";
	}
}

/** Exponential backoff with jitter, so that several waiters do not poll in step. */
const retryDelay = (attempt: number) =>
	Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 1.5 ** attempt) * (0.75 + Math.random() * 0.5);

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
	return new Promise((resolve) => {
		const done = () => {
			clearTimeout(timer);
			signal?.removeEventListener("abort", done);
			resolve();
		};
		const timer = setTimeout(done, ms);
		signal?.addEventListener("abort", done, { once: true });
	});
}
