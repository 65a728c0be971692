/**
 * The I/O half of classification: which commits are behind each failing test (its sources as the
 * build says), what each of their links is (typed), where the fix dependencies stand for the
 * cell's kernel and the configured branches, on which other kernels the test passed and how those
 * relate to this one; then the pure `classify`.
 */
import path from "node:path";
import { type FinalResult, isFailing, resultOf } from "../events/attempts.js";
import type { KutEntry } from "../kut/unittests-cfg.js";
import { HistoryAnswers } from "../links/ancestry.js";
import { updateLinkIndex } from "../links/index.js";
import type { LoreAnswer } from "../links/lore.js";
import {
	type BranchesHaving,
	branchesHaving,
	type ConfiguredBranch,
	type Dependency,
	dependenciesOf,
	type KernelPoint,
	type PatchStatus,
	patchStatusIn,
} from "../links/patch-status.js";
import type { Patch } from "../links/patches.js";
import type { TestSourceSet } from "../links/test-sources.js";
import { isFixLink, type TreeIndex, type TypedLink, targetText } from "../links/typing.js";
import { cachePaths } from "../paths/cache.js";
import { commitGraphOffer } from "../sources/commit-graph.js";
import { repositoryKey } from "../sources/identity.js";
import { type PassingKernel, relate } from "./across.js";
import { type BaselineSource, baselineResult, type PreviousRun } from "./baseline.js";
import {
	type BaselineResult,
	classify,
	type FixEvidence,
	type KnownIssue,
	type Pass,
	testKey,
	type Verdict,
} from "./classify.js";
import { distinctLinks, type TestHome, testHistories, testLinks } from "./test-links.js";

/** Where a cell's tests and kernel come from, as far as verdicts need to know. */
export interface CellSources {
	readonly cell: string;
	readonly kernelId: string;
	readonly target: string;
	/** The kernel's own tree and commit, when it is known (built, or prebuilt with `source`). */
	readonly kernel?: KernelPoint;
	readonly selftests?: { readonly repo: string; readonly sha: string };
	readonly kut?: { readonly repo: string; readonly sha: string; readonly entries: readonly KutEntry[] };
	/** One result per test, as it stands after retries. */
	readonly results: readonly FinalResult[];
}

/** A kernel tree whose history is indexed for fixes: every ref of it the run knows. */
export interface KernelTree {
	readonly tree: string;
	readonly repo: string;
	readonly refs: readonly string[];
}

export interface RunVerdictInput {
	readonly cells: readonly CellSources[];
	/** What each cell is compared with: a kernel of this run (same target), or an earlier run. */
	readonly baseline: BaselineSource;
	/** An earlier run of the same matrix: its passes are evidence across kernels too. */
	readonly earlier?: PreviousRun;
	readonly knownIssues: readonly KnownIssue[];
	readonly kernelTrees: readonly KernelTree[];
	/** The configured branches, upstream first: where a fix is said to be merged. */
	readonly branches: readonly ConfiguredBranch[];
	readonly cacheRoot: string;
	readonly lore?: (messageId: string) => Promise<LoreAnswer>;
	/** Git's answers, shared with whatever else asks about the same histories. */
	readonly history?: HistoryAnswers;
	/** A line for the user about how the verdicts were made (a clone without a commit-graph). */
	readonly onNote?: (line: string) => void;
}

// A KUT test's sources should come from its build; when they could not, the evidence says so. A
// selftest is its own .c in every kernel that writes no dependency files (6.1 and older): no note.
const BASIS_NOTE: Readonly<Record<TestSourceSet["basis"], string | undefined>> = {
	build: undefined,
	makefile: "sources from KUT's Makefile rules, not a build",
	"image-name": "sources from the image name only",
};

/**
 * Each kernel tree's Link: index, brought up to its refs in the cache. The index is the
 * repository's, not the tree name's: matrices that all call their tree `linux` share a cache and
 * each reads its own repository's history.
 */
export function indexTrees(kernelTrees: readonly KernelTree[], cacheRoot: string): Promise<TreeIndex[]> {
	const links = cachePaths(cacheRoot).links;
	return Promise.all(
		kernelTrees.map(async (t) => ({
			tree: t.tree,
			index: await updateLinkIndex(t.repo, t.refs, path.join(links, await repositoryKey(t.repo))),
		})),
	);
}

export async function verdictsForRun(input: RunVerdictInput): Promise<Map<string, Map<string, Verdict>>> {
	const trees = await indexTrees(input.kernelTrees, input.cacheRoot);
	if (input.onNote !== undefined) await offerCommitGraphs(input.kernelTrees, input.cacheRoot, input.onNote);

	const git = input.history ?? new HistoryAnswers();
	// Ancestry in each kernel tree from its index's commit graph, asked of git only where the
	// graph cannot tell.
	input.kernelTrees.forEach((t, i) => {
		const index = trees[i]?.index;
		if (index !== undefined) git.useGraph(t.repo, () => index.graph, t.refs);
	});
	const context = {
		trees,
		cacheRoot: input.cacheRoot,
		histories: testHistories(input.cacheRoot, git),
		...(input.lore === undefined ? {} : { lore: input.lore }),
	};
	const linksCache = new Map<string, Promise<{ links: TypedLink[]; sources: TestSourceSet } | undefined>>();
	const linksOf = (cell: CellSources, result: FinalResult) => {
		const home = homeOf(cell, result);
		if (home === undefined) return Promise.resolve(undefined);
		const key = `${home.repo}\0${home.sha}\0${testKey(result)}`;
		let found = linksCache.get(key);
		if (found === undefined) {
			found = testLinks(home, context).then((t) => ({ links: distinctLinks(t), sources: t.sources }));
			linksCache.set(key, found);
		}
		return found;
	};

	// Where each patch stands, per kernel and across the configured branches: decided once each,
	// by the one decision explain uses too, on git answers shared by every failure. A patch is
	// cached by its commits: two tests may know it by different links.
	const repos = new Map(input.kernelTrees.map((t) => [t.tree, t.repo]));
	const patchId = (patch: Patch) => patch.commits.map((c) => c.sha).join(",");
	const statusCache = new Map<string, Promise<PatchStatus>>();
	const statusIn = (patch: Patch, kernel: KernelPoint) => {
		const key = `${patchId(patch)}\0${kernel.repo}\0${kernel.sha}`;
		let status = statusCache.get(key);
		if (status === undefined) {
			status = patchStatusIn(patch, kernel, git);
			statusCache.set(key, status);
		}
		return status;
	};
	const branchCache = new Map<string, Promise<BranchesHaving>>();
	const branchesOf = (patch: Patch) => {
		let found = branchCache.get(patchId(patch));
		if (found === undefined) {
			found = branchesHaving(patch, input.branches, git);
			branchCache.set(patchId(patch), found);
		}
		return found;
	};

	/** One dependency as it stands for `kernel`. */
	const evidenceOf = async (d: Dependency, kernel: KernelPoint): Promise<FixEvidence> => {
		if (d.kind === "posted")
			return {
				link: d.link,
				patch: d.link,
				subject: d.subject,
				status: "posted",
				in: [],
				...(d.date === undefined ? {} : { date: d.date }),
			};
		const { patch } = d;
		const status = await statusIn(patch, kernel);
		const held = await branchesOf(patch);
		// Here when the kernel has it, else where the first configured branch has it.
		const named =
			status.kind === "contained"
				? status.commit
				: (patch.commits.find((c) => c.sha === held.in[0]?.sha) ?? patch.commits[0]);
		return {
			link: d.link,
			patch: patch.key,
			// Each sha with its own subject: a backport may word it differently.
			subject: named?.subject ?? patch.subject,
			matchedBy: d.matchedBy,
			...(named === undefined ? {} : { commit: named.sha }),
			status: status.kind,
			in: held.in.map((h) => h.branch),
			...(status.kind === "unknown" ? { reason: status.reason } : {}),
		};
	};

	const byCell = new Map(input.cells.map((c) => [c.cell, c]));
	const verdicts = new Map<string, Map<string, Verdict>>();
	for (const cell of input.cells) {
		const perTest = new Map<string, Verdict>();
		for (const result of cell.results) {
			const key = testKey(result);
			const failing = isFailing(result);
			const known = failing && cell.kernel !== undefined ? await linksOf(cell, result) : undefined;
			const dependencies =
				cell.kernel === undefined
					? []
					: await dependenciesOf(known?.links.filter(isFixLink) ?? [], (tree) => repos.get(tree), git);
			const kernel = cell.kernel;
			const fixes = kernel === undefined ? [] : await Promise.all(dependencies.map((d) => evidenceOf(d, kernel)));
			const missing = dependencies.filter((_, i) => fixes[i]?.status === "missing" || fixes[i]?.status === "posted");
			// Which of those another kernel lacks too: one that passed without a patch rules it out.
			const lacking = async (k: KernelPoint) => {
				const lacks: string[] = [];
				for (const d of missing) {
					if (d.kind === "posted") lacks.push(d.link);
					else if ((await statusIn(d.patch, k)).kind === "missing") lacks.push(d.patch.key);
				}
				return lacks;
			};
			const passes =
				failing && cell.kernel !== undefined ? await passesOf(cell, cell.kernel, key, input, lacking, git) : [];
			// Only a result that gets a verdict needs the baseline's (a pass needs none).
			let baseline: BaselineResult | undefined = failing
				? baselineResult(input.baseline, byCell, cell, key)
				: undefined;
			if (baseline?.sha !== undefined && cell.kernel !== undefined && failing) {
				const point = { ...(pointFor(baseline.kernel, input) ?? cell.kernel), sha: baseline.sha };
				baseline = { ...baseline, relation: await relate(cell.kernel, point, git), lacks: await lacking(point) };
			}
			const unresolved = (known?.links ?? []).flatMap((l) =>
				l.role === "unresolved" ? [`${targetText(l.target)}, ${l.note}`] : [],
			);
			const basisNote = known === undefined || result.suite !== "kut" ? undefined : BASIS_NOTE[known.sources.basis];
			const verdict = classify(
				{
					cell: cell.cell,
					kernel: cell.kernelId,
					result,
					...(cell.kernel === undefined ? {} : { sha: cell.kernel.sha }),
					...(result.earlier === undefined ? {} : { attempts: result.earlier.map((r) => r.status) }),
				},
				{
					knownIssues: input.knownIssues,
					fixes: () => fixes,
					unresolved: () => unresolved,
					caveats: () => (basisNote === undefined ? [] : [basisNote]),
					passes: () => passes,
					baseline: () => baseline,
				},
			);
			if (verdict !== undefined) perTest.set(key, verdict);
		}
		verdicts.set(cell.cell, perTest);
	}
	return verdicts;
}

const offered = new Set<string>();

/** Says once per process, for each user's clone without a commit-graph, how to make one. */
async function offerCommitGraphs(trees: readonly KernelTree[], cacheRoot: string, note: (line: string) => void) {
	const mirrors = `${path.resolve(cachePaths(cacheRoot).mirrors)}${path.sep}`;
	for (const repo of new Set(trees.map((t) => path.resolve(t.repo)))) {
		if (repo.startsWith(mirrors) || offered.has(repo)) continue;
		offered.add(repo);
		const line = await commitGraphOffer(repo);
		if (line !== undefined) note(line);
	}
}

/** Where a cell's test lives, if the cell knows. */
function homeOf(cell: CellSources, result: FinalResult): TestHome | undefined {
	if (result.suite === "selftests")
		return cell.selftests === undefined ? undefined : { suite: "selftests", ...cell.selftests, id: result.testId };
	const entry = cell.kut?.entries.find((e) => e.name === result.testId);
	return cell.kut === undefined || entry === undefined
		? undefined
		: { suite: "kut", repo: cell.kut.repo, sha: cell.kut.sha, entry };
}

/** A kernel id's tree and repository, from a cell of this run that runs it. */
function pointFor(kernelId: string, input: RunVerdictInput): KernelPoint | undefined {
	return input.cells.find((c) => c.kernelId === kernelId && c.kernel !== undefined)?.kernel;
}

/**
 * A pass that is evidence the kernel does not have the bug: one that a retry after a failure
 * produced is not (the test is flaky there, and "fixed there" would hide a real failure here).
 */
export const passedClean = (r: Pick<FinalResult, "status" | "earlier">) =>
	r.status === "pass" && !(r.earlier ?? []).some(isFailing);

/** The other kernels, same target, this run or the earlier one, on which the test passed. */
async function passesOf(
	cell: CellSources,
	kernel: KernelPoint,
	key: string,
	input: RunVerdictInput,
	lacking: (k: KernelPoint) => Promise<string[]>,
	git: HistoryAnswers,
): Promise<Pass[]> {
	const candidates: { kernel: string; point: KernelPoint; run?: string }[] = [];
	for (const other of input.cells) {
		if (other.cell === cell.cell || other.target !== cell.target || other.kernel === undefined) continue;
		const r = resultOf(other.results, key);
		if (r !== undefined && passedClean(r)) candidates.push({ kernel: other.kernelId, point: other.kernel });
	}
	for (const other of input.earlier?.cells ?? []) {
		const point = pointFor(other.kernel.id, input);
		if (point === undefined || other.kernel.sha === undefined || other.id !== `${other.kernel.id}/${cell.target}`)
			continue;
		const r = resultOf(other.results, key);
		if (r !== undefined && passedClean(r))
			candidates.push({
				kernel: other.kernel.id,
				point: { ...point, sha: other.kernel.sha },
				...(input.earlier === undefined ? {} : { run: input.earlier.runId }),
			});
	}
	const passes: Pass[] = [];
	for (const c of candidates) {
		const relation = await relate(kernel, c.point, git);
		const passing: PassingKernel = {
			kernel: c.kernel,
			sha: c.point.sha,
			relation,
			...(c.run === undefined ? {} : { run: c.run }),
		};
		passes.push({ ...passing, lacks: await lacking(c.point) });
	}
	return passes;
}
