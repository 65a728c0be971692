import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import type { TreeSource } from "../matrix/types.js";
import { writeAtomically } from "../paths/atomic.js";
import { withLock } from "../paths/lock.js";
import { CancelledError, CommandError, capture, runCommand } from "../proc/run.js";
import { writeCommitGraph } from "./commit-graph.js";
import { requireCommitId } from "./commit-id.js";
import { mirrorName, normaliseUrl } from "./identity.js";

/** A problem with a tree or ref, in one line that names both. */
export class SourceError extends Error {
	override readonly name = "SourceError";
}

/**
 * The repository kvm-matrix reads a tree from: the user's clone, or its own mirror of the URL,
 * named by the URL (two matrices may call two repositories `linux`).
 */
export function repositoryFor(tree: TreeSource, mirrors: string): string {
	if (tree.url === undefined) return tree.path;
	return tree.path ?? path.join(mirrors, `${mirrorName(tree.url)}.git`);
}

/**
 * Mirrors of older kvm-matrix versions were named by the tree (`mirrors/linux.git`). One whose
 * origin is this URL is this tree's mirror: it is moved to its URL's name rather than cloned
 * again (a kernel's history is gigabytes); one of another URL is left alone.
 */
export async function adoptNamedMirror(tree: TreeSource, mirrors: string): Promise<void> {
	if (tree.url === undefined || tree.path !== undefined) return;
	const repo = repositoryFor(tree, mirrors);
	const old = path.join(mirrors, `${tree.name}.git`);
	if (old === repo || existsSync(repo) || !existsSync(old)) return;
	const origin = await capture("git", ["-C", old, "config", "--get", "remote.origin.url"]).catch(() => "");
	if (normaliseUrl(origin) !== normaliseUrl(tree.url)) return;
	// Two processes adopting at once: one rename wins, the other finds the old name gone.
	if (
		!(await rename(old, repo).then(
			() => true,
			() => false,
		))
	)
		return;
	// The cached worktrees still point at the old name: repaired, rather than checked out again.
	const linked = await readdir(path.join(repo, "worktrees")).catch(() => [] as string[]);
	const dirs = (
		await Promise.all(
			linked.map((w) =>
				readFile(path.join(repo, "worktrees", w, "gitdir"), "utf8").then(
					(gitdir) => [path.dirname(gitdir.trim())],
					() => [],
				),
			),
		)
	).flat();
	if (dirs.length > 0) await capture("git", ["-C", repo, "worktree", "repair", ...dirs]).catch(() => undefined);
}

const oneLine = (error: unknown) =>
	error instanceof CommandError ? error.message.replace(/^git \S+ failed \(exit \d+\): /, "") : String(error);

/**
 * Makes the tree's objects available locally and current: a URL is mirrored once into the cache
 * and fetched on every run; a path with a URL fetches into that clone; a plain path is used as is.
 * One kvm-matrix at a time fetches into a repository (two git fetches into one repository fail on
 * each other's ref locks); a mirror is cloned aside and renamed into place, so a mirror that
 * exists is a whole one.
 */
export async function syncTree(
	tree: TreeSource,
	mirrors: string,
	signal?: AbortSignal,
	onWait?: (line: string) => void,
): Promise<string> {
	const repo = repositoryFor(tree, mirrors);
	try {
		if (tree.url === undefined) {
			if (!existsSync(repo)) throw new SourceError(`tree ${tree.name}: ${repo} does not exist`);
			await capture("git", ["-C", repo, "rev-parse", "--git-dir"]);
			return repo;
		}
		const url = tree.url;
		const lockOptions = { signal, onWait, what: `the repository of tree ${tree.name}` };
		if (tree.path === undefined) {
			await withLock(
				repo,
				async (held) => {
					await adoptNamedMirror(tree, mirrors);
					await mirror(url, repo, held);
				},
				lockOptions,
			);
		} else {
			// The user's clone: its lock lives in its own git directory, whatever the matrix calls it.
			const gitDir = path.resolve(repo, await capture("git", ["-C", repo, "rev-parse", "--git-common-dir"]));
			const refspec = "+refs/heads/*:refs/remotes/kvm-matrix/*";
			await withLock(
				path.join(gitDir, "kvm-matrix-fetch"),
				(held) => runCommand("git", ["-C", repo, "fetch", "--quiet", "--prune", "--", url, refspec], { signal: held }),
				lockOptions,
			);
		}
		return repo;
	} catch (error) {
		if (error instanceof SourceError || error instanceof CancelledError) throw error;
		throw new SourceError(`tree ${tree.name}: cannot fetch ${tree.url ?? repo}: ${oneLine(error)}`);
	}
}

/** Clones or fetches the mirror at `repo`; called with its lock held. */
async function mirror(url: string, repo: string, signal: AbortSignal): Promise<void> {
	if (existsSync(repo)) {
		// A mirror's origin refspec is +refs/*:refs/*: a plain fetch brings every branch up to date.
		await runCommand("git", ["-C", repo, "fetch", "--quiet", "--prune", "origin"], { signal });
		await writeCommitGraph(repo, signal);
		return;
	}
	// Holding the lock, a partial clone can only be a killed process's: it is safe to remove.
	const partial = `${repo}.partial`;
	await rm(partial, { recursive: true, force: true });
	await mkdir(path.dirname(repo), { recursive: true });
	await runCommand("git", ["clone", "--mirror", "--quiet", "--", url, partial], { signal });
	await writeCommitGraph(partial, signal);
	await rename(partial, repo);
}

/**
 * The commit `ref` names in `repo`: a branch, a tag, a remote-tracking branch of the mirror, or
 * a sha. Branch names are tried before tags and shas, as git itself would.
 */
/** The commit `rev` names in the repository, or undefined when it names none. */
export async function commitOf(repo: string, rev: string): Promise<string | undefined> {
	try {
		return await capture("git", [
			"-C",
			repo,
			"rev-parse",
			"--verify",
			"--quiet",
			"--end-of-options",
			`${rev}^{commit}`,
		]);
	} catch {
		return undefined;
	}
}

export async function resolveRef(repo: string, treeName: string, ref: string): Promise<string> {
	const candidates = [`refs/heads/${ref}`, `refs/tags/${ref}`, `refs/remotes/kvm-matrix/${ref}`, ref];
	for (const candidate of candidates) {
		const sha = await commitOf(repo, candidate);
		if (sha !== undefined) return sha;
	}
	throw new SourceError(`tree ${treeName}: unknown ref "${ref}" (no such branch, tag or commit in ${repo})`);
}

/**
 * A detached worktree of `sha`, shared by every job (and every kvm-matrix) that needs that
 * commit. Created once, by one process at a time (the worktree's lock), and marked ready once
 * checked out: an existing one at the right commit is reused, one left broken by a killed run is
 * recreated.
 */
export async function worktreeFor(
	repo: string,
	sha: string,
	worktrees: string,
	signal?: AbortSignal,
	onWait?: (line: string) => void,
): Promise<string> {
	const dir = path.join(worktrees, requireCommitId(sha, "a worktree's commit"));
	const ready = readyMarker(dir);
	// Without the lock: a ready worktree is never changed again, and most runs find theirs ready.
	if (existsSync(ready) && (await headOf(dir)) === sha) return dir;
	return withLock(
		dir,
		async (held) => {
			if (existsSync(dir) && (await headOf(dir)) === sha) {
				if (existsSync(ready)) return dir;
				// Made by a kvm-matrix before the marker, or by one killed while git checked it out:
				// a full checkout leaves no tracked file changed.
				if (await isCheckedOut(dir)) {
					await writeAtomically(ready, `${sha}\n`);
					return dir;
				}
			}
			if (existsSync(dir)) {
				// Holding the lock, and not ready: no other process is creating or using it.
				await rm(ready, { force: true });
				await rm(dir, { recursive: true, force: true });
				await capture("git", ["-C", repo, "worktree", "prune"]).catch(() => undefined);
			}
			await mkdir(worktrees, { recursive: true });
			await runCommand("git", ["-C", repo, "worktree", "add", "--detach", "--force", "--quiet", dir, sha], {
				signal: held,
			});
			await writeAtomically(ready, `${sha}\n`);
			return dir;
		},
		{ signal, onWait, what: `the worktree of ${sha.slice(0, 12)}` },
	);
}

/** Beside the worktree, not in it: the tree stays exactly the commit's. */
const readyMarker = (dir: string) => `${dir}.ready`;

const headOf = (dir: string) => capture("git", ["-C", dir, "rev-parse", "HEAD"]).catch(() => undefined);

const isCheckedOut = (dir: string) =>
	capture("git", ["-C", dir, "status", "--porcelain", "--untracked-files=no"]).then(
		(out) => out === "",
		() => false,
	);
