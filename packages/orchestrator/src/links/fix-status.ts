/**
 * Where a fix dependency stands: in the kernel under test or not, and which configured branches
 * have it (cherry-picks included). Containment is git's ancestry; a commit of another tree counts
 * when the kernel's repository has it. A git failure is an unknown, never "not contained".
 */
import { GitFactError, hasCommit, isAncestor } from "./ancestry.js";
import type { FixLink, KernelCommit } from "./typing.js";

/** A kernel: its tree, the repository it lives in, and its commit. */
export interface KernelPoint {
	readonly tree: string;
	readonly repo: string;
	readonly sha: string;
}

/** A configured branch of a kernel tree: `kvm-x86@next` → ref `next` in that tree's repository. */
export interface ConfiguredBranch {
	readonly name: string;
	readonly tree: string;
	readonly repo: string;
	readonly ref: string;
}

export type FixStatus =
	| { readonly kind: "contained"; readonly commit: KernelCommit }
	| { readonly kind: "missing" }
	| { readonly kind: "unknown"; readonly reason: string };

/** The fix's commits that can be tested against a kernel in `repo`. */
async function commitsIn(fix: FixLink, tree: string, repo: string): Promise<KernelCommit[]> {
	if (fix.role === "posted") return [];
	const usable: KernelCommit[] = [];
	for (const c of fix.commits) if (c.tree === tree || (await hasCommit(repo, c.sha))) usable.push(c);
	return usable;
}

/** Whether `kernel` contains the fix: any of its commits (the original or a cherry-pick) in its history. */
export async function fixStatusIn(fix: FixLink, kernel: KernelPoint): Promise<FixStatus> {
	try {
		for (const c of await commitsIn(fix, kernel.tree, kernel.repo)) {
			if (await isAncestor(kernel.repo, c.sha, kernel.sha)) return { kind: "contained", commit: c };
		}
		return { kind: "missing" };
	} catch (error) {
		if (error instanceof GitFactError) return { kind: "unknown", reason: error.message };
		throw error;
	}
}

export interface BranchHolding {
	readonly branch: string;
	readonly sha: string;
	/** The branch has the change under another commit than the first branch that has it. */
	readonly cherryPick: boolean;
}

/**
 * The configured branches that have the fix, in the order they are configured (upstream first,
 * as matrices list them), and those that do not. Branches git cannot answer for are left out of
 * both and named in `unknown`.
 */
export async function branchesHaving(
	fix: FixLink,
	branches: readonly ConfiguredBranch[],
): Promise<{
	readonly in: readonly BranchHolding[];
	readonly notIn: readonly string[];
	readonly unknown: readonly string[];
}> {
	const holding: BranchHolding[] = [];
	const notIn: string[] = [];
	const unknown: string[] = [];
	let original: string | undefined;
	for (const b of branches) {
		try {
			let found: KernelCommit | undefined;
			for (const c of await commitsIn(fix, b.tree, b.repo)) {
				if (await isAncestor(b.repo, c.sha, b.ref)) {
					found = c;
					break;
				}
			}
			if (found === undefined) notIn.push(b.name);
			else {
				original ??= found.sha;
				holding.push({ branch: b.name, sha: found.sha, cherryPick: found.sha !== original });
			}
		} catch (error) {
			if (!(error instanceof GitFactError)) throw error;
			unknown.push(b.name);
		}
	}
	return { in: holding, notIn, unknown };
}
