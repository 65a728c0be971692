import test from "ava";
import { extractFacts } from "./extract.js";
import type { BugReport, KnownTests, ReportFacts } from "./types.js";

const ESC = String.fromCharCode(27);
const colour = (code: number, word: string) => `${ESC}[${code}m${word}${ESC}[0m`;

// A slice of x86/unittests.cfg: vmx.flat serves several entries, apic.flat two.
const KNOWN: KnownTests = {
	kut: [
		{ name: "vmx", file: "vmx.flat", testArgs: '"-exit_handler_test -ept_access* -vmx_smp*"' },
		{ name: "ept", file: "vmx.flat", testArgs: '"ept_access*"' },
		{ name: "vmx_pf_exception_test", file: "vmx.flat", testArgs: '"vmx_pf_exception_test"' },
		{ name: "xapic", file: "apic.flat", testArgs: "-cpu qemu64,-x2apic" },
		{ name: "x2apic", file: "apic.flat" },
		{ name: "hyperv_synic", file: "hyperv_synic.flat" },
		{ name: "memory", file: "memory.flat" },
		{ name: "debug", file: "debug.flat" },
		{ name: "access", file: "access_test.flat" },
		{ name: "pmu", file: "pmu.flat" },
		{ name: "io", file: "io.flat" },
	],
	selftests: ["x86_64/cpuid_test", "x86_64/vmx_pmu_caps_test", "x86_64/hyperv_features", "x86_64/xapic_state_test"],
};

const report = (...texts: string[]): BugReport => ({
	source: "text",
	texts: texts.map((text, i) => ({ where: i === 0 ? "description" : `comment ${i}`, text })),
});
const facts = (...texts: string[]) => extractFacts(report(...texts), KNOWN);
const testsOf = (f: ReportFacts) => f.tests.map((t) => [t.suite, t.testId, t.status ?? "?"]);
const kernelOf = (f: ReportFacts) =>
	f.kernel.map((c) =>
		c.kind === "release"
			? `release ${c.version} <${c.text}>`
			: c.kind === "describe"
				? `describe ${c.tag} ${c.sha} <${c.text}>`
				: c.kind === "sha"
					? `sha ${c.sha}`
					: `branch ${c.repo} ${c.branch} <${c.text}>`,
	);

// ---- the two reports of the maintainer thread, retold ------------------------------------------

test("the vmx report: a prose test, its command line, its FAIL: check, kvm.git next at rc4", (t) => {
	const bug: BugReport = {
		source: "bugzilla",
		id: "216812",
		title: "vmx: VMXON with CR0 bit 5 cleared should #GP, got 6",
		texts: [
			{
				where: "description",
				text: [
					"Since the latest pull of kvm.git next, the vmx test of kvm-unit-tests fails for me.",
					"",
					"$ uname -r",
					"6.1.0-rc4+",
					"",
					'$ ./x86/run x86/vmx.flat -smp 1 -cpu max,+vmx -append "-exit_handler_test -ept_access* -vmx_smp*"',
					"PASS: test vmxon with unaligned vmxon region",
					"FAIL: VMXON with CR0 bit 5 cleared should #GP, got '6'",
					"PASS: test vmxon with valid vmxon region",
					"SUMMARY: 432 tests, 1 unexpected failures",
				].join("\n"),
			},
		],
	};
	t.deepEqual(extractFacts(bug, KNOWN), {
		tests: [
			{
				suite: "kut",
				testId: "vmx",
				evidence: {
					where: "description",
					text: "Since the latest pull of kvm.git next, the vmx test of kvm-unit-tests fails for me.",
				},
				failureLines: [
					"vmx: VMXON with CR0 bit 5 cleared should #GP, got 6",
					"FAIL: VMXON with CR0 bit 5 cleared should #GP, got '6'",
				],
			},
		],
		kernel: [
			{ kind: "branch", repo: "kvm", branch: "next", text: "kvm.git next", where: "description" },
			{ kind: "release", version: "6.1-rc4", text: "6.1.0-rc4+", where: "description", field: true },
		],
		kind: "fail",
		missing: [],
	});
});

test("the xapic report: a timeout status line, IPI check, 6.1 release, KUT commit, QEMU and CPU", (t) => {
	const bug: BugReport = {
		source: "bugzilla",
		id: "216725",
		title: "kvm-unit-tests xapic fails on the 6.1 kernel",
		texts: [
			{
				where: "description",
				text: [
					"Host CPU:",
					"model name\t: Intel(R) Xeon(R) Platinum 8480+",
					"$ qemu-system-x86_64 --version",
					"QEMU emulator version 7.2.0 (Debian 1:7.2+dfsg-7)",
					"",
					"$ ./run_tests.sh x2apic xapic",
					`${colour(32, "PASS")} x2apic (54 tests)`,
					`${colour(31, "FAIL")} xapic (timeout; duration=60s)`,
					"$ cat logs/SUMMARY",
					"BUILD_HEAD=1da1819e",
				].join("\n"),
			},
			{
				where: "attachment 303 (xapic.log)",
				text: [
					"PASS: apic_disable: Local apic enabled in xAPIC mode",
					"FAIL: Want 2 IPI(s) using logical flat mode with dest 0x3, got 1",
					"qemu-system-x86_64: terminating on signal 15 from pid 12 (timeout)",
				].join("\n"),
			},
		],
	};
	t.deepEqual(extractFacts(bug, KNOWN), {
		tests: [
			{
				suite: "kut",
				testId: "xapic",
				status: "timeout",
				evidence: { where: "description", text: "FAIL xapic (timeout; duration=60s)" },
				failureLines: ["FAIL: Want 2 IPI(s) using logical flat mode with dest 0x3, got 1"],
			},
			{
				suite: "kut",
				testId: "x2apic",
				status: "pass",
				evidence: { where: "description", text: "PASS x2apic (54 tests)" },
				failureLines: [],
			},
		],
		kernel: [{ kind: "release", version: "6.1", text: "6.1", where: "title" }],
		kind: "fail",
		kutCommit: "1da1819e",
		qemu: "7.2.0",
		cpu: "Intel(R) Xeon(R) Platinum 8480+",
		missing: [],
	});
});

// ---- result lines -------------------------------------------------------------------------------

test("KUT status lines: coloured, quoted or indented, each with its status", (t) => {
	const f = facts(
		[
			`> ${colour(31, "FAIL")} vmx (432 tests, 1 unexpected failures)`,
			`    ${colour(33, "SKIP")} hyperv_synic (kvm only, but ACCEL=tcg)`,
			"PASS pmu (120 tests)",
			"FAIL debug (terminated on SIGKILL)",
		].join("\n"),
	);
	t.deepEqual(testsOf(f), [
		["kut", "vmx", "fail"],
		["kut", "hyperv_synic", "skip"],
		["kut", "pmu", "pass"],
		["kut", "debug", "fail"],
	]);
	t.deepEqual(
		f.tests.map((x) => x.evidence.text),
		[
			"FAIL vmx (432 tests, 1 unexpected failures)",
			"SKIP hyperv_synic (kvm only, but ACCEL=tcg)",
			"PASS pmu (120 tests)",
			"FAIL debug (terminated on SIGKILL)",
		],
	);
});

test("a FAIL line naming an unknown test reports nothing", (t) => {
	const f = facts("FAIL svm_npt (12 tests, 1 unexpected failures)\nFAIL: npt_rsvd: got 0x3");
	t.deepEqual(f.tests, []);
	t.deepEqual(f.missing, ["no failing test named", "no kernel version"]);
});

test("kselftest TAP: basenames map to the tree's ids, exit=1 is a failure", (t) => {
	const f = facts(
		[
			"ok 1 selftests: kvm: cpuid_test",
			"# selftests: kvm: vmx_pmu_caps_test",
			"# ==== Test Assertion Failure ====",
			"#   x86_64/vmx_pmu_caps_test.c:95: r == 0",
			"#   pid=4242 tid=4242 errno=0 - Success",
			"#      1\t0x0000000000402a6b: main at vmx_pmu_caps_test.c:95",
			"not ok 3 selftests: kvm: vmx_pmu_caps_test # exit=1",
			"not ok 4 selftests: kvm: no_such_test # exit=1",
		].join("\n"),
	);
	t.deepEqual(testsOf(f), [
		["selftests", "x86_64/cpuid_test", "pass"],
		["selftests", "x86_64/vmx_pmu_caps_test", "fail"],
	]);
	t.is(f.tests[1]?.evidence.text, "not ok 3 selftests: kvm: vmx_pmu_caps_test # exit=1");
	t.deepEqual(f.tests[1]?.failureLines, ["==== Test Assertion Failure ====", "x86_64/vmx_pmu_caps_test.c:95: r == 0"]);
	t.deepEqual(f.tests[0]?.failureLines, []);
});

test("a basename in two layouts of x86 is the first x86 id; one shared by arches names nothing", (t) => {
	const known: KnownTests = {
		kut: [],
		selftests: ["x86_64/state_test", "x86/state_test", "aarch64/arch_timer", "riscv/arch_timer"],
	};
	const f = extractFacts(
		report("not ok 1 selftests: kvm: state_test # exit=1\nnot ok 2 selftests: kvm: arch_timer # exit=1"),
		known,
	);
	t.deepEqual(testsOf(f), [["selftests", "x86_64/state_test", "fail"]]);
});

test("run_tests.sh lines in a text that also holds kselftest TAP are read too", (t) => {
	const f = facts("not ok 1 selftests: kvm: cpuid_test # exit=1\nFAIL xapic (3 tests, 1 unexpected failures)");
	t.deepEqual(testsOf(f), [
		["selftests", "x86_64/cpuid_test", "fail"],
		["kut", "xapic", "fail"],
	]);
});

// ---- command lines --------------------------------------------------------------------------------

const commandTest = (line: string) => facts(line).tests.map((x) => x.testId);

test("a command line names the cfg entry whose test_args it passes", (t) => {
	t.deepEqual(commandTest("./x86/run x86/vmx.flat -smp 1 -cpu max,+vmx -append 'ept_access*'"), ["ept"]);
	t.deepEqual(commandTest('./x86/run x86/vmx.flat -smp 1 -append "vmx_pf_exception_test"'), ["vmx_pf_exception_test"]);
});

test("a command line with other args names the entry called after the image, else the first", (t) => {
	t.deepEqual(commandTest('./x86/run x86/vmx.flat -smp 1 -append "-vmx_smp*"'), ["vmx"]);
	t.deepEqual(commandTest("./x86/run x86/apic.flat -smp 2 -cpu qemu64"), ["x2apic"]);
	t.deepEqual(commandTest("./x86/run x86/apic.flat -smp 2 -cpu max"), ["x2apic"]);
	t.deepEqual(commandTest('./x86/run x86/apic.flat -smp 2 -append "nothing"'), ["xapic"]);
});

test("qemu -kernel lines and KUT logs' unquoted -append name the image's entry", (t) => {
	t.deepEqual(
		commandTest(
			"qemu-system-x86_64 -nodefaults -kernel /src/kvm-unit-tests/x86/vmx.flat -append ept_access* # -initrd x",
		),
		["ept"],
	);
	t.deepEqual(commandTest("qemu-system-x86_64 -kernel x86/pmu.flat -smp 1"), ["pmu"]);
	// A .flat named outside a command, or an image no entry uses, names nothing.
	t.deepEqual(commandTest("see x86/vmx.flat for details"), []);
	t.deepEqual(commandTest("./x86/run x86/svm.flat -smp 2"), []);
});

// ---- prose -------------------------------------------------------------------------------------

test("prose names known tests as whole words where it speaks of a test suite", (t) => {
	const f = facts(
		"With kvm-unit-tests the `ept` test hangs, and selftests: kvm: hyperv_features fails, as does ./x86_64/cpuid_test.",
	);
	t.deepEqual(testsOf(f), [
		["kut", "ept", "?"],
		["selftests", "x86_64/hyperv_features", "?"],
		["selftests", "x86_64/cpuid_test", "?"],
	]);
	t.deepEqual(f.missing, ["no kernel version"]);
});

test("prose without suite words names nothing, not even 'memory' or 'pmu'", (t) => {
	const f = facts("The guest ran out of memory while I was trying to debug pmu counters in the vmx code.");
	t.deepEqual(f.tests, []);
	t.deepEqual(f.missing, ["no failing test named", "no kernel version"]);
});

test("prose names a test only in a line that says something failed: not in a QEMU version line", (t) => {
	const f = facts(
		"I run kvm-unit-tests with QEMU emulator version 7.2.0; the ept test passes now.\nBut vmx fails every time.",
	);
	t.deepEqual(testsOf(f), [["kut", "vmx", "?"]]);
});

test("a clause that says a test works names no failure, whatever the rest of the line says", (t) => {
	const f = facts(
		"With kvm-unit-tests the access test passes now, but vmx fails; I got pmu running fine; no errors with debug.",
	);
	t.deepEqual(testsOf(f), [["kut", "vmx", "?"]]);
});

test("a commit of kvm-unit-tests or of a bisection is not the kernel under test", (t) => {
	const f = facts(
		"kvm-unit-tests is at commit 1a2b3c4d5e6f7a8b\nBisected to commit 9f8e7d6c5b4a3f2e\nKernel: kvm.git next\nWith a kernel at commit 0a1b2c3d4e5f6a7b, kvm-unit-tests vmx fails",
	);
	t.deepEqual(kernelOf(f), ["sha 0a1b2c3d4e5f6a7b", "branch kvm next <kvm.git next>"]);
});

test("prose matches are case-sensitive, whole names and 3+ characters for KUT", (t) => {
	const f = facts(
		"KUT: VMX fails, vmx_tests.c and x86/xapic.c changed, io fails, the pmu_lbr code is new; xapic fails.",
	);
	t.deepEqual(testsOf(f), [["kut", "xapic", "?"]]);
});

test("a result line is the evidence even when prose names the test first", (t) => {
	const f = facts("kvm-unit-tests: pmu and xapic fail", `PASS pmu (10 tests)\n${colour(31, "FAIL")} xapic `);
	t.deepEqual(testsOf(f), [
		["kut", "pmu", "pass"],
		["kut", "xapic", "fail"],
	]);
	t.deepEqual(
		f.tests.map((x) => x.evidence),
		[
			{ where: "comment 1", text: "PASS pmu (10 tests)" },
			{ where: "comment 1", text: "FAIL xapic" },
		],
	);
});

test("of two result lines for a test, the first stands", (t) => {
	const f = facts("FAIL xapic (timeout; duration=90s)", "PASS xapic (40 tests)");
	t.deepEqual(testsOf(f), [["kut", "xapic", "timeout"]]);
});

// ---- failure lines ------------------------------------------------------------------------------

test("failure lines go to the nearest failing test in their text", (t) => {
	const f = facts(
		[
			"./x86/run x86/pmu.flat -smp 1",
			"FAIL: pmu: fixed counter 0: expected 100, got 0",
			"PASS: pmu: gp counter 1",
			"FAIL pmu (20 tests, 1 unexpected failures)",
			"./x86/run x86/debug.flat -smp 1",
			"FAIL: debug: single step: want DR6 0xffff4ff0 got 0xffff0ff0",
			"FAIL debug (8 tests, 1 unexpected failures)",
		].join("\n"),
	);
	t.deepEqual(
		f.tests.map((x) => [x.testId, x.failureLines]),
		[
			["pmu", ["FAIL: pmu: fixed counter 0: expected 100, got 0"]],
			["debug", ["FAIL: debug: single step: want DR6 0xffff4ff0 got 0xffff0ff0"]],
		],
	);
});

test("failure lines: at most 20, without duplicates, and no ordinary 'got' or passed checks", (t) => {
	const checks = Array.from({ length: 30 }, (_, i) => `FAIL: check ${i}: unexpected vector`);
	const f = facts(
		[
			"FAIL xapic (30 tests, 30 unexpected failures)",
			"I got this after an update.",
			"PASS: expected #GP",
			"FAIL: check 0: unexpected vector",
			...checks,
		].join("\n"),
	);
	t.deepEqual(f.tests[0]?.failureLines, checks.slice(0, 20));
});

test("a text naming no test gives its failure lines to the report's only failing test", (t) => {
	const f = facts("kvm-unit-tests x2apic fails", "got 3, expected 1 in the ICR test");
	t.deepEqual(f.tests[0]?.failureLines, ["got 3, expected 1 in the ICR test"]);
	const two = facts("kvm-unit-tests x2apic and xapic fail", "got 3, expected 1 in the ICR test");
	t.deepEqual(
		two.tests.map((x) => x.failureLines),
		[[], []],
	);
});

// ---- the kernel ------------------------------------------------------------------------------------

test("uname -r shapes give releases", (t) => {
	t.deepEqual(kernelOf(facts("$ uname -r\n6.1.0")), ["release 6.1 <6.1.0>"]);
	t.deepEqual(kernelOf(facts("running 6.1.0-rc4 here")), ["release 6.1-rc4 <6.1.0-rc4>"]);
	t.deepEqual(kernelOf(facts("host is 6.1.0-28-amd64")), ["release 6.1 <6.1.0-28-amd64>"]);
	t.deepEqual(kernelOf(facts("on 6.2.0-rc1+.")), ["release 6.2-rc1 <6.2.0-rc1+>"]);
	t.deepEqual(kernelOf(facts("Linux 6.1.12 and v6.3-rc2")), ["release 6.1.12 <6.1.12>", "release 6.3-rc2 <v6.3-rc2>"]);
	t.deepEqual(kernelOf(facts("insmod /lib/modules/6.1.0-28-amd64/kernel/arch/x86/kvm/kvm.ko")), [
		"release 6.1 <6.1.0-28-amd64>",
	]);
});

test("LOCALVERSION_AUTO and git describe give describes", (t) => {
	t.deepEqual(kernelOf(facts("uname -r: 6.1.0-rc4-00123-gabcdef012345")), [
		"describe v6.1-rc4 abcdef012345 <6.1.0-rc4-00123-gabcdef012345>",
	]);
	t.deepEqual(kernelOf(facts("git describe says v6.1-rc4-123-gabcdef012345")), [
		"describe v6.1-rc4 abcdef012345 <v6.1-rc4-123-gabcdef012345>",
	]);
	t.deepEqual(kernelOf(facts("built kvm-x86-next-2023.01.10-5-g1234567abcd")), [
		"describe kvm-x86-next-2023.01.10 1234567abcd <kvm-x86-next-2023.01.10-5-g1234567abcd>",
	]);
});

test("a sha counts where the words say so, or alone on its line", (t) => {
	t.deepEqual(kernelOf(facts("tested commit 1234abcd5678")), ["sha 1234abcd5678"]);
	t.deepEqual(kernelOf(facts("HEAD is now at 0123456789abcdef0123456789abcdef01234567 KVM: x86: foo")), [
		"sha 0123456789abcdef0123456789abcdef01234567",
	]);
	t.deepEqual(kernelOf(facts("sha: 9f8e7d6c5b4a")), ["sha 9f8e7d6c5b4a"]);
	t.deepEqual(kernelOf(facts("$ git rev-parse HEAD\n  9f8e7d6c5b4a3210")), ["sha 9f8e7d6c5b4a3210"]);
});

test("hex in a URL, a message-id, a trailer, a longer word or a register is not a sha", (t) => {
	const f = facts(
		[
			"see https://git.kernel.org/pub/scm/virt/kvm/kvm.git/commit/?id=1234abcd5678ef",
			"Message-Id: <20221006001956.329314-1-seanjc@google.com>",
			"reply at <1234abcd5678@example.com> or lore.kernel.org/kvm/1234abcd5678ef/",
			'Fixes: 1234abcd5678 ("KVM: x86: bar")',
			"at RIP 0x1234abcd5678, at xy1234abcd5678, at 1234abcd5678ghij",
			"12345678901234",
		].join("\n"),
	);
	t.deepEqual(f.kernel, []);
});

test("tree and branch words", (t) => {
	const branches = (text: string) => kernelOf(facts(text));
	t.deepEqual(branches("on kvm.git next"), ["branch kvm next <kvm.git next>"]);
	t.deepEqual(branches("kvm.git queue, and kvm/next."), [
		"branch kvm queue <kvm.git queue>",
		"branch kvm next <kvm/next>",
	]);
	t.deepEqual(branches("kvm/queue"), ["branch kvm queue <kvm/queue>"]);
	t.deepEqual(branches("kvm-x86/next and kvm-x86 fixes"), [
		"branch kvm-x86 next <kvm-x86/next>",
		"branch kvm-x86 fixes <kvm-x86 fixes>",
	]);
	t.deepEqual(branches("kvm-x86/fixes"), ["branch kvm-x86 fixes <kvm-x86/fixes>"]);
	t.deepEqual(branches("linux-next"), ["branch linux-next master <linux-next>"]);
	t.deepEqual(branches("mainline"), ["branch linux master <mainline>"]);
	t.deepEqual(branches("Linus' torvalds tree"), ["branch linux master <torvalds>"]);
	t.deepEqual(branches("the tree is github.com/kvm-x86/linux.git"), []);
});

test("QEMU, gcc, Debian package and KUT path versions are not kernel releases", (t) => {
	const f = facts(
		[
			"QEMU emulator version 7.2.0 (Debian 1:7.2+dfsg-7)",
			"qemu 8.0.0-rc1 built with gcc 12.2.0, GNU ld 2.40",
			"gcc version 9.4.0 and git version 2.39.2 for this kernel",
			"/opt/kvm-unit-tests-6.1/x86/vmx.flat and ~/kut/v6.2/logs",
			"took 2.5 s at 2.40GHz",
			"6.1 and 5.15",
		].join("\n"),
	);
	t.deepEqual(f.kernel, []);
	t.deepEqual(f.missing, ["no failing test named", "no kernel version"]);
});

test("dmesg's Linux version line gives the kernel, not the compiler", (t) => {
	t.deepEqual(
		kernelOf(facts("Linux version 6.1.0-rc4 (me@box) (gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils) 2.40) #1")),
		["release 6.1-rc4 <6.1.0-rc4>"],
	);
});

test("clues come strongest first, each once", (t) => {
	t.deepEqual(
		kernelOf(
			facts("kernel 6.1.0-rc4 from kvm/next at 1234abcd5678", "again kvm/next, 6.1.0-rc4, v6.1-rc4-3-g1234abcd5678"),
		),
		// An exact release (a tag, no local changes) names the kernel more closely than tree words.
		[
			"sha 1234abcd5678",
			"describe v6.1-rc4 1234abcd5678 <v6.1-rc4-3-g1234abcd5678>",
			"release 6.1-rc4 <6.1.0-rc4>",
			"branch kvm next <kvm/next>",
		],
	);
	t.deepEqual(
		facts("kernel 6.1.0-rc4+", "kvm/next").kernel.map((c) => c.where),
		["comment 1", "description"],
	);
});

// ---- KUT, QEMU, CPU --------------------------------------------------------------------------

test("KUT's BUILD_HEAD is the KUT commit, not a kernel clue", (t) => {
	const f = facts("BUILD_HEAD=1da1819e0123");
	t.is(f.kutCommit, "1da1819e0123");
	t.deepEqual(f.kernel, []);
});

test("QEMU versions: --version output first, else 'qemu X.Y'", (t) => {
	t.is(facts("qemu 8.0 here").qemu, "8.0");
	t.is(facts("qemu-system-x86_64 7.1.0", "QEMU emulator version 7.2.0 (Debian 1:7.2+dfsg-7)").qemu, "7.2.0");
	t.is(facts("qemu-system-x86_64 -smp 2 -m 1G").qemu, undefined);
});

test("CPU models from /proc/cpuinfo, lscpu, 'CPU:' and smpboot, not from an oops", (t) => {
	t.is(facts("model name\t: AMD EPYC 7B13 64-Core Processor").cpu, "AMD EPYC 7B13 64-Core Processor");
	t.is(
		facts("Model name:            Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz").cpu,
		"Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz",
	);
	t.is(facts("CPU: AMD EPYC 7B13").cpu, "AMD EPYC 7B13");
	t.is(
		facts("smpboot: CPU0: Intel(R) Xeon(R) Platinum 8480+ (family: 0x6, model: 0x8f, stepping: 0x8)").cpu,
		"Intel(R) Xeon(R) Platinum 8480+",
	);
	t.is(facts("CPU: 3 PID: 1234 Comm: qemu Not tainted 6.1.0 #1").cpu, undefined);
});

test("an oops line's kernel release is a clue", (t) => {
	t.deepEqual(kernelOf(facts("CPU: 3 PID: 1234 Comm: qemu Not tainted 6.1.0 #1")), ["release 6.1 <6.1.0>"]);
});

// ---- missing ------------------------------------------------------------------------------------

test("missing: only passing tests are no failing test; a skipped one makes the report about the skip", (t) => {
	t.deepEqual(facts("PASS xapic (3 tests)\nkernel 6.1").missing, ["no failing test named"]);
	const skip = facts("PASS xapic (3 tests)\nSKIP pmu (no PMU)\nkernel 6.1");
	t.is(skip.kind, "skip");
	t.deepEqual(skip.missing, []);
	t.is(skip.tests.find((x) => x.testId === "pmu")?.skipReason, "no PMU");
	t.deepEqual(facts("FAIL xapic (3 tests, 1 unexpected failures)\nkernel 6.1").missing, []);
});
