import test from "ava";
import { findSummary, kutStatus, parseChecks, parseStatusLine, parseSummary } from "./output.js";
import { runTestsArgs } from "./run-host.js";
import { parseUnittestsCfg, timeoutSeconds } from "./unittests-cfg.js";

// Shapes from upstream x86/unittests.cfg, one of each key FACTS.md lists.
const CFG = `##############################################################################
# unittest configuration
##############################################################################

[apic-split]
file = apic.flat
smp = 2
qemu_params = -cpu qemu64,+x2apic,+tsc-deadline -machine kernel_irqchip=split
arch = x86_64

[smptest]
file = smptest.flat
smp = $MAX_SMP

[vmx]
file = vmx.flat
test_args = "-exit_monitor_from_l2_test -ept_access* -vmx_smp*"
extra_params = -cpu max,+vmx
arch = x86_64
groups = vmx

[ept]
file = vmx.flat
test_args = "ept_access*"
qemu_params = """-cpu max,+vmx \\
  -m 2560"""
groups = vmx nested_exception
check = /sys/module/kvm_intel/parameters/ept=Y /sys/module/kvm/parameters/foo=1
timeout = 240

[hyperv_stimer]
file = hyperv_stimer.flat
smp = 2
test_args = \`date +%s\`
groups = hyperv
accel = kvm
disabled_if = [[ "$TARGET" != qemu ]]

[pmu_lbr]
file = pmu_lbr.flat
groups = nodefault pmu
machine = q35

[nofile]
smp = 1
`;

test("every key of unittests.cfg is read, values kept as written", (t) => {
	const { entries, problems } = parseUnittestsCfg(CFG);
	t.deepEqual(problems, [{ line: 44, message: '[nofile] has no "file"' }]);
	t.deepEqual(
		entries.map((e) => e.name),
		["apic-split", "smptest", "vmx", "ept", "hyperv_stimer", "pmu_lbr"],
	);
	const [apic, smp, vmx, ept, hv, lbr] = entries;
	t.is(apic?.smp, "2");
	t.is(apic?.qemuParams, "-cpu qemu64,+x2apic,+tsc-deadline -machine kernel_irqchip=split");
	t.is(apic?.arch, "x86_64");
	t.is(smp?.smp, "$MAX_SMP");
	t.is(vmx?.file, "vmx.flat");
	t.is(vmx?.testArgs, '"-exit_monitor_from_l2_test -ept_access* -vmx_smp*"');
	t.is(vmx?.qemuParams, "-cpu max,+vmx"); // extra_params is the old name
	t.deepEqual(vmx?.groups, ["vmx"]);
	t.is(ept?.file, "vmx.flat"); // shared image
	t.is(ept?.qemuParams, "-cpu max,+vmx -m 2560");
	t.deepEqual(ept?.check, [
		{ path: "/sys/module/kvm_intel/parameters/ept", value: "Y" },
		{ path: "/sys/module/kvm/parameters/foo", value: "1" },
	]);
	t.is(ept?.timeout, "240");
	t.is(hv?.testArgs, "`date +%s`");
	t.is(hv?.accel, "kvm");
	t.is(hv?.disabledIf, '[[ "$TARGET" != qemu ]]');
	t.deepEqual(lbr?.groups, ["nodefault", "pmu"]);
	t.is(lbr?.machine, "q35");
	t.is(smp?.line, 11);
});

const byName = (name: string) => {
	const entry = parseUnittestsCfg(CFG).entries.find((e) => e.name === name);
	if (entry === undefined) throw new Error(name);
	return entry;
};

test("run_tests.sh is asked for a test as the matrix selected it: -g its group, -a for all", (t) => {
	const lbr = byName("pmu_lbr");
	t.deepEqual(runTestsArgs("pmu_lbr", lbr.groups), ["pmu_lbr"]);
	// A nodefault test in an asked-for group runs, as with `run_tests.sh -g pmu`.
	t.deepEqual(runTestsArgs("pmu_lbr", lbr.groups, { groups: ["vmx", "pmu"], all: false }), ["-g", "pmu", "pmu_lbr"]);
	t.deepEqual(runTestsArgs("vmx", byName("vmx").groups, { groups: [], all: true }), ["-a", "vmx"]);
	t.deepEqual(runTestsArgs("ept", byName("ept").groups, { groups: ["pmu"], all: false }), ["ept"]);
});

test("timeouts: the entry's, else 90s; seconds, minutes, bare numbers", (t) => {
	t.is(timeoutSeconds(undefined), 90);
	t.is(timeoutSeconds("240"), 240);
	t.is(timeoutSeconds("2m"), 120);
	t.is(timeoutSeconds("90s"), 90);
	t.is(timeoutSeconds("", "30s"), 30);
	t.is(timeoutSeconds(undefined, "2m"), 120);
	// A cfg cannot ask for a timer too long to arm (it would fire at once).
	t.is(timeoutSeconds(`1${"0".repeat(400)}`), 14 * 86_400);
	t.is(timeoutSeconds("99999999d"), 14 * 86_400);
});

const ESC = String.fromCharCode(27);
const statusLines: [string, object | undefined][] = [
	[
		`${ESC}[32mPASS${ESC}[0m apic-split (54 tests)`,
		{
			status: "PASS",
			name: "apic-split",
			detail: "54 tests",
			summary: { tests: 54, unexpectedFailures: 0, knownFailures: 0, expectedFailures: 0, skipped: 0 },
		},
	],
	[
		`${ESC}[31mFAIL${ESC}[0m msr (1838 tests, 6 unexpected failures, 2 skipped)`,
		{
			status: "FAIL",
			name: "msr",
			detail: "1838 tests, 6 unexpected failures, 2 skipped",
			summary: { tests: 1838, unexpectedFailures: 6, knownFailures: 0, expectedFailures: 0, skipped: 2 },
		},
	],
	[
		`${ESC}[31mFAIL${ESC}[0m vmx (timeout; duration=90s)`,
		{ status: "FAIL", name: "vmx", detail: "timeout; duration=90s" },
	],
	[
		`${ESC}[31mFAIL${ESC}[0m pmu (terminated on SIGKILL)`,
		{ status: "FAIL", name: "pmu", detail: "terminated on SIGKILL" },
	],
	[
		`${ESC}[33mSKIP${ESC}[0m hyperv_stimer (kvm only, but ACCEL=tcg)`,
		{ status: "SKIP", name: "hyperv_stimer", detail: "kvm only, but ACCEL=tcg" },
	],
	[`${ESC}[33mSKIP${ESC}[0m cet (QEMU Aborted)`, { status: "SKIP", name: "cet", detail: "QEMU Aborted" }],
	[`${ESC}[31mFAIL${ESC}[0m x2apic `, { status: "FAIL", name: "x2apic" }],
	["random output", undefined],
];
for (const [line, expected] of statusLines) {
	test(`status line: ${stripForTitle(line)}`, (t) => {
		t.deepEqual(parseStatusLine(line), expected);
	});
}
function stripForTitle(s: string) {
	return s.replaceAll(new RegExp(`${ESC}\\[[0-9;]*m`, "g"), "");
}

test("SUMMARY with every count, and check lines as subtests", (t) => {
	t.deepEqual(parseSummary("12 tests, 1 unexpected failures, 2 known failures, 3 expected failures, 4 skipped"), {
		tests: 12,
		unexpectedFailures: 1,
		knownFailures: 2,
		expectedFailures: 3,
		skipped: 4,
	});
	const log = [
		"enabling apic",
		"PASS: apic: x2apic mode",
		"FAIL: apic: tsc deadline",
		"SKIP: apic: no PV EOI",
		"XFAIL: known bug",
		"SUMMARY: 4 tests, 1 unexpected failures, 1 skipped",
		"",
		"EXIT: STATUS=3",
	];
	t.deepEqual(parseChecks(log), [
		{ status: "pass", text: "apic: x2apic mode" },
		{ status: "fail", text: "apic: tsc deadline" },
		{ status: "skip", text: "apic: no PV EOI" },
		{ status: "xfail", text: "known bug" },
	]);
	t.deepEqual(findSummary(log), { tests: 4, unexpectedFailures: 1, knownFailures: 0, expectedFailures: 0, skipped: 1 });
});

test("exit codes: 0 pass, 77 skip, 124 timeout, >128 signal, else fail", (t) => {
	t.deepEqual(kutStatus(0), { status: "pass" });
	t.deepEqual(kutStatus(77), { status: "skip" });
	t.deepEqual(kutStatus(124), { status: "timeout" });
	t.deepEqual(kutStatus(137), { status: "fail", detail: "terminated on SIGKILL" });
	t.deepEqual(kutStatus(3), { status: "fail" });
});
