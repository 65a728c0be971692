// kvm-matrix driving a KUT-shaped FIXTURE (KUT cannot be installed here) through KUT's own
// interface: ./configure, make, x86/unittests.cfg, ./run_tests.sh with unittest_log_dir.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { buildKut } from "../packages/orchestrator/src/kut/build.js";
import { runKutOnHost } from "../packages/orchestrator/src/kut/run-host.js";
import { cachePaths } from "../packages/orchestrator/src/paths/cache.js";
import { worktreeFor } from "../packages/orchestrator/src/sources/git.js";
import { kutFixture } from "./support/kut-fixture.js";

test("KUT is built once per commit and every test's status, reason and checks come back as KUT reports them", async (t) => {
	t.timeout(180_000);
	const repo = await kutFixture();
	const cache = cachePaths(mkdtempSync(path.join(os.tmpdir(), "kut-cache-")));
	const sha = (await execa("git", ["-C", repo, "rev-parse", "HEAD"])).stdout;
	const worktree = await worktreeFor(repo, sha, cache.worktrees);
	const built = await buildKut({ worktree, sha, cache, jobs: 2 });
	t.false(built.cacheHit);
	t.true(existsSync(path.join(worktree, "x86/pass.flat")));
	t.is(built.entries.length, 12);
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
	t.is(seen.length, 12);

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
