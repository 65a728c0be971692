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
