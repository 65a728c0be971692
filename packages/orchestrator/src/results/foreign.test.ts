import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { ok, statuses } from "../../../../test/support/foreign-read.js";
import { parseForeignResults, parseKutLogDir, readForeignResults } from "./foreign.js";

const ESC = String.fromCharCode(27);
const colour = (code: number, word: string) => `${ESC}[${code}m${word}${ESC}[0m`;

// run_tests.sh as scripts/runtime.bash's print_result writes it: colour around the word, counts or
// a reason in parentheses, a bare name when the test died before its SUMMARY.
const KUT_PLAIN = [
	`${colour(32, "PASS")} apic-split (54 tests)`,
	`${colour(31, "FAIL")} msr (1838 tests, 6 unexpected failures, 2 skipped)`,
	`${colour(31, "FAIL")} vmx (timeout; duration=90s)`,
	`${colour(31, "FAIL")} pmu (terminated on SIGKILL)`,
	`${colour(33, "SKIP")} hyperv_stimer (kvm only, but ACCEL=tcg)`,
	`${colour(33, "SKIP")} cet (QEMU Aborted)`,
	`${colour(31, "FAIL")} x2apic `,
	`${colour(32, "PASS")} smptest (2 tests, 1 skipped)`,
].join("\n");

const KUT_PLAIN_EXPECTED = {
	"apic-split": ["pass", "54 tests"],
	msr: ["fail", "1838 tests, 6 unexpected failures, 2 skipped"],
	vmx: ["timeout", "timeout; duration=90s"],
	pmu: ["fail", "terminated on SIGKILL"],
	hyperv_stimer: ["skip", "kvm only, but ACCEL=tcg"],
	cet: ["error", "QEMU Aborted"],
	x2apic: ["fail", ""],
	smptest: ["pass", "2 tests, 1 skipped"],
};

test("run_tests.sh status lines: every shape, with their counts", (t) => {
	const read = ok(t, parseForeignResults(KUT_PLAIN));
	t.is(read.format, "kut-status");
	t.deepEqual(statuses(read), KUT_PLAIN_EXPECTED);
	const msr = read.results.find((r) => r.testId === "msr");
	t.deepEqual(msr?.checks, { tests: 1838, unexpectedFailures: 6, knownFailures: 0, expectedFailures: 0, skipped: 2 });
	t.true(read.results.every((r) => r.suite === "kut" && r.attempt === 1 && r.durationMs === 0 && !("logPath" in r)));
});

test("status lines pasted into a bug report: quoted, indented, CRLF, without colour, amid prose", (t) => {
	const paste = [
		"Hi, on 6.1.0-rc4 from kvm/next I see:",
		"",
		...KUT_PLAIN.split("\n").map((l) => `> ${l.replaceAll(new RegExp(`${ESC}\\[[0-9;]*m`, "g"), "")}\r`),
		"    FAIL xapic (timeout; duration=60s)",
		"PASS: this check line is not a status line",
		"Thanks,",
	].join("\n");
	const read = ok(t, parseForeignResults(paste));
	t.is(read.format, "kut-status");
	t.deepEqual(statuses(read), { ...KUT_PLAIN_EXPECTED, xapic: ["timeout", "timeout; duration=60s"] });
});

// run_tests.sh -t: TAP 13 at check level, `<test>: <check>` per line, checks skipped with `# skip`,
// a last `not ok` for a timeout, a signal or an abort, the plan at the end; no status lines.
const KUT_TAP = `TAP version 13
ok 1 - apic-split: apic: x2apic mode
ok 2 - apic-split: apic: tsc deadline
ok 3 - apic-split: apic: no PV EOI # skip
not ok 4 - msr: MSR_IA32_TSC_ADJUST
ok 5 - msr: MSR_IA32_SYSENTER_CS
ok 6 - vmx: vmx: VMX not supported # skip
ok 7 - vmx_pf: vmx: test_vmx_feature_control
not ok 8 - vmx_pf: timeout; duration=90s
ok 9 - pmu: started
not ok 10 - pmu: terminated on SIGSEGV
not ok 11 - tsx-ctrl: aborted
1..11
`;

test("run_tests.sh -t: checks grouped back into one result per test, in order", (t) => {
	const read = ok(t, parseForeignResults(KUT_TAP, { name: "tap.txt" }));
	t.is(read.format, "kut-tap");
	t.deepEqual(statuses(read), {
		"apic-split": ["pass", ""],
		msr: ["fail", ""],
		vmx: ["skip", ""],
		vmx_pf: ["timeout", "timeout; duration=90s"],
		pmu: ["fail", "terminated on SIGSEGV"],
		"tsx-ctrl": ["fail", "aborted"],
	});
	t.deepEqual(read.results[0]?.subtests, [
		{ name: "apic: x2apic mode", status: "pass" },
		{ name: "apic: tsc deadline", status: "pass" },
		{ name: "apic: no PV EOI", status: "skip" },
	]);
	// The end line is run_tests.sh's, not a check.
	t.deepEqual(read.results[3]?.subtests, [{ name: "vmx: test_vmx_feature_control", status: "pass" }]);
	t.is(read.results[0]?.checks, undefined);
});

test("test-level TAP (older runners, fixtures) is read too; status lines win when both are printed", (t) => {
	const tapOnly = ok(
		t,
		parseForeignResults("TAP version 13\nok 1 - pass\nnot ok 2 - fail\nok 3 - skip # SKIP (x86_64 only)\n1..3\n"),
	);
	t.is(tapOnly.format, "kut-tap");
	t.deepEqual(statuses(tapOnly), { pass: ["pass", ""], fail: ["fail", ""], skip: ["skip", "x86_64 only"] });
	const both = ok(
		t,
		parseForeignResults(`TAP version 13\n${colour(31, "FAIL")} hang (timeout; duration=2s)\nnot ok 1 - hang\n1..1\n`),
	);
	t.is(both.format, "kut-status");
	t.deepEqual(statuses(both), { hang: ["timeout", "timeout; duration=2s"] });
});

// Captured from Debian's linux-source 6.1 tools/testing/selftests/kselftest/runner.sh (run_many),
// with the test programs of test/foreign-results.test.ts.
const KSELFTEST_61 = `TAP version 13
1..6
# selftests: kvm: cpuid_test
# hello
ok 1 selftests: kvm: cpuid_test
# selftests: kvm: fail_test
# TAP version 13
# 1..2
# ok 1 vm_create
# not ok 2 vcpu_run
not ok 2 selftests: kvm: fail_test # exit=1
# selftests: kvm: vmx_msrs_test
# 1..0 # SKIP - Requirement not met: kvm_cpu_has(X86_FEATURE_VMX)
ok 3 selftests: kvm: vmx_msrs_test # SKIP
# selftests: kvm: hang_test
#
not ok 4 selftests: kvm: hang_test # TIMEOUT 1 seconds
# selftests: kvm: xapic_state_test
# ==== Test Assertion Failure ====
not ok 5 selftests: kvm: xapic_state_test # exit=254
# selftests: kvm: missing_test
# Warning: file ./missing_test is missing!
not ok 6 selftests: kvm: missing_test
`;

test("kselftest TAP (6.1 runner): statuses, skip reason, subtests from the nested output", (t) => {
	const read = ok(t, parseForeignResults(KSELFTEST_61));
	t.is(read.format, "kselftest-tap");
	t.deepEqual(statuses(read), {
		cpuid_test: ["pass", ""],
		fail_test: ["fail", "exit status 1"],
		vmx_msrs_test: ["skip", "Requirement not met: kvm_cpu_has(X86_FEATURE_VMX)"],
		hang_test: ["timeout", "TIMEOUT 1 seconds"],
		xapic_state_test: ["fail", "assertion failed"],
		missing_test: ["error", "file ./missing_test is missing!"],
	});
	t.true(read.results.every((r) => r.suite === "selftests" && r.attempt === 1));
	t.deepEqual(read.results[1]?.subtests, [
		{ name: "vm_create", status: "pass" },
		{ name: "vcpu_run", status: "fail" },
	]);
});

test("kselftest TAP of newer runners and make run_tests: ktap lines, XFAIL, ids kept as printed, other collections left out", (t) => {
	const text = `make: Entering directory '/src/tools/testing/selftests/kvm'
TAP version 13
1..4
# timeout set to 120
# selftests: kvm: x86_64/cpuid_test
# TAP version 13
# 1..1
# # Starting 1 tests from 1 test cases.
# #  RUN           global.cpuid ...
# #            OK  global.cpuid
# ok 1 global.cpuid
# # PASSED: 1 / 1 tests passed.
# # Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0
ok 1 selftests: kvm: x86_64/cpuid_test
# timeout set to 120
# selftests: kvm: hardware_disable_test
ok 2 selftests: kvm: hardware_disable_test # XFAIL
# selftests: kvm: dirty_log_perf_test
#
not ok 3 selftests: kvm: dirty_log_perf_test # TIMEOUT 120 seconds
# selftests: timers: posix_timers
ok 1 selftests: timers: posix_timers
# selftests: kvm: kvm_page_table_test
# Testing guest mode: PA-bits:ANY, VA-bits:48,  4K pages
`;
	const read = ok(t, parseForeignResults(text));
	t.deepEqual(statuses(read), {
		"x86_64/cpuid_test": ["pass", ""],
		hardware_disable_test: ["pass", "expected failure (KSFT_XFAIL)"],
		dirty_log_perf_test: ["timeout", "TIMEOUT 120 seconds"],
		kvm_page_table_test: ["crash", "the output ends while this test runs (no result line)"],
	});
	t.deepEqual(read.results[0]?.subtests, [{ name: "global.cpuid", status: "pass" }]);
	const cut = ok(
		t,
		parseForeignResults("TAP version 13\n1..14\n# selftests: kvm: cpuid_test\n# Random seed: 0x6b8b4567\n"),
	);
	t.deepEqual(statuses(cut), { cpuid_test: ["crash", "the output ends while this test runs (no result line)"] });
	t.deepEqual(parseForeignResults("TAP version 13\n1..1\nok 1 selftests: net: tls\n", { name: "net.tap" }), {
		error: "net.tap: kselftest TAP without KVM selftests (collections: net)",
	});
});

const RESULTS_JSON = {
	runId: "20261201-1200-abcd",
	matrix: "nightly",
	outcome: "completed",
	cells: [
		{
			id: "next/tcg",
			kernel: { id: "next" },
			target: "tcg",
			state: "done",
			counts: {},
			results: [
				{ suite: "selftests", testId: "x86_64/cpuid_test", status: "pass", durationMs: 1200, attempt: 1 },
				{
					suite: "kut",
					testId: "vmx",
					status: "fail",
					durationMs: 30_000,
					attempt: 2,
					detail: "10 tests, 1 unexpected failures",
					checks: { tests: 10, unexpectedFailures: 1, knownFailures: 0, expectedFailures: 0, skipped: 0 },
					earlier: [{ suite: "kut", testId: "vmx", status: "fail", durationMs: 29_000, attempt: 1 }],
					verdict: { verdict: "new-failure" },
					explanation: "no baseline",
				},
			],
			verdicts: {},
			notes: [],
		},
		{
			id: "stable/tcg",
			kernel: { id: "stable" },
			target: "tcg",
			state: "done",
			results: [{ suite: "kut", testId: "vmx", status: "pass", durationMs: 28_000, attempt: 1 }],
		},
	],
};

test("results.json: every cell's results, each with its cell; verdicts dropped, attempts kept", (t) => {
	const read = ok(t, parseForeignResults(JSON.stringify(RESULTS_JSON, null, 2), { name: "results.json" }));
	t.is(read.format, "kvm-matrix-json");
	t.deepEqual(read.cells, ["next/tcg", "stable/tcg"]);
	t.deepEqual(
		read.results.map((r) => [r.cell, r.testId, r.status]),
		[
			["next/tcg", "x86_64/cpuid_test", "pass"],
			["next/tcg", "vmx", "fail"],
			["stable/tcg", "vmx", "pass"],
		],
	);
	const vmx = read.results[1];
	t.false(vmx !== undefined && "verdict" in vmx);
	t.is(vmx?.earlier?.[0]?.attempt, 1);
	t.is(vmx?.durationMs, 30_000);
});

const errors: [string, string, string][] = [
	["not JSON", "{ cells: [", "r.json: not valid JSON ("],
	["JSON of something else", '{"name": "x"}', 'r.json: JSON without "cells", not a kvm-matrix results.json'],
	[
		"a bad status",
		'{"cells":[{"id":"a/b","results":[{"suite":"kut","testId":"x","status":"broken","durationMs":0,"attempt":1}]}]}',
		"r.json: not a kvm-matrix results.json: cells[0].results[0].status: ",
	],
	["no results", '{"cells":[{"id":"a/b","results":[]}]}', "r.json: no test results in results.json (1 cells)"],
	[
		"prose",
		"it crashed, sorry\nok then\nSUMMARY: 3 tests\n",
		"r.json: no test results found (expected run_tests.sh output, TAP, a KUT log directory or results.json)",
	],
];
for (const [what, text, prefix] of errors) {
	test(`error, one line naming the file: ${what}`, (t) => {
		const read = parseForeignResults(text, { name: "r.json" });
		t.true("error" in read && read.error.startsWith(prefix) && !read.error.includes("\n"), JSON.stringify(read));
	});
}

// A log directory as upstream KUT leaves it: SUMMARY holds only BUILD_HEAD, each test's log starts
// with the QEMU command line; QEMU says when timeout(1) stopped it.
const QEMU =
	"timeout -k 1s --foreground 90s /usr/bin/qemu-system-x86_64 --no-reboot -nodefaults -device pc-testdev -device isa-debug-exit,iobase=0xf4,iosize=0x4 -display none -serial stdio -device pci-testdev -machine accel=kvm -kernel";
const LOGS = new Map([
	[
		"apic-split",
		`${QEMU} x86/apic.flat -smp 2 # -initrd /tmp/tmp.Xa\nenabling apic\nPASS: apic: x2apic mode\nSKIP: apic: no PV EOI\nSUMMARY: 2 tests, 1 skipped\n\n`,
	],
	[
		"msr",
		`${QEMU} x86/msr.flat -smp 1 # -initrd /tmp/tmp.Xb\nPASS: msr: MSR_IA32_SYSENTER_CS\nFAIL: msr: MSR_IA32_TSC_ADJUST\nXFAIL: msr: known\nSUMMARY: 3 tests, 1 unexpected failures, 1 expected failures\n`,
	],
	[
		"vmx",
		`${QEMU} x86/vmx.flat -smp 1 # -initrd /tmp/tmp.Xc\nSKIP: vmx: VMX not supported\nSUMMARY: 1 tests, 1 skipped\n`,
	],
	[
		"vmx_pf",
		`${QEMU} x86/vmx.flat -smp 1 # -initrd /tmp/tmp.Xd\nPASS: vmx: first\nqemu-system-x86_64: terminating on signal 15 from pid 4242 (timeout)\n`,
	],
	[
		"pmu",
		`${QEMU} x86/pmu.flat -smp 1 # -initrd /tmp/tmp.Xe\nqemu-system-x86_64: terminating on signal 9 from pid 7 (bash)\n`,
	],
	[
		"cet",
		`${QEMU} x86/cet.flat -smp 1 # -initrd /tmp/tmp.Xf\nqemu-system-x86_64: kvm_buf_set_msrs: Assertion \`ret == cpu->kvm_msr_buf->nmsrs' failed.\nQEMU Aborted\n`,
	],
	["x2apic", `${QEMU} x86/apic.flat -smp 2 # -initrd /tmp/tmp.Xg\nPASS: apic: x2apic mode\n`],
]);

test("a KUT log directory as upstream writes it: each test judged from its log", (t) => {
	const read = ok(t, parseKutLogDir({ dir: "/r/logs", summary: "BUILD_HEAD=1da1819e\n", logs: LOGS }));
	t.is(read.format, "kut-log-dir");
	t.deepEqual(statuses(read), {
		"apic-split": ["pass", "2 tests, 1 skipped"],
		cet: ["error", "QEMU Aborted"],
		msr: ["fail", "3 tests, 1 unexpected failures, 1 expected failures"],
		pmu: ["fail", "terminated on SIGKILL"],
		vmx: ["skip", "1 tests, 1 skipped"],
		vmx_pf: ["timeout", "QEMU stopped by timeout(1)"],
		x2apic: ["fail", "no SUMMARY line in the log"],
	});
	const msr = read.results.find((r) => r.testId === "msr");
	t.is(msr?.logPath, "/r/logs/msr.log");
	t.deepEqual(
		msr?.subtests?.map((s) => s.status),
		["pass", "fail", "pass"],
	);
	t.is(msr?.checks?.expectedFailures, 1);
});

test("a log directory whose SUMMARY lists status lines: those decide, logs add the checks", (t) => {
	const summary = `BUILD_HEAD=4ccc8ef0\nPASS apic-split (2 tests, 1 skipped)\nFAIL vmx_pf (timeout; duration=90s)\nSKIP hyperv_stimer (kvm only, but ACCEL=tcg)\n`;
	const read = ok(
		t,
		parseKutLogDir({
			dir: "/r/logs",
			summary,
			logs: new Map(
				[...LOGS].filter(([n]) => n !== "cet" && n !== "pmu" && n !== "msr" && n !== "vmx" && n !== "x2apic"),
			),
		}),
	);
	t.deepEqual(statuses(read), {
		"apic-split": ["pass", "2 tests, 1 skipped"],
		vmx_pf: ["timeout", "timeout; duration=90s"],
		hyperv_stimer: ["skip", "kvm only, but ACCEL=tcg"],
	});
	t.is(read.results[0]?.logPath, "/r/logs/apic-split.log");
	t.is(read.results[0]?.subtests?.length, 2);
	t.false("logPath" in (read.results[2] ?? {}));
});

test("readForeignResults: a file, a log directory, a KUT tree with logs/, a run directory, and what is missing", async (t) => {
	const root = mkdtempSync(path.join(os.tmpdir(), "foreign-"));
	const logs = path.join(root, "kut", "logs");
	mkdirSync(logs, { recursive: true });
	writeFileSync(path.join(logs, "SUMMARY"), "BUILD_HEAD=1da1819e\n");
	for (const [name, text] of LOGS) writeFileSync(path.join(logs, `${name}.log`), text);
	writeFileSync(path.join(root, "out.txt"), KUT_PLAIN);
	mkdirSync(path.join(root, "run"));
	writeFileSync(path.join(root, "run", "results.json"), JSON.stringify(RESULTS_JSON));

	t.is(ok(t, await readForeignResults(path.join(root, "out.txt"))).format, "kut-status");
	for (const dir of [logs, path.join(root, "kut"), path.join(logs, "SUMMARY")]) {
		const read = ok(t, await readForeignResults(dir));
		t.is(read.format, "kut-log-dir");
		t.is(read.results.find((r) => r.testId === "msr")?.logPath, path.join(logs, "msr.log"));
	}
	t.is(ok(t, await readForeignResults(path.join(root, "run"))).format, "kvm-matrix-json");
	t.deepEqual(await readForeignResults(path.join(root, "nope.txt")), {
		error: `${path.join(root, "nope.txt")}: no such file`,
	});
	mkdirSync(path.join(root, "empty"));
	t.deepEqual(await readForeignResults(path.join(root, "empty")), {
		error: `${path.join(root, "empty")}: no test results found (expected run_tests.sh output, TAP, a KUT log directory or results.json)`,
	});
});
