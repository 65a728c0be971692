// `--bisect-regressions`: after a run, every new regression whose good and bad kernels are one
// an ancestor of the other in one tree is bisected as `kvm-matrix bisect` does (cached builds,
// a failing step retried, an unbuildable one skipped), and its first bad commit goes into the
// verdict's evidence. Regressions of one range share a bisection where they agree: once one
// test's first bad commit C is known, another test of the range is checked at C's parent and C
// alone (two steps, usually cache hits) before a bisection of its own is started.
import path from "node:path";
import { createEventBus } from "../events/bus.js";
import type { EngineEvent } from "../events/types.js";
import type { Matrix } from "../matrix/types.js";
import { readRunView } from "../reports/run-view.js";
import type { Bisected, Verdict } from "../verdicts/classify.js";
import { BisectCancelled, BisectError, type BisectOutcome, readBisect, runBisect, startBisect } from "./bisect.js";

/** One regression a bisection can take: a test in a cell, between two commits of one tree. */
export interface BisectCandidate {
	readonly cell: string;
	readonly test: string;
	readonly tree: string;
	readonly target: string;
	readonly good: string;
	readonly bad: string;
}

export interface RegressionBisections {
	/** By cell, then test key: what was found, or why nothing was. */
	readonly found: ReadonlyMap<string, ReadonlyMap<string, Bisected>>;
	/** Kernel builds the bisections made (cache hits are free). */
	readonly builds: number;
	/** One line per regression that could not be bisected, for the user. */
	readonly skipped: readonly string[];
	/** Stopped by the signal: what was found before it stands. */
	readonly cancelled: boolean;
}

/**
 * The regressions of a run that can be bisected: `passed` an ancestor of `here` in the cell's
 * kernel tree, on a target that boots a kernel. Pure over the run's view and matrix.
 */
export function bisectCandidates(
	matrix: Matrix,
	cells: readonly {
		readonly id: string;
		readonly kernel: { readonly id: string };
		readonly target: string;
		readonly results: readonly { readonly suite: string; readonly testId: string; readonly verdict?: Verdict }[];
	}[],
): { candidates: BisectCandidate[]; skipped: string[] } {
	const candidates: BisectCandidate[] = [];
	const skipped: string[] = [];
	for (const cell of cells) {
		const spec = matrix.kernels.find((k) => k.id === cell.kernel.id);
		const target = matrix.targets.find((t) => t.name === cell.target.split("/")[0]);
		for (const r of cell.results) {
			const v = r.verdict;
			if (v?.verdict !== "regression") continue;
			const test = `${r.suite}:${r.testId}`;
			const { passed, here } = v.evidence;
			const why =
				spec?.kind !== "source"
					? "its kernel is not built from a tree"
					: target === undefined || target.host
						? "its target does not boot a kernel"
						: passed.sha === undefined || here === undefined
							? "no commit where it passed"
							: "relation" in passed && passed.relation !== undefined && passed.relation.kind !== "ancestor"
								? `it passed on ${passed.kernel}, which is not an ancestor of ${cell.kernel.id}`
								: undefined;
			if (why !== undefined || spec?.kind !== "source" || passed.sha === undefined || here === undefined) {
				skipped.push(`${cell.id} ${test}: not bisected: ${why ?? "no range"}`);
				continue;
			}
			candidates.push({ cell: cell.id, test, tree: spec.tree, target: cell.target, good: passed.sha, bad: here });
		}
	}
	return { candidates, skipped };
}

const rangeKey = (c: BisectCandidate) => `${c.tree}\u0000${c.target}\u0000${c.good}\u0000${c.bad}`;
const errorLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";

function bisectedOf(outcome: BisectOutcome, dir: string): Bisected {
	const { result } = outcome;
	if (result.kind === "found")
		return {
			dir,
			commit: {
				sha: result.commit.sha,
				subject: result.commit.subject,
				...(result.commit.author === undefined ? {} : { author: result.commit.author }),
				links: result.commit.trailers.filter((t) => /^link:/i.test(t)).map((t) => t.replace(/^link:\s*/i, "").trim()),
				people: result.commit.people ?? [],
			},
		};
	if (result.kind === "ambiguous")
		return {
			dir,
			why: `one of ${result.candidates.map((c) => c.sha.slice(0, 12)).join(", ")} (the others could not be tested)`,
		};
	return { dir, why: `stopped after ${result.steps} steps with ${result.remaining} commits left` };
}

export interface BisectRegressionsOptions {
	readonly matrix: Matrix;
	readonly cacheRoot: string;
	/** Where the bisections go: `<dir>/<n>-<test>` each. */
	readonly dir: string;
	/** Kernel builds all bisections may make together (cache hits are free). */
	readonly maxBuilds?: number;
	readonly signal?: AbortSignal;
	readonly onLine?: (line: string) => void;
}

/** Bisects the run's regressions; a cancel stops it with what it found so far (`cancelled`). */
export async function bisectRegressions(
	runDir: string,
	options: BisectRegressionsOptions,
): Promise<RegressionBisections> {
	const view = readRunView(runDir, undefined, { logTails: false });
	const { candidates, skipped } = bisectCandidates(options.matrix, view.cells);
	const found = new Map<string, Map<string, Bisected>>();
	const put = (c: BisectCandidate, b: Bisected) => {
		const cell = found.get(c.cell) ?? new Map<string, Bisected>();
		cell.set(c.test, b);
		found.set(c.cell, cell);
	};
	let builds = 0;
	const budget = options.maxBuilds ?? Number.POSITIVE_INFINITY;
	// First commits found per range, newest last: a later test of the range is checked against them.
	const byRange = new Map<string, Bisected[]>();
	let n = 0;
	const bisect = async (c: BisectCandidate, good: string, bad: string): Promise<Bisected | undefined> => {
		n++;
		const dir = path.join(options.dir, `${n}-${c.test.replace(/[^A-Za-z0-9_.-]+/g, "_")}`);
		await startBisect({
			matrix: options.matrix,
			mode: "regression",
			tree: c.tree,
			test: c.test,
			old: good,
			new: bad,
			target: c.target,
			dir,
			cacheRoot: options.cacheRoot,
		});
		// Each step builds at most one kernel: the budget left caps the steps, so it is a cap.
		const left = budget - builds;
		let outcome: BisectOutcome;
		try {
			outcome = await runBisect(dir, options.matrix, options.cacheRoot, {
				bus: createEventBus<EngineEvent>(),
				...(Number.isFinite(left) ? { maxSteps: Math.max(1, left) } : {}),
				...(options.signal === undefined ? {} : { signal: options.signal }),
				onStep: (step) => options.onLine?.(`${c.cell} ${c.test}: ${step.sha.slice(0, 12)} ${step.seen}`),
			});
		} catch (error) {
			// The ends it checked built kernels too, whatever stopped it.
			builds += readBisect(dir).steps.filter((st) => st.built).length;
			throw error;
		}
		builds += outcome.builds;
		const found = bisectedOf(outcome, dir);
		return outcome.result.kind === "step-cap" && builds >= budget
			? {
					...found,
					why: `the build budget (--max-builds ${budget}) ran out with ${outcome.result.remaining} commits left; kvm-matrix bisect --resume ${dir} goes on`,
				}
			: found;
	};
	let cancelled = false;
	for (const c of candidates) {
		if (cancelled) break;
		if (builds >= budget) {
			skipped.push(`${c.cell} ${c.test}: not bisected: the build budget (--max-builds ${budget}) is spent`);
			continue;
		}
		const known = byRange.get(rangeKey(c)) ?? [];
		let result: Bisected | undefined;
		for (const earlier of known) {
			const sha = earlier.commit?.sha;
			if (sha === undefined) continue;
			try {
				// C's parent and C: both ends are checked, nothing lies between.
				const again = await bisect(c, `${sha}^`, sha);
				// The same first bad commit for this test too: one bisection serves both.
				if (again?.commit?.sha === sha) result = { ...again, dir: earlier.dir, shared: true };
			} catch (error) {
				if (error instanceof BisectCancelled) {
					cancelled = true;
					break;
				}
				// The test does not fail at C, or passes not at its parent: C is not this test's.
				if (!(error instanceof BisectError)) throw error;
			}
			if (result !== undefined) break;
		}
		if (cancelled) break;
		if (result === undefined) {
			try {
				result = await bisect(c, c.good, c.bad);
			} catch (error) {
				if (error instanceof BisectCancelled) {
					cancelled = true;
					break;
				}
				skipped.push(`${c.cell} ${c.test}: not bisected: ${errorLine(error)}`);
				continue;
			}
		}
		if (result === undefined) continue;
		put(c, result);
		if (result.commit !== undefined && result.shared !== true) byRange.set(rangeKey(c), [...known, result]);
	}
	return { found, builds, skipped, cancelled };
}
