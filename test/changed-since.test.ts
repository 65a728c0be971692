// `run --changed-since RUN_DIR` on the KUT fixture: a cell whose inputs did not change carries
// the earlier run's results (marked, with the run), only the changed cell runs, and the summary
// says which tree tips moved.
import {
	appendFileSync,
	copyFileSync,
	existsSync,
	mkdirSync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { kvmMatrix } from "./support/cli.js";
import { commitFiles } from "./support/git.js";
import { kutFixture } from "./support/kut-fixture.js";

interface Results {
	cells: {
		id: string;
		carried?: { run: string };
		results: { testId: string; status: string; logPath?: string; explanation?: string }[];
	}[];
}
const results = (dir: string) => JSON.parse(readFileSync(path.join(dir, "results.json"), "utf8")) as Results;
/** The cells whose tests this run itself ran (journal results not preceded by a carried record). */
const ranHere = (dir: string) => {
	const carried = new Set<string>();
	const ran = new Set<string>();
	for (const line of readFileSync(path.join(dir, "journal.jsonl"), "utf8").split("\n")) {
		if (line === "") continue;
		const r = JSON.parse(line) as { type: string; cell?: string };
		if (r.type === "cell-carried" && r.cell !== undefined) carried.add(r.cell);
		if (r.type === "test-result" && r.cell !== undefined && !carried.has(r.cell)) ran.add(r.cell);
	}
	return [...ran].sort();
};

test("--changed-since: only the cell whose kernel changed runs; the other carries its results", async (t) => {
	t.timeout(300_000);
	const repo = await kutFixture();
	const dir = mkdtempSync(path.join(os.tmpdir(), "changed-since-"));
	// A second prebuilt kernel: a copy of Debian's image that the test can change.
	const image = readdirSync("/boot").find((n) => /^vmlinuz-.*-amd64$/.test(n)) ?? "";
	mkdirSync(path.join(dir, "other"));
	const copy = path.join(dir, "other", image);
	copyFileSync(path.join("/boot", image), copy);
	const file = path.join(dir, "m.yaml");
	writeFileSync(
		file,
		`name: changed
trees:
  kut: { path: ${repo} }
kernels:
  - { name: running, prebuilt: { kernel: /boot/vmlinuz-*-amd64 } }
  - { name: other, prebuilt: { kernel: ${copy} } }
targets:
  - { name: host, host: true }
suites:
  kut: { tree: kut, ref: master, accel: tcg, include: [pass, fail, skip] }
`,
	);
	const first = await kvmMatrix(dir, "run", file, "--run-dir", path.join(dir, "r1"));
	t.is(first.exitCode, 0, first.stderr);
	t.deepEqual(ranHere(path.join(dir, "r1")), ["other/host", "running/host"]);

	// The other kernel's image changes (a new build of it): its cell runs again, running's does not.
	appendFileSync(copy, "\0");
	const second = await kvmMatrix(
		dir,
		"run",
		file,
		"--run-dir",
		path.join(dir, "r2"),
		"--changed-since",
		path.join(dir, "r1"),
	);
	t.is(second.exitCode, 0, second.stderr);
	const r1 = JSON.parse(readFileSync(path.join(dir, "r1", "plan.json"), "utf8")) as { runId: string };
	t.regex(second.stdout, new RegExp(`changed since ${r1.runId}: no tree tip moved`));
	t.regex(second.stdout, new RegExp(`1 of 2 cells unchanged, carried from ${r1.runId}; 1 run now`));
	t.deepEqual(ranHere(path.join(dir, "r2")), ["other/host"]);
	const carried = results(path.join(dir, "r2")).cells.find((c) => c.id === "running/host");
	t.is(carried?.carried?.run, r1.runId);
	const before = results(path.join(dir, "r1")).cells.find((c) => c.id === "running/host");
	t.deepEqual(
		carried?.results.map((r) => [r.testId, r.status, r.explanation]),
		before?.results.map((r) => [r.testId, r.status, r.explanation]),
	);
	// The carried logs are the run's own now: the earlier run may be deleted.
	for (const r of carried?.results ?? [])
		if (r.logPath !== undefined) t.true(r.logPath.startsWith(path.join(dir, "r2")), r.logPath);
	for (const r of carried?.results ?? []) if (r.logPath !== undefined) t.true(existsSync(r.logPath), r.logPath);
	t.regex(second.stdout, /running\/host +1 pass, 1 fail, 1 skip.* \(carried from /);
	// Reports say which cells were carried, and from which run.
	const junit = await kvmMatrix(dir, "report", path.join(dir, "r2"), "--format", "junit");
	t.is(junit.exitCode, 0, junit.stderr);
	t.regex(junit.stdout, new RegExp(`<property name="carried-from" value="${r1.runId}"/>`));
	t.is(junit.stdout.match(/name="carried-from"/g)?.length, 1);
	const md = await kvmMatrix(dir, "report", path.join(dir, "r2"), "--format", "markdown");
	t.regex(md.stdout, /^1 cell carried from an earlier run \(unchanged\): `running\/host`\.$/m);

	// A commit to the KUT tree moves its tip: every cell runs, and the summary names the move.
	await commitFiles(repo, { README: "moved\n" }, "docs: move the tip");
	const third = await kvmMatrix(
		dir,
		"run",
		file,
		"--run-dir",
		path.join(dir, "r3"),
		"--changed-since",
		path.join(dir, "r2"),
	);
	t.is(third.exitCode, 0, third.stderr);
	t.regex(third.stdout, /moved: kut@master [0-9a-f]{12}\.\.[0-9a-f]{12}/);
	t.regex(third.stdout, /0 of 2 cells unchanged/);
	t.deepEqual(ranHere(path.join(dir, "r3")), ["other/host", "running/host"]);

	// An earlier run that is not there: one line, exit 2, and no run directory.
	const missing = await kvmMatrix(
		dir,
		"run",
		file,
		"--run-dir",
		path.join(dir, "r4"),
		"--changed-since",
		path.join(dir, "nope"),
	);
	t.is(missing.exitCode, 2);
	t.regex(missing.stderr, /^kvm-matrix run: .*nope holds no run \(no plan\.json\)/);
	t.is(missing.stderr.trim().split("\n").length, 1);
	t.false(existsSync(path.join(dir, "r4")));
});
