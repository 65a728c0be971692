// kvm-matrix driving a KUT-shaped FIXTURE (KUT cannot be installed here) through KUT's own
// interface: ./configure, make, x86/unittests.cfg, ./run_tests.sh with unittest_log_dir.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createEventBus, type EngineEvent, executeRun, loadMatrixFile, RunCommands } from "@kvm-matrix/orchestrator";
import test from "ava";
import { execa } from "execa";
import { buildKut } from "../packages/orchestrator/src/kut/build.js";
import { runKutOnHost } from "../packages/orchestrator/src/kut/run-host.js";
import { cachePaths } from "../packages/orchestrator/src/paths/cache.js";
import { worktreeFor } from "../packages/orchestrator/src/sources/git.js";
import { kvmMatrix } from "./support/cli.js";
import { commitFiles } from "./support/git.js";
import { hostMatrix, kutFixture } from "./support/kut-fixture.js";

test("KUT is built once per commit and every test's status, reason and checks come back as KUT reports them", async (t) => {
	t.timeout(180_000);
	const repo = await kutFixture();
	const cache = cachePaths(mkdtempSync(path.join(os.tmpdir(), "kut-cache-")));
	const sha = (await execa("git", ["-C", repo, "rev-parse", "HEAD"])).stdout;
	const worktree = await worktreeFor(repo, sha, cache.worktrees);
	const built = await buildKut({ worktree, sha, cache, jobs: 2 });
	t.false(built.cacheHit);
	t.true(existsSync(path.join(worktree, "x86/pass.flat")));
	t.is(built.entries.length, 13);
	t.true((await buildKut({ worktree, sha, cache })).cacheHit);

	const logRoot = mkdtempSync(path.join(os.tmpdir(), "kut-logs-"));
	const durationsFile = path.join(cache.root, "kut-durations.json");
	const seen: string[] = [];
	const results = await runKutOnHost({
		dir: worktree,
		tests: built.entries.map((e) => e.name),
		accel: "tcg",
		logRoot,
		parallel: 2,
		durationsFile,
		onResult: (r) => seen.push(r.testId),
	});
	const byName = Object.fromEntries(results.map((r) => [r.testId, r]));
	const status = Object.fromEntries(results.map((r) => [r.testId, [r.status, r.detail ?? ""]]));
	t.deepEqual(status, {
		pass: ["pass", "2 tests"],
		"pass-args": ["pass", "4 tests"],
		fail: ["fail", "3 tests, 1 unexpected failures, 1 skipped"],
		skip: ["skip", "1 tests, 1 skipped"],
		timeout: ["timeout", "timeout; duration=2s"],
		crash: ["fail", "terminated on SIGSEGV"],
		"kvm-only": ["skip", "kvm only, but ACCEL=tcg"],
		checked: ["skip", "/nonexistent/kvm/parameters/ept not equal to Y"],
		manual: ["skip", "test marked as manual run only"],
		"i386-only": ["skip", "i386 only"],
		disabled: ["skip", 'disabled because: [[ "$ACCEL" = tcg ]]'],
		"machine-q35": ["pass", "2 tests"],
		flaky: ["skip", "test marked as manual run only"],
	});
	t.deepEqual(byName.fail?.subtests, [
		{ name: "msr: MSR_IA32_SYSENTER_CS", status: "pass" },
		{ name: "msr: MSR_IA32_TSC_ADJUST", status: "fail" },
		{ name: "msr: MSR_K7_HWCR", status: "skip" },
	]);
	t.deepEqual(byName.fail?.checks, {
		tests: 3,
		unexpectedFailures: 1,
		knownFailures: 0,
		expectedFailures: 0,
		skipped: 1,
	});
	// test_args reached the image (through KUT's own eval of the cfg line).
	t.true(readFileSync(byName["pass-args"]?.logPath ?? "", "utf8").includes("PASS: arg two"));
	t.is(seen.length, 13);

	// The next run starts with the longest test (the 2 s timeout) now that durations are known.
	const order: string[] = [];
	await runKutOnHost({
		dir: worktree,
		tests: ["pass", "timeout", "fail"],
		accel: "tcg",
		logRoot,
		parallel: 1,
		durationsFile,
		onResult: (r) => order.push(r.testId),
	});
	t.is(order[0], "timeout");
});

test("kvm-matrix run with a host target runs the KUT suite and reports statuses and check counts", async (t) => {
	t.timeout(300_000);
	const repo = await kutFixture();
	const { dir, file: matrix } = hostMatrix(
		repo,
		"kut-host",
		"{ tree: kut, ref: master, accel: tcg, exclude: [timeout] }",
	);
	const runDir = path.join(dir, "run");
	const run = await kvmMatrix(dir, "run", matrix, "--run-dir", runDir);
	// fail and crash have no baseline and no linked fix: new failures, which need a human, but
	// are not regressions: red only when asked for.
	t.is(run.exitCode, 0, run.stderr);
	t.regex(run.stdout, /^exit 0, green: no regressions; 2 new-failure; --fail-on new-failure would make it red$/m);
	const strict = await kvmMatrix(dir, "classify", runDir, "--fail-on", "new-failure");
	t.is(strict.exitCode, 1, strict.stderr);
	t.regex(strict.stdout, /^exit 1, red: 2 new-failure$/m);
	const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as {
		cells: {
			id: string;
			state: string;
			counts: Record<string, number>;
			notes: string[];
			results: { testId: string; status: string; checks?: { tests: number } }[];
		}[];
	};
	const cell = results.cells[0];
	t.is(cell?.id, "running/host");
	t.is(cell?.state, "done");
	t.deepEqual(cell?.counts, { pass: 3, fail: 2, skip: 7, timeout: 0, crash: 0, error: 0 });
	t.is(cell?.results.find((r) => r.testId === "fail")?.checks?.tests, 3);
	t.false(cell?.results.some((r) => r.testId === "timeout"));
	t.true(cell?.notes.some((n) => n.startsWith("host target: ran on this machine's kernel")));
	t.regex(run.stdout, /running\/host: SKIP {4}kvm-only 0\.\ds \(kvm only, but ACCEL=tcg\)/);
});

test("the same KUT suite on a booted-kernel target runs inside the guest (host root shared read-only, chroot)", async (t) => {
	t.timeout(600_000);
	const repo = await kutFixture();
	const dir = mkdtempSync(path.join(os.tmpdir(), "kut-guest-"));
	const matrix = path.join(dir, "m.yaml");
	writeFileSync(
		matrix,
		`name: kut-guest
trees:
  kut: { path: ${repo} }
kernels:
  - { name: debian, prebuilt: { kernel: /boot/vmlinuz-*-amd64, modules: /lib/modules } }
targets:
  - { name: tcg, qemu: { cpu: max, smp: 2, memory: 1G, accel: tcg } }
suites:
  kut: { tree: kut, ref: master, accel: tcg, include: [pass-args, fail, kvm-only] }
`,
	);
	const runDir = path.join(dir, "run");
	const run = await kvmMatrix(dir, "run", matrix, "--run-dir", runDir, "--fail-on", "new-failure");
	t.is(run.exitCode, 1, run.stderr);
	const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as {
		cells: {
			id: string;
			state: string;
			results: {
				testId: string;
				status: string;
				detail?: string;
				logPath: string;
				attempt: number;
				earlier?: { status: string }[];
			}[];
		}[];
	};
	const cell = results.cells[0];
	t.is(cell?.state, "done");
	// The failing test ran again, alone, in a second guest; both attempts are kept.
	const fail = cell?.results.find((r) => r.testId === "fail");
	t.is(fail?.attempt, 2);
	t.deepEqual(
		fail?.earlier?.map((e) => e.status),
		["fail"],
	);
	const retryConsole = readFileSync(
		path.join(runDir, "cells", "debian__tcg", "kut", "attempt-2", "boot", "console.log"),
		"utf8",
	);
	t.true(retryConsole.includes("kvm-matrix: kvm-unit-tests fail"));
	t.false(retryConsole.includes("kvm-matrix: kvm-unit-tests pass-args"));
	t.deepEqual(cell?.results.map((r) => [r.testId, r.status, r.detail]).sort(), [
		["fail", "fail", "3 tests, 1 unexpected failures, 1 skipped"],
		["kvm-only", "skip", "kvm only, but ACCEL=tcg"],
		["pass-args", "pass", "4 tests"],
	]);
	// The log came back from the guest, and KUT ran in the guest: its boot's console shows the chroot.
	t.true(
		readFileSync(cell?.results.find((r) => r.testId === "pass-args")?.logPath ?? "", "utf8").includes("PASS: arg two"),
	);
	t.true(
		readFileSync(path.join(runDir, "cells", "debian__tcg", "kut", "boot", "console.log"), "utf8").includes(
			"kvm-matrix: kvm-unit-tests fail",
		),
	);
});

test("a KUT test that fails and then passes on its retry is flaky; a nodefault test runs when its group is asked for", async (t) => {
	t.timeout(300_000);
	const repo = await kutFixture();
	const suite = "{ tree: kut, ref: master, accel: tcg, groups: [flaky, manual] }";
	const { dir, file: matrix } = hostMatrix(repo, "kut-flaky", suite, "retries: 1\n");
	const runDir = path.join(dir, "run");
	const run = await kvmMatrix(dir, "run", matrix, "--run-dir", runDir);
	t.is(run.exitCode, 0, run.stderr);
	type Stored = { testId: string; status: string; attempt: number; explanation?: string; earlier?: unknown[] };
	const resultsOf = (d: string) =>
		(JSON.parse(readFileSync(path.join(d, "results.json"), "utf8")) as { cells: { results: Stored[] }[] }).cells[0]
			?.results ?? [];
	const results = resultsOf(runDir);
	t.deepEqual(results.map((r) => [r.testId, r.status, r.attempt, r.explanation]).sort(), [
		["flaky", "pass", 2, "flaky: fail → pass"],
		// nodefault, but in an asked-for group: KUT runs it as `run_tests.sh -g manual` would.
		["manual", "pass", 1, undefined],
	]);
	t.regex(run.stdout, /flaky +flaky: fail → pass/);

	// Without retries the first failure stands, and nothing explains it.
	const fresh = hostMatrix(await kutFixture(), "kut-flaky", suite, "retries: 0\n");
	const noRetry = path.join(fresh.dir, "run-0");
	const again = await kvmMatrix(fresh.dir, "run", fresh.file, "--run-dir", noRetry);
	t.is(again.exitCode, 0, again.stderr);
	const once = resultsOf(noRetry).find((r) => r.testId === "flaky");
	t.deepEqual(
		[once?.status, once?.attempt, once?.earlier, once?.explanation],
		["fail", 1, undefined, "new-failure: no baseline result and no linked fix; needs a human"],
	);
});

test("baseline: previous-run compares each cell with the last completed run of the same matrix", async (t) => {
	t.timeout(300_000);
	const repo = await kutFixture();
	const { dir, file: matrix } = hostMatrix(
		repo,
		"kut-previous",
		"{ tree: kut, ref: master, accel: tcg, include: [pass, fail] }",
		"baseline: previous-run\nretries: 0\n",
	);
	const run = (name: string) => kvmMatrix(dir, "run", matrix, "--run-dir", path.join(dir, "runs", name));
	type Stored = { runId: string; cells: { results: { testId: string; explanation?: string }[] }[] };
	const explained = (name: string) => {
		const stored = JSON.parse(readFileSync(path.join(dir, "runs", name, "results.json"), "utf8")) as Stored;
		return {
			runId: stored.runId,
			verdicts: Object.fromEntries(stored.cells[0]?.results.map((r) => [r.testId, r.explanation]) ?? []),
		};
	};

	const first = await run("1");
	t.is(first.exitCode, 0, first.stderr);
	t.deepEqual(explained("1").verdicts, {
		pass: undefined,
		fail: "new-failure: no baseline result and no linked fix; needs a human",
	});

	// A commit to the test repository breaks `pass`; the next run compares with the first.
	const image = path.join(repo, "x86", "pass.c");
	await commitFiles(
		repo,
		{ "x86/pass.c": readFileSync(image, "utf8").replace("return 0; }", "return 1; }") },
		"x86: break pass",
	);
	const second = await run("2");
	// A regression is red whatever --fail-on says.
	t.is(second.exitCode, 1, second.stderr);
	t.regex(second.stdout, /^exit 1, red: 1 regression \(also 1 still-failing, not failing the run\)$/m);
	const firstId = explained("1").runId;
	t.deepEqual(explained("2").verdicts, {
		pass: `regression: passed on running in run ${firstId}`,
		fail: `still-failing: fail on running in run ${firstId} too`,
	});
	// classify finds the same baseline for the second run, and none for the first.
	const again = await kvmMatrix(dir, "classify", path.join(dir, "runs", "2"));
	// classify exits by the same policy as run: the regression is red again.
	t.is(again.exitCode, 1, again.stderr);
	t.regex(again.stdout, new RegExp(`pass +regression: passed on running in run ${firstId}`));
	const none = await kvmMatrix(dir, "classify", path.join(dir, "runs", "1"));
	t.regex(none.stdout, /fail +new-failure/);
});

test("a view's retry command runs a cell's failing test again in the same run, after the cell ends", async (t) => {
	t.timeout(300_000);
	const repo = await kutFixture();
	const { dir, file } = hostMatrix(
		repo,
		"kut-retry",
		"{ tree: kut, ref: master, accel: tcg, groups: [flaky] }",
		"retries: 0\n",
	);
	const loaded = await loadMatrixFile(file, dir);
	if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
	const bus = createEventBus<EngineEvent>();
	const commands = new RunCommands();
	const answers: string[] = [];
	// As a view would: the first failure it sees, it asks to run again (the cell is still running).
	bus.subscribe((e) => {
		if (e.type === "test-result" && e.result.status === "fail") answers.push(commands.retry(e.cellId));
	});
	const summary = await executeRun(loaded.value, {
		cacheRoot: path.join(dir, "cache"),
		cwd: dir,
		runDir: path.join(dir, "run"),
		bus,
		commands,
	});
	t.deepEqual(answers, ["retry: running/host is still running; its failing tests will run again when it ends"]);
	const flaky = summary.cells[0]?.results.find((r) => r.testId === "flaky");
	t.deepEqual([flaky?.status, flaky?.attempt, flaky?.earlier?.map((e) => e.status)], ["pass", 2, ["fail"]]);
	t.is(flaky?.explanation, "flaky: fail → pass");
	t.is(commands.retry("running/host"), "retry: the run is not running");
	t.is(summary.outcome, "completed");
});

test("a test's own cfg timeout stands against a longer suite timeout (KUT's TIMEOUT overrides the cfg's)", async (t) => {
	t.timeout(300_000);
	const repo = await kutFixture();
	const { dir, file: matrix } = hostMatrix(
		repo,
		"kut-timeouts",
		"{ tree: kut, ref: master, accel: tcg, include: [timeout], timeout: 120s }",
		"retries: 0\n",
	);
	const runDir = path.join(dir, "run");
	await kvmMatrix(dir, "run", matrix, "--run-dir", runDir);
	const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as {
		cells: { results: { testId: string; status: string; detail?: string; durationMs: number }[] }[];
	};
	const timedOut = results.cells[0]?.results.find((r) => r.testId === "timeout");
	// Passing the suite's 120 s as TIMEOUT would have made KUT wait 120 s for this 2 s test.
	t.is(timedOut?.status, "timeout");
	t.is(timedOut?.detail, "timeout; duration=2s");
});
