import test from "ava";
import { parseTapSubtests, selftestStatus, skipReason } from "./status.js";

const codes: [number, boolean, string, string | undefined][] = [
	[0, false, "pass", undefined],
	[1, false, "fail", "exit status 1"],
	[2, false, "pass", "expected failure (KSFT_XFAIL)"],
	[3, false, "fail", "unexpected pass (KSFT_XPASS)"],
	[4, false, "skip", undefined],
	[254, false, "fail", "assertion failed"],
	[139, false, "fail", "killed by signal 11"],
	[137, true, "timeout", undefined],
	[0, true, "timeout", undefined],
	[127, false, "error", "test binary not found"],
];
for (const [code, timedOut, status, detail] of codes) {
	test(`exit ${code}${timedOut ? " after the time limit" : ""} is ${status}`, (t) => {
		t.deepEqual(selftestStatus(code, timedOut), detail === undefined ? { status } : { status, detail });
	});
}

test("TAP subtests from kselftest_harness output", (t) => {
	const out = [
		"TAP version 13",
		"1..4",
		"# Starting 4 tests from 1 test cases.",
		"#  RUN           vmx_pmu_caps.guest_wrmsr_perf_capabilities ...",
		"#            OK  vmx_pmu_caps.guest_wrmsr_perf_capabilities",
		"ok 1 vmx_pmu_caps.guest_wrmsr_perf_capabilities",
		"not ok 2 vmx_pmu_caps.immutable_perf_capabilities",
		"ok 3 vmx_pmu_caps.lbr_perf_capabilities # SKIP no LBR",
		"ok 4 - with dash # TODO later",
		"# FAILED: 1 / 4 tests passed.",
		"# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0",
	];
	t.deepEqual(parseTapSubtests(out), [
		{ name: "vmx_pmu_caps.guest_wrmsr_perf_capabilities", status: "pass" },
		{ name: "vmx_pmu_caps.immutable_perf_capabilities", status: "fail" },
		{ name: "vmx_pmu_caps.lbr_perf_capabilities", status: "skip" },
		{ name: "with dash", status: "pass" },
	]);
});

test("an old-style test without TAP has no subtests; its skip reason is read", (t) => {
	const out = ["1..0 # SKIP - Requirement not met: kvm_cpu_has(X86_FEATURE_VMX)"];
	t.deepEqual(parseTapSubtests(out), []);
	t.is(skipReason(out), "Requirement not met: kvm_cpu_has(X86_FEATURE_VMX)");
});
