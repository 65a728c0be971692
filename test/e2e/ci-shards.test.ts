// The headless CI matrix end to end on the fakelinux story (real git, make and QEMU): `ci plan`
// into 3 shards, `ci run` of each in its own directory (as three CI jobs would, each with its
// own cache), `ci merge` of the three: the merged verdicts equal one unsharded run's, although
// the evidence for some of them (the baseline kernel's pass) ran in another shard.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CLI } from "../support/cli.js";
import { fakeLinuxWithStory } from "../support/fakelinux.js";

interface Results {
	cells: { id: string; results: { testId: string; status: string; explanation?: string }[] }[];
}

const verdicts = (dir: string) => {
	const results = JSON.parse(readFileSync(path.join(dir, "results.json"), "utf8")) as Results;
	return Object.fromEntries(
		results.cells
			.flatMap((c) => c.results.map((r) => [`${c.id} ${r.testId}`, `${r.status} ${r.explanation ?? ""}`] as const))
			.sort(([a], [b]) => (a < b ? -1 : 1)),
	);
};

test("3 shards run apart and merged give the verdicts of one unsharded run", async (t) => {
	t.timeout(1_800_000);
	const tree = await fakeLinuxWithStory();
	const dir = mkdtempSync(path.join(os.tmpdir(), "ci-shards-"));
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
  - { name: t, qemu: { smp: 1, memory: 512M, accel: tcg } }
  - { name: u, qemu: { smp: 1, memory: 512M, accel: tcg } }
suites:
  selftests: { include: [x86_64/pass_test, x86_64/fail_test, x86_64/regress_test], timeout: 30s }
baseline: { tree: fake, ref: story-next }
`,
	);
	const cli = (cache: string, ...args: string[]) =>
		execa("node", [CLI, ...args], {
			cwd: dir,
			reject: false,
			env: { NO_COLOR: "1", KVM_MATRIX_CACHE: path.join(dir, cache) },
		});

	const whole = await cli("cache-whole", "run", matrix, "--run-dir", path.join(dir, "whole"));
	t.is(whole.exitCode, 1, whole.stderr);

	const planned = await cli(
		"cache-plan",
		"ci",
		"plan",
		matrix,
		"--shards",
		"3",
		"--format",
		"github",
		"--out",
		"plan.json",
	);
	t.is(planned.exitCode, 0, planned.stderr);
	const github = JSON.parse(planned.stdout) as { include: { shard: string; cells: number }[] };
	t.deepEqual(
		github.include.map((s) => s.shard),
		["1/3", "2/3", "3/3"],
	);
	t.is(
		github.include.reduce((n, s) => n + s.cells, 0),
		4,
	);
	const plan = JSON.parse(readFileSync(path.join(dir, "plan.json"), "utf8")) as {
		id: string;
		shards: { cells: string[] }[];
	};
	// The same inputs plan the same shards.
	const again = await cli("cache-plan", "ci", "plan", matrix, "--shards", "3");
	t.is((JSON.parse(again.stdout) as { id: string }).id, plan.id);

	const shardDirs: string[] = [];
	for (const k of [1, 2, 3]) {
		const shardDir = path.join(dir, `shard-${k}`);
		shardDirs.push(shardDir);
		const run = await cli(
			`cache-${k}`,
			"ci",
			"run",
			matrix,
			"--shard",
			`${k}/3`,
			"--plan",
			"plan.json",
			"--run-dir",
			shardDir,
		);
		// A shard's verdicts saw only its cells: it never fails the job; the merge does.
		t.is(run.exitCode, 0, run.stderr);
		t.regex(run.stdout, new RegExp(`exit 0, shard ${k}/3 \\(its cells alone\\): .*; ci merge gives the verdict`));
		const ran = (JSON.parse(readFileSync(path.join(shardDir, "results.json"), "utf8")) as Results).cells.map(
			(c) => c.id,
		);
		t.deepEqual(ran.sort(), [...(plan.shards[k - 1]?.cells ?? [])].sort());
	}
	// Some verdict in a shard lacked evidence that ran elsewhere (the baseline's pass).
	const local = Object.assign({}, ...shardDirs.map(verdicts)) as Record<string, string>;
	t.notDeepEqual(local, verdicts(path.join(dir, "whole")));

	const merged = await cli(
		"cache-merge",
		"ci",
		"merge",
		...shardDirs,
		"--out",
		"nightly",
		"--report",
		"junit:nightly/junit.xml",
	);
	t.is(merged.exitCode, 1, merged.stderr);
	t.regex(merged.stdout, /^exit 1, red: 2 regression \(also 2 new-failure, 2 pending-fix, not failing the run\)$/m);
	t.deepEqual(verdicts(path.join(dir, "nightly")), verdicts(path.join(dir, "whole")));
	// The merged run is finished only once its verdicts are journaled: run-finished comes last.
	const types = readFileSync(path.join(dir, "nightly", "journal.jsonl"), "utf8")
		.trim()
		.split("\n")
		.map((l) => (JSON.parse(l) as { type: string }).type);
	t.is(types.at(-1), "run-finished");
	t.true(types.lastIndexOf("verdicts") < types.indexOf("run-finished"));
	t.is(types.filter((x) => x === "run-finished").length, 1);
	t.regex(
		readFileSync(path.join(dir, "nightly", "junit.xml"), "utf8"),
		/<failure message="regression: passed on fake@story-next/,
	);
	// A pending fix is green by the exit policy, and skipped in the test tab; --junit-strict keeps it a failure.
	t.regex(readFileSync(path.join(dir, "nightly", "junit.xml"), "utf8"), /<skipped message="pending-fix: /);
	// ci merge --bisect-regressions: these regressions passed on story-next, a branch beside
	// story-master, not an ancestor of it: there is no range to bisect, and the merge says so.
	const bisecting = await cli(
		"cache-merge",
		"ci",
		"merge",
		...shardDirs,
		"--out",
		"nightly-bisect",
		"--bisect-regressions",
	);
	t.is(bisecting.exitCode, 1, bisecting.stderr);
	t.regex(bisecting.stderr, /^kvm-matrix ci merge: bisecting the regressions/m);
	t.regex(
		bisecting.stderr,
		/^kvm-matrix ci merge: fake@story-master\/[tu] selftests:x86_64\/regress_test: not bisected: it passed on fake@story-next, which is not an ancestor of fake@story-master$/m,
	);
	const strict = await cli("cache-merge", "report", path.join(dir, "nightly"), "--format", "junit", "--junit-strict");
	t.is(strict.exitCode, 0, strict.stderr);
	t.regex(strict.stdout, /<failure message="pending-fix: [^"]*" type="pending-fix"/);
	t.notRegex(strict.stdout, /<skipped message="pending-fix: /);
	// The merged run reads like any run: logs are in it, reports and classify work on it.
	const report = await cli("cache-merge", "report", path.join(dir, "nightly"), "--format", "markdown");
	t.regex(report.stdout, /## Regressions\n\n- `fake@story-master\/[tu]` `selftests:x86_64\/regress_test`/);
	t.regex(report.stdout, /## Pending fixes/);

	// Refused in one line: shards of another plan, a shard twice, a shard missing.
	const twice = await cli("cache-merge", "ci", "merge", shardDirs[0] ?? "", shardDirs[0] ?? "", "--out", "x");
	t.is(twice.exitCode, 2);
	t.regex(twice.stderr, /^kvm-matrix ci merge: shard 1\/3 given twice/);
	const missing = await cli("cache-merge", "ci", "merge", shardDirs[0] ?? "", shardDirs[1] ?? "", "--out", "y");
	t.is(missing.exitCode, 2);
	t.regex(missing.stderr, /^kvm-matrix ci merge: shard 3\/3 missing: give every shard's directory, or --partial/);
	const other = await cli("cache-plan", "ci", "plan", matrix, "--shards", "2", "--out", "plan2.json");
	t.is(other.exitCode, 0, other.stderr);
	const lone = path.join(dir, "other-1");
	const otherRun = await cli(
		"cache-1",
		"ci",
		"run",
		matrix,
		"--shard",
		"1/2",
		"--plan",
		"plan2.json",
		"--run-dir",
		lone,
	);
	t.is(otherRun.exitCode, 0, otherRun.stderr);
	const mixed = await cli("cache-merge", "ci", "merge", shardDirs[0] ?? "", lone, "--out", "z");
	t.is(mixed.exitCode, 2);
	t.regex(mixed.stderr, /^kvm-matrix ci merge: .* of plan \w+, .* of plan \w+ .*: merge the shards of one ci plan$/);
	t.is(mixed.stderr.trim().split("\n").length, 1, "one line");
	for (const out of ["x", "y", "z"]) t.throws(() => readFileSync(path.join(dir, out, "plan.json")));
});
