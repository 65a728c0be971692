// Mirrors and worktrees in a cache that several kvm-matrix processes use at once.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { resolveRef, syncTree, worktreeFor } from "./git.js";

const env = {
	GIT_AUTHOR_NAME: "T",
	GIT_AUTHOR_EMAIL: "t@example.org",
	GIT_COMMITTER_NAME: "T",
	GIT_COMMITTER_EMAIL: "t@example.org",
};

async function upstream(): Promise<{ dir: string; sha: string }> {
	const dir = mkdtempSync(path.join(os.tmpdir(), "upstream-"));
	await execa("git", ["init", "-q", "-b", "master", dir]);
	for (let i = 0; i < 20; i++) writeFileSync(path.join(dir, `file${i}.c`), `int x${i};\n`);
	await execa("git", ["-C", dir, "add", "."]);
	await execa("git", ["-C", dir, "commit", "-q", "-m", "Initial"], { env });
	return { dir, sha: (await execa("git", ["-C", dir, "rev-parse", "HEAD"])).stdout };
}

test("two syncs of one mirror at once both succeed, and the mirror is cloned once", async (t) => {
	const up = await upstream();
	const mirrors = path.join(mkdtempSync(path.join(os.tmpdir(), "cache-")), "mirrors");
	const tree = { name: "kvm", url: `file://${up.dir}` };
	const waits: string[] = [];
	const repos = await Promise.all([
		syncTree(tree, mirrors),
		syncTree(tree, mirrors, undefined, (line) => waits.push(line)),
		syncTree(tree, mirrors),
	]);
	t.deepEqual(new Set(repos).size, 1);
	t.is(await resolveRef(repos[0] ?? "", "kvm", "master"), up.sha);
	t.false(existsSync(`${repos[0]}.partial`));
	t.true(waits.every((w) => w === "waiting for another kvm-matrix using the repository of tree kvm"));
});

test("one worktree asked for by several at once is created once and shared", async (t) => {
	const up = await upstream();
	const worktrees = path.join(mkdtempSync(path.join(os.tmpdir(), "cache-")), "worktrees");
	const dirs = await Promise.all([1, 2, 3].map(() => worktreeFor(up.dir, up.sha, worktrees)));
	t.is(new Set(dirs).size, 1);
	const list = (await execa("git", ["-C", up.dir, "worktree", "list", "--porcelain"])).stdout;
	t.is(list.split("\n").filter((l) => l.startsWith("worktree ") && l.includes(up.sha)).length, 1);
});

test("a worktree whose checkout a killed run left unfinished is made again", async (t) => {
	const up = await upstream();
	const worktrees = path.join(mkdtempSync(path.join(os.tmpdir(), "cache-")), "worktrees");
	const dir = await worktreeFor(up.dir, up.sha, worktrees);
	// What `kill -9` during `git worktree add` leaves: HEAD set, files missing, no ready marker.
	rmSync(`${dir}.ready`);
	rmSync(path.join(dir, "file3.c"));
	t.is(await worktreeFor(up.dir, up.sha, worktrees), dir);
	t.true(existsSync(path.join(dir, "file3.c")));
	// A whole one made before the marker existed is kept as it is.
	rmSync(`${dir}.ready`);
	writeFileSync(path.join(dir, "untracked-build-output.o"), "");
	t.is(await worktreeFor(up.dir, up.sha, worktrees), dir);
	t.true(existsSync(path.join(dir, "untracked-build-output.o")));
	t.true(existsSync(`${dir}.ready`));
});
