// A real `kvm-matrix run` (fakelinux tree, real make, real QEMU) killed with SIGKILL at several
// points and resumed: the final results.json must have exactly the tests an uninterrupted run has,
// none lost and none run twice.
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CLI, REPO } from "./support/cli.js";
import { fakeLinux } from "./support/fakelinux.js";
import {
	cliEnv,
	duplicated,
	killResumeMatrix,
	killRunTree,
	readAttempts,
	resultKeys,
	resume,
	startRun,
	waitFor,
} from "./support/run-process.js";

const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix));

/** Kill points: what the run printed last before the SIGKILL. */
const POINTS = [
	{ name: "during the kernel build", pattern: /building fake@master/ },
	{ name: "between tests", pattern: /PASS {4}x86_64\/pass_test/ },
	{ name: "while a guest runs", pattern: /: running/ },
] as const;

test.serial("a run killed at any point and resumed has every test exactly once", async (t) => {
	t.timeout(1_200_000);
	const tree = await fakeLinux();
	const matrix = killResumeMatrix(tree);
	const cache = tmp("kill-resume-cache-");
	const whole = tmp("kill-resume-whole-");
	const uninterrupted = await startRun(matrix, whole, cache);
	// New failures only: worth a look, not red by default (the exit policy).
	t.is(uninterrupted.exitCode, 0, uninterrupted.stderr);
	t.regex(uninterrupted.stdout, /^exit 0, green: no regressions; \d+ new-failure/m);
	const expected = resultKeys(whole);
	t.is(expected.length, 8);

	for (const point of POINTS) {
		// A cache of its own for the build point, so the build really is under way when killed.
		const runCache = point.name === "during the kernel build" ? tmp("kill-resume-cache-") : cache;
		const runDir = tmp("kill-resume-run-");
		const child = startRun(matrix, runDir, runCache);
		await waitFor(child, point.pattern, 300_000);
		await killRunTree(child, runDir, runCache);
		await child;
		const before = readAttempts(runDir);
		if (point.name === "between tests") {
			// A killed run is classified from its journal, even one whose last line the kill tore.
			appendFileSync(path.join(runDir, "journal.jsonl"), '{"type":"test-result","cell":"kill-re');
			const classified = await execa("node", [CLI, "classify", runDir], {
				env: cliEnv(runCache),
				reject: false,
				cwd: REPO,
			});
			t.is(classified.exitCode, 0, classified.stderr);
			// Killed after some results and before the last attempt (the retries need a boot of their own).
			const keys = resultKeys(runDir);
			t.true(keys.length > 0 && before.length < readAttempts(whole).length, before.join(", "));
			t.true(keys.every((k) => expected.includes(k)));
		}

		const resumed = await resume(runDir, runCache);
		// What a failure below needs to be understood: the resume's own account of what it ran.
		const told = `${point.name}: killed with ${before.join(", ")}\n${resumed.stdout}\n${resumed.stderr}`;
		t.is(resumed.exitCode, 0, told);
		t.regex(resumed.stdout, /^exit 0, green: no regressions/m, told);
		t.regex(resumed.stdout, /resuming: \d+ results and \d+ finished cells kept from before/, point.name);
		if (point.name === "between tests") t.regex(resumed.stdout, /journal\.jsonl:\d+: not JSON, ignored/);
		t.deepEqual(resultKeys(runDir), expected, told);
		const after = readAttempts(runDir);
		t.deepEqual(duplicated(after), [], `a test ran twice: ${told}`);
		// Results journaled before the kill are kept as they were, not run again.
		t.deepEqual(after.slice(0, before.length), before, told);
		// And every attempt the uninterrupted run made, retries of failures included, was made.
		t.deepEqual([...after].sort(), [...readAttempts(whole)].sort(), told);

		const again = await resume(runDir, runCache);
		t.is(again.exitCode, 0, again.stderr);
		t.regex(again.stdout, /finished before; nothing to resume/);
	}
});

test.serial(
	"a resume refuses a live run's directory, and a matrix file that changed unless --matrix names it",
	async (t) => {
		t.timeout(600_000);
		const tree = await fakeLinux();
		const matrix = killResumeMatrix(tree);
		const cache = tmp("kill-resume-cache-");
		const runDir = tmp("kill-resume-run-");
		// While a run is alive its directory is its own: a resume beside it is refused (the slow
		// branch's build never ends, so the run outlives the resume's wait for the lock).
		const slowDir = tmp("kill-resume-run-");
		const slow = startRun(killResumeMatrix(tree, "slow"), slowDir, cache);
		await waitFor(slow, /building fake@slow/, 300_000);
		const beside = await resume(slowDir, cache);
		t.is(beside.exitCode, 2, beside.stdout);
		t.regex(beside.stderr, /is in use by another kvm-matrix run or resume/);
		await killRunTree(slow, slowDir, cache);
		await slow;

		const child = startRun(matrix, runDir, cache);
		await waitFor(child, /building fake@master/, 300_000);
		await killRunTree(child, runDir, cache);
		await child;
		writeFileSync(matrix, readFileSync(matrix, "utf8").replace("timeout: 30s", "timeout: 40s"));
		const refused = await resume(runDir, cache);
		t.is(refused.exitCode, 2);
		t.is(refused.stderr.trim().split("\n").length, 1, refused.stderr);
		t.regex(refused.stderr, /changed since the run started; name it with --matrix/);
		const named = await execa("node", [CLI, "resume", runDir, "--matrix", matrix, "--headless"], {
			env: cliEnv(cache),
			reject: false,
			cwd: REPO,
		});
		t.is(named.exitCode, 0, named.stderr);
		t.is(resultKeys(runDir).length, 8);
	},
);
