import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { execa } from "execa";
import { holdMachineLock, type LockAttempt } from "./machine-lock.js";
import { localShell } from "./shell.js";

const lockFile = () => path.join(mkdtempSync(path.join(os.tmpdir(), "machine-lock-")), "kvm.lock");
const hold = (file: string, mode: "shared" | "exclusive", waitS = 0) =>
	holdMachineLock(localShell, os.tmpdir(), mode, waitS, file);
const release = async (attempt: LockAttempt) => {
	if (attempt.kind === "held") await attempt.release();
};

test("cells share the lock; a reload waits for them and is told the lock is busy when they stay", async (t) => {
	const file = lockFile();
	const a = await hold(file, "shared");
	const b = await hold(file, "shared");
	t.is(a.kind, "held");
	t.is(b.kind, "held");
	t.deepEqual(await hold(file, "exclusive", 1), { kind: "busy", file });
	await release(a);
	t.is((await hold(file, "exclusive", 0)).kind, "busy", "one shared holder is enough to keep a reload out");
	await release(b);
	const x = await hold(file, "exclusive", 5);
	t.is(x.kind, "held");
	t.deepEqual(await hold(file, "shared", 1), { kind: "busy", file }, "nobody starts tests during a reload");
	await release(x);
	const after = await hold(file, "shared", 5);
	t.is(after.kind, "held");
	await release(after);
});

test("a waiting reload gets the lock as soon as the last cell lets go", async (t) => {
	const file = lockFile();
	const cell = await hold(file, "shared");
	const reload = hold(file, "exclusive", 30);
	await new Promise((r) => setTimeout(r, 1500));
	await release(cell);
	const got = await reload;
	t.is(got.kind, "held");
	await release(got);
});

test("the lock goes with a kvm-matrix that is killed (SIGKILL) while it holds it", async (t) => {
	const file = lockFile();
	const module = fileURLToPath(new URL("./machine-lock.js", import.meta.url)).replace("/src/", "/dist/");
	const shell = module.replace("machine-lock.js", "shell.js");
	const child = execa(
		"node",
		[
			"--input-type=module",
			"-e",
			`import { holdMachineLock } from ${JSON.stringify(module)};
			 import { localShell } from ${JSON.stringify(shell)};
			 const a = await holdMachineLock(localShell, "/", "exclusive", 0, ${JSON.stringify(file)});
			 console.log(a.kind);
			 setInterval(() => {}, 1000);`,
		],
		{ reject: false },
	);
	await new Promise<void>((resolve) => child.stdout?.on("data", () => resolve()));
	t.deepEqual(await hold(file, "shared", 0), { kind: "busy", file });
	child.kill("SIGKILL");
	await child;
	// The holder's next line has no reader: it ends within its second, and the lock with it.
	const got = await hold(file, "exclusive", 5);
	t.is(got.kind, "held");
	await release(got);
});

test("a machine that cannot lock says why in one line", async (t) => {
	const got = await hold("/proc/no-such-dir/kvm.lock", "shared");
	t.is(got.kind, "unavailable");
	t.regex(got.kind === "unavailable" ? got.reason : "", /^cannot open \/proc\/no-such-dir\/kvm\.lock$/);
});

test("a cancelled run stops waiting for the lock at once, and a lock it never got is not left behind", async (t) => {
	const file = lockFile();
	const cell = await hold(file, "shared");
	const controller = new AbortController();
	const waiting = holdMachineLock(localShell, os.tmpdir(), "exclusive", 300, file, controller.signal);
	setTimeout(() => controller.abort(), 300);
	// Without the abort this would be `busy`, 300 s on: past the test's own time limit.
	t.deepEqual(await waiting, { kind: "cancelled" });
	await release(cell);
	// The holder that was waiting is gone: the lock is free for anyone.
	const after = await hold(file, "exclusive", 5);
	t.is(after.kind, "held");
	await release(after);
});
