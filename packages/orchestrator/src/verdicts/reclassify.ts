import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { RunDirectory, type RunFence, readPlanFile, withRunDirectory } from "../engine/run-dir.js";
import { finalResults, readRunRecord, withVerdicts } from "../engine/run-record.js";
import { resultsDocument, summariseCells } from "../engine/summary.js";
import { type FinalResult, testKey } from "../events/attempts.js";
import { parseUnittestsCfg } from "../kut/unittests-cfg.js";
import { createLoreClient, type LoreAnswer } from "../links/lore.js";
import type { ConfiguredBranch } from "../links/patch-status.js";
import type { Matrix } from "../matrix/types.js";
import { writeAtomically } from "../paths/atomic.js";
import { cachePaths } from "../paths/cache.js";
import { refKey } from "../plan/plan.js";
import { capture } from "../proc/run.js";
import { adoptNamedMirror, repositoryFor } from "../sources/git.js";
import { addParamsEvidence } from "./across-params.js";
import { type BaselineSource, baselineFor, earlierRun, type PreviousRun } from "./baseline.js";
import { type Bisected, CELL_VERDICT_KEY, describeVerdict, type KnownIssue, type Verdict } from "./classify.js";
import { type CellSources, type KernelTree, verdictsForRun } from "./for-run.js";
import { cellRegressions, historyBaseline, verdictsWithHistory } from "./history-verdicts.js";
import { loadKnownIssuesOf } from "./known-issues.js";

/** The parts of plan.json verdicts need: every ref's commit, each cell's kernel and test jobs. */
export interface PlanFile {
	readonly runId: string;
	readonly matrix: string;
	readonly resolved: Readonly<Record<string, string>>;
	readonly cells: readonly {
		readonly id: string;
		readonly kernel: string;
		readonly target: string;
		readonly jobs: { readonly selftests?: string; readonly kut?: string };
	}[];
	readonly jobs: readonly { readonly id: string; readonly tree: string; readonly ref: string; readonly sha?: string }[];
}

export interface PlanVerdictInput {
	readonly matrix: Matrix;
	readonly plan: PlanFile;
	/** Each cell's results as they stand after retries. */
	readonly results: ReadonlyMap<string, readonly FinalResult[]>;
	readonly baseline: BaselineSource;
	readonly knownIssues: readonly KnownIssue[];
	/** The local repository of a tree (a mirror or the user's own clone). */
	readonly repoOf: (tree: string) => string | Promise<string>;
	readonly cacheRoot: string;
	/** An earlier run of the same matrix, whose passes are evidence across kernels. */
	readonly earlier?: PreviousRun;
	readonly lore?: (messageId: string) => Promise<LoreAnswer>;
	readonly onNote?: (line: string) => void;
}

/**
 * Verdicts for a run from what its plan.json records: the same input whether the run has just
 * finished or is classified again later, so both give the same answer for the same histories.
 */
export async function verdictsFromPlan(input: PlanVerdictInput): Promise<Map<string, Map<string, Verdict>>> {
	const { matrix, plan } = input;
	const jobs = new Map(plan.jobs.map((j) => [j.id, j]));
	// The test list as each KUT commit had it (entries map test names to their source files): read
	// once per commit, however many cells ran it.
	const cfgs = new Map<string, Promise<string | undefined>>();
	const cfgAt = (repo: string, sha: string) => {
		let cfg = cfgs.get(sha);
		if (cfg === undefined) {
			cfg = capture("git", ["-C", repo, "show", `${sha}:x86/unittests.cfg`]).catch(() => undefined);
			cfgs.set(sha, cfg);
		}
		return cfg;
	};
	const cells: CellSources[] = [];
	for (const planned of plan.cells) {
		const spec = matrix.kernels.find((k) => k.id === planned.kernel);
		if (spec === undefined) continue;
		const kernelRef = spec.kind === "source" ? { tree: spec.tree, ref: spec.ref } : spec.source;
		const kernelSha = kernelRef === undefined ? undefined : plan.resolved[refKey(kernelRef)];
		const st = planned.jobs.selftests === undefined ? undefined : jobs.get(planned.jobs.selftests);
		const kt = planned.jobs.kut === undefined ? undefined : jobs.get(planned.jobs.kut);
		const kutRepo = kt?.sha === undefined ? undefined : await input.repoOf(kt.tree);
		const kutCfg = kt?.sha === undefined || kutRepo === undefined ? undefined : await cfgAt(kutRepo, kt.sha);
		cells.push({
			cell: planned.id,
			kernelId: spec.id,
			target: planned.target,
			...(kernelRef === undefined || kernelSha === undefined
				? {}
				: { kernel: { tree: kernelRef.tree, repo: await input.repoOf(kernelRef.tree), sha: kernelSha } }),
			...(st?.sha === undefined ? {} : { selftests: { repo: await input.repoOf(st.tree), sha: st.sha } }),
			...(kt?.sha === undefined || kutRepo === undefined || kutCfg === undefined
				? {}
				: { kut: { repo: kutRepo, sha: kt.sha, entries: parseUnittestsCfg(kutCfg).entries } }),
			results: input.results.get(planned.id) ?? [],
		});
	}
	const { kernelTrees, branches } = await kernelTreesOf(matrix, plan.resolved, input.repoOf);
	const verdicts = await verdictsForRun({
		cells,
		baseline: input.baseline,
		knownIssues: input.knownIssues,
		kernelTrees,
		branches,
		cacheRoot: input.cacheRoot,
		...(input.earlier === undefined ? {} : { earlier: input.earlier }),
		...(input.lore === undefined ? {} : { lore: input.lore }),
		...(input.onNote === undefined ? {} : { onNote: input.onNote }),
	});
	return matrix.params === undefined ? verdicts : addParamsEvidence(cells, verdicts);
}

/**
 * The trees fixes are looked for in (every tree a kernel or the selftests come from) and their
 * configured branches, upstream first as the matrix lists them: every ref of those trees the run
 * resolved, at the commit it resolved to.
 */
export async function kernelTreesOf(
	matrix: Matrix,
	resolved: Readonly<Record<string, string>>,
	repoOf: (tree: string) => string | Promise<string>,
): Promise<{ kernelTrees: KernelTree[]; branches: ConfiguredBranch[] }> {
	const names: string[] = [];
	for (const k of matrix.kernels) {
		const ref = k.kind === "source" ? { tree: k.tree } : k.source;
		if (ref !== undefined && !names.includes(ref.tree)) names.push(ref.tree);
	}
	const st = matrix.suites.selftests?.source;
	if (st?.kind === "tree" && !names.includes(st.tree)) names.push(st.tree);
	const kernelTrees: KernelTree[] = [];
	const branches: ConfiguredBranch[] = [];
	for (const tree of names) {
		const repo = await repoOf(tree);
		const refs = Object.entries(resolved).filter(([k]) => k.startsWith(`${tree}@`));
		kernelTrees.push({ tree, repo, refs: refs.map(([, sha]) => sha) });
		for (const [name, sha] of refs) branches.push({ name, tree, repo, ref: sha });
	}
	return { kernelTrees, branches };
}

/** `{ [key]: value }`, or nothing when the value is absent (exact optional properties). */
export const optional = <K extends string, V>(key: K, value: V | undefined) =>
	(value === undefined ? {} : { [key]: value }) as { [P in K]?: V };

/** Lore look-ups when a base URL is given (matrix `lore:` or `--lore`); off otherwise. */
export function loreFor(base: string | undefined, cacheRoot: string) {
	if (base === undefined) return undefined;
	const client = createLoreClient({ base, cacheDir: cachePaths(cacheRoot).lore });
	return (messageId: string) => client.lookUp(messageId);
}

type StoredResult = FinalResult & { verdict?: Verdict; explanation?: string };
interface ResultsFile {
	started: string;
	cells: { id: string; results: StoredResult[]; verdicts?: Record<string, number> }[];
	[key: string]: unknown;
}

/** The matrix file a run was made from, as its plan.json records it. */
export async function runMatrixFile(runDir: string): Promise<string> {
	return readPlanFile(runDir).matrix;
}

/**
 * Classifies a run again from what its directory holds (plan.json: every sha; the journal:
 * every result, even of a run that was killed) and the trees' current histories: a fix merged
 * since, or a new known-issues entry, changes the verdicts without running anything. The new
 * verdicts are journaled and results.json is derived again. A directory from before journals
 * held results is classified from its results.json.
 */
export async function reclassifyRun(
	runDir: string,
	matrix: Matrix,
	cacheRoot: string,
	options: ReclassifyOptions = {},
) {
	// One writer at a time: a classify while the run (or another classify) appends would
	// interleave their journal lines.
	return withRunDirectory(runDir, (fence) => reclassifyHoldingRun(runDir, matrix, cacheRoot, { ...options, fence }));
}

export interface ReclassifyOptions {
	readonly lore?: string;
	readonly onNote?: (line: string) => void;
	/**
	 * The outcome to journal as the run's end once its verdicts are: `ci merge`'s, whose run is
	 * finished only when it has them (results.json is derived after, and says it).
	 */
	readonly finish?: "completed" | "cancelled";
	/** The run lock's fence (`withRunDirectory`): nothing is written once it says the lock is gone. */
	readonly fence?: RunFence;
}

/** `reclassifyRun` for a caller that holds the run directory already (`ci merge`). */
export async function reclassifyHoldingRun(
	runDir: string,
	matrix: Matrix,
	cacheRoot: string,
	options: ReclassifyOptions = {},
) {
	const plan = readPlanFile(runDir);
	const resultsPath = path.join(runDir, "results.json");
	const journal = path.join(runDir, "journal.jsonl");
	const record = existsSync(journal) ? readRunRecord(journal) : undefined;
	// Journals from before a run was its journal (no matrix digest) lack notes, evidence and
	// builds: such a run is classified from its results.json, as it was then.
	const stored =
		record === undefined || record.matrixDigest === undefined
			? (JSON.parse(await readFile(resultsPath, "utf8")) as ResultsFile)
			: undefined;
	const strip = ({ verdict: _v, explanation: _e, ...r }: StoredResult): FinalResult => r;
	const started = stored?.started ?? record?.started ?? new Date().toISOString();
	const results =
		stored === undefined
			? new Map(plan.cells.map((c) => [c.id, finalResults(record?.byCell.get(c.id))] as const))
			: new Map(stored.cells.map((c) => [c.id, c.results.map(strip)] as const));
	const cache = cachePaths(cacheRoot);
	const earlier = earlierRun(matrix, runDir, started);
	const fromPlan = await verdictsFromPlan({
		matrix,
		plan,
		results,
		baseline:
			matrix.baseline?.kind === "history"
				? historyBaseline(
						runDir,
						cacheRoot,
						matrix.name,
						plan.cells.map((c) => c.id),
						started,
						(cell, line) => options.onNote?.(`${cell}: ${line}`),
					)
				: baselineFor(matrix, earlier),
		...optional("earlier", earlier),
		...optional("lore", loreFor(options.lore ?? matrix.lore, cacheRoot)),
		...optional("onNote", options.onNote),
		knownIssues: await loadKnownIssuesOf(matrix),
		repoOf: async (tree) => {
			const source = matrix.trees.get(tree);
			if (source === undefined) throw new Error(`the matrix has no tree ${tree}`);
			await adoptNamedMirror(source, cache.mirrors);
			return repositoryFor(source, cache.mirrors);
		},
		cacheRoot,
	});
	const verdicts = verdictsWithHistory(runDir, cacheRoot, fromPlan, results, (cell, line) =>
		options.onNote?.(`${cell}: ${line}`),
	);
	const baselineKernel = matrix.baseline?.kind === "kernel" ? matrix.baseline.kernelId : undefined;
	for (const [cell, verdict] of cellRegressions(runDir, cacheRoot, baselineKernel, (c, line) =>
		options.onNote?.(`${c}: ${line}`),
	)) {
		const perTest = verdicts.get(cell) ?? new Map<string, Verdict>();
		perTest.set(CELL_VERDICT_KEY, verdict);
		verdicts.set(cell, perTest);
	}
	if (record !== undefined && stored === undefined) {
		const dir = RunDirectory.existing(runDir);
		if (options.fence !== undefined) dir.fencedBy(options.fence);
		for (const [cell, perTest] of verdicts) dir.append({ type: "verdicts", cell, verdicts: [...perTest] });
		if (options.finish !== undefined) dir.append({ type: "run-finished", outcome: options.finish });
		const classified = withVerdicts(record, verdicts);
		const again = options.finish === undefined ? classified : { ...classified, outcome: options.finish };
		const cells = summariseCells(
			plan.cells.map((c) => {
				const sha = kernelShaOf(matrix, plan, c.kernel);
				return { id: c.id, kernel: c.kernel, target: c.target, ...(sha === undefined ? {} : { sha }) };
			}),
			again,
		);
		const head = { runId: plan.runId, matrix: matrix.name, started, finished: new Date().toISOString() };
		// Whole or not at all: a reader (a later run's baseline) never sees half of it.
		dir.write("results.json", resultsDocument(head, again.outcome ?? "cancelled", cells));
		return { resultsPath, cells };
	}
	const document = stored as ResultsFile;
	for (const cell of document.cells) {
		const perTest = verdicts.get(cell.id);
		const counts: Record<string, number> = {};
		cell.results = cell.results.map((result) => {
			const r = strip(result);
			const verdict = perTest?.get(testKey(r));
			if (verdict === undefined) return r;
			counts[verdict.verdict] = (counts[verdict.verdict] ?? 0) + 1;
			return { ...r, verdict, explanation: describeVerdict(verdict, testKey(r)) };
		});
		cell.verdicts = counts;
	}
	if (options.fence?.stillHeld() !== false)
		await writeAtomically(resultsPath, `${JSON.stringify(document, null, 2)}\n`);
	return { resultsPath, cells: document.cells };
}

/** A planned cell's kernel commit, as the run resolved it. */
function kernelShaOf(matrix: Matrix, plan: PlanFile, kernelId: string): string | undefined {
	const spec = matrix.kernels.find((k) => k.id === kernelId);
	const ref =
		spec === undefined ? undefined : spec.kind === "source" ? { tree: spec.tree, ref: spec.ref } : spec.source;
	return ref === undefined ? undefined : plan.resolved[refKey(ref)];
}

/**
 * Puts what `--bisect-regressions` found into a finished run: each bisected regression's verdict
 * gains its first bad commit, journaled as the cell's verdicts again (the last record wins), and
 * results.json is derived again from the journal.
 */
export async function recordBisections(
	runDir: string,
	matrix: Matrix,
	found: ReadonlyMap<string, ReadonlyMap<string, Bisected>>,
): Promise<void> {
	if (found.size === 0) return;
	await withRunDirectory(runDir, async (fence) => {
		const plan = readPlanFile(runDir);
		const record = readRunRecord(path.join(runDir, "journal.jsonl"));
		const dir = RunDirectory.existing(runDir);
		dir.fencedBy(fence);
		const verdicts = new Map<string, Map<string, Verdict>>();
		for (const [cell, tests] of found) {
			const perTest = new Map(record.byCell.get(cell)?.verdicts ?? []);
			for (const [test, bisected] of tests) {
				const v = perTest.get(test);
				if (v?.verdict !== "regression") continue;
				perTest.set(test, { ...v, evidence: { ...v.evidence, bisected } });
			}
			verdicts.set(cell, perTest);
			dir.append({ type: "verdicts", cell, verdicts: [...perTest] });
		}
		const again = withVerdicts(record, verdicts);
		const cells = summariseCells(
			plan.cells.map((c) => {
				const sha = kernelShaOf(matrix, plan, c.kernel);
				return { id: c.id, kernel: c.kernel, target: c.target, ...(sha === undefined ? {} : { sha }) };
			}),
			again,
		);
		const head = {
			runId: plan.runId,
			matrix: matrix.name,
			started: record.started ?? new Date().toISOString(),
			finished: new Date().toISOString(),
		};
		dir.write("results.json", resultsDocument(head, again.outcome ?? "cancelled", cells));
	});
}
