import path from "node:path";
import { parseUnittestsCfg } from "../kut/unittests-cfg.js";
import { fixDependencies } from "../links/fixes.js";
import { isAncestor, updateLinkIndex } from "../links/index.js";
import { commitsAddingEntry, commitsTouching, testSources } from "../links/test-commits.js";
import type { Matrix, TreeRef } from "../matrix/types.js";
import { cachePaths } from "../paths/cache.js";
import { refKey } from "../plan/plan.js";
import { capture } from "../proc/run.js";
import { resolveRef, syncTree } from "../sources/git.js";

export interface FixExplanation {
	readonly messageId: string;
	/** The kernel commits that carry it (or its series), with the configured kernels that contain each. */
	readonly commits: readonly {
		readonly tree: string;
		readonly sha: string;
		readonly subject: string;
		readonly in: readonly string[];
		readonly notIn: readonly string[];
	}[];
}

export interface TestExplanation {
	readonly test: string;
	readonly source: string;
	readonly testCommits: readonly {
		readonly sha: string;
		readonly subject: string;
		readonly fixes: readonly FixExplanation[];
	}[];
}

export class ExplainError extends Error {
	override readonly name = "ExplainError";
}

/**
 * What a test depends on and where each dependency is merged, from the matrix's trees, without
 * building or booting anything: `selftests:x86_64/cpuid_test` or `kut:vmx`.
 */
export async function explainTest(test: string, matrix: Matrix, cacheRoot: string): Promise<TestExplanation> {
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
	const kernelsFromSource = matrix.kernels.flatMap((k): TreeRef[] =>
		k.kind === "source" ? [{ tree: k.tree, ref: k.ref }] : k.source === undefined ? [] : [k.source],
	);
	const st = matrix.suites.selftests?.source;
	const home: TreeRef | undefined =
		suite === "kut" ? matrix.suites.kut : st?.kind === "tree" ? { tree: st.tree, ref: st.ref } : kernelsFromSource[0];
	if (home === undefined)
		throw new ExplainError(`the matrix has no ${suite === "kut" ? "kut suite" : "tree with selftests"}`);
	const homeRepo = await repoOf(home.tree);
	const homeSha = await resolveRef(homeRepo, home.tree, home.ref);
	let files: string[];
	let entryName: string | undefined;
	if (suite === "kut") {
		const cfg = parseUnittestsCfg(await capture("git", ["-C", homeRepo, "show", `${homeSha}:x86/unittests.cfg`]));
		const entry = cfg.entries.find((e) => e.name === id);
		if (entry === undefined) throw new ExplainError(`no [${id}] in ${refKey(home)}'s x86/unittests.cfg`);
		files = testSources({ suite: "kut", entry });
		entryName = entry.name;
	} else {
		files = testSources({ suite: "selftests", id });
	}
	const commits = [
		...(await commitsTouching(homeRepo, homeSha, files)),
		...(entryName === undefined ? [] : await commitsAddingEntry(homeRepo, homeSha, entryName)),
	];
	if (commits.length === 0) throw new ExplainError(`no commit in ${refKey(home)} touches ${files.join(", ")}`);

	// Every kernel tree of the matrix, with the kernels (tree@ref) configured from it.
	const kernelTrees = new Map<string, TreeRef[]>();
	for (const ref of kernelsFromSource) kernelTrees.set(ref.tree, [...(kernelTrees.get(ref.tree) ?? []), ref]);
	const testShas = commits.map((c) => c.sha);
	const explained = [];
	for (const commit of commits) {
		const fixes: FixExplanation[] = [];
		for (const messageId of fixDependencies(commit).messageIds) {
			const found: FixExplanation["commits"][number][] = [];
			for (const [tree, refs] of kernelTrees) {
				const repo = await repoOf(tree);
				const index = await updateLinkIndex(
					repo,
					refs.map((r) => r.ref),
					path.join(cache.root, "links", tree),
				);
				const { exact, series } = index.commitsFor(messageId);
				const candidates = (exact.filter((s) => !testShas.includes(s)).length > 0 ? exact : series).filter(
					(s) => !testShas.includes(s),
				);
				for (const sha of candidates) {
					const inRefs: string[] = [];
					const notIn: string[] = [];
					for (const ref of refs) ((await isAncestor(repo, sha, ref.ref)) ? inRefs : notIn).push(refKey(ref));
					found.push({ tree, sha, subject: index.commit(sha)?.subject ?? "", in: inRefs, notIn });
				}
			}
			fixes.push({ messageId, commits: found });
		}
		explained.push({ sha: commit.sha, subject: commit.subject, fixes });
	}
	return { test, source: refKey(home), testCommits: explained };
}
