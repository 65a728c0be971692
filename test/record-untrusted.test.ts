// A run's record read back is untrusted input (issue 26): a commit id in plan.json, a `ci plan`
// file, the journal or an earlier run's results.json that is not one is refused where it is read,
// in one line naming the file, and where a path or a git argument is made of one, whatever checked
// it before. A plan whose resolved sha was `../../victim` once made a checkout remove a directory
// outside the cache, and the run exited 0.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { readCiPlan } from "../packages/orchestrator/src/ci/plan.js";
import { parseJournal } from "../packages/orchestrator/src/engine/journal.js";
import { readPlanFile } from "../packages/orchestrator/src/engine/run-dir.js";
import { RunSetupError } from "../packages/orchestrator/src/engine/setup-error.js";
import { NotACommitIdError } from "../packages/orchestrator/src/sources/commit-id.js";
import { worktreeFor } from "../packages/orchestrator/src/sources/git.js";
import { findPreviousRun } from "../packages/orchestrator/src/verdicts/baseline.js";
import { kvmMatrix } from "./support/cli.js";
import { commitFiles, git } from "./support/git.js";

const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix));
const SHA = "0123456789abcdef0123456789abcdef01234567";
const FORGED = ["../../victim", "--output=/tmp/x", `${SHA.slice(0, 39)}G`, `${SHA}/..`, ""];

/** A directory that must survive: what a forged path would have removed. */
function victim(root: string): string {
	const dir = path.join(root, "victim");
	mkdirSync(dir, { recursive: true });
	writeFileSync(path.join(dir, "precious"), "x\n");
	return dir;
}

const plan = (resolved: string) => ({
	runId: "20261206-100000-m",
	matrix: "m",
	resolved: { "linux@master": resolved },
	cells: [{ id: "linux@master/t", kernel: "linux@master", target: "t", jobs: {} }],
	jobs: [],
});

test("plan.json with a resolved commit that is not one is refused in one line naming the file and the field", (t) => {
	for (const forged of FORGED) {
		const dir = tmp("forged-plan-");
		writeFileSync(path.join(dir, "plan.json"), JSON.stringify(plan(forged)));
		const error = t.throws(() => readPlanFile(dir), { instanceOf: RunSetupError });
		t.is(
			error?.message,
			`${path.join(dir, "plan.json")}: not a kvm-matrix plan (resolved.linux@master: not a commit id (40 hex digits))`,
		);
	}
	const dir = tmp("good-plan-");
	writeFileSync(path.join(dir, "plan.json"), JSON.stringify(plan(SHA)));
	t.is(readPlanFile(dir).resolved["linux@master"], SHA);
});

test("a ci plan file and a journal record with a forged commit id are refused", (t) => {
	const dir = tmp("forged-ci-plan-");
	const file = path.join(dir, "plan.json");
	writeFileSync(
		file,
		JSON.stringify({
			kvmMatrixCiPlan: 1,
			id: "p",
			matrix: "m",
			file: "m.yaml",
			matrixDigest: "d",
			resolved: { "linux@master": "../../victim" },
			shards: [],
			idealMs: 0,
			largestCellMs: 0,
			estimated: [],
			history: [],
		}),
	);
	const error = t.throws(() => readCiPlan(file), { instanceOf: RunSetupError });
	t.regex(error?.message ?? "", /resolved\.linux@master: not a commit id/);
	t.false((error?.message ?? "").includes("\n"));

	const started = (resolved: string) =>
		JSON.stringify({
			type: "run-started",
			at: "2026-12-06T10:00:00.000Z",
			runId: "r",
			cells: [],
			matrix: "m",
			resolved: { "linux@master": resolved },
		});
	const read = parseJournal(`${started("../../victim")}\n${started(SHA)}\n`);
	t.is(read.records.length, 1);
	t.deepEqual(read.problems, ["journal.jsonl:1: not a journal record this kvm-matrix knows, ignored"]);
});

test("a worktree is never made of a commit id that is not one: nothing outside the cache is removed", async (t) => {
	const root = tmp("forged-worktree-");
	const repo = path.join(root, "repo");
	await git(root, "init", "-q", "-b", "master", repo);
	await commitFiles(repo, { "a.c": "x\n" }, "first");
	const worktrees = path.join(root, "cache", "worktrees");
	mkdirSync(worktrees, { recursive: true });
	const kept = victim(root);
	for (const forged of ["../../victim", "../victim", "--help"])
		await t.throwsAsync(() => worktreeFor(repo, forged, worktrees), { instanceOf: NotACommitIdError });
	t.true(existsSync(path.join(kept, "precious")));
});

test("an earlier run's kernel sha that is not a commit id is dropped from the baseline, not given to git", (t) => {
	const runs = tmp("forged-previous-");
	mkdirSync(path.join(runs, "a"));
	writeFileSync(
		path.join(runs, "a", "results.json"),
		JSON.stringify({
			runId: "a",
			matrix: "m",
			outcome: "completed",
			started: "2026-12-01T00:00:00.000Z",
			cells: [
				{ id: "k/t", kernel: { id: "k", sha: "--output=/tmp/x" }, results: [] },
				{ id: "k/u", kernel: { id: "k", sha: SHA }, results: [] },
			],
		}),
	);
	const run = findPreviousRun(runs, "m", "2026-12-06T00:00:00.000Z");
	t.deepEqual(
		run?.cells.map((c) => c.kernel),
		[{ id: "k" }, { id: "k", sha: SHA }],
	);
});

test("classify of a run directory whose plan.json was tampered with says so in one line, exit 2", async (t) => {
	const dir = tmp("forged-classify-");
	const runDir = path.join(dir, "run");
	mkdirSync(runDir);
	writeFileSync(path.join(runDir, "plan.json"), JSON.stringify(plan("../../victim")));
	writeFileSync(path.join(runDir, "journal.jsonl"), "");
	const kept = victim(dir);
	const r = await kvmMatrix(dir, "classify", runDir);
	t.is(r.exitCode, 2, r.stderr);
	t.regex(r.stderr, /plan\.json: not a kvm-matrix plan \(resolved\.linux@master: not a commit id/);
	t.is(r.stderr.trim().split("\n").length, 1, r.stderr);
	t.true(existsSync(path.join(kept, "precious")));
});
