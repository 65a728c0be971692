/**
 * Git's commit-graph file: generation numbers make an ancestry question (`merge-base
 * --is-ancestor`) milliseconds instead of a walk of the history, and changed-path Bloom filters
 * let a path-limited `git log` skip the commits that did not touch the path. On a kernel-sized
 * history without one, each ancestry question took 16 s. kvm-matrix writes it in its own mirrors;
 * a user's clone is theirs, so it is only offered.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { CancelledError, capture, runCommand } from "../proc/run.js";

/**
 * Writes (or extends, one layer per fetch) the commit-graph of a repository kvm-matrix owns. A
 * failure only costs speed, so it is not one.
 */
export async function writeCommitGraph(repo: string, signal?: AbortSignal): Promise<void> {
	await runCommand("git", ["-C", repo, "commit-graph", "write", "--reachable", "--split", "--changed-paths"], {
		...(signal === undefined ? {} : { signal }),
	}).catch((error: unknown) => {
		if (error instanceof CancelledError) throw error;
	});
}

/** Whether the repository has a commit-graph (one file, or a chain of layers). */
export async function hasCommitGraph(repo: string): Promise<boolean> {
	const common = await capture("git", ["-C", repo, "rev-parse", "--path-format=absolute", "--git-common-dir"]);
	const info = path.join(common, "objects", "info");
	return (
		existsSync(path.join(info, "commit-graph")) || existsSync(path.join(info, "commit-graphs", "commit-graph-chain"))
	);
}

/** The line offering a commit-graph for a user's clone that has none; undefined when it has one. */
export async function commitGraphOffer(repo: string): Promise<string | undefined> {
	if (await hasCommitGraph(repo).catch(() => true)) return undefined;
	return `${repo} has no commit-graph: \`git -C ${repo} commit-graph write --reachable --changed-paths\` makes verdicts on a large history much faster`;
}
