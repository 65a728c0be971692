// Results read back from the real runners' own output: the KUT-shaped fixture's run_tests.sh (plain,
// -t, and its log directory) and the real kselftest runner from Debian's linux-source 6.1.

import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { isFailingStatus } from "../packages/orchestrator/src/events/attempts.js";
import type { TestStatus } from "../packages/orchestrator/src/events/types.js";
import { parseStatusLine } from "../packages/orchestrator/src/kut/output.js";
import { parseForeignResults, readForeignResults } from "../packages/orchestrator/src/results/foreign.js";
import { ok, statuses } from "./support/foreign-read.js";
import { LINUX_SOURCE, realKselftestTap } from "./support/kselftest-runner.js";
import { kutFixture } from "./support/kut-fixture.js";

// The fixture's tests that run (and so print checks) under ACCEL=tcg without -a.
const RAN: Record<string, readonly [TestStatus, string]> = {
	pass: ["pass", "2 tests"],
	"pass-args": ["pass", "4 tests"],
	fail: ["fail", "3 tests, 1 unexpected failures, 1 skipped"],
	skip: ["skip", "1 tests, 1 skipped"],
	timeout: ["timeout", "timeout; duration=2s"],
	crash: ["fail", "terminated on SIGSEGV"],
	"machine-q35": ["pass", "2 tests"],
};
const FAIL_CHECKS = [
	{ name: "msr: MSR_IA32_SYSENTER_CS", status: "pass" },
	{ name: "msr: MSR_IA32_TSC_ADJUST", status: "fail" },
	{ name: "msr: MSR_K7_HWCR", status: "skip" },
];
// The ones KUT skips before running them.
const NOT_RUN = {
	"kvm-only": ["skip", "kvm only, but ACCEL=tcg"],
	checked: ["skip", "/nonexistent/kvm/parameters/ept not equal to Y"],
	manual: ["skip", "test marked as manual run only"],
	"i386-only": ["skip", "i386 only"],
	disabled: ["skip", 'disabled because: [[ "$ACCEL" = tcg ]]'],
	flaky: ["skip", "test marked as manual run only"],
};

test("KUT's run_tests.sh output, its -t TAP and its log directory all read back as the statuses KUT gave", async (t) => {
	t.timeout(120_000);
	const dir = await kutFixture();
	await execa("./configure", ["--arch=x86_64"], { cwd: dir });
	await execa("make", ["-j2"], { cwd: dir });
	const logRoot = mkdtempSync(path.join(os.tmpdir(), "foreign-kut-"));
	const runTests = (args: string[], logDir: string) =>
		execa("./run_tests.sh", args, {
			cwd: dir,
			reject: false,
			env: { ACCEL: "tcg", TIMEOUT: "2s", unittest_log_dir: path.join(logRoot, logDir) },
		});

	const plain = await runTests([], "plain");
	// As KUT's: run_tests.sh exits 0 whatever its tests did; its output is the result.
	t.is(plain.exitCode, 0, plain.stderr);
	const fromPlain = ok(t, parseForeignResults(plain.stdout, { name: "run_tests.sh" }));
	t.is(fromPlain.format, "kut-status");
	t.deepEqual(statuses(fromPlain), { ...RAN, ...NOT_RUN });
	t.deepEqual(fromPlain.results.find((r) => r.testId === "fail")?.checks, {
		tests: 3,
		unexpectedFailures: 1,
		knownFailures: 0,
		expectedFailures: 0,
		skipped: 1,
	});

	// Under -t, KUT prints only check-level TAP (its status lines go to /dev/null): one line per
	// check line of a test's output, numbered in order, an end line for a test that did not end by
	// itself, then the plan. Tests skipped before running print nothing.
	const tap = await runTests(["-t"], "tap");
	t.is(tap.exitCode, 0, tap.stderr);
	const tapLines = tap.stdout.split("\n");
	t.is(tapLines[0], "TAP version 13");
	t.false(
		tapLines.some((l) => parseStatusLine(l) !== undefined),
		tap.stdout,
	);
	const numbered = tapLines.slice(1, -1);
	t.deepEqual(
		numbered.map((l) => /^(?:not )?ok (\d+) - [\w-]+: \S/.exec(l)?.[1]),
		numbered.map((_, i) => String(i + 1)),
		tap.stdout,
	);
	t.is(tapLines.at(-1), `1..${numbered.length}`);
	t.true(tapLines.includes("not ok 8 - fail: msr: MSR_IA32_TSC_ADJUST"), tap.stdout);
	t.true(tapLines.includes("ok 9 - fail: msr: MSR_K7_HWCR # skip"), tap.stdout);
	t.regex(tap.stdout, /^ok \d+ - timeout: started\nnot ok \d+ - timeout: timeout; duration=2s$/m);
	t.regex(tap.stdout, /^ok \d+ - crash: before the crash\nnot ok \d+ - crash: terminated on SIGSEGV$/m);
	const fromTap = ok(t, parseForeignResults(tap.stdout, { name: "run_tests.sh -t" }));
	t.is(fromTap.format, "kut-tap");
	const tapStatuses = statuses(fromTap);
	t.deepEqual(Object.keys(tapStatuses).sort(), Object.keys(RAN).sort());
	for (const [name, [status, detail]] of Object.entries(RAN)) {
		t.is(tapStatuses[name]?.[0], status, name);
		if (name === "timeout" || name === "crash") t.is(tapStatuses[name]?.[1], detail, name);
	}
	t.deepEqual(fromTap.results.find((r) => r.testId === "fail")?.subtests, FAIL_CHECKS);

	// KUT's SUMMARY holds only BUILD_HEAD: each test is judged from its own log, and tests skipped
	// before running leave none.
	const logDir = path.join(logRoot, "plain");
	const head = (await execa("git", ["rev-parse", "--short=8", "HEAD"], { cwd: dir })).stdout;
	t.is(readFileSync(path.join(logDir, "SUMMARY"), "utf8"), `BUILD_HEAD=${head}\n`);
	const fromLogs = ok(t, await readForeignResults(logDir));
	t.is(fromLogs.format, "kut-log-dir");
	const logStatuses = statuses(fromLogs);
	t.deepEqual(Object.keys(logStatuses).sort(), Object.keys(RAN).sort());
	for (const name of ["pass", "pass-args", "fail", "skip", "machine-q35"]) t.is(logStatuses[name]?.[0], RAN[name]?.[0]);
	// Killed before their SUMMARY line: failing, whatever the log can still tell.
	t.true(isFailingStatus(fromLogs.results.find((r) => r.testId === "timeout")?.status ?? "pass"));
	t.true(isFailingStatus(fromLogs.results.find((r) => r.testId === "crash")?.status ?? "pass"));
	const fail = fromLogs.results.find((r) => r.testId === "fail");
	t.is(fail?.logPath, path.join(logDir, "fail.log"));
	t.deepEqual(fail?.subtests, FAIL_CHECKS);
	t.is(fail?.checks?.unexpectedFailures, 1);
});

// Tiny KVM "selftests" the real runner runs, each ending one way kselftest knows.
const SELFTESTS: Record<string, string> = {
	"kvm/cpuid_test": "echo 'cpuid: ok'\nexit 0",
	"kvm/fail_test": "echo 'TAP version 13'\necho '1..2'\necho 'ok 1 vm_create'\necho 'not ok 2 vcpu_run'\nexit 1",
	"kvm/x86_64/vmx_msrs_test": "echo '1..0 # SKIP - Requirement not met: kvm_cpu_has(X86_FEATURE_VMX)'\nexit 4",
	"kvm/x86_64/xapic_state_test": "echo '==== Test Assertion Failure ===='\nexit 254",
	"kvm/hang_test": "sleep 30",
	"timers/posix_timers": "exit 0",
};

test("kselftest TAP from the real kselftest runner (Debian's linux-source 6.1) reads back per test", async (t) => {
	if (!existsSync(LINUX_SOURCE)) {
		t.log(`${LINUX_SOURCE} is absent (apt-get install linux-source): the real kselftest runner cannot be run here`);
		t.pass();
		return;
	}
	t.timeout(120_000);
	// The runner reads each collection's `settings`; a 1 s timeout makes hang_test time out fast.
	const tapText = (await realKselftestTap(SELFTESTS, { kvm: "timeout=1\n" })) ?? "";
	t.regex(tapText, /^not ok \d+ selftests: kvm: hang_test # TIMEOUT 1 seconds$/m);

	const read = ok(t, parseForeignResults(tapText, { name: "run_kselftest.sh" }));
	t.is(read.format, "kselftest-tap");
	// The 6.1 runner prints each test by its basename; the timers collection is not KVM's.
	t.deepEqual(statuses(read), {
		cpuid_test: ["pass", ""],
		fail_test: ["fail", "exit status 1"],
		vmx_msrs_test: ["skip", "Requirement not met: kvm_cpu_has(X86_FEATURE_VMX)"],
		xapic_state_test: ["fail", "assertion failed"],
		hang_test: ["timeout", "TIMEOUT 1 seconds"],
	});
	t.deepEqual(read.results.find((r) => r.testId === "fail_test")?.subtests, [
		{ name: "vm_create", status: "pass" },
		{ name: "vcpu_run", status: "fail" },
	]);
	t.true(read.results.every((r) => r.suite === "selftests" && r.attempt === 1 && r.durationMs === 0));
});
