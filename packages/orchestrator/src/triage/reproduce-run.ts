// The edges of `triage --reproduce`: the engine runs the reproduction (its run directory and
// journal are the record), git says how the kernels relate, and `--bisect` runs a bisection on the
// range the evidence found. The answer is then written into the run directory beside the journal.
import path from "node:path";
import { BisectCancelled, BisectError, type BisectOutcome, runBisect, startBisect } from "../bisect/bisect.js";
import { executeRun } from "../engine/run.js";
import { RunSetupError } from "../engine/setup-error.js";
import { testKey } from "../events/attempts.js";
import type { EventBus } from "../events/bus.js";
import type { EngineEvent } from "../events/types.js";
import { GitFactError, HistoryAnswers } from "../links/ancestry.js";
import { type KernelPoint, patchStatusIn } from "../links/patch-status.js";
import { type Patch, patchesOf } from "../links/patches.js";
import type { Matrix, Target } from "../matrix/types.js";
import { writeAtomically } from "../paths/atomic.js";
import { CancelledError } from "../proc/run.js";
import { resolveRef } from "../sources/git.js";
import { relate } from "../verdicts/across.js";
import { indexTrees } from "../verdicts/for-run.js";
import { classifyForeignResults, type ForeignClassified } from "../verdicts/foreign.js";
import type { TreeRepos } from "./kernel.js";
import {
	type BisectRange,
	bisectRange,
	type ReproduceKernel,
	reproduceKernels,
	reproduceMatrix,
	type Tally,
	type TallyOutcome,
	tallyOutcome,
	tallyResult,
	tallyRuns,
	tallyWords,
} from "./reproduce.js";
import type { TriageAnswer } from "./triage.js";
import { TriageError } from "./types.js";

export interface ReproduceOptions {
	/** How many times each test runs on each kernel (3 by default). */
	readonly runs: number;
	/** The matrix target to run on; the first that boots a kernel when omitted. */
	readonly target?: string;
	/** The run directory; `runs/<time>-<matrix>-triage` under `cwd` when omitted. */
	readonly runDir?: string;
	readonly cwd: string;
	/** Bisect the range the evidence found, for each test that has one. */
	readonly bisect: boolean;
	readonly bus: EventBus<EngineEvent>;
	readonly signal?: AbortSignal;
	/** Called when the run has ended, before anything else: the live views finish here. */
	readonly onRunEnd?: () => Promise<void>;
	/** A line for each bisection step, for people (the run's own progress goes through `bus`). */
	readonly onBisectLine?: (line: string) => void;
}

export interface ReproducedTest {
	/** `kut:xapic` */
	readonly test: string;
	/** What it did on the reporter's kernel: `fails` is reproduced. */
	readonly reproduced: TallyOutcome;
	readonly tallies: readonly (Tally & { readonly outcome: TallyOutcome; readonly words: string })[];
	/**
	 * Its verdict on each kernel where it did not pass every run, the reporter's first. A
	 * `pending-fix` on a kernel known only approximately carries the same caveat as the static one.
	 */
	readonly verdicts: readonly (ForeignClassified & { readonly caveat?: string })[];
	readonly bisect?:
		| {
				readonly dir: string;
				readonly mode: BisectRange["mode"];
				readonly outcome: BisectOutcome;
				/** The reproduction's kernels that have the commit found, and those that do not. */
				readonly in: readonly string[];
				readonly notIn: readonly string[];
		  }
		| { readonly skipped: string };
}

export interface Reproduction {
	/** Cancelled (Ctrl-C): what finished is classified; what did not is said not to have run. */
	readonly cancelled: boolean;
	readonly runDir: string;
	readonly runs: number;
	readonly target: string;
	readonly kernels: readonly ReproduceKernel[];
	readonly tests: readonly ReproducedTest[];
}

const errorLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
const slug = (test: string) => test.replaceAll(/[^A-Za-z0-9_.-]+/g, "-");

/** The target a reproduction boots on: `--target`, else the matrix's first that boots a kernel. */
export function reproduceTarget(matrix: Matrix, name: string | undefined): Target {
	const booting = matrix.targets.filter((t) => !t.host);
	const target = booting.find((t) => t.name === (name ?? booting[0]?.name));
	if (target === undefined)
		throw new TriageError(
			name === undefined || booting.length === 0
				? "--reproduce needs a target that boots a kernel, and the matrix has none"
				: `--target ${name}: no such target that boots a kernel (${booting.map((t) => t.name).join(", ")})`,
		);
	return target;
}

/** The suites the tests need and the matrix does not run, refused before anything is built. */
function checkSuites(matrix: Matrix, tests: readonly { suite: "kut" | "selftests" }[]): void {
	for (const suite of ["selftests", "kut"] as const)
		if (tests.some((t) => t.suite === suite) && matrix.suites[suite] === undefined)
			throw new TriageError(
				`--reproduce: the report's failing tests include ${suite === "kut" ? "kvm-unit-tests" : "KVM selftests"}, and the matrix runs no ${suite} suite`,
			);
}

/** Runs the answer's tests on its kernel and the configured branches, and classifies what they did. */
export async function reproduce(
	matrix: Matrix,
	answer: TriageAnswer,
	trees: TreeRepos,
	cacheRoot: string,
	options: ReproduceOptions & { readonly lore?: string },
): Promise<Reproduction> {
	const target = reproduceTarget(matrix, options.target);
	checkSuites(matrix, answer.tests);
	const configured: Omit<ReproduceKernel, "role">[] = [];
	for (const k of matrix.kernels) {
		if (k.kind !== "source") continue;
		const repo = trees.get(k.tree)?.repo;
		if (repo === undefined) continue;
		const sha = await resolveRef(repo, k.tree, k.ref).catch((error: unknown) => {
			throw new TriageError(`${k.id}: ${errorLine(error)}`);
		});
		configured.push({ id: `${k.tree}@${k.ref}`, tree: k.tree, ref: k.ref, sha, config: k.config });
	}
	const { kernel } = answer;
	const kernels = reproduceKernels({ tree: kernel.tree, ref: kernel.ref, sha: kernel.sha }, configured);
	const tests = answer.tests.map((t) => ({ suite: t.suite, testId: t.testId }));
	let reproduction: Matrix;
	try {
		reproduction = reproduceMatrix(matrix, kernels, tests, target, options.runs);
	} catch (error) {
		throw new TriageError(errorLine(error));
	}
	let summary: Awaited<ReturnType<typeof executeRun>>;
	try {
		summary = await executeRun(reproduction, {
			cacheRoot,
			cwd: options.cwd,
			bus: options.bus,
			...(options.runDir === undefined ? {} : { runDir: options.runDir }),
			...(options.signal === undefined ? {} : { signal: options.signal }),
			...(options.lore === undefined ? {} : { lore: options.lore }),
		});
	} catch (error) {
		// The engine's words are `run`'s: triage names its run directory --dir.
		if (error instanceof RunSetupError) throw new TriageError(error.message.replaceAll("--run-dir", "--dir"));
		throw error;
	}
	await options.onRunEnd?.();
	// A cancelled run is classified as far as it went: its cells that did not end are `not run`.
	let cancelled = summary.outcome === "cancelled";
	const tallies = tallyRuns(summary, kernels, tests, target.name, options.runs);
	const repos = new Map([...trees].map(([name, t]) => [name, t.repo]));
	const verdicts = await classifyForeignResults({
		matrix,
		results: kernels.map((k) => ({
			kernel: k.id,
			// The commit that was built and run, even if the branch has moved since.
			sha: k.sha,
			results: tests.map((t) => {
				const tally = tallies.get(testKey(t))?.find((x) => x.kernel === k.id);
				return tallyResult(t.suite, t.testId, tally ?? { ...k, kernel: k.id, statuses: [], notRun: [] });
			}),
		})),
		cacheRoot,
		repos,
		...(options.lore === undefined ? {} : { lore: options.lore }),
	}).catch((error: unknown) => {
		throw new TriageError(errorLine(error));
	});
	const caveat = `the reporter's kernel is not known exactly (${kernel.how}); it may hold the fix`;
	const points = new Map(
		kernels.map((k) => [k.id, { tree: k.tree, repo: trees.get(k.tree)?.repo ?? "", sha: k.sha } satisfies KernelPoint]),
	);
	const out: ReproducedTest[] = [];
	for (const t of tests) {
		const key = testKey(t);
		const mine = tallies.get(key) ?? [];
		const reported = mine.find((x) => x.role === "reported");
		const entry: ReproducedTest = {
			test: key,
			reproduced: reported === undefined ? "not-run" : tallyOutcome(reported),
			tallies: mine.map((x) => ({ ...x, outcome: tallyOutcome(x), words: tallyWords(x) })),
			verdicts: kernels.flatMap((k) =>
				verdicts
					.filter((v) => v.test === key && v.kernel === k.id)
					.map((v) =>
						k.role === "reported" && kernel.approximate && v.verdict === "pending-fix" ? { ...v, caveat } : v,
					),
			),
		};
		if (!options.bisect) {
			out.push(entry);
			continue;
		}
		if (cancelled) {
			out.push({ ...entry, bisect: { skipped: "not bisected: the reproduction was cancelled" } });
			continue;
		}
		const bisect = await bisectOne(matrix, key, mine, {
			points,
			target: target.name,
			dir: path.join(summary.dir, `bisect-${slug(key)}`),
			cacheRoot,
			options,
		});
		if ("cancelled" in bisect) cancelled = true;
		out.push({ ...entry, bisect: "cancelled" in bisect ? { skipped: bisect.cancelled } : bisect });
	}
	return { cancelled, runDir: summary.dir, runs: options.runs, target: target.name, kernels, tests: out };
}

/** Where a bisection of one test works: the kernels' trees, the run's target, its own directory in the run's. */
interface BisectPlace {
	readonly points: ReadonlyMap<string, KernelPoint>;
	readonly target: string;
	readonly dir: string;
	readonly cacheRoot: string;
	readonly options: ReproduceOptions;
}

/** How `to` relates to `from` by git, in whichever repository holds both (none: undefined). */
async function relationOf(from: KernelPoint, to: KernelPoint) {
	const r = await relate(from, to);
	return r.kind === "descendant" || r.kind === "ancestor" ? { kind: r.kind, count: r.count } : undefined;
}

async function bisectOne(
	matrix: Matrix,
	test: string,
	tallies: readonly Tally[],
	place: BisectPlace,
): Promise<NonNullable<ReproducedTest["bisect"]> | { readonly cancelled: string }> {
	const { points, target, dir, cacheRoot, options } = place;
	const point = (t: Tally) => points.get(t.kernel) ?? { tree: "", repo: "", sha: t.sha };
	const bySha = new Map(tallies.map((t) => [t.sha, point(t)]));
	const range = await bisectRange(tallies, (from, to) =>
		relationOf(bySha.get(from) ?? { tree: "", repo: "", sha: from }, bySha.get(to) ?? { tree: "", repo: "", sha: to }),
	);
	if ("none" in range) return { skipped: `nothing to bisect: ${range.none}` };
	const [old, now] = range.mode === "fixed" ? [range.broken, range.fixedAt] : [range.good, range.bad];
	// The tree to bisect in holds both ends: the newer end's (a kvm-x86 branch has v6.1 in it, the
	// kvm mirror may not have kvm-x86's commits), and the older end's when the trees are one.
	const tree = point(now).tree;
	const say = options.onBisectLine ?? (() => {});
	const words = range.mode === "fixed" ? { old: "broken", new: "fixed" } : { old: "good", new: "bad" };
	const resume = `continue with kvm-matrix bisect --resume ${dir}`;
	try {
		await startBisect({ matrix, mode: range.mode, tree, test, old: old.sha, new: now.sha, target, dir, cacheRoot });
		say(
			`bisecting ${test} in ${tree}: ${words.old} ${old.kernel} (${old.sha.slice(0, 12)}), ${words.new} ${now.kernel} (${now.sha.slice(0, 12)}), ${range.count} commits; state in ${dir}`,
		);
		const outcome = await runBisect(dir, matrix, cacheRoot, {
			...(options.signal === undefined ? {} : { signal: options.signal }),
			onTesting: (sha, index, remaining) =>
				say(`bisect ${test} step ${index}: testing ${sha.slice(0, 12)} (${remaining} commits left)`),
			onStep: (step, index) =>
				say(
					`bisect ${test} ${step.end === undefined ? `step ${index}` : `${words[step.end]} end`}: ${step.sha.slice(0, 12)} ${step.seen}: ${step.verdict === "skip" ? "skipped" : words[step.verdict]}`,
				),
		});
		const found = outcome.result.kind === "found" ? outcome.result.commit : undefined;
		// Where the commit found is, by the one decision verdicts use: its backports count.
		const patch = found === undefined ? undefined : await bisectedPatch(found, tree, points, cacheRoot);
		const git = new HistoryAnswers();
		const has = await Promise.all(
			[...points].map(async ([id, p]) => ({
				id,
				has: patch !== undefined && (await patchStatusIn(patch, p, git)).kind === "contained",
			})),
		);
		return {
			dir,
			mode: range.mode,
			outcome,
			in: has.filter((h) => h.has).map((h) => h.id),
			notIn: found === undefined ? [] : has.filter((h) => !h.has).map((h) => h.id),
		};
	} catch (error) {
		if (error instanceof BisectCancelled || error instanceof CancelledError)
			return { cancelled: `the bisection was cancelled; ${resume}` };
		if (error instanceof BisectError || error instanceof RunSetupError || error instanceof GitFactError)
			return { skipped: `the bisection stopped: ${errorLine(error)}` };
		throw error;
	}
}

/** The commit a bisection found as a patch: itself and its backports in the kernels' trees. */
async function bisectedPatch(
	commit: { readonly sha: string; readonly subject: string },
	tree: string,
	points: ReadonlyMap<string, KernelPoint>,
	cacheRoot: string,
): Promise<Patch> {
	const byTree = new Map<string, { repo: string; refs: string[] }>();
	for (const p of points.values()) {
		const t = byTree.get(p.tree) ?? { repo: p.repo, refs: [] };
		t.refs.push(p.sha);
		byTree.set(p.tree, t);
	}
	const trees = await indexTrees(
		[...byTree].map(([name, t]) => ({ tree: name, repo: t.repo, refs: t.refs })),
		cacheRoot,
	);
	const own = { tree, sha: commit.sha, subject: commit.subject };
	return (
		patchesOf([own], { kind: "one-patch" }, trees)[0] ?? { key: commit.sha, subject: commit.subject, commits: [own] }
	);
}

/** The answer beside the run's journal: what a later reader of the run directory looks for first. */
export async function keepAnswer(dir: string, json: unknown, markdown: string): Promise<void> {
	await writeAtomically(path.join(dir, "triage.json"), `${JSON.stringify(json, null, 2)}\n`);
	await writeAtomically(path.join(dir, "triage.md"), markdown);
}
