import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { execa } from "execa";
import { CancelledError } from "../proc/run.js";
import { LockBusyError, LockCompromisedError, lockPathOf, withLock } from "./lock.js";

const LOCK_MODULE = fileURLToPath(new URL("./lock.ts", import.meta.url));

/**
 * Another kvm-matrix, as a real process: takes the lock of `target` (refreshing it every second),
 * says "locked", then holds it for `holdMs` (forever when omitted) and exits.
 */
function otherProcess(target: string, holdMs?: number) {
	const dir = mkdtempSync(path.join(os.tmpdir(), "lock-child-"));
	const script = path.join(dir, "hold.mts");
	writeFileSync(
		script,
		`import { withLock } from ${JSON.stringify(LOCK_MODULE)};
await withLock(${JSON.stringify(target)}, async () => {
	console.log("locked");
	await new Promise((resolve) => setTimeout(resolve, ${holdMs ?? 3_600_000}));
}, { staleMs: 2000 });
`,
	);
	const child = execa("node", ["--import=tsx", "--conditions=source", script], { reject: false });
	const locked = new Promise<void>((resolve, reject) => {
		child.stdout?.on("data", (chunk: Buffer) => {
			if (chunk.toString().includes("locked")) resolve();
		});
		void child.then((r) => reject(new Error(`the other process ended first: ${r.stderr}`)));
	});
	return { child, locked };
}

const target = () => path.join(mkdtempSync(path.join(os.tmpdir(), "lock-")), "builds", "key");

test("two holders in one process take turns, and the second is told once that it waits", async (t) => {
	const file = target();
	let inside = 0;
	let most = 0;
	const waits: string[] = [];
	const work = async () => {
		inside++;
		most = Math.max(most, inside);
		await new Promise((resolve) => setTimeout(resolve, 300));
		inside--;
	};
	await Promise.all([
		withLock(file, work, { what: "kernel abc" }),
		new Promise((resolve) => setTimeout(resolve, 20)).then(() =>
			withLock(file, work, { what: "kernel abc", onWait: (line) => waits.push(line) }),
		),
	]);
	t.is(most, 1);
	t.deepEqual(waits, ["waiting for another kvm-matrix using kernel abc"]);
	t.false(existsSync(lockPathOf(file)), "released");
});

test("a lock held by another process is waited for, then taken", async (t) => {
	const file = target();
	const other = otherProcess(file, 1_500);
	await other.locked;
	const started = Date.now();
	let waited = 0;
	const result = await withLock(file, async () => "mine", { onWait: () => waited++ });
	t.is(result, "mine");
	t.is(waited, 1);
	t.true(Date.now() - started >= 500, "it did wait");
	t.is((await other.child).exitCode, 0);
});

test("the lock of a process killed with -9 on this machine is taken over at once", async (t) => {
	const file = target();
	const other = otherProcess(file);
	await other.locked;
	other.child.kill("SIGKILL");
	await other.child;
	t.true(existsSync(lockPathOf(file)), "kill -9 left its lock behind");
	const waits: string[] = [];
	// However long its stale time: the holder is known to be gone.
	await withLock(file, async () => {}, { staleMs: 60_000, onWait: (line) => waits.push(line) });
	t.deepEqual(waits, []);
	t.false(existsSync(lockPathOf(file)));
});

test("a killed holder on another machine (a shared cache) is waited for until its lock goes stale", async (t) => {
	const file = target();
	const other = otherProcess(file);
	await other.locked;
	other.child.kill("SIGKILL");
	await other.child;
	// What a holder on another host would have left: its record says so.
	const ownerFile = `${lockPathOf(file)}.owner`;
	const owner = JSON.parse(readFileSync(ownerFile, "utf8")) as Record<string, unknown>;
	writeFileSync(ownerFile, JSON.stringify({ ...owner, host: "another-host" }));
	const started = Date.now();
	const waits: string[] = [];
	await withLock(file, async () => {}, { staleMs: 2_000, onWait: (line) => waits.push(line) });
	t.is(waits.length, 1);
	// Stale once its holder stopped refreshing it for 2 s: not before, and not much later.
	const waited = Date.now() - started;
	t.true(waited > 500 && waited < 6_000, `${waited} ms`);
});

test("a live holder past the longest wait is a LockBusyError, and keeps its lock", async (t) => {
	const file = target();
	const other = otherProcess(file);
	await other.locked;
	await t.throwsAsync(
		withLock(file, async () => t.fail("got the lock"), { maxWaitMs: 500, what: "the run" }),
		{
			instanceOf: LockBusyError,
			message: "the run is in use by another kvm-matrix",
		},
	);
	t.true(existsSync(lockPathOf(file)));
	other.child.kill("SIGKILL");
	await other.child.catch(() => {});
});

test("a wait ends when its signal aborts, and the holder is not disturbed", async (t) => {
	const file = target();
	let release = () => {};
	const holding = withLock(file, () => new Promise<void>((resolve) => (release = resolve)));
	await new Promise((resolve) => setTimeout(resolve, 50));
	const stop = new AbortController();
	const waiting = withLock(file, async () => t.fail("got the lock"), { signal: stop.signal });
	setTimeout(() => stop.abort(), 200);
	const started = Date.now();
	await t.throwsAsync(waiting, { instanceOf: CancelledError });
	t.true(Date.now() - started < 2_500);
	t.true(existsSync(lockPathOf(file)), "still held by the first");
	release();
	await holding;
	t.false(existsSync(lockPathOf(file)));
});

test("the lock is released when the work throws, and the work's signal follows the caller's", async (t) => {
	const file = target();
	await t.throwsAsync(
		withLock(file, async () => {
			throw new Error("make failed");
		}),
		{ message: "make failed" },
	);
	t.false(existsSync(lockPathOf(file)));
	const stop = new AbortController();
	const seen = await withLock(
		file,
		async (signal) => {
			stop.abort();
			return signal.aborted;
		},
		{ signal: stop.signal },
	);
	t.true(seen);
	t.false(existsSync(lockPathOf(file)));
});

test("a work whose lock was taken away stops and runs again once it holds the lock anew", async (t) => {
	const target = path.join(mkdtempSync(path.join(os.tmpdir(), "lock-")), "key");
	let runs = 0;
	const result = await withLock(
		target,
		async (signal) => {
			runs++;
			if (runs > 1) return "built once the lock was ours again";
			// Another process's takeover, as proper-lockfile sees it: the lock is not the one it made.
			rmSync(lockPathOf(target), { recursive: true });
			await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
			throw signal.reason;
		},
		{ staleMs: 2_000 },
	);
	t.is(result, "built once the lock was ours again");
	t.is(runs, 2);
	t.false(existsSync(lockPathOf(target)));
});

/** The record a killed holder left, changed as `change` says, written back. */
async function killedHolder(file: string, change: (owner: Record<string, unknown>) => Record<string, unknown>) {
	const other = otherProcess(file);
	await other.locked;
	other.child.kill("SIGKILL");
	await other.child;
	const ownerFile = `${lockPathOf(file)}.owner`;
	const owner = JSON.parse(readFileSync(ownerFile, "utf8")) as Record<string, unknown>;
	writeFileSync(ownerFile, JSON.stringify(change(owner)));
	return owner;
}

test("a dead holder whose pid is another process's now is taken over at once; a live one's is not", async (t) => {
	const file = target();
	// The holder's pid is this test's own process now (a pid used again), started at another time.
	await killedHolder(file, (o) => ({ ...o, pid: process.ppid, start: "1" }));
	const waits: string[] = [];
	await withLock(file, async () => {}, { staleMs: 60_000, maxWaitMs: 3_000, onWait: (l) => waits.push(l) });
	t.deepEqual(waits, []);
	// The same pid with its real start time is a live holder: waited for, never taken.
	const live = target();
	await killedHolder(live, (o) => o);
	const ownerFile = `${lockPathOf(live)}.owner`;
	const record = JSON.parse(readFileSync(ownerFile, "utf8")) as Record<string, unknown>;
	const parentStart = readFileSync(`/proc/${process.ppid}/stat`, "utf8");
	const start = parentStart.slice(parentStart.lastIndexOf(")") + 2).split(" ")[19];
	writeFileSync(ownerFile, JSON.stringify({ ...record, pid: process.ppid, start }));
	await t.throwsAsync(() => withLock(live, async () => {}, { staleMs: 60_000, maxWaitMs: 1_500 }), {
		instanceOf: LockBusyError,
	});
});

test("a holder in another pid namespace (a container on this kernel) is left to the stale rule", async (t) => {
	const file = target();
	await killedHolder(file, (o) => ({ ...o, pidns: "pid:[1]" }));
	const started = Date.now();
	await withLock(file, async () => {}, { staleMs: 2_000 });
	t.true(Date.now() - started > 500, "waited until the lock went stale");
});

test("a holder that lost its lock does not remove the new holder's record when it lets go", async (t) => {
	const file = target();
	const ownerFile = `${lockPathOf(file)}.owner`;
	let newRecord = "";
	let stopped: ReturnType<typeof otherProcess> | undefined;
	await withLock(
		file,
		async () => {
			// Taken over while this work ran: another process's lock and record are there now.
			rmSync(lockPathOf(file), { recursive: true });
			rmSync(ownerFile, { force: true });
			stopped = otherProcess(file);
			await stopped.locked;
			newRecord = readFileSync(ownerFile, "utf8");
		},
		{ staleMs: 2_000, whenLost: "finish" },
	).catch(() => undefined);
	t.true(existsSync(ownerFile));
	t.is(readFileSync(ownerFile, "utf8"), newRecord);
	stopped?.child.kill("SIGKILL");
	await stopped?.child;
});

test("whenLost stop: a takeover is seen at the next write, before the refresh timer; the work is not run again", async (t) => {
	const file = target();
	let runs = 0;
	let other: ReturnType<typeof otherProcess> | undefined;
	const seen: boolean[] = [];
	const error = await t.throwsAsync(
		withLock(
			file,
			async (signal, stillHeld) => {
				runs++;
				seen.push(stillHeld());
				// Taken over while this one was stopped: another process's lock and record are there now.
				rmSync(lockPathOf(file), { recursive: true });
				rmSync(`${lockPathOf(file)}.owner`, { force: true });
				other = otherProcess(file);
				await other.locked;
				seen.push(stillHeld(), signal.aborted);
			},
			{ staleMs: 60_000, whenLost: "stop" },
		),
		{ instanceOf: LockCompromisedError },
	);
	t.deepEqual(seen, [true, false, true]);
	t.is(runs, 1);
	// Seen by the fence here, or by the refresh timer if the other process was slow to start.
	t.regex(error?.message ?? "", /^lost the lock on /);
	other?.child.kill("SIGKILL");
	await other?.child;
});
