/**
 * Evidence across kernels, the way a maintainer answers a report: the same test, on the same
 * target, passed on another kernel. If the failing kernel K is an ancestor of the passing K',
 * something in K..K' fixed it; if K' is an ancestor of K, something in K'..K broke it; if neither,
 * both ranges from their merge base are the evidence. Git's answers only: no guessing.
 */
import { GitFactError, HistoryAnswers } from "../links/ancestry.js";
import type { KernelPoint } from "../links/patch-status.js";

export type Relation =
	/** The passing kernel descends from the failing one: the fix is in `from..to`. */
	| { readonly kind: "descendant"; readonly count: number }
	/** The passing kernel is an ancestor: the breakage is in `from..to`. */
	| { readonly kind: "ancestor"; readonly count: number }
	| {
			readonly kind: "diverged";
			readonly mergeBase: string;
			/** Commits from the merge base to the failing kernel, and to the passing one. */
			readonly here: number;
			readonly there: number;
	  }
	| { readonly kind: "same" }
	| { readonly kind: "unrelated"; readonly reason: string };

/** A kernel on which the same test passed, and how it relates to the failing one. */
export interface PassingKernel {
	readonly kernel: string;
	readonly sha: string;
	/** The earlier run it comes from, when it is not this run. */
	readonly run?: string;
	readonly relation: Relation;
}

/** A repository that holds both commits: either kernel's own, when it has the other's commit. */
async function commonRepo(a: KernelPoint, b: KernelPoint, git: HistoryAnswers): Promise<string | undefined> {
	if (a.repo === b.repo) return a.repo;
	if (await git.has(a.repo, b.sha)) return a.repo;
	if (await git.has(b.repo, a.sha)) return b.repo;
	return undefined;
}

/** How the passing kernel `other` relates to the failing `kernel`. */
export async function relate(
	kernel: KernelPoint,
	other: KernelPoint,
	git: HistoryAnswers = new HistoryAnswers(),
): Promise<Relation> {
	if (kernel.sha === other.sha) return { kind: "same" };
	const repo = await commonRepo(kernel, other, git);
	if (repo === undefined) return { kind: "unrelated", reason: "no repository holds both commits" };
	try {
		if (await git.isAncestor(repo, kernel.sha, other.sha))
			return { kind: "descendant", count: await git.commitCount(repo, kernel.sha, other.sha) };
		if (await git.isAncestor(repo, other.sha, kernel.sha))
			return { kind: "ancestor", count: await git.commitCount(repo, other.sha, kernel.sha) };
		const base = await git.mergeBase(repo, kernel.sha, other.sha);
		if (base === undefined) return { kind: "unrelated", reason: "the two histories share no commit" };
		return {
			kind: "diverged",
			mergeBase: base,
			here: await git.commitCount(repo, base, kernel.sha),
			there: await git.commitCount(repo, base, other.sha),
		};
	} catch (error) {
		if (error instanceof GitFactError) return { kind: "unrelated", reason: error.message };
		throw error;
	}
}
