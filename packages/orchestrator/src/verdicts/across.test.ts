import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { commitFiles, git } from "../../../../test/support/git.js";
import { relate } from "./across.js";

test("how a passing kernel relates to the failing one, as git says", async (t) => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "across-"));
	await git(dir, "init", "-q", "-b", "master");
	const base = await commitFiles(dir, { a: "1" }, "base");
	const old = await commitFiles(dir, { a: "2" }, "v6.0");
	await git(dir, "checkout", "-q", "-b", "queue");
	await commitFiles(dir, { b: "1" }, "queue 1");
	const queue = await commitFiles(dir, { b: "2" }, "queue 2");
	await git(dir, "checkout", "-q", "-b", "side", base);
	const side = await commitFiles(dir, { c: "1" }, "side");
	const k = (sha: string) => ({ tree: "kvm", repo: dir, sha });

	t.deepEqual(await relate(k(old), k(queue)), { kind: "descendant", count: 2 });
	t.deepEqual(await relate(k(queue), k(old)), { kind: "ancestor", count: 2 });
	t.deepEqual(await relate(k(old), k(side)), { kind: "diverged", mergeBase: base, here: 1, there: 1 });
	t.deepEqual(await relate(k(old), k(old)), { kind: "same" });

	// Another repository that holds only one of the two commits: git cannot relate them.
	const other = mkdtempSync(path.join(os.tmpdir(), "across-other-"));
	await git(other, "init", "-q", "-b", "master");
	const lone = await commitFiles(other, { z: "1" }, "lone");
	t.deepEqual(await relate(k(old), { tree: "other", repo: other, sha: lone }), {
		kind: "unrelated",
		reason: "no repository holds both commits",
	});
	// The same commit reached through a second clone is found in the first.
	const clone = mkdtempSync(path.join(os.tmpdir(), "across-clone-"));
	await git(clone, "clone", "-q", dir, ".");
	t.deepEqual(await relate(k(old), { tree: "mirror", repo: clone, sha: queue }), { kind: "descendant", count: 2 });
});
