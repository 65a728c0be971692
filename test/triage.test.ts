// `kvm-matrix triage` end to end: a bugzilla served from a local HTTP server (REST shapes: bug,
// comments, an attachment holding a KUT log), real git trees built as the verdict benchmark's
// cases build them, the real CLI. Static answers only: nothing is built or booted.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { type BuiltCase, buildCase } from "../bench/verdicts/build.js";
import { CASES } from "../bench/verdicts/cases.js";
import { bugzilla } from "./support/bugzilla.js";
import { CLI, REPO } from "./support/cli.js";
import { cliEnv } from "./support/run-process.js";

const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix));

async function buildNamed(name: string): Promise<BuiltCase & { dir: string }> {
	const c = CASES.find((x) => x.name === name);
	if (c === undefined) throw new Error(`no case ${name}`);
	const dir = tmp(`triage-${name}-`);
	return { ...(await buildCase(c, dir)), dir };
}

const sha = async (repo: string, ref: string) => (await execa("git", ["-C", repo, "rev-parse", ref])).stdout.trim();

const triage = (args: readonly string[], cache: string) =>
	execa("node", [CLI, "triage", ...args], { env: cliEnv(cache), reject: false, cwd: REPO });

test("a bug whose test links the fix: pending-fix, with the fix and where it is, as Markdown and JSON", async (t) => {
	const built = await buildNamed("01-cover-letter-link");
	const master = await sha(path.join(built.dir, "kvm"), "master");
	const log = readFileSync(built.results[0]?.file ?? "", "utf8");
	const { url, server } = await bugzilla([
		{
			id: 4242,
			summary: "kvm-unit-tests svm fails on kvm.git master",
			comments: [
				`With a kvm.git master kernel (HEAD is ${master.slice(0, 12)}), kvm-unit-tests svm fails every time. Log attached.\n\nQEMU emulator version 7.2.0 (Debian 1:7.2+dfsg-7)\nmodel name\t: AMD EPYC 7B13 64-Core Processor`,
				"Still there today.",
			],
			attachments: [{ id: 77, name: "run_tests.log", text: log }],
		},
	]);
	t.teardown(() => server.close());
	const matrix = path.join(built.dir, "matrix-bz.yaml");
	writeFileSync(matrix, `${readFileSync(built.matrix, "utf8")}bugzilla: ${url}\n`);
	const cache = tmp("triage-cache-");

	const md = await triage(["4242", "--matrix", matrix], cache);
	t.is(md.exitCode, 0, md.stderr);
	t.is(md.stderr, "");
	t.regex(md.stdout, /^### kvm-matrix triage of \[bug 4242\]\(http:\/\/127\.0\.0\.1:\d+\/show_bug\.cgi\?id=4242\)/);
	t.true(
		md.stdout.includes(`(${master.slice(0, 12)}), from the report's commit ${master.slice(0, 12)} in kvm`),
		md.stdout,
	);
	// The whole evidence, folded under the table: each patch's full sha and its own subject.
	t.regex(
		md.stdout,
		/<details><summary>`kut:svm`: the whole evidence \(\d+\)<\/summary>\n\n- needs [0-9a-f]{40} "KVM: nSVM: Set exit/,
	);
	// The test links the series' cover letter: both of its patches, each sha with its own subject.
	t.regex(
		md.stdout,
		/\| `kut:svm` \| \*\*pending-fix\*\* \(fix not yet merged\) \| needs cc7362a92cfc \("KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR \(failed VMRUN\)"\), 1ea70fe837db \("KVM: SVM: Treat exit_code as an unsigned 64-bit value through all of KVM"\), in kvm@next \|/,
	);
	t.true(md.stdout.includes("- **QEMU**: 7.2.0"), md.stdout);
	t.true(md.stdout.includes("AMD EPYC 7B13"), md.stdout);

	// Named only by its branch, the kernel is today's tip, not the reporter's: the fix may be in theirs.
	const pasted = path.join(built.dir, "pasted.txt");
	writeFileSync(pasted, `kvm-unit-tests svm fails on kvm.git master.\n\n${log}`);
	const near = await triage(["--from", pasted, "--matrix", matrix], cache);
	t.is(near.exitCode, 0, near.stderr);
	t.regex(
		near.stdout,
		/\| `kut:svm` \| \*\*pending-fix\*\* .*; \*\*but\*\* the reporter's kernel is not known exactly \(the report's "kvm\.git master": kvm's master as it is now\); it may hold the fix \|/,
	);

	const json = await triage(["4242", "--matrix", matrix, "--json"], cache);
	t.is(json.exitCode, 0, json.stderr);
	const answer = JSON.parse(json.stdout) as {
		kernel: { tree: string; sha: string };
		verdicts: { test: string; verdict: string }[];
		report: { id: string };
	};
	t.is(answer.report.id, "4242");
	t.deepEqual([answer.kernel.tree, answer.kernel.sha], ["kvm", master]);
	// "QEMU emulator version" names KUT's emulator test without saying it fails: not reported.
	t.deepEqual(
		answer.verdicts.map((v) => [v.test, v.verdict]),
		[["kut:svm", "pending-fix"]],
	);
});

test("the xapic report on a release kernel: no linked fix, so it says what it does not know", async (t) => {
	const built = await buildNamed("13-xapic-v5-applied");
	const report = path.join(built.dir, "report.txt");
	writeFileSync(
		report,
		[
			"Subject: kvm-unit-tests xapic fails on 6.1",
			"",
			"uname -r: 6.1.0",
			"On this host the xapic test of kvm-unit-tests times out:",
			"",
			"    FAIL: Want 2 IPI(s) using logical flat mode with dest 0x3, got 1",
			"    \u001b[31mFAIL\u001b[0m xapic (timeout; duration=60s)",
			"    \u001b[32mPASS\u001b[0m x2apic (66 tests)",
			"",
		].join("\n"),
	);
	const r = await triage(["--from", report, "--matrix", built.matrix], tmp("triage-cache-"));
	t.is(r.exitCode, 0, r.stderr);
	t.true(r.stdout.includes("`kvm@v6.1`"), r.stdout);
	t.regex(
		r.stdout,
		/\| `kut:xapic` \| \*\*new-failure\*\* \(new failure: needs a human\) \| no baseline result and no linked fix/,
	);
	t.false(r.stdout.includes("pending-fix"));
	t.true(r.stdout.includes("Want 2 IPI(s) using logical flat mode with dest 0x3, got 1"), r.stdout);
	// x2apic passed in the report: evidence, not a failing test.
	t.false(r.stdout.includes("`kut:x2apic` |"));
});

/**
 * A report in Intel QA's template, as bugzilla-daemon mails it (the structure and facts of bug
 * 216725: bugzilla's field block with `Tree: Mainline`, the kernel's, QEMU's and KUT's blocks, a
 * FAIL check line, `make standalone` and `./vmx -cpu host`), against the trees of the verdict case
 * where the fix was posted after the test and only queue has it. The README shows this answer.
 */
const QA_TEMPLATE_REPORT = `From: bugzilla-daemon@kernel.org
To: kvm@vger.kernel.org
Subject: [Bug 216725] New: VMXON with CR0 bit 5 cleared should #GP, got '6'
Date: Tue, 22 Nov 2022 04:49:23 +0000
Message-ID: <bug-216725-28872@https.bugzilla.kernel.org/>

https://bugzilla.kernel.org/show_bug.cgi?id=216725

            Bug ID: 216725
           Summary: VMXON with CR0 bit 5 cleared should #GP, got '6'
           Product: Virtualization
    Kernel Version: 6.1.0-rc4
          Hardware: Intel
              Tree: Mainline
        Regression: No

Environment:
CPU Architecture: x86_64
Host kernel: 6.1.0-rc4
Host kernel source: https://git.kernel.org/pub/scm/virt/kvm/kvm.git
Branch: next
Commit: d72cf8ff

Qemu source: https://git.qemu.org/git/qemu.git
Branch: master
Commit: 6d71357a

kvm-unit-tests source: https://gitlab.com/kvm-unit-tests/kvm-unit-tests.git
Branch: master
Commit: 952cf19c9143e307fe229af8bf909016a02fcc6c

Bug Detailed Description:
The vmx test of kvm-unit-tests does not pass on this kernel:
FAIL: VMXON with CR0 bit 5 cleared should #GP, got '6'

Reproducing Steps:
rmmod kvm_intel
modprobe kvm_intel nested=Y
./configure
make standalone
cd tests
./vmx -cpu host

Actual Result:
FAIL vmx (430115 tests, 1 unexpected failures, 2 expected failures, 5 skipped)

Expected Result:
PASS vmx (430115 tests, 2 expected failures, 4 skipped)
`;

test("a report in the QA template: the kernel's block decides, Tree: Mainline does not; no link decides, so the newer kernels and the command that settles it", async (t) => {
	const built = await buildNamed("12-fix-posted-after-test");
	const kvm = path.join(built.dir, "kvm");
	// The reporter's "kvm.git next" as the trees have it: where next-old is.
	await execa("git", ["-C", kvm, "branch", "next", "next-old"]);
	const report = path.join(built.dir, "bug-216725.mbox");
	writeFileSync(report, QA_TEMPLATE_REPORT);
	const matrix = path.join(built.dir, "matrix.yaml");
	writeFileSync(matrix, readFileSync(built.matrix, "utf8").replace("ref: next-old", "ref: next"));
	const r = await triage(["--from", report, "--matrix", matrix], tmp("triage-cache-"));
	t.is(r.exitCode, 0, r.stderr);
	const next = (await sha(kvm, "next")).slice(0, 12);
	const queue = (await sha(kvm, "queue")).slice(0, 12);
	const lines = r.stdout.split("\n");
	t.true(
		lines.includes(
			`- **Kernel under test**: \`kvm@next\` (${next}), from the report's kernel block (Host kernel source: https://git.kernel.org/pub/scm/virt/kvm/kvm.git / Branch: next / Commit: d72cf8ff): kvm's next as it is now (approximate: the report does not name the exact commit)`,
		),
		r.stdout,
	);
	t.true(
		lines.some((l) => l.startsWith("- **Not used**: kernel block") && l.endsWith("commit d72cf8ff: in none of kvm")),
	);
	t.true(lines.includes("- **kvm-unit-tests**: BUILD_HEAD `952cf19c9143e307fe229af8bf909016a02fcc6c`"), r.stdout);
	t.regex(r.stdout, /\| `kut:vmx` \| \*\*new-failure\*\* \(new failure: needs a human\) \|/);
	t.true(
		r.stdout.includes(
			`No link decides this. Kernels the matrix builds that descend from \`kvm@next\`: \`kvm@queue\` (${queue}, 2 commits ahead). Running the reported tests on each would settle it:`,
		),
		r.stdout,
	);
	t.true(lines.includes(`kvm-matrix triage --from ${report} --matrix ${matrix} --reproduce`), r.stdout);
	// Bugzilla's Tree: field names a category, not the tree tested.
	t.false(r.stdout.includes("linux@master"));
	t.false(r.stdout.includes("Expected Result"));
});

test("a report about a skip: the test and why it skips, no verdict, and how to see whether other kernels skip it", async (t) => {
	const built = await buildNamed("01-cover-letter-link");
	const report = path.join(built.dir, "skip.txt");
	writeFileSync(
		report,
		[
			"kvm-unit-tests svm is skipped on our kvm.git master hosts",
			"",
			"Host kernel: 6.18.0-rc5",
			"Host kernel source: https://git.kernel.org/pub/scm/virt/kvm/kvm.git",
			"Branch: master",
			"",
			"SKIP: SVM not supported",
			"SKIP svm (1 tests, 1 skipped)",
		].join("\n"),
	);
	const r = await triage(["--from", report, "--matrix", built.matrix, "--json"], tmp("triage-cache-"));
	t.is(r.exitCode, 0, r.stderr);
	const answer = JSON.parse(r.stdout) as {
		facts: { kind: string };
		tests: { testId: string; status: string; skipReason?: string }[];
		verdicts: unknown[];
		newer?: { kernel: string }[];
	};
	t.is(answer.facts.kind, "skip");
	t.deepEqual(
		answer.tests.map((x) => [x.testId, x.status, x.skipReason]),
		[["svm", "skip", "SKIP: SVM not supported"]],
	);
	t.deepEqual(answer.verdicts, []);
	t.deepEqual(
		answer.newer?.map((k) => k.kernel),
		["kvm@next"],
	);
	const md = await triage(["--from", report, "--matrix", built.matrix], tmp("triage-cache-"));
	t.regex(
		md.stdout,
		/- \*\*Skipped tests\*\* \(the report is about a skip\): `kut:svm` \(why: `SKIP: SVM not supported`/,
	);
	t.regex(
		md.stdout,
		/\| `kut:svm` \| skip \(no verdict\) \| skipped on kvm@master: SKIP: SVM not supported; whether the configured kernels skip it too shows when they run it \|/,
	);
	t.true(md.stdout.includes(" --reproduce\n"), md.stdout);
});

test("offline, a timeout, no test named, an unknown kernel: one line each, exit 2, nothing on stdout", async (t) => {
	t.timeout(120_000);
	const built = await buildNamed("01-cover-letter-link");
	const cache = tmp("triage-cache-");
	const { url, server } = await bugzilla([
		{ id: 1, summary: "the host is slow", comments: ["Everything is slow on kvm.git master. Please look."] },
		{
			id: 2,
			summary: "svm fails",
			comments: ["kvm-unit-tests svm fails.\n\nuname -r: 6.99.0-rc9\n\nFAIL svm (71 tests, 1 unexpected failures)"],
		},
	]);
	t.teardown(() => server.close());
	const hanging = await bugzilla([], true);
	t.teardown(() => hanging.server.close());
	// A port nothing listens on: bind one, then close it.
	const closed = await bugzilla([]);
	await new Promise<void>((resolve) => closed.server.close(() => resolve()));

	const cases: [string, string[], RegExp][] = [
		["offline", ["7", "--bugzilla", closed.url], /^kvm-matrix triage: 127\.0\.0\.1:\d+: connection refused$/],
		["timeout", ["7", "--bugzilla", hanging.url], /^kvm-matrix triage: 127\.0\.0\.1:\d+: timed out after \d+ s$/],
		["no such bug", ["9", "--bugzilla", url], /^kvm-matrix triage: bug 9 .*not/],
		[
			"no test named",
			["1", "--bugzilla", url],
			/^kvm-matrix triage: bug 1: no failing kvm-unit-tests or KVM selftest named in it; give one with --test NAME$/,
		],
		[
			"unknown kernel",
			["2", "--bugzilla", url],
			/^kvm-matrix triage: bug 2: unknown kernel \(.*6\.99.*\); give one with --kernel TREE@REF$/,
		],
		["bad --kernel", ["2", "--bugzilla", url, "--kernel", "kvm@nosuch"], /^kvm-matrix triage: --kernel kvm@nosuch: /],
		["neither bug nor --from", [], /^kvm-matrix triage: give a bug \(a number or URL\) or --from FILE, one of them$/],
	];
	for (const [what, args, message] of cases) {
		const r = await triage([...args, "--matrix", built.matrix], cache);
		t.is(r.exitCode, 2, `${what}: ${r.stderr}`);
		t.is(r.stdout, "", what);
		t.is(r.stderr.trim().split("\n").length, 1, `${what}: ${r.stderr}`);
		t.regex(r.stderr.trim(), message, what);
	}
});
