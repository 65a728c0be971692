import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import type { TreeSource } from "../matrix/types.js";
import { CommandError, capture, runCommand } from "../proc/run.js";

/** A problem with a tree or ref, in one line that names both. */
export class SourceError extends Error {
	override readonly name = "SourceError";
}

/** The repository kvm-matrix reads a tree from: the user's clone, or its own mirror of the URL. */
export function repositoryFor(tree: TreeSource, mirrors: string): string {
	if (tree.path !== undefined) return tree.path;
	return path.join(mirrors, `${tree.name}.git`);
}

const oneLine = (error: unknown) =>
	error instanceof CommandError ? error.message.replace(/^git \S+ failed \(exit \d+\): /, "") : String(error);

/**
 * Makes the tree's objects available locally and current: a URL is mirrored once into the cache
 * and fetched on every run; a path with a URL fetches into that clone; a plain path is used as is.
 */
export async function syncTree(tree: TreeSource, mirrors: string, signal?: AbortSignal): Promise<string> {
	const repo = repositoryFor(tree, mirrors);
	const opts = signal === undefined ? {} : { signal };
	try {
		if (tree.url === undefined) {
			if (!existsSync(repo)) throw new SourceError(`tree ${tree.name}: ${repo} does not exist`);
			await capture("git", ["-C", repo, "rev-parse", "--git-dir"]);
			return repo;
		}
		if (!existsSync(repo)) {
			await mkdir(path.dirname(repo), { recursive: true });
			await runCommand("git", ["clone", "--mirror", "--quiet", "--", tree.url, repo], opts);
		} else if (tree.path === undefined) {
			// A mirror's origin refspec is +refs/*:refs/*: a plain fetch brings every branch up to date.
			await runCommand("git", ["-C", repo, "fetch", "--quiet", "--prune", "origin"], opts);
		} else {
			const refspec = "+refs/heads/*:refs/remotes/kvm-matrix/*";
			await runCommand("git", ["-C", repo, "fetch", "--quiet", "--prune", "--", tree.url, refspec], opts);
		}
		return repo;
	} catch (error) {
		if (error instanceof SourceError) throw error;
		throw new SourceError(`tree ${tree.name}: cannot fetch ${tree.url ?? repo}: ${oneLine(error)}`);
	}
}

/**
 * The commit `ref` names in `repo`: a branch, a tag, a remote-tracking branch of the mirror, or
 * a sha. Branch names are tried before tags and shas, as git itself would.
 */
export async function resolveRef(repo: string, treeName: string, ref: string): Promise<string> {
	const candidates = [`refs/heads/${ref}`, `refs/tags/${ref}`, `refs/remotes/kvm-matrix/${ref}`, ref];
	for (const candidate of candidates) {
		try {
			return await capture("git", [
				"-C",
				repo,
				"rev-parse",
				"--verify",
				"--quiet",
				"--end-of-options",
				`${candidate}^{commit}`,
			]);
		} catch {}
	}
	throw new SourceError(`tree ${treeName}: unknown ref "${ref}" (no such branch, tag or commit in ${repo})`);
}

/**
 * A detached worktree of `sha`, shared by every job that needs that commit. Created once; an
 * existing one at the right commit is reused, one left broken by a killed run is recreated.
 */
export async function worktreeFor(repo: string, sha: string, worktrees: string, signal?: AbortSignal): Promise<string> {
	const dir = path.join(worktrees, sha);
	if (existsSync(dir)) {
		const head = await capture("git", ["-C", dir, "rev-parse", "HEAD"]).catch(() => undefined);
		if (head === sha) return dir;
		await rm(dir, { recursive: true, force: true });
		await capture("git", ["-C", repo, "worktree", "prune"]).catch(() => undefined);
	}
	await mkdir(worktrees, { recursive: true });
	const opts = signal === undefined ? {} : { signal };
	await runCommand("git", ["-C", repo, "worktree", "add", "--detach", "--force", "--quiet", dir, sha], opts);
	return dir;
}
