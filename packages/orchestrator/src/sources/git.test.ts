import { existsSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { repositoryFor, resolveRef, SourceError, syncTree, worktreeFor } from "./git.js";
import { mirrorName, repositoryKey } from "./identity.js";

async function git(cwd: string, ...args: string[]) {
	return (
		await execa("git", args, {
			cwd,
			env: { GIT_AUTHOR_DATE: "2026-01-01T00:00:00Z", GIT_COMMITTER_DATE: "2026-01-01T00:00:00Z" },
		})
	).stdout.trim();
}

/** A real repository: master with two commits, a "next" branch one commit ahead, a tag. */
async function upstream() {
	const dir = mkdtempSync(path.join(os.tmpdir(), "upstream-"));
	await git(dir, "init", "-q", "-b", "master");
	await git(dir, "config", "user.email", "t@example.org");
	await git(dir, "config", "user.name", "T");
	writeFileSync(path.join(dir, "Makefile"), "all:\n");
	await git(dir, "add", ".");
	await git(dir, "commit", "-q", "-m", "Initial");
	await git(dir, "tag", "v1.0");
	await git(dir, "checkout", "-q", "-b", "next");
	writeFileSync(path.join(dir, "kvm.c"), "int fix;\n");
	await git(dir, "add", ".");
	await git(dir, "commit", "-q", "-m", "KVM: x86: a fix\n\nLink: https://lore.kernel.org/r/20260101000000.1-1-a@b.c");
	await git(dir, "checkout", "-q", "master");
	return dir;
}

test("a URL is mirrored, refs resolve to the upstream commits, worktrees are detached at them", async (t) => {
	const up = await upstream();
	const cache = mkdtempSync(path.join(os.tmpdir(), "cache-"));
	const tree = { name: "kvm", url: `file://${up}` };
	const repo = await syncTree(tree, path.join(cache, "mirrors"));
	const next = await resolveRef(repo, "kvm", "next");
	t.is(next, await git(up, "rev-parse", "next"));
	t.is(await resolveRef(repo, "kvm", "v1.0"), await git(up, "rev-parse", "master"));
	t.is(await resolveRef(repo, "kvm", next.slice(0, 12)), next);
	const wt = await worktreeFor(repo, next, path.join(cache, "worktrees"));
	t.is(await git(wt, "rev-parse", "HEAD"), next);
	t.is(await git(wt, "status", "--porcelain"), "");
	// Reused, not recreated.
	t.is(await worktreeFor(repo, next, path.join(cache, "worktrees")), wt);
});

test("a second sync fetches new upstream commits", async (t) => {
	const up = await upstream();
	const mirrors = mkdtempSync(path.join(os.tmpdir(), "mirrors-"));
	const tree = { name: "kvm", url: `file://${up}` };
	const repo = await syncTree(tree, mirrors);
	const before = await resolveRef(repo, "kvm", "master");
	writeFileSync(path.join(up, "new.c"), "int x;\n");
	await git(up, "add", ".");
	await git(up, "commit", "-q", "-m", "more");
	await syncTree(tree, mirrors);
	const after = await resolveRef(repo, "kvm", "master");
	t.not(after, before);
	t.is(after, await git(up, "rev-parse", "master"));
});

test("a local path tree is used in place", async (t) => {
	const up = await upstream();
	const repo = await syncTree({ name: "linux", path: up }, "/nonexistent");
	t.is(repo, up);
	t.is(await resolveRef(repo, "linux", "next"), await git(up, "rev-parse", "next"));
});

test("an unknown ref and an unreachable URL are one-line errors naming the tree", async (t) => {
	const up = await upstream();
	const mirrors = mkdtempSync(path.join(os.tmpdir(), "mirrors-"));
	const repo = await syncTree({ name: "kvm", url: `file://${up}` }, mirrors);
	const unknown = await t.throwsAsync(resolveRef(repo, "kvm", "queue"), { instanceOf: SourceError });
	t.regex(unknown?.message ?? "", /^tree kvm: unknown ref "queue" \(no such branch, tag or commit in .*\)$/);
	const gone = await t.throwsAsync(syncTree({ name: "kvm-x86", url: "file:///nonexistent/repo.git" }, mirrors), {
		instanceOf: SourceError,
	});
	t.regex(gone?.message ?? "", /^tree kvm-x86: cannot fetch file:\/\/\/nonexistent\/repo\.git: /);
	t.false(gone?.message.includes("\n"));
});

test("mirrors are named by URL: two trees called alike get two mirrors; one URL spelt two ways gets one", (t) => {
	const a = repositoryFor({ name: "linux", url: "https://git.kernel.org/pub/scm/virt/kvm/kvm.git" }, "/m");
	const b = repositoryFor({ name: "linux", url: "https://github.com/kvm-x86/linux.git" }, "/m");
	t.not(a, b);
	t.regex(a, /^\/m\/kvm-kvm-[0-9a-f]{12}\.git$/);
	t.regex(b, /^\/m\/kvm-x86-linux-[0-9a-f]{12}\.git$/);
	t.is(repositoryFor({ name: "kvm", url: "https://git.kernel.org/pub/scm/virt/kvm/kvm/" }, "/m"), a);
	t.is(
		mirrorName("git@github.com:kvm-x86/linux.git"),
		`kvm-x86-linux-${mirrorName("git@github.com:kvm-x86/linux").slice(-12)}`,
	);
});

test("a repository's cache key: the same through a symlink, different for another clone", async (t) => {
	const up = await upstream();
	const link = path.join(mkdtempSync(path.join(os.tmpdir(), "link-")), "linux");
	symlinkSync(up, link);
	t.is(await repositoryKey(link), await repositoryKey(up));
	const clone = mkdtempSync(path.join(os.tmpdir(), "clone-"));
	await git(clone, "clone", "-q", up, ".");
	t.not(await repositoryKey(clone), await repositoryKey(up));
});

test("a mirror named after its tree by an older kvm-matrix is adopted when its URL is the same, left when not", async (t) => {
	const up = await upstream();
	const mirrors = mkdtempSync(path.join(os.tmpdir(), "mirrors-"));
	const url = `file://${up}`;
	await git(mirrors, "clone", "--mirror", "-q", url, "kvm.git");
	const repo = await syncTree({ name: "kvm", url }, mirrors);
	t.is(repo, repositoryFor({ name: "kvm", url }, mirrors));
	t.false(existsSync(path.join(mirrors, "kvm.git")), "the old mirror was moved, not cloned again");
	t.is(await resolveRef(repo, "kvm", "next"), await git(up, "rev-parse", "next"));
	// Another URL under the same tree name: the old mirror is someone else's and stays.
	const other = await upstream();
	await git(mirrors, "clone", "--mirror", "-q", `file://${other}`, "linux.git");
	const second = await syncTree({ name: "linux", url }, mirrors);
	t.true(existsSync(path.join(mirrors, "linux.git")));
	t.is(second, repo);
});
