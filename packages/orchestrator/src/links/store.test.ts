// The Link: index store on disk: shared by runs that update it at once, and by runs that died
// while writing it.
import { appendFileSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { loadLinkIndex, updateLinkIndex, updateLinkStore } from "./index.js";

const env = {
	GIT_AUTHOR_NAME: "T",
	GIT_AUTHOR_EMAIL: "t@example.org",
	GIT_COMMITTER_NAME: "T",
	GIT_COMMITTER_EMAIL: "t@example.org",
};

/** A repository of `count` commits on master, each linking its own posting. */
async function history(count: number): Promise<string> {
	const dir = mkdtempSync(path.join(os.tmpdir(), "store-repo-"));
	await execa("git", ["init", "-q", "-b", "master", dir]);
	for (let i = 0; i < count; i++) await commit(dir, i);
	return dir;
}

const commit = (dir: string, i: number) =>
	execa(
		"git",
		[
			"-C",
			dir,
			"commit",
			"-q",
			"--allow-empty",
			"-m",
			`KVM: change ${i}\n\nLink: https://lore.kernel.org/r/2026-${i}-dev@example.org`,
		],
		{ env },
	);

const store = () => path.join(mkdtempSync(path.join(os.tmpdir(), "store-")), "links", "kvm");
const lines = (s: string) => readFileSync(`${s}.links`, "utf8");

test("two updates at once index each commit once", async (t) => {
	const repo = await history(20);
	const s = store();
	const added = await Promise.all([updateLinkStore(repo, ["master"], s), updateLinkStore(repo, ["master"], s)]);
	t.deepEqual(
		[...added].sort((a, b) => a - b),
		[0, 20],
	);
	t.is(lines(s).trim().split("\n").length, 20);
	t.is((await loadLinkIndex(s)).skippedLines, 0);
});

test("a line cut short by a killed writer is dropped on read and cut off before the next append", async (t) => {
	const repo = await history(3);
	const s = store();
	await updateLinkStore(repo, ["master"], s);
	const before = lines(s);
	// A writer killed in the middle of its next line.
	appendFileSync(`${s}.links`, before.split("\n")[0]?.slice(0, 50) ?? "");
	const read = await loadLinkIndex(s);
	t.is(read.size, 3);
	t.is(read.skippedLines, 0);
	await commit(repo, 3);
	t.is(await updateLinkStore(repo, ["master"], s), 1);
	const after = lines(s);
	t.true(after.startsWith(before));
	t.is(after.trim().split("\n").length, 4);
	const index = await loadLinkIndex(s);
	t.is(index.commitsFor("2026-3-dev@example.org").exact.length, 1);
	t.is(index.skippedLines, 0);
});

test("a garbled or truncated store is rebuilt from history, not a crash", async (t) => {
	const repo = await history(5);
	const s = store();
	await updateLinkIndex(repo, ["master"], s);
	writeFileSync(`${s}.links`, "\u0000\u0001 not a store line\nneither is this\n");
	writeFileSync(`${s}.tips`, "zzz\n");
	const index = await updateLinkIndex(repo, ["master"], s);
	t.is(index.size, 5);
	t.is(index.skippedLines, 0);
	t.is(index.commitsFor("2026-4-dev@example.org").exact.length, 1);
	// Cut in the middle of a line, the tips still vouching for all five: rebuilt, none lost.
	truncateSync(`${s}.links`, 100);
	const again = await updateLinkIndex(repo, ["master"], s);
	t.is(again.size, 5);
	t.is(again.skippedLines, 0);
});
