// `kvm-matrix triage --reproduce` end to end: bugzilla-shaped reports served on loopback, a
// generated kernel history (fakelinux: real make, Debian's kernel booted under real QEMU) whose
// KVM fixes sit on newer branches, and a KUT fixture tree whose vmx and xapic images pass only on a
// kernel that carries the fix. No Link: leads from a test to its fix, so the static answer cannot
// say pending-fix; running the tests on each kernel can, and `--bisect` names the fix.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { bugzilla } from "../support/bugzilla.js";
import { CLI, REPO } from "../support/cli.js";
import { fakeLinux, KERNEL_HAS_FIX } from "../support/fakelinux.js";
import { commitFiles, git } from "../support/git.js";
import { commitSourceChange, kutFixture } from "../support/kut-fixture.js";
import { cliEnv } from "../support/run-process.js";

const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix));
const SEAN = "Sean Christopherson <seanjc@google.com>";

// The two images, in the shape of the context thread's reports: each fails the way the report says
// unless the kernel it runs on has the fix (bit 0: xapic's logical-mode IPIs, bit 1: VMXON's #GP).
const APIC = `${KERNEL_HAS_FIX}
int main(void) {
	puts("PASS: apic: physical mode IPI to vCPU 1");
	if (!kernel_has_fix(0)) {
		puts("FAIL: Want 2 IPI(s) using logical flat mode with dest 0x3, got 1");
		puts("SUMMARY: 2 tests, 1 unexpected failures");
		return 1;
	}
	puts("PASS: apic: logical flat mode IPI to 2 vCPUs");
	puts("SUMMARY: 2 tests");
	return 0;
}`;
const VMX = `#include <stdio.h>
#include "libcflat.h"
#include "vmx.h"
${KERNEL_HAS_FIX}
int main(void) {
	puts("PASS: vmx: VMXON with a valid CR0");
	if (!kernel_has_fix(1)) {
		puts("FAIL: vmx: VMXON with CR0 bit 5 cleared should #GP, got 6");
		puts("SUMMARY: 2 tests, 1 unexpected failures");
		return 1;
	}
	puts("PASS: vmx: VMXON with CR0 bit 5 cleared #GP");
	puts("SUMMARY: 2 tests");
	return 0;
}
`;

interface Trees {
	readonly kvm: string;
	readonly kut: string;
	readonly xapicFix: string;
	readonly vmxFix: string;
}

async function trees(): Promise<Trees> {
	const kvm = await fakeLinux();
	const kvmFiles = ["arch/x86/kvm/lapic.c", "arch/x86/kvm/x86.c", "arch/x86/kvm/vmx/nested.c"];
	await commitFiles(kvm, Object.fromEntries(kvmFiles.map((f) => [f, `/* ${f} */\n`])), "Linux 6.1");
	await git(kvm, "tag", "-a", "v6.1", "-m", "Linux 6.1");
	const touch = (file: string, line: string) => ({ [file]: `${readFileSync(path.join(kvm, file), "utf8")}${line}\n` });

	// kvm-x86's next, on the release: the logical-mode IPI fix among others, none linked from KUT.
	await git(kvm, "switch", "-q", "-c", "kvm-x86-next", "v6.1");
	await commitFiles(
		kvm,
		touch("arch/x86/kvm/x86.c", "/* drop an unused argument */"),
		`KVM: x86: Drop an unused argument from the gfn cache unmap helper\n\nSigned-off-by: ${SEAN}`,
	);
	const xapicFix = await commitFiles(
		kvm,
		touch("arch/x86/kvm/lapic.c", "/* fakelinux: fixes bit 0 */"),
		`KVM: x86: Deliver a logical-mode IPI to every vCPU in its destination\n\nThe optimized path stopped at the first matching vCPU.\n\nSigned-off-by: ${SEAN}\nLink: https://lore.kernel.org/r/20230106011306.85230-9-seanjc@google.com`,
	);
	// kvm.git: next as the reporter ran it, and queue, where the VMXON fix waits.
	await git(kvm, "switch", "-q", "-c", "next", "v6.1");
	await commitFiles(
		kvm,
		touch("arch/x86/kvm/x86.c", "/* protect the zap with SRCU */"),
		"KVM: x86: Protect the APICv inhibit zap with SRCU\n\nMessage-Id: <20221110223043.11111-1-seanjc@google.com>",
	);
	await git(kvm, "switch", "-q", "-c", "queue", "next");
	await commitFiles(
		kvm,
		touch("arch/x86/kvm/vmx/nested.c", "/* no enlightened MSR bitmap for L3 */"),
		"KVM: nVMX: Keep the enlightened MSR bitmap away from L3\n\nMessage-Id: <20221129123930.22222-1-vkuznets@redhat.com>",
	);
	const vmxFix = await commitFiles(
		kvm,
		touch("arch/x86/kvm/vmx/nested.c", "/* fakelinux: fixes bit 1 */"),
		`KVM: nVMX: Inject #GP, not #UD, when VMXON's generic CR0/CR4 check fails\n\nSigned-off-by: ${SEAN}\nLink: https://lore.kernel.org/r/20221006001956.33333-1-seanjc@google.com`,
	);
	await commitFiles(
		kvm,
		touch("arch/x86/kvm/x86.c", "/* tidy */"),
		"KVM: x86: Tidy the emulator's register cache\n\nMessage-Id: <20221201101010.44444-1-pbonzini@redhat.com>",
	);

	const kut = await kutFixture({
		extraImages: { apic: APIC },
		sources: { "x86/vmx.c": VMX },
		extraCfg: "\n[xapic]\nfile = apic.flat\n\n[vmx]\nfile = vmx.flat\nextra_params = -cpu max,+vmx\n",
	});
	// Each test's commit links only its own posting: nothing leads from the test to the KVM fix.
	await commitSourceChange(
		kut,
		"x86/apic.c",
		"x86/apic: Test logical flat mode IPIs to more than one vCPU\n\nLink: https://lore.kernel.org/r/20221001011301.55555-6-seanjc@google.com",
	);
	await commitSourceChange(
		kut,
		"x86/vmx.c",
		'nVMX: Expect #GP on VMXON with "generic" invalid CR0/CR4 bits\n\nLink: https://lore.kernel.org/r/20221005235456.66666-1-seanjc@google.com',
	);
	return { kvm, kut, xapicFix, vmxFix };
}

/** A matrix over the trees (name → path) and kernels (`tree@ref`), KUT in a TCG guest. */
function matrix(
	x: Trees,
	kernels: readonly string[],
	bugzillaUrl: string,
	trees: Readonly<Record<string, string>> = { kvm: x.kvm },
): string {
	const file = path.join(tmp("triage-repro-matrix-"), "m.yaml");
	const treeLines = Object.entries(trees).map(([name, dir]) => `  ${name}: { path: ${dir} }`);
	const kernelLines = kernels.map((k) => `  - { tree: ${k.split("@")[0]}, ref: ${k.split("@")[1]} }`);
	writeFileSync(
		file,
		`name: triage
trees:
${treeLines.join("\n")}
  kut: { path: ${x.kut} }
config: { base: tinyconfig, fragments: [kvm_guest.config] }
kernels:
${kernelLines.join("\n")}
targets:
  - { name: t, qemu: { smp: 1, memory: 768M, accel: tcg } }
suites:
  kut: { tree: kut, ref: master, accel: tcg, timeout: 60s }
bugzilla: ${bugzillaUrl}
`,
	);
	return file;
}

const statusLine = (word: "PASS" | "FAIL", name: string, text: string) =>
	`\u001b[${word === "PASS" ? 32 : 31}m${word}\u001b[0m ${name} (${text})`;

interface Answer {
	kernel: { tree: string; ref: string; sha: string };
	verdicts: { test: string; verdict: string }[];
	reproduction: {
		runDir: string;
		runs: number;
		kernels: { id: string; sha: string; role: string }[];
		tests: {
			test: string;
			reproduced: string;
			tallies: { kernel: string; statuses: string[]; words: string }[];
			verdicts: { kernel: string; verdict: string; evidence: string }[];
			bisect?: {
				mode?: string;
				skipped?: string;
				outcome?: { result: { kind: string; commit?: { sha: string; trailers: string[] } } };
				in?: string[];
				notIn?: string[];
			};
		}[];
	};
}

test.serial(
	"triage --reproduce answers the two reports with evidence across kernels; --bisect names the fix",
	async (t) => {
		t.timeout(1_500_000);
		const x = await trees();
		const { url, server } = await bugzilla([
			{
				id: 5101,
				summary: "vmx: VMXON with CR0 bit 5 cleared should #GP, got 6",
				comments: [
					"kvm-unit-tests' vmx test fails on a kvm.git next kernel, every time:\n\n    FAIL: vmx: VMXON with CR0 bit 5 cleared should #GP, got 6\n\nThe log is attached.",
				],
				attachments: [
					{
						id: 901,
						name: "vmx.log",
						text: `${statusLine("FAIL", "vmx", "2 tests, 1 unexpected failures")}\n`,
					},
				],
			},
			{
				id: 5102,
				summary: "kvm-unit-tests xapic fails on 6.1",
				comments: [
					"uname -r: 6.1.0\n\nxapic of kvm-unit-tests fails; x2apic passes:\n\n    FAIL: Want 2 IPI(s) using logical flat mode with dest 0x3, got 1",
					"Attaching run_tests.sh's output.",
				],
				attachments: [
					{
						id: 902,
						name: "run_tests.log",
						text: `${statusLine("FAIL", "xapic", "2 tests, 1 unexpected failures")}\n`,
					},
				],
			},
		]);
		t.teardown(() => server.close());
		const cache = tmp("triage-repro-cache-");
		const triage = (args: readonly string[]) =>
			execa("node", [CLI, "triage", ...args], { env: cliEnv(cache), reject: false, cwd: REPO });
		const s = (sha: string) => sha.slice(0, 12);

		// The xapic report, on a release kernel. The matrix has kvm.git (whose mirror lacks kvm-x86's
		// commits) and the kvm-x86 tree: the fix is on the other tree's branch.
		const kvmOnly = tmp("triage-repro-kvm-");
		await execa("git", ["clone", "-q", "-b", "next", x.kvm, kvmOnly]);
		await git(kvmOnly, "remote", "remove", "origin");
		const xapicMatrix = matrix(x, ["kvm@next", "kvm-x86@kvm-x86-next"], url, { kvm: kvmOnly, "kvm-x86": x.kvm });
		const staticAnswer = await triage(["5102", "--matrix", xapicMatrix]);
		t.is(staticAnswer.exitCode, 0, staticAnswer.stderr);
		t.regex(staticAnswer.stdout, /\| `kut:xapic` \| \*\*new-failure\*\*/, "nothing links the fix: it cannot say more");

		const xapicDir = path.join(tmp("triage-repro-xapic-"), "run");
		const xapic = await triage(["5102", "--matrix", xapicMatrix, "--reproduce", "--bisect", "--dir", xapicDir]);
		t.is(xapic.exitCode, 0, `${xapic.stdout}\n${xapic.stderr}`);
		const v61 = await git(x.kvm, "rev-parse", "v6.1^{commit}");
		const next = await git(x.kvm, "rev-parse", "kvm-x86-next");
		const kvmNext = await git(x.kvm, "rev-parse", "next");
		t.true(
			xapic.stdout.includes(
				`- \`kut:xapic\`: fails 3/3 on \`kvm@v6.1\` (${s(v61)}), fails 3/3 on \`kvm@next\` (${s(kvmNext)}), passes 3/3 on \`kvm-x86@kvm-x86-next\` (${s(next)}): **pending-fix** (fix not yet merged): fixed on kvm-x86@kvm-x86-next, not yet in kvm@v6.1`,
			),
			xapic.stdout,
		);
		// Bisected in the tree that holds both ends.
		t.true(
			xapic.stdout.includes(
				`Bisected, first fixed commit: \`${s(x.xapicFix)} KVM: x86: Deliver a logical-mode IPI to every vCPU in its destination\``,
			),
			xapic.stdout,
		);
		t.regex(xapic.stderr, /bisecting kut:xapic in kvm-x86: broken kvm@v6\.1 /);
		t.true(xapic.stdout.includes(`the fix is among the 2 commits ${s(v61)}..${s(next)}`), xapic.stdout);
		// Progress went to stderr, live, as run's plain lines: stdout is only the report.
		t.regex(xapic.stderr, /kvm@v6\.1\/t-run3/);
		t.true(xapic.stdout.startsWith("### kvm-matrix triage of [bug 5102]"), xapic.stdout.slice(0, 200));
		// The run is a run: its journal, and the answer kept beside it.
		for (const f of ["journal.jsonl", "results.json", "triage.md", "triage.json"])
			t.true(existsSync(path.join(xapicDir, f)), f);
		t.is(readFileSync(path.join(xapicDir, "triage.md"), "utf8").trimEnd(), xapic.stdout.trimEnd());

		// The vmx report, on "kvm.git next"; the matrix has next and queue. Two runs each, then bisect.
		const vmxMatrix = matrix(x, ["kvm@next", "kvm@queue"], url);
		const vmxDir = path.join(tmp("triage-repro-vmx-"), "run");
		const vmx = await triage([
			"5101",
			"--matrix",
			vmxMatrix,
			"--reproduce",
			"--runs",
			"2",
			"--bisect",
			"--dir",
			vmxDir,
			"--json",
		]);
		t.is(vmx.exitCode, 0, `${vmx.stdout}\n${vmx.stderr}`);
		const answer = JSON.parse(vmx.stdout) as Answer;
		const queue = await git(x.kvm, "rev-parse", "queue");
		t.deepEqual(
			answer.reproduction.kernels.map((k) => [k.id, k.sha, k.role]),
			[
				["kvm@next", kvmNext, "reported"],
				["kvm@queue", queue, "configured"],
			],
		);
		const [vmxTest] = answer.reproduction.tests;
		t.is(vmxTest?.test, "kut:vmx");
		t.deepEqual(
			vmxTest?.tallies.map((y) => [y.kernel, y.statuses]),
			[
				["kvm@next", ["fail", "fail"]],
				["kvm@queue", ["pass", "pass"]],
			],
		);
		t.deepEqual(
			vmxTest?.verdicts.map((v) => [v.kernel, v.verdict]),
			[["kvm@next", "pending-fix"]],
		);
		t.is(vmxTest?.bisect?.mode, "fixed", JSON.stringify(vmxTest?.bisect));
		t.is(vmxTest?.bisect?.outcome?.result.commit?.sha, x.vmxFix, JSON.stringify(vmxTest?.bisect));
		t.deepEqual([vmxTest?.bisect?.in, vmxTest?.bisect?.notIn], [["kvm@queue"], ["kvm@next"]]);
		t.deepEqual(vmxTest?.bisect?.outcome?.result.commit?.trailers, [
			"Link: https://lore.kernel.org/r/20221006001956.33333-1-seanjc@google.com",
		]);
		t.regex(vmx.stderr, /bisect kut:vmx fixed end: /);
		const md = readFileSync(path.join(vmxDir, "triage.md"), "utf8");
		t.true(
			md.includes(
				`Bisected, first fixed commit: \`${s(x.vmxFix)} KVM: nVMX: Inject #GP, not #UD, when VMXON's generic CR0/CR4 check fails\``,
			),
			md,
		);
		t.true(md.includes("; in `kvm@queue`; not in `kvm@next`"), md);
		// What it printed here, beside what the report showed, and where its log is.
		t.regex(md, /- Failed here with: `vmx: VMXON with CR0 bit 5 cleared should #GP, got 6` \(log: `.*vmx\.log`\)/);
		// "kvm.git next" is next as it is today, not surely the reporter's commit: said beside the verdict.
		t.true(md.includes("**But** this ran kvm@next as it is now"), md);
		t.true(md.includes("--reproduce --runs 2 --bisect"), md);
	},
);

test("triage --reproduce refuses what it cannot do in one line, before anything runs", async (t) => {
	const x = await trees();
	const { url, server } = await bugzilla([
		{ id: 7, summary: "vmx fails", comments: ["On kvm.git next:\n\nFAIL vmx (2 tests, 1 unexpected failures)"] },
	]);
	t.teardown(() => server.close());
	const cache = tmp("triage-repro-cache-");
	const m = matrix(x, ["kvm@next", "kvm@queue"], url);
	const cases: [string[], RegExp][] = [
		[["--reproduce", "--runs", "0"], /^kvm-matrix triage: --runs 0: expected a whole number from 1 to 100$/],
		[["--bisect"], /^kvm-matrix triage: --bisect, --dir go with --reproduce$/],
		[
			["--reproduce", "--target", "nosuch"],
			/^kvm-matrix triage: --target nosuch: no such target that boots a kernel \(t\)$/,
		],
		[
			["--reproduce", "--test", "fail_test"],
			/^kvm-matrix triage: --reproduce: the report's failing tests include KVM selftests, and the matrix runs no selftests suite$/,
		],
	];
	for (const [args, message] of cases) {
		const dir = path.join(tmp("triage-repro-refused-"), "run");
		const r = await execa("node", [CLI, "triage", "7", "--matrix", m, "--dir", dir, ...args], {
			env: cliEnv(cache),
			reject: false,
			cwd: REPO,
		});
		t.is(r.exitCode, 2, r.stderr);
		t.is(r.stdout, "");
		t.regex(r.stderr.trim(), message);
		t.false(existsSync(dir), "nothing is written");
	}
});
