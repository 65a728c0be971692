import path from "node:path";
import { type FinalResult, isFailing } from "../events/attempts.js";
import type { TestResult } from "../events/types.js";
import type { KutEntry } from "../kut/unittests-cfg.js";
import { type FixLocation, fixDependencies, locateFix } from "../links/fixes.js";
import { isAncestor, type LinkIndex, updateLinkIndex } from "../links/index.js";
import { commitsAddingEntry, commitsTouching, testSources } from "../links/test-commits.js";
import { seriesOf } from "../links/trailers.js";
import { type BaselineSource, baselineResult } from "./baseline.js";
import { classify, type KnownIssue, testKey, type Verdict } from "./classify.js";

/** Where a cell's tests and kernel come from, as far as verdicts need to know. */
export interface CellSources {
	readonly cell: string;
	readonly kernelId: string;
	readonly target: string;
	/** The kernel's own tree and commit, when it is known (built, or prebuilt with `source`). */
	readonly kernel?: { readonly tree: string; readonly repo: string; readonly sha: string };
	readonly selftests?: { readonly repo: string; readonly sha: string };
	readonly kut?: { readonly repo: string; readonly sha: string; readonly entries: readonly KutEntry[] };
	/** One result per test, as it stands after retries. */
	readonly results: readonly FinalResult[];
}

export interface RunVerdictInput {
	readonly cells: readonly CellSources[];
	/** What each cell is compared with: a kernel of this run (same target), or an earlier run. */
	readonly baseline: BaselineSource;
	readonly knownIssues: readonly KnownIssue[];
	/** The configured branches of each kernel tree: name (`kvm-x86/next`) → ref in that tree's repo. */
	readonly branches: (tree: string) => Readonly<Record<string, string>>;
	readonly linkCacheDir: string;
}

/**
 * The I/O half of classification: which commits are behind each failing test, which fixes they
 * link to, where those fixes stand for the cell's kernel; then the pure `classify`.
 */
export async function verdictsForRun(input: RunVerdictInput): Promise<Map<string, Map<string, Verdict>>> {
	const indexes = new Map<string, Promise<LinkIndex>>();
	const indexOf = (tree: string, repo: string) => {
		let index = indexes.get(tree);
		if (index === undefined) {
			index = updateLinkIndex(repo, Object.values(input.branches(tree)), path.join(input.linkCacheDir, tree));
			indexes.set(tree, index);
		}
		return index;
	};
	const byCell = new Map(input.cells.map((c) => [c.cell, c]));
	const baselineOf = (cell: CellSources, key: string) => baselineResult(input.baseline, byCell, cell, key);

	const fixesFor = async (cell: CellSources, result: TestResult): Promise<FixLocation[]> => {
		if (cell.kernel === undefined) return [];
		const source =
			result.suite === "selftests"
				? cell.selftests === undefined
					? undefined
					: {
							repo: cell.selftests.repo,
							sha: cell.selftests.sha,
							files: testSources({ suite: "selftests", id: result.testId }),
							entry: undefined,
						}
				: (() => {
						const entry = cell.kut?.entries.find((e) => e.name === result.testId);
						return cell.kut === undefined || entry === undefined
							? undefined
							: { repo: cell.kut.repo, sha: cell.kut.sha, files: testSources({ suite: "kut", entry }), entry };
					})();
		if (source === undefined) return [];
		const commits = [
			...(await commitsTouching(source.repo, source.sha, source.files)),
			...(source.entry === undefined ? [] : await commitsAddingEntry(source.repo, source.sha, source.entry.name)),
		];
		const index = await indexOf(cell.kernel.tree, cell.kernel.repo);
		const locations: FixLocation[] = [];
		const seen = new Set<string>();
		for (const commit of commits) {
			const deps = fixDependencies(commit);
			for (const id of deps.messageIds) {
				if (seen.has(id)) continue;
				seen.add(id);
				const where = await locateFix({
					exclude: commits.map((c) => c.sha),
					repo: cell.kernel.repo,
					index,
					messageId: id,
					kernel: cell.kernel.sha,
					branches: input.branches(cell.kernel.tree),
				});
				// Only links that are kernel patches are dependencies: an unknown single mail (a bug
				// report, an lkp mail) is not a fix; an unknown patch of a series was posted, not applied.
				if (where.kind === "not-applied" && seriesOf(id) === undefined) continue;
				locations.push(where);
			}
			for (const citation of deps.citations) {
				const found =
					index.commitByPrefix(citation.sha) ?? index.commit(index.commitsWithSubject(citation.subject)[0] ?? "");
				if (found === undefined || seen.has(found.sha)) continue;
				seen.add(found.sha);
				if (await isAncestor(cell.kernel.repo, found.sha, cell.kernel.sha)) {
					locations.push({ kind: "contained", commit: found.sha, subject: found.subject });
				} else {
					const containedIn: string[] = [];
					for (const [name, ref] of Object.entries(input.branches(cell.kernel.tree))) {
						if (await isAncestor(cell.kernel.repo, found.sha, ref)) containedIn.push(name);
					}
					locations.push({ kind: "not-contained", commit: found.sha, subject: found.subject, containedIn });
				}
			}
		}
		return locations;
	};

	const verdicts = new Map<string, Map<string, Verdict>>();
	for (const cell of input.cells) {
		const fixes = new Map<string, FixLocation[]>();
		for (const result of cell.results) {
			if (isFailing(result)) fixes.set(testKey(result), await fixesFor(cell, result));
		}
		const perTest = new Map<string, Verdict>();
		for (const result of cell.results) {
			const verdict = classify(
				{
					cell: cell.cell,
					kernel: cell.kernelId,
					result,
					...(result.earlier === undefined ? {} : { attempts: result.earlier.map((r) => r.status) }),
				},
				{
					knownIssues: input.knownIssues,
					fixes: (_c, key) => fixes.get(key) ?? [],
					baseline: (_c, key) => baselineOf(cell, key),
				},
			);
			if (verdict !== undefined) perTest.set(testKey(result), verdict);
		}
		verdicts.set(cell.cell, perTest);
	}
	return verdicts;
}
