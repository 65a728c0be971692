/**
 * `kvm-matrix explain`: what a test depends on and where each dependency is merged, from the
 * matrix's trees, without building or booting anything. One entry per KVM patch (a patch and its
 * cherry-picks are one), with every configured branch that has it; every commit that touched the
 * test, with each of its links typed, for `--all`.
 */

import { parseUnittestsCfg } from "../kut/unittests-cfg.js";
import { HistoryAnswers } from "../links/ancestry.js";
import { type BranchHolding, branchesHaving, dependenciesOf } from "../links/patch-status.js";
import type { KernelCommit, TreeIndex } from "../links/patches.js";
import type { TestSourceSet } from "../links/test-sources.js";
import { isFixLink, type TypedLink, targetText } from "../links/typing.js";
import type { Matrix, TreeRef } from "../matrix/types.js";
import { cachePaths } from "../paths/cache.js";
import { refKey } from "../plan/plan.js";
import { capture } from "../proc/run.js";
import { resolveRef, syncTree } from "../sources/git.js";
import { indexTrees } from "./for-run.js";
import { kernelTreesOf, loreFor } from "./reclassify.js";
import { type TestHome, testLinks } from "./test-links.js";

/** One KVM patch the test depends on. */
export interface PatchDependency {
	/** The patch's own subject (as the commit named in `commit` has it). */
	readonly subject: string;
	/** How the test links it (message-id or cited commit). */
	readonly link: string;
	/** The patch's own message-id, as its commit carries it. */
	readonly messageId?: string;
	/** The patch's commit in the first configured branch that has it; absent when only posted. */
	readonly commit?: string;
	readonly in: readonly BranchHolding[];
	readonly notIn: readonly string[];
	/** Branches git could not answer for. */
	readonly unknown: readonly string[];
	/** A KVM patch on lore that no configured tree has applied. */
	readonly posted?: { readonly date?: string };
}

export interface TestExplanation {
	readonly test: string;
	readonly source: string;
	readonly sources: TestSourceSet;
	readonly dependencies: readonly PatchDependency[];
	/** Links that resolved to nothing: shown, never a dependency. */
	readonly unresolved: readonly { readonly link: string; readonly note: string }[];
	readonly testCommits: readonly {
		readonly sha: string;
		readonly subject: string;
		readonly links: readonly TypedLink[];
	}[];
}

export class ExplainError extends Error {
	override readonly name = "ExplainError";
}

/**
 * `selftests:x86_64/cpuid_test` or `kut:vmx`: its sources, the commits behind it, their links
 * typed, and each KVM patch with the configured branches that have it.
 */
export async function explainTest(
	test: string,
	matrix: Matrix,
	cacheRoot: string,
	options: { readonly lore?: string } = {},
): Promise<TestExplanation> {
	const cache = cachePaths(cacheRoot);
	const [suite, id] = test.includes(":") ? (test.split(/:(.*)/s, 2) as [string, string]) : ["", test];
	if ((suite !== "selftests" && suite !== "kut") || !id)
		throw new ExplainError(`"${test}" is not SUITE:TEST (e.g. selftests:x86_64/cpuid_test, kut:vmx)`);
	const repos = new Map<string, Promise<string>>();
	const repoOf = (tree: string) => {
		const source = matrix.trees.get(tree);
		if (source === undefined) throw new ExplainError(`no tree ${tree} in the matrix`);
		let repo = repos.get(tree);
		if (repo === undefined) {
			repo = syncTree(source, cache.mirrors);
			repos.set(tree, repo);
		}
		return repo;
	};
	// Where the test lives: KUT's tree, the selftests' own tree, or the first kernel built from source.
	const kernelRefs = matrix.kernels.flatMap((k): TreeRef[] =>
		k.kind === "source" ? [{ tree: k.tree, ref: k.ref }] : k.source === undefined ? [] : [k.source],
	);
	const st = matrix.suites.selftests?.source;
	const home: TreeRef | undefined =
		suite === "kut" ? matrix.suites.kut : st?.kind === "tree" ? { tree: st.tree, ref: st.ref } : kernelRefs[0];
	if (home === undefined)
		throw new ExplainError(`the matrix has no ${suite === "kut" ? "kut suite" : "tree with selftests"}`);
	const homeRepo = await repoOf(home.tree);
	const homeSha = await resolveRef(homeRepo, home.tree, home.ref);
	let testHome: TestHome;
	if (suite === "kut") {
		const cfg = parseUnittestsCfg(await capture("git", ["-C", homeRepo, "show", `${homeSha}:x86/unittests.cfg`]));
		const entry = cfg.entries.find((e) => e.name === id);
		if (entry === undefined) throw new ExplainError(`no [${id}] in ${refKey(home)}'s x86/unittests.cfg`);
		testHome = { suite: "kut", repo: homeRepo, sha: homeSha, entry };
	} else {
		testHome = { suite: "selftests", repo: homeRepo, sha: homeSha, id };
	}

	const resolved: Record<string, string> = {};
	for (const ref of [...kernelRefs, ...(st?.kind === "tree" ? [{ tree: st.tree, ref: st.ref }] : [])])
		resolved[refKey(ref)] ??= await resolveRef(await repoOf(ref.tree), ref.tree, ref.ref);
	const { kernelTrees, branches } = await kernelTreesOf(matrix, resolved, repoOf);
	const trees = await indexTrees(kernelTrees, cacheRoot);
	const lore = loreFor(options.lore ?? matrix.lore, cacheRoot);
	const links = await testLinks(testHome, { trees, cacheRoot, ...(lore === undefined ? {} : { lore }) });
	if (links.commits.length === 0)
		throw new ExplainError(`no commit in ${refKey(home)} touches ${links.sources.files.join(", ")}`);

	const git = new HistoryAnswers();
	const unresolved: { link: string; note: string }[] = [];
	for (const { links: own } of links.commits)
		for (const link of own)
			if (link.role === "unresolved") {
				const text = targetText(link.target);
				if (!unresolved.some((u) => u.link === text)) unresolved.push({ link: text, note: link.note });
			}
	// The same dependencies classify finds, each decided branch by branch by the same function.
	const kernelRepos = new Map(kernelTrees.map((t) => [t.tree, t.repo]));
	const found = await dependenciesOf(
		links.commits.flatMap(({ links: own }) => own.filter(isFixLink)),
		(tree) => kernelRepos.get(tree),
		git,
	);
	const dependencies: PatchDependency[] = [];
	for (const d of found) {
		if (d.kind === "posted") {
			dependencies.push({
				subject: d.subject,
				link: d.link,
				in: [],
				notIn: branches.map((b) => b.name),
				unknown: [],
				posted: d.date === undefined ? {} : { date: d.date },
			});
			continue;
		}
		const { patch } = d;
		const held = await branchesHaving(patch, branches, git);
		const named = patch.commits.find((c) => c.sha === held.in[0]?.sha) ?? patch.commits[0];
		const messageId = patch.messageId ?? patchMessageId(trees, named);
		dependencies.push({
			subject: named?.subject ?? patch.subject,
			link: d.link,
			...(messageId === undefined ? {} : { messageId }),
			...(named === undefined ? {} : { commit: named.sha }),
			...held,
		});
	}
	return {
		test,
		source: refKey(home),
		sources: links.sources,
		dependencies,
		unresolved,
		testCommits: links.commits.map(({ commit, links: own }) => ({
			sha: commit.sha,
			subject: commit.subject,
			links: own,
		})),
	};
}

/** The message-id a patch's commit was applied with: its last one, as maintainers' tools add it. */
function patchMessageId(trees: readonly TreeIndex[], commit: KernelCommit | undefined): string | undefined {
	if (commit === undefined) return undefined;
	return trees
		.find((t) => t.tree === commit.tree)
		?.index.commit(commit.sha)
		?.messageIds.at(-1);
}
