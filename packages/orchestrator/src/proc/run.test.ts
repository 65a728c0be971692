import { readFileSync } from "node:fs";
import test from "ava";
import { MAX_LINE } from "./lines.js";
import { CancelledError, runCommand } from "./run.js";

/** Running; a zombie waiting for an init that does not reap (as in some containers) counts as gone. */
const alive = (pid: number) => {
	try {
		return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
	} catch {
		return false;
	}
};

const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

test("an abort kills the command's children too (make's compilers), not only the command", async (t) => {
	const stop = new AbortController();
	let pid = 0;
	const run = runCommand("sh", ["-c", "sleep 300 & echo $!; wait"], {
		signal: stop.signal,
		onLine: (line) => {
			pid = Number(line);
			stop.abort();
		},
	});
	await t.throwsAsync(run, { instanceOf: CancelledError });
	await settle();
	t.true(pid > 0);
	t.false(alive(pid), "the grandchild survived the abort");
});

test("a command that exits while something it started keeps the output open returns at once, and that is killed", async (t) => {
	const started = Date.now();
	const lines = await runCommand("sh", ["-c", "sleep 300 & echo $!"]);
	t.true(Date.now() - started < 10_000, "waited for the leftover");
	await settle();
	t.false(alive(Number(lines[0])), "the leftover survived");
});

test("a kvm-matrix killed with SIGKILL takes its command with it (no orphaned make)", async (t) => {
	const { execa } = await import("execa");
	const runner = new URL("./run.ts", import.meta.url).pathname;
	const parent = execa(
		"node",
		[
			"--import=tsx",
			"--input-type=module",
			"-e",
			`const { runCommand } = await import(${JSON.stringify(runner)});
			await runCommand("sh", ["-c", "echo $$; exec sleep 300"], { onLine: (l) => console.log(l) });`,
		],
		{ reject: false },
	);
	const pid = await new Promise<number>((resolve) => {
		parent.stdout?.on("data", (chunk: Buffer) => resolve(Number(String(chunk).trim().split("\n")[0])));
	});
	t.true(alive(pid));
	parent.kill("SIGKILL");
	await parent;
	await settle();
	t.false(alive(pid), "the command outlived its kvm-matrix");
});

test("a 20 MB line from a command is one line, cut at its cap and said so", async (t) => {
	const seen: string[] = [];
	const tail = await runCommand("sh", ["-c", "head -c 20000000 /dev/zero | tr '\\0' x; echo; echo after"], {
		onLine: (line) => seen.push(line),
	});
	t.is(seen.length, 2);
	t.is(seen[0], `${"x".repeat(MAX_LINE)} [kvm-matrix: line cut at ${MAX_LINE} characters]`);
	t.is(seen[1], "after");
	t.deepEqual(tail, seen);
});
