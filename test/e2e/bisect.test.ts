// `kvm-matrix bisect` end to end on a generated fakelinux history, with real make and real QEMU:
// one test breaks at commit X (a regression), another is fixed at commit Y (`--fixed`), and a
// commit in between does not build, so it is skipped. Each names the right commit, and a killed
// bisection resumes where it was.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CLI, REPO } from "../support/cli.js";
import { fakeLinux } from "../support/fakelinux.js";
import { commitFiles, git } from "../support/git.js";
import { cliEnv } from "../support/run-process.js";

const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix));
const TESTS = "tools/testing/selftests/kvm/x86_64";
const program = (rc: number, words: string) =>
	`#include <stdio.h>\nint main(void) { puts("${words}"); return ${rc}; }\n`;

interface History {
	readonly tree: string;
	readonly start: string;
	readonly x: string;
	readonly y: string;
	readonly end: string;
	readonly broken: string;
}

/** master, then: unrelated; X breaks a_test; the build breaks; the build is mended; Y fixes b_test; unrelated. */
async function history(): Promise<History> {
	const tree = await fakeLinux({
		extraTests: {
			a_test: 'int main(void) { puts("a works"); return 0; }',
			b_test: 'int main(void) { puts("b broken"); return 1; }',
		},
	});
	const start = await git(tree, "rev-parse", "HEAD");
	await commitFiles(tree, { "kernel/one.c": "/* one */\n" }, "KVM: x86: Tidy one thing");
	const x = await commitFiles(
		tree,
		{ [`${TESTS}/a_test.c`]: program(1, "a broken") },
		"KVM: x86: Rework the thing a_test checks\n\nLink: https://lore.kernel.org/r/20260301000000.1111-1-dev@example.org",
	);
	const broken = await commitFiles(tree, { FAIL_BUILD: "" }, "KVM: x86: A change that does not build");
	rmSync(path.join(tree, "FAIL_BUILD"));
	await commitFiles(tree, { "kernel/two.c": "/* two */\n" }, "KVM: x86: Mend the build");
	const y = await commitFiles(
		tree,
		{ [`${TESTS}/b_test.c`]: program(0, "b works") },
		"KVM: x86: Fix what b_test checks\n\nLink: https://patch.msgid.link/20260302000000.2222-1-dev@example.org",
	);
	const end = await commitFiles(tree, { "kernel/three.c": "/* three */\n" }, "KVM: x86: Tidy another thing");
	return { tree, start, x, y, end, broken };
}

function matrix(tree: string): string {
	const file = path.join(tmp("bisect-matrix-"), "m.yaml");
	writeFileSync(
		file,
		`name: bisect
trees:
  fake: { path: ${tree} }
config: { base: tinyconfig, fragments: [kvm_guest.config] }
kernels:
  - { tree: fake, ref: master }
targets:
  - { name: t, qemu: { smp: 1, memory: 768M, accel: tcg } }
suites:
  selftests: { include: ["x86_64/*"], timeout: 30s }
`,
	);
	return file;
}

interface Outcome {
	result: { kind: string; commit?: { sha: string; subject: string; trailers: string[] } };
	steps: { sha: string; verdict: string; seen: string; built: boolean; end?: "old" | "new" }[];
	builds: number;
}

test.serial(
	"bisect names the commit that broke a test and the one that fixed it, skipping one that does not build",
	async (t) => {
		t.timeout(1_200_000);
		const h = await history();
		const m = matrix(h.tree);
		const cache = tmp("bisect-cache-");
		const bisect = (args: readonly string[]) =>
			execa("node", [CLI, "bisect", "--matrix", m, ...args], { env: cliEnv(cache), reject: false, cwd: REPO });

		const regressionDir = tmp("bisect-regression-");
		const regression = await bisect([
			"--test",
			"selftests:x86_64/a_test",
			"--good",
			h.start,
			"--bad",
			"master",
			"--dir",
			regressionDir,
		]);
		t.is(regression.exitCode, 0, `${regression.stdout}\n${regression.stderr}`);
		t.true(
			regression.stdout.includes(`first bad commit: ${h.x.slice(0, 12)} KVM: x86: Rework the thing a_test checks`),
			regression.stdout,
		);
		t.true(
			regression.stdout.includes("  Link: https://lore.kernel.org/r/20260301000000.1111-1-dev@example.org"),
			regression.stdout,
		);

		const fixedDir = tmp("bisect-fixed-");
		const fixed = await bisect([
			"--test",
			"selftests:x86_64/b_test",
			"--fixed",
			"--broken",
			h.start,
			"--fixed-at",
			h.end,
			"--dir",
			fixedDir,
			"--json",
		]);
		t.is(fixed.exitCode, 0, `${fixed.stdout}\n${fixed.stderr}`);
		const outcome = JSON.parse(fixed.stdout.slice(fixed.stdout.indexOf("{"))) as Outcome;
		t.is(outcome.result.commit?.sha, h.y, fixed.stdout);
		t.deepEqual(outcome.result.commit?.trailers, [
			"Link: https://patch.msgid.link/20260302000000.2222-1-dev@example.org",
		]);

		// The commit that does not build was met by at least one of the two, and skipped.
		const steps = [regressionDir, fixedDir].flatMap((dir) =>
			readFileSync(path.join(dir, "steps.jsonl"), "utf8")
				.trim()
				.split("\n")
				.map((l) => JSON.parse(l) as Outcome["steps"][number]),
		);
		const atBroken = steps.filter((s) => s.sha === h.broken);
		t.true(atBroken.length > 0, JSON.stringify(steps));
		t.true(
			atBroken.every((s) => s.verdict === "skip" && /^build failed/.test(s.seen)),
			JSON.stringify(atBroken),
		);
		// The second bisection reused the first's builds where they met: its broken end is the first's
		// good end, taken from the cache, and it counts only the kernels it built.
		const brokenEnd = outcome.steps.find((s) => s.end === "old");
		t.is(brokenEnd?.sha, h.start);
		t.false(brokenEnd?.built ?? true, JSON.stringify(brokenEnd));
		t.is(outcome.builds, outcome.steps.filter((s) => s.built).length);
		t.true(outcome.builds < outcome.steps.length, JSON.stringify(outcome.steps));

		// Stopped by the step cap, a bisection goes on with --resume from its directory's record.
		const cappedDir = tmp("bisect-capped-");
		const capped = await bisect([
			"--test",
			"selftests:x86_64/a_test",
			"--good",
			h.start,
			"--bad",
			"master",
			"--dir",
			cappedDir,
			"--max-steps",
			"1",
		]);
		t.is(capped.exitCode, 1, capped.stderr);
		t.regex(capped.stdout, /stopped after 1 steps \(--max-steps\) with \d+ commits left; continue with --resume /);
		const resumed = await execa("node", [CLI, "bisect", "--resume", cappedDir, "--max-steps", "20"], {
			env: cliEnv(cache),
			reject: false,
			cwd: REPO,
		});
		t.is(resumed.exitCode, 0, resumed.stderr);
		t.regex(resumed.stdout, /^resuming the bisection of selftests:x86_64\/a_test in .*: 1 steps done$/m);
		t.true(resumed.stdout.includes(`first bad commit: ${h.x.slice(0, 12)}`), resumed.stdout);

		// An end that does not behave as claimed is refused after it is checked, in one line.
		const tidy = await git(h.tree, "rev-parse", `${h.x}~1`);
		const wrongEnd = await bisect([
			"--test",
			"selftests:x86_64/a_test",
			"--good",
			h.start,
			"--bad",
			tidy,
			"--dir",
			tmp("bisect-wrong-end-"),
		]);
		t.is(wrongEnd.exitCode, 2, wrongEnd.stdout);
		t.regex(
			wrongEnd.stderr.trim(),
			new RegExp(
				`^kvm-matrix bisect: --bad ${tidy}: the test should fail there, but it passes \\(pass\\); nothing to bisect$`,
			),
		);

		// A finished bisection resumed says the same, running nothing more.
		const again = await execa("node", [CLI, "bisect", "--resume", regressionDir], {
			env: cliEnv(cache),
			reject: false,
			cwd: REPO,
		});
		t.is(again.exitCode, 0, again.stderr);
		t.true(again.stdout.includes(`first bad commit: ${h.x.slice(0, 12)}`), again.stdout);
		t.false(/step \d+: testing/.test(again.stdout), again.stdout);
	},
);

test("bisect refuses bad input in one line: no range, an unknown ref, a range that is not one, a test it cannot run", async (t) => {
	const h = await history();
	const m = matrix(h.tree);
	const cache = tmp("bisect-cache-");
	const cases: [string[], RegExp][] = [
		[
			["--test", "selftests:x86_64/a_test"],
			/give --good A --bad B \(a regression\), or --fixed --broken A --fixed-at B/,
		],
		[
			["--test", "selftests:x86_64/a_test", "--good", "nosuch", "--bad", "master"],
			/--good nosuch: tree fake: unknown ref "nosuch"/,
		],
		[["--test", "selftests:x86_64/a_test", "--good", "master", "--bad", h.start], /is not an ancestor of/],
		[
			["--test", "kut:vmx", "--good", h.start, "--bad", "master"],
			/--test kut:vmx: the matrix has no kut suite to run it with/,
		],
		[["--test", "vmx", "--good", h.start, "--bad", "master"], /--test vmx: expected SUITE:TEST/],
		[
			["--test", "selftests:x86_64/a_test", "--fixed", "--good", h.start, "--bad", "master"],
			/--fixed takes --broken A --fixed-at B/,
		],
	];
	for (const [args, message] of cases) {
		const r = await execa("node", [CLI, "bisect", "--matrix", m, ...args, "--dir", tmp("bisect-bad-")], {
			env: cliEnv(cache),
			reject: false,
			cwd: REPO,
		});
		t.is(r.exitCode, 2, `${args.join(" ")}: ${r.stderr}`);
		t.is(r.stderr.trim().split("\n").length, 1, r.stderr);
		t.regex(r.stderr, message, args.join(" "));
	}
});
