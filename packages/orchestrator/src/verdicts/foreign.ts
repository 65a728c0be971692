/**
 * Verdicts for results produced elsewhere: a bug report's `run_tests.sh` output, a KUT log
 * directory, kselftest TAP, another run's results.json — each for a kernel named as `tree@ref`
 * (or `tree@sha`) of the matrix's trees. The same classification as a run's, with the other
 * kernels' results as the evidence across kernels (the static half of triage).
 */
import { type FinalResult, testKey } from "../events/attempts.js";
import { parseUnittestsCfg } from "../kut/unittests-cfg.js";
import type { Matrix } from "../matrix/types.js";
import { cachePaths } from "../paths/cache.js";
import { refKey } from "../plan/plan.js";
import { capture } from "../proc/run.js";
import { type ForeignResults, readForeignResults } from "../results/foreign.js";
import { SELFTESTS_DIR } from "../selftests/build.js";
import { resolveRef, SourceError, syncTree } from "../sources/git.js";
import type { BaselineSource } from "./baseline.js";
import { describeVerdict, type Verdict } from "./classify.js";
import { type CellSources, verdictsForRun } from "./for-run.js";
import { loadKnownIssuesOf } from "./known-issues.js";
import { kernelTreesOf, loreFor } from "./reclassify.js";

/** Bad input: an unknown kernel, a file that holds no results. One line, for the user. */
export class ForeignResultsError extends Error {
	override readonly name = "ForeignResultsError";
}

export interface ForeignClassified {
	readonly kernel: string;
	/** `kut:vmx`, `selftests:x86_64/cpuid_test`. */
	readonly test: string;
	readonly status: FinalResult["status"];
	readonly verdict: Verdict["verdict"];
	/** The one-line evidence, as the human output prints it after the verdict. */
	readonly evidence: string;
	/** The evidence as data. */
	readonly details: Verdict["evidence"];
}

const TARGET = "results";

/**
 * One kernel's results: a kvm-matrix results.json may hold several cells, and then only the cell
 * of this kernel (by its id, `kernel/target`) is taken; which one must be unambiguous.
 */
function resultsFor(kernel: string, file: string, read: ForeignResults): FinalResult[] {
	const cells = read.cells ?? [];
	if (cells.length <= 1) return read.results;
	const mine = cells.filter((c) => c.startsWith(`${kernel}/`));
	if (mine.length !== 1)
		throw new ForeignResultsError(
			`${file}: holds cells ${cells.join(", ")}; ${mine.length === 0 ? `none is ${kernel}'s` : `several are ${kernel}'s`}`,
		);
	return read.results.filter((r) => r.cell === mine[0]);
}

/** Every selftest of a tree at a commit, as `x86_64/cpuid_test`: each `.c` under the selftests directory. */
export async function selftestIds(repo: string, sha: string): Promise<readonly string[]> {
	const out = await capture("git", ["-C", repo, "ls-tree", "-r", "--name-only", sha, "--", `${SELFTESTS_DIR}/`]).catch(
		() => "",
	);
	return out
		.split("\n")
		.filter((f) => f.endsWith(".c") && !/\/(lib|include)\//.test(f.slice(SELFTESTS_DIR.length)))
		.map((f) => f.slice(SELFTESTS_DIR.length + 1, -2));
}

/**
 * The runner of 6.1 and older prints a test by its basename (`cpuid_test`); the tree says which
 * directory it is in. An ambiguous or unknown name stays as printed.
 */
function fullSelftestId(id: string, ids: readonly string[]): string {
	if (id.includes("/") || ids.includes(id)) return id;
	const found = ids.filter((full) => full.endsWith(`/${id}`));
	return found.length === 1 ? (found[0] ?? id) : id;
}

/** `tree@ref` → the tree and ref, checked against the matrix. */
function parseKernel(spec: string, matrix: Matrix): { tree: string; ref: string } {
	const at = spec.indexOf("@");
	const tree = at <= 0 ? "" : spec.slice(0, at);
	const ref = at <= 0 ? "" : spec.slice(at + 1);
	if (tree === "" || ref === "") throw new ForeignResultsError(`${spec}: not a kernel; expected TREE@REF or TREE@SHA`);
	if (!matrix.trees.has(tree))
		throw new ForeignResultsError(
			`${spec}: unknown kernel: the matrix has no tree ${tree} (it has ${[...matrix.trees.keys()].join(", ")})`,
		);
	return { tree, ref };
}

/**
 * Classifies every failure of every `--results KERNEL=FILE`. Results are read and kernels
 * resolved before anything is classified, so bad input fails in one line and costs nothing.
 */
/** One kernel's results: a file to read them from, or results already read (a bug report's). */
export type ForeignInput =
	| { readonly kernel: string; readonly file: string }
	| {
			readonly kernel: string;
			readonly results: readonly FinalResult[];
			/** The commit the results are of, when known (a reproduction's), rather than where the ref is now. */
			readonly sha?: string;
	  };

export async function classifyForeignResults(options: {
	readonly matrix: Matrix;
	readonly results: readonly ForeignInput[];
	readonly cacheRoot: string;
	readonly lore?: string;
	/** Trees the caller has already synced (name → repository): not fetched again. */
	readonly repos?: ReadonlyMap<string, string>;
}): Promise<ForeignClassified[]> {
	const { matrix } = options;
	const cache = cachePaths(options.cacheRoot);
	const repos = new Map<string, Promise<string>>();
	const repoOf = (tree: string) => {
		const source = matrix.trees.get(tree);
		if (source === undefined) throw new ForeignResultsError(`the matrix has no tree ${tree}`);
		let repo = repos.get(tree);
		const synced = options.repos?.get(tree);
		if (repo === undefined && synced !== undefined) {
			repo = Promise.resolve(synced);
			repos.set(tree, repo);
		}
		if (repo === undefined) {
			repo = syncTree(source, cache.mirrors);
			repos.set(tree, repo);
		}
		return repo;
	};
	const resolve = async (tree: string, ref: string) => {
		try {
			return await resolveRef(await repoOf(tree), tree, ref);
		} catch (error) {
			if (error instanceof SourceError)
				throw new ForeignResultsError(`${tree}@${ref}: unknown kernel: ${error.message}`);
			throw error;
		}
	};

	const given: { id: string; tree: string; sha: string; results: FinalResult[] }[] = [];
	for (const input of options.results) {
		const { tree, ref } = parseKernel(input.kernel, matrix);
		const id = `${tree}@${ref}`;
		let results: FinalResult[];
		if ("file" in input) {
			const read = await readForeignResults(input.file);
			if ("error" in read) throw new ForeignResultsError(read.error);
			results = resultsFor(id, input.file, read);
		} else results = [...input.results];
		const pinned = "sha" in input ? input.sha : undefined;
		given.push({ id, tree, sha: pinned ?? (await resolve(tree, ref)), results });
	}
	const ids = given.map((g) => g.id);
	const twice = ids.find((id, i) => ids.indexOf(id) !== i);
	if (twice !== undefined) throw new ForeignResultsError(`${twice}: results given twice for one kernel`);

	// The configured branches in the matrix's order (upstream first), then the kernels given here
	// that it does not name. A kernel given at a commit is that commit, also as a configured branch.
	const resolved: Record<string, string> = {};
	const pinned = new Map(given.map((g) => [g.id, g.sha]));
	for (const k of matrix.kernels) {
		const ref = k.kind === "source" ? { tree: k.tree, ref: k.ref } : k.source;
		if (ref === undefined) continue;
		const key = refKey(ref);
		resolved[key] ??= pinned.get(key) ?? (await resolve(ref.tree, ref.ref));
	}
	for (const g of given) resolved[g.id] ??= g.sha;
	const { kernelTrees, branches } = await kernelTreesOf(matrix, resolved, repoOf);
	for (const g of given)
		if (!kernelTrees.some((t) => t.tree === g.tree)) {
			const repo = await repoOf(g.tree);
			kernelTrees.push({ tree: g.tree, repo, refs: [g.sha] });
			branches.push({ name: g.id, tree: g.tree, repo, ref: g.sha });
		}

	const kut = matrix.suites.kut;
	const kutHome =
		kut === undefined
			? undefined
			: await (async () => {
					const repo = await repoOf(kut.tree);
					const sha = await resolve(kut.tree, kut.ref);
					const cfg = await capture("git", ["-C", repo, "show", `${sha}:x86/unittests.cfg`]).catch(() => "");
					return { repo, sha, entries: parseUnittestsCfg(cfg).entries };
				})();
	const st = matrix.suites.selftests?.source;
	const cells: CellSources[] = [];
	for (const g of given) {
		const repo = await repoOf(g.tree);
		const selftests =
			st?.kind === "tree" ? { repo: await repoOf(st.tree), sha: await resolve(st.tree, st.ref) } : { repo, sha: g.sha };
		const ids = await selftestIds(selftests.repo, selftests.sha);
		cells.push({
			cell: `${g.id}/${TARGET}`,
			kernelId: g.id,
			target: TARGET,
			kernel: { tree: g.tree, repo, sha: g.sha },
			selftests,
			...(kutHome === undefined ? {} : { kut: kutHome }),
			results: g.results.map((r) => (r.suite === "selftests" ? { ...r, testId: fullSelftestId(r.testId, ids) } : r)),
		});
	}
	const baseline: BaselineSource =
		matrix.baseline?.kind === "kernel" ? { kind: "kernel", kernelId: matrix.baseline.kernelId } : { kind: "none" };
	const lore = loreFor(options.lore ?? matrix.lore, options.cacheRoot);
	const verdicts = await verdictsForRun({
		cells,
		baseline,
		knownIssues: await loadKnownIssuesOf(matrix),
		kernelTrees,
		branches,
		cacheRoot: options.cacheRoot,
		...(lore === undefined ? {} : { lore }),
	});
	const out: ForeignClassified[] = [];
	for (const cell of cells) {
		for (const r of cell.results) {
			const v = verdicts.get(cell.cell)?.get(testKey(r));
			if (v === undefined) continue;
			const line = describeVerdict(v, testKey(r));
			out.push({
				kernel: cell.kernelId,
				test: testKey(r),
				status: r.status,
				verdict: v.verdict,
				evidence: line.startsWith(`${v.verdict}: `) ? line.slice(v.verdict.length + 2) : "",
				details: v.evidence,
			});
		}
	}
	return out;
}
