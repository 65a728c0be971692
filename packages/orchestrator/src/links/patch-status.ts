/**
 * The one dependency decision: whether a kernel (or a configured branch, which is a kernel too)
 * has a KVM patch. It has it when any commit that is the patch (the one applied, or a backport) is
 * in its history, by git's ancestry. A commit its repository does not hold is not asked about, so
 * a commit of another tree never turns into "git could not tell"; only a broken repository does.
 * `run`, `classify`, `explain` and `triage` all decide through `patchStatusIn`, so they cannot
 * disagree on whether a kernel has a patch.
 */
import { GitFactError, type HistoryAnswers } from "./ancestry.js";
import type { KernelCommit, Patch } from "./patches.js";
import { type FixLink, type MatchedBy, targetText } from "./typing.js";

/** A kernel: its tree, the repository it lives in, and its commit. */
export interface KernelPoint {
	readonly tree: string;
	readonly repo: string;
	readonly sha: string;
}

/** A configured branch of a kernel tree: `kvm-x86@next` → its commit in that tree's repository. */
export interface ConfiguredBranch {
	readonly name: string;
	readonly tree: string;
	readonly repo: string;
	/** The commit the branch resolved to for this run. */
	readonly ref: string;
}

export type PatchStatus =
	| { readonly kind: "contained"; readonly commit: KernelCommit }
	| { readonly kind: "missing" }
	| { readonly kind: "unknown"; readonly reason: string };

/** Whether the kernel at `at` (a repository and a commit) has the patch. */
export async function patchStatusIn(
	patch: Patch,
	at: { readonly repo: string; readonly sha: string },
	git: HistoryAnswers,
): Promise<PatchStatus> {
	try {
		for (const c of patch.commits) {
			if (!(await git.has(at.repo, c.sha))) continue;
			if (await git.isAncestor(at.repo, c.sha, at.sha)) return { kind: "contained", commit: c };
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
	/** The branch has the patch under another commit than the first branch that has it. */
	readonly cherryPick: boolean;
}

export interface BranchesHaving {
	/** In the order the branches are configured (upstream first, as matrices list them). */
	readonly in: readonly BranchHolding[];
	readonly notIn: readonly string[];
	/** Branches git could not answer for. */
	readonly unknown: readonly string[];
}

/** The configured branches that have the patch and those that do not, each decided by `patchStatusIn`. */
export async function branchesHaving(
	patch: Patch,
	branches: readonly ConfiguredBranch[],
	git: HistoryAnswers,
): Promise<BranchesHaving> {
	const holding: BranchHolding[] = [];
	const notIn: string[] = [];
	const unknown: string[] = [];
	let original: string | undefined;
	for (const b of branches) {
		const status = await patchStatusIn(patch, { repo: b.repo, sha: b.ref }, git);
		if (status.kind === "unknown") unknown.push(b.name);
		else if (status.kind === "missing") notIn.push(b.name);
		else {
			original ??= status.commit.sha;
			holding.push({ branch: b.name, sha: status.commit.sha, cherryPick: status.commit.sha !== original });
		}
	}
	return { in: holding, notIn, unknown };
}

/** One dependency of a test: a KVM patch with the link that names it, or a patch lore has that no tree applied. */
export type Dependency =
	| { readonly kind: "patch"; readonly link: string; readonly matchedBy: MatchedBy; readonly patch: Patch }
	| { readonly kind: "posted"; readonly link: string; readonly subject: string; readonly date?: string };

/**
 * A test's fix links as dependencies, one per patch: a patch two links name (a cover letter and a
 * cited commit of it) is one dependency, its commits the union of what each link found. Commits
 * their tree's repository does not hold (an index line of a history rewritten since) are dropped,
 * and a patch left with none is no dependency: a line naming a commit the repository lacks is
 * never used.
 */
export async function dependenciesOf(
	links: readonly FixLink[],
	repoOf: (tree: string) => string | undefined,
	git: HistoryAnswers,
): Promise<Dependency[]> {
	const out: Dependency[] = [];
	const byKey = new Map<string, { link: string; matchedBy: MatchedBy; patch: Patch; commits: KernelCommit[] }>();
	for (const link of links) {
		const text = targetText(link.target);
		if (link.role === "posted") {
			if (!out.some((d) => d.kind === "posted" && d.link === text))
				out.push({
					kind: "posted",
					link: text,
					subject: link.subject,
					...(link.date === undefined ? {} : { date: link.date }),
				});
			continue;
		}
		for (const patch of link.patches) {
			const present: KernelCommit[] = [];
			for (const c of patch.commits) {
				const repo = repoOf(c.tree);
				if (repo !== undefined && (await git.has(repo, c.sha))) present.push(c);
			}
			if (present.length === 0) continue;
			// Merged with a patch that shares a commit with it: the same patch, found another way.
			const same = [...byKey.values()].find((d) => d.commits.some((c) => present.some((p) => p.sha === c.sha)));
			if (same === undefined) {
				const entry = { link: text, matchedBy: link.matchedBy, patch, commits: present };
				byKey.set(patch.key, entry);
				out.push({ kind: "patch", link: text, matchedBy: link.matchedBy, patch });
			} else for (const c of present) if (!same.commits.some((k) => k.sha === c.sha)) same.commits.push(c);
		}
	}
	// Each patch with its commits merged and its key made again from them (the smallest sha).
	return out.map((d) => {
		if (d.kind === "posted") return d;
		const merged = byKey.get(d.patch.key);
		if (merged === undefined) return d;
		const key = [...merged.commits.map((c) => c.sha)].sort()[0] ?? d.patch.key;
		return { ...d, patch: { ...d.patch, key, commits: merged.commits } };
	});
}
