// Verdicts in a real run: real commits with Link: trailers on the fakelinux tree, real builds,
// real boots. Nothing is hard-coded: the verdicts come from the history.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CLI, REPO } from "./support/cli.js";
import { fakeLinuxWithStory } from "./support/fakelinux.js";

interface Results {
	cells: {
		id: string;
		state: string;
		verdicts: Record<string, number>;
		results: { testId: string; status: string; verdict?: { verdict: string }; explanation?: string }[];
	}[];
}

test.serial("a fix only in the other branch is pending-fix; a test broken by a commit is a regression", async (t) => {
	t.timeout(600_000);
	const tree = await fakeLinuxWithStory();
	const dir = mkdtempSync(path.join(os.tmpdir(), "verdicts-"));
	const matrix = path.join(dir, "m.yaml");
	writeFileSync(
		matrix,
		`name: story
trees:
  fake: { path: ${tree} }
config: { base: tinyconfig }
kernels:
  - { tree: fake, ref: story-master }
  - { tree: fake, ref: story-next }
targets:
  - { name: t, qemu: { smp: 1, memory: 768M, accel: tcg } }
suites:
  selftests: { include: [x86_64/pass_test, x86_64/fail_test, x86_64/tap_test, x86_64/regress_test], timeout: 30s }
baseline: { tree: fake, ref: story-next }
`,
	);
	const runDir = path.join(dir, "run");
	const run = await execa("node", [CLI, "run", matrix, "--run-dir", runDir], {
		cwd: REPO,
		reject: false,
		env: { NO_COLOR: "1", KVM_MATRIX_CACHE: path.join(dir, "cache") },
	});
	// A regression (and, on the baseline itself, a new failure): red.
	t.is(run.exitCode, 1, run.stderr);
	const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as Results;
	const verdictOf = (cell: string, test: string) =>
		results.cells.find((c) => c.id === cell)?.results.find((r) => r.testId === test)?.explanation;
	t.is(
		verdictOf("fake@story-master/t", "x86_64/fail_test"),
		"pending-fix: needs " +
			(await execa("git", ["-C", tree, "rev-parse", "--short=12", "story-next"])).stdout +
			' ("KVM: x86: Fix the thing fail_test checks"), in fake@story-next',
	);
	// story-master and story-next diverged from story-base: the evidence gives both ranges.
	t.regex(
		verdictOf("fake@story-master/t", "x86_64/regress_test") ?? "",
		/^regression: passed on fake@story-next \(([0-9a-f]{12})\); diverged at ([0-9a-f]{12}): 2 commits \2\.\.[0-9a-f]{12} here, 1 \2\.\.\1 there$/,
	);
	t.regex(
		verdictOf("fake@story-master/t", "x86_64/tap_test") ?? "",
		/^still-failing: fail on fake@story-next \([0-9a-f]{12}\) too$/,
	);
	t.is(verdictOf("fake@story-master/t", "x86_64/pass_test"), undefined);
	// On the baseline itself the test's source has no link and there is nothing to compare with.
	t.is(
		verdictOf("fake@story-next/t", "x86_64/fail_test"),
		"new-failure: no baseline result and no linked fix; needs a human",
	);
	t.deepEqual(results.cells.find((c) => c.id === "fake@story-master/t")?.verdicts, {
		"pending-fix": 1,
		regression: 1,
		"still-failing": 1,
	});
	t.regex(run.stdout, /x86_64\/fail_test +pending-fix: needs [0-9a-f]{12}/);
});

test.serial(
	"classify re-derives the verdicts from a run directory, and a known-issues entry changes them",
	async (t) => {
		t.timeout(600_000);
		const tree = await fakeLinuxWithStory();
		const dir = mkdtempSync(path.join(os.tmpdir(), "classify-"));
		const yaml = `name: story
trees:
  fake: { path: ${tree} }
config: { base: tinyconfig }
kernels:
  - { tree: fake, ref: story-master }
  - { tree: fake, ref: story-next }
targets:
  - { name: t, qemu: { smp: 1, memory: 768M, accel: tcg } }
suites:
  selftests: { include: [x86_64/fail_test, x86_64/regress_test], timeout: 30s }
baseline: { tree: fake, ref: story-next }
`;
		writeFileSync(path.join(dir, "m.yaml"), yaml);
		const env = { NO_COLOR: "1", KVM_MATRIX_CACHE: path.join(dir, "cache") };
		const runDir = path.join(dir, "run");
		const run = await execa("node", [CLI, "run", path.join(dir, "m.yaml"), "--run-dir", runDir], {
			cwd: REPO,
			reject: false,
			env,
		});
		t.is(run.exitCode, 1, run.stderr);
		const again = await execa("node", [CLI, "classify", runDir], { cwd: REPO, reject: false, env });
		// classify exits by the run's policy: the regression is red.
		t.is(again.exitCode, 1, again.stderr);
		t.regex(
			again.stdout,
			/^fake@story-master\/t: 2 to explain\n {2}x86_64\/fail_test +pending-fix: needs [0-9a-f]{12} /m,
		);
		t.regex(again.stdout, /x86_64\/regress_test {2}regression: passed on fake@story-next/);

		writeFileSync(
			path.join(dir, "known.yaml"),
			'- { test: "selftests:x86_64/regress_test", reason: "broken on purpose", bug: "https://bugzilla.kernel.org/show_bug.cgi?id=1" }\n',
		);
		writeFileSync(path.join(dir, "m2.yaml"), `${yaml}known-issues: known.yaml\n`);
		const known = await execa("node", [CLI, "classify", runDir, "--matrix", path.join(dir, "m2.yaml")], {
			cwd: REPO,
			reject: false,
			env,
		});
		// The regression is a known issue now: nothing is red.
		t.is(known.exitCode, 0, known.stderr);
		t.regex(
			known.stdout,
			/x86_64\/regress_test {2}known: broken on purpose \(https:\/\/bugzilla\.kernel\.org\/show_bug\.cgi\?id=1\)/,
		);
		const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as Results;
		t.deepEqual(results.cells.find((c) => c.id === "fake@story-master/t")?.verdicts, { "pending-fix": 1, known: 1 });

		const notARun = await execa("node", [CLI, "classify", dir], { cwd: REPO, reject: false, env });
		t.is(notARun.exitCode, 2);
		t.is(notARun.stderr, `kvm-matrix classify: ${dir}: not a run directory (no plan.json)`);
	},
);

test("explain shows a test's fixes and where each is merged, without running anything", async (t) => {
	const tree = await fakeLinuxWithStory();
	const dir = mkdtempSync(path.join(os.tmpdir(), "explain-"));
	writeFileSync(
		path.join(dir, "m.yaml"),
		`name: story
trees:
  fake: { path: ${tree} }
kernels:
  - { tree: fake, ref: story-master }
  - { tree: fake, ref: story-next }
targets:
  - { name: t }
suites:
  selftests: {}
`,
	);
	const env = { NO_COLOR: "1", KVM_MATRIX_CACHE: path.join(dir, "cache") };
	const explain = (test: string) =>
		execa("node", [CLI, "explain", test, "--matrix", path.join(dir, "m.yaml")], { cwd: REPO, reject: false, env });
	const fix = (await execa("git", ["-C", tree, "rev-parse", "--short=12", "story-next"])).stdout;
	const run = await explain("selftests:x86_64/fail_test");
	t.is(run.exitCode, 0, run.stderr);
	t.is(
		run.stdout,
		"selftests:x86_64/fail_test (from fake@story-master; sources tools/testing/selftests/kvm/x86_64/fail_test.c, from the test's name; no build or Makefile rule to read)\n" +
			`  needs "KVM: x86: Fix the thing fail_test checks" (20260101000000.4242-2-dev@example.org): in fake@story-next (${fix.slice(0, 8)}); not in fake@story-master`,
	);
	// --all: every commit that touched the test, each link typed.
	const all = await execa(
		"node",
		[CLI, "explain", "selftests:x86_64/fail_test", "--all", "--matrix", path.join(dir, "m.yaml")],
		{
			cwd: REPO,
			reject: false,
			env,
		},
	);
	t.is(all.exitCode, 0, all.stderr);
	t.regex(all.stdout, /\nevery commit that touched it \(\d+\):\n/);
	t.regex(
		all.stdout,
		/\n {4}fix: 20260101000000\.4242-1-dev@example\.org → fake [0-9a-f]{12} \(by series; 1 patch\)\n/,
	);
	t.regex(all.stdout, /\n {4}its own posting: 20260102000000\.777-1-qa@example\.org\n/);
	const bad = await explain("fail_test");
	t.is(bad.exitCode, 2);
	t.is(bad.stderr, 'kvm-matrix explain: "fail_test" is not SUITE:TEST (e.g. selftests:x86_64/cpuid_test, kut:vmx)');
	const none = await explain("selftests:x86_64/nope");
	t.is(none.exitCode, 2);
	t.is(
		none.stderr,
		"kvm-matrix explain: no commit in fake@story-master touches tools/testing/selftests/kvm/x86_64/nope.c",
	);
});
