// `kvm-matrix classify --results`: verdicts for results produced elsewhere, from real output — the
// KUT fixture's run_tests.sh and Debian's kselftest runner — against real kernel git history.
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { kvmMatrix } from "./support/cli.js";
import { commitFiles, git } from "./support/git.js";
import { realKselftestTap } from "./support/kselftest-runner.js";
import { commitSourceChange, kutFixture } from "./support/kut-fixture.js";

/** master; next = master + a KVM fix (patch 2 of a series). */
async function kernelTree() {
	const dir = mkdtempSync(path.join(os.tmpdir(), "classify-kernel-"));
	await git(dir, "init", "-q", "-b", "master");
	await commitFiles(dir, { "arch/x86/kvm/x86.c": "base\n" }, "Initial");
	await git(dir, "checkout", "-q", "-b", "next");
	const fix = await commitFiles(
		dir,
		{ "arch/x86/kvm/msr.c": "fix\n" },
		"KVM: x86: Fix the MSR the fixture's fail test checks\n\nLink: https://patch.msgid.link/20260401101010.4242-2-seanjc@google.com",
	);
	await git(dir, "checkout", "-q", "master");
	return { dir, fix };
}

const runTests = (kut: string, outDir: string, ...args: string[]) =>
	execa("./run_tests.sh", args, {
		cwd: kut,
		reject: false,
		env: { ACCEL: "tcg", TIMEOUT: "2s", unittest_log_dir: path.join(outDir, `logs-${args.join("-")}`) },
	});

interface Row {
	kernel: string;
	test: string;
	status: string;
	verdict: string;
	evidence: string;
	details: unknown;
}

test.serial(
	"run_tests.sh output from two kernels: a pending fix by its link, another by evidence across kernels, a regression",
	async (t) => {
		t.timeout(180_000);
		const kernel = await kernelTree();
		const kut = await kutFixture();
		// fail.c links the KVM series' cover letter, then its own posting; flaky.c links only its own.
		await commitSourceChange(
			kut,
			"x86/fail.c",
			"x86/msr: check MSR_IA32_TSC_ADJUST\n\nLink: https://lore.kernel.org/all/20260401101010.4242-1-seanjc@google.com\nLink: https://lore.kernel.org/r/20260402000000.99-1-qa@example.org",
		);
		await commitSourceChange(kut, "x86/flaky.c", "x86: flaky\n\nMessage-Id: <20260403000000.77-1-qa@example.org>");
		await execa("./configure", ["--arch=x86_64"], { cwd: kut });
		await execa("make", ["-j2"], { cwd: kut });
		const dir = mkdtempSync(path.join(os.tmpdir(), "classify-results-"));
		// Real output: the fixture's flaky test fails the first time it runs in a tree, then passes.
		const first = await runTests(kut, dir, "-a", "fail", "flaky");
		const second = await runTests(kut, dir, "-a", "fail", "flaky");
		t.regex(first.stdout, /FAIL.* flaky/);
		t.regex(second.stdout, /PASS.* flaky/);
		writeFileSync(path.join(dir, "first.out"), first.stdout);
		writeFileSync(path.join(dir, "second.out"), second.stdout);
		writeFileSync(
			path.join(dir, "m.yaml"),
			`name: triage
trees:
  kvm: { path: ${kernel.dir} }
  kut: { path: ${kut} }
kernels:
  - { tree: kvm, ref: master }
  - { tree: kvm, ref: next }
targets:
  - { name: host, host: true }
suites:
  kut: { tree: kut, ref: master }
`,
		);
		const classify = (...args: string[]) => kvmMatrix(dir, "classify", "--matrix", path.join(dir, "m.yaml"), ...args);
		const fixShort = kernel.fix.slice(0, 12);

		const json = await classify(
			"--results",
			`kvm@master=${dir}/first.out`,
			"--results",
			`kvm@next=${dir}/second.out`,
			"--json",
		);
		t.is(json.exitCode, 0, json.stderr);
		const rows = (JSON.parse(json.stdout) as { results: Row[] }).results;
		const row = (k: string, test: string) => rows.find((r) => r.kernel === k && r.test === test);
		t.deepEqual(row("kvm@master", "kut:fail"), {
			kernel: "kvm@master",
			test: "kut:fail",
			status: "fail",
			verdict: "pending-fix",
			evidence: `needs ${fixShort} ("KVM: x86: Fix the MSR the fixture's fail test checks"), in kvm@next`,
			details: row("kvm@master", "kut:fail")?.details,
		} as Row);
		const master = (await git(kernel.dir, "rev-parse", "master")).slice(0, 12);
		t.is(row("kvm@master", "kut:flaky")?.verdict, "pending-fix");
		t.true(
			row("kvm@master", "kut:flaky")?.evidence.startsWith(
				`passes on kvm@next (${fixShort}); the fix is among the 1 commits ${master}..${fixShort}`,
			),
			row("kvm@master", "kut:flaky")?.evidence,
		);
		// next has the fix and still fails: the link explains nothing, and nothing else is known.
		t.is(row("kvm@next", "kut:fail")?.verdict, "new-failure");
		t.is(row("kvm@next", "kut:flaky"), undefined);

		// The same outputs the other way round: flaky passed on master, an ancestor of next, and fails on next.
		const human = await classify("--results", `kvm@master=${dir}/second.out`, "--results", `kvm@next=${dir}/first.out`);
		t.is(human.exitCode, 1, human.stderr);
		t.regex(
			human.stdout,
			new RegExp(
				`^kvm@next +kut:flaky +regression: passed on kvm@master \\(${master}\\); commits ${master}\\.\\.${fixShort} \\(1\\)`,
				"m",
			),
		);

		// Bad input: one line each, exit 2.
		const unknown = await classify("--results", `nope@master=${dir}/first.out`);
		t.is(unknown.exitCode, 2);
		t.is(
			unknown.stderr,
			"kvm-matrix classify: nope@master: unknown kernel: the matrix has no tree nope (it has kvm, kut)",
		);
		const badRef = await classify("--results", `kvm@no-such-branch=${dir}/first.out`);
		t.is(badRef.exitCode, 2);
		t.regex(badRef.stderr, /^kvm-matrix classify: kvm@no-such-branch: unknown kernel: .*no-such-branch.*$/);
		writeFileSync(path.join(dir, "empty.txt"), "nothing to see\n");
		const empty = await classify("--results", `kvm@master=${dir}/empty.txt`);
		t.is(empty.exitCode, 2);
		t.regex(empty.stderr, /^kvm-matrix classify: .*empty\.txt: no test results found/);
		const missing = await classify("--results", `kvm@master=${dir}/nope.txt`);
		t.is(missing.exitCode, 2);
		t.regex(missing.stderr, /nope\.txt: no such file\n?$/);
		const noMatrix = await kvmMatrix(dir, "classify", "--results", `kvm@master=${dir}/first.out`);
		t.is(noMatrix.exitCode, 2);
		t.is(noMatrix.stderr, "kvm-matrix classify: --results needs --matrix FILE (the trees to look fixes up in)");
		const badSpec = await classify("--results", "first.out");
		t.is(badSpec.exitCode, 2);
	},
);

test.serial("kselftest TAP from the real runner: a basename finds its test in the tree, and its fix", async (t) => {
	t.timeout(120_000);
	const tap = await realKselftestTap({
		"kvm/xapic_state_test": "echo '==== Test Assertion Failure ===='\nexit 254",
		"kvm/cpuid_test": "exit 0",
	});
	if (tap === undefined) {
		t.log("linux-source is not installed: the real kselftest runner cannot be run here");
		t.pass();
		return;
	}
	const { dir: tree, fix } = await kernelTree();
	// The selftest lives in the kernel tree; the commit that extends it links the fix's series.
	await commitFiles(
		tree,
		{ "tools/testing/selftests/kvm/x86_64/xapic_state_test.c": "int main(void) { return 0; }\n" },
		"KVM: selftests: test the MSR fix\n\nLink: https://lore.kernel.org/r/20260401101010.4242-0-seanjc@google.com\nLink: https://lore.kernel.org/r/20260401101010.4242-3-seanjc@google.com",
	);
	const dir = mkdtempSync(path.join(os.tmpdir(), "classify-tap-"));
	writeFileSync(path.join(dir, "kselftest.tap"), tap);
	writeFileSync(
		path.join(dir, "m.yaml"),
		`name: tap
trees:
  kvm: { path: ${tree} }
kernels:
  - { tree: kvm, ref: master }
  - { tree: kvm, ref: next }
targets:
  - { name: t }
suites:
  selftests: {}
`,
	);
	const run = await kvmMatrix(
		dir,
		"classify",
		"--matrix",
		path.join(dir, "m.yaml"),
		"--results",
		`kvm@master=${dir}/kselftest.tap`,
	);
	t.is(run.exitCode, 0, run.stderr);
	t.is(
		run.stdout,
		`kvm@master  selftests:x86_64/xapic_state_test  pending-fix: needs ${fix.slice(0, 12)} ("KVM: x86: Fix the MSR the fixture's fail test checks"), in kvm@next\nexit 0, green: no regressions; 1 pending-fix`,
	);
});
