import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { TestResult } from "../events/types.js";
import { parseUnittestsCfg } from "../kut/unittests-cfg.js";
import type { Matrix } from "../matrix/types.js";
import { cachePaths } from "../paths/cache.js";
import { refKey } from "../plan/plan.js";
import { capture } from "../proc/run.js";
import { repositoryFor } from "../sources/git.js";
import { describeVerdict, type KnownIssue, testKey, type Verdict } from "./classify.js";
import { type CellSources, verdictsForRun } from "./for-run.js";
import { loadKnownIssues } from "./known-issues.js";

interface PlanFile {
	readonly matrix: string;
	readonly resolved: Record<string, string>;
	readonly cells: readonly { id: string; kernel: string; target: string; jobs: { selftests?: string; kut?: string } }[];
	readonly jobs: readonly { id: string; tree: string; ref: string; sha?: string }[];
}

type StoredResult = TestResult & { verdict?: Verdict; explanation?: string };
interface ResultsFile {
	cells: { id: string; results: StoredResult[]; verdicts?: Record<string, number> }[];
	[key: string]: unknown;
}

/** The matrix file a run was made from, as its plan.json records it. */
export async function runMatrixFile(runDir: string): Promise<string> {
	return (JSON.parse(await readFile(path.join(runDir, "plan.json"), "utf8")) as PlanFile).matrix;
}

/**
 * Classifies a finished run again from what its directory holds (plan.json: every sha;
 * results.json: every result) and the trees' current histories: a fix merged since, or a new
 * known-issues entry, changes the verdicts without running anything. Rewrites results.json.
 */
export async function reclassifyRun(runDir: string, matrix: Matrix, cacheRoot: string) {
	const plan = JSON.parse(await readFile(path.join(runDir, "plan.json"), "utf8")) as PlanFile;
	const resultsPath = path.join(runDir, "results.json");
	const results = JSON.parse(await readFile(resultsPath, "utf8")) as ResultsFile;
	const cache = cachePaths(cacheRoot);
	const repoOf = (tree: string) => {
		const source = matrix.trees.get(tree);
		if (source === undefined) throw new Error(`the matrix has no tree ${tree}`);
		return repositoryFor(source, cache.mirrors);
	};
	const jobs = new Map(plan.jobs.map((j) => [j.id, j]));
	let knownIssues: KnownIssue[] = [];
	if (matrix.knownIssues !== undefined) {
		const loaded = await loadKnownIssues(matrix.knownIssues);
		if (loaded.problems.length > 0) throw new Error(loaded.problems[0]);
		knownIssues = loaded.issues;
	}
	const cells: CellSources[] = [];
	for (const stored of results.cells) {
		const planned = plan.cells.find((c) => c.id === stored.id);
		const spec = matrix.kernels.find((k) => k.id === planned?.kernel);
		if (planned === undefined || spec === undefined) continue;
		const kernelRef = spec.kind === "source" ? { tree: spec.tree, ref: spec.ref } : spec.source;
		const kernelSha = kernelRef === undefined ? undefined : plan.resolved[refKey(kernelRef)];
		const st = planned.jobs.selftests === undefined ? undefined : jobs.get(planned.jobs.selftests);
		const kt = planned.jobs.kut === undefined ? undefined : jobs.get(planned.jobs.kut);
		const kutCfg =
			kt?.sha === undefined
				? undefined
				: await capture("git", ["-C", repoOf(kt.tree), "show", `${kt.sha}:x86/unittests.cfg`]).catch(() => undefined);
		cells.push({
			cell: stored.id,
			kernelId: spec.id,
			target: planned.target,
			...(kernelRef === undefined || kernelSha === undefined
				? {}
				: { kernel: { tree: kernelRef.tree, repo: repoOf(kernelRef.tree), sha: kernelSha } }),
			...(st?.sha === undefined ? {} : { selftests: { repo: repoOf(st.tree), sha: st.sha } }),
			...(kt?.sha === undefined || kutCfg === undefined
				? {}
				: { kut: { repo: repoOf(kt.tree), sha: kt.sha, entries: parseUnittestsCfg(kutCfg).entries } }),
			results: stored.results.map(({ verdict: _v, explanation: _e, ...r }) => r),
		});
	}
	const verdicts = await verdictsForRun({
		cells,
		...(matrix.baseline?.kind === "kernel" ? { baselineKernel: matrix.baseline.kernelId } : {}),
		knownIssues,
		branches: (tree) =>
			Object.fromEntries(
				Object.keys(plan.resolved)
					.filter((k) => k.startsWith(`${tree}@`))
					.map((k) => [k, k.slice(tree.length + 1)]),
			),
		linkCacheDir: path.join(cache.root, "links"),
	});
	for (const stored of results.cells) {
		const perTest = verdicts.get(stored.id);
		const counts: Record<string, number> = {};
		stored.results = stored.results.map(({ verdict: _v, explanation: _e, ...r }) => {
			const verdict = perTest?.get(testKey(r));
			if (verdict === undefined) return r;
			counts[verdict.verdict] = (counts[verdict.verdict] ?? 0) + 1;
			return { ...r, verdict, explanation: describeVerdict(verdict) };
		});
		stored.verdicts = counts;
	}
	await writeFile(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
	return { resultsPath, cells: results.cells };
}
