// `triage --reproduce`: the reported tests run again, N times, on the reporter's kernel and on the
// configured branches, as one run of the engine (one cell per kernel and run, so the run's journal
// is the record and the live views are `run`'s). The runs are then reduced to one result per
// kernel and test (fails 3/3, passes 3/3, or both: intermittent) and classified as `classify`
// does, with the other kernels as the evidence across kernels. The reduction is pure; the run and
// the git questions are at the edges.

import type { CellSummary, RunSummary } from "../engine/summary.js";
import type { FinalResult } from "../events/attempts.js";
import { isFailingStatus, resultOf, testKey } from "../events/attempts.js";
import type { TestResult, TestStatus } from "../events/types.js";
import type { KernelConfig, Matrix, SourceKernel, Target } from "../matrix/types.js";
import type { ReportedTest, ReportKind } from "./types.js";

/** A kernel the reported tests run on: the reporter's, or one of the matrix's branches. */
export interface ReproduceKernel {
	/** `kvm@v6.1`: the id results and verdicts name it by. */
	readonly id: string;
	readonly tree: string;
	readonly ref: string;
	readonly sha: string;
	readonly role: "reported" | "configured";
	/** Its build configuration: a configured kernel's own; the reporter's is taken from one like it. */
	readonly config?: KernelConfig;
}

/**
 * How many runs `--reproduce` makes of each test on each kernel: what `--runs` says, else 3, or 5
 * when the report says the failure comes and goes (one sample says little about that).
 */
export function reproduceRuns(given: number | undefined, kind: ReportKind): number {
	return given ?? (kind === "intermittent" ? 5 : 3);
}

/** The name of run `i` (from 1) of a target: `t-run2`. */
export const runTarget = (target: string, i: number) => `${target}-run${i}`;

/**
 * The reporter's kernel first, then each source kernel of the matrix at another commit (the
 * configured branches, newer or not: the evidence says how each relates). One per commit.
 */
export function reproduceKernels(
	reported: Omit<ReproduceKernel, "id" | "role" | "config">,
	configured: readonly Omit<ReproduceKernel, "role">[],
): ReproduceKernel[] {
	const id = `${reported.tree}@${reported.ref}`;
	// The reporter's kernel is built as the matrix builds that commit, or that branch, or its tree.
	const like =
		configured.find((k) => k.sha === reported.sha) ??
		configured.find((k) => k.id === id) ??
		configured.find((k) => k.tree === reported.tree);
	const out: ReproduceKernel[] = [
		{ ...reported, id, role: "reported", ...(like?.config === undefined ? {} : { config: like.config }) },
	];
	for (const k of configured)
		if (!out.some((o) => o.sha === k.sha || o.id === k.id)) out.push({ ...k, role: "configured" });
	return out;
}

/**
 * The matrix of a reproduction: the kernels, built at the commits resolved now (a branch that moves
 * during the run does not change what is tested), the one target copied once per run, only the
 * reported tests, no retries (each run is one sample) and no baseline (the evidence is the kernels).
 */
export function reproduceMatrix(
	matrix: Matrix,
	kernels: readonly ReproduceKernel[],
	tests: readonly Pick<ReportedTest, "suite" | "testId">[],
	target: Target,
	runs: number,
): Matrix {
	const sources = matrix.kernels.flatMap((k) => (k.kind === "source" ? [k] : []));
	const built: SourceKernel[] = kernels.map((k) => {
		const config = k.config ?? (sources.find((x) => x.tree === k.tree) ?? sources[0])?.config;
		if (config === undefined) throw new Error("the matrix builds no kernel: no config to build one with");
		return { kind: "source", id: k.id, tree: k.tree, ref: k.sha, config };
	});
	const selftests = tests.filter((t) => t.suite === "selftests").map((t) => t.testId);
	const kut = tests.filter((t) => t.suite === "kut").map((t) => t.testId);
	// A report is reproduced on the target as it is, under no parameter set: the runs are the axis here.
	const { baseline: _baseline, params: _params, ...rest } = matrix;
	return {
		...rest,
		name: `${matrix.name}-triage`,
		kernels: built,
		targets: Array.from({ length: runs }, (_, i) => ({ ...target, name: runTarget(target.name, i + 1) })),
		suites: {
			...(selftests.length === 0 || matrix.suites.selftests === undefined
				? {}
				: { selftests: { ...matrix.suites.selftests, include: selftests, exclude: [] } }),
			...(kut.length === 0 || matrix.suites.kut === undefined
				? {}
				: // Named, so run even when marked nodefault, as run_tests.sh runs a named test under -a.
					{ kut: { ...matrix.suites.kut, include: kut, exclude: [], groups: [], all: true } }),
		},
		retries: 0,
		exclude: [],
		include: [],
	};
}

/** What the runs of one test on one kernel did. */
export interface Tally {
	readonly kernel: string;
	readonly sha: string;
	readonly role: ReproduceKernel["role"];
	/** One status per run in which the test ran, in run order. */
	readonly statuses: readonly TestStatus[];
	/** Why a run did not run it: `build failed: ...`, `cancelled`, `not in this kernel's tree`. */
	readonly notRun: readonly string[];
	/** What the first failing run said of itself (`2 tests, 1 unexpected failures`). */
	readonly detail?: string;
	/** That run's failing checks (`vmx: VMXON with CR0 bit 5 cleared should #GP, got 6`), at most 5, and its log. */
	readonly failedChecks?: readonly string[];
	readonly logPath?: string;
}

const cellTarget = (cell: CellSummary, target: string, runs: number) =>
	Array.from({ length: runs }, (_, i) => runTarget(target, i + 1)).indexOf(cell.target);

/** A failing run's failing checks, for the report: the lines a reader compares with the bug's. */
function failedChecksOf(r: TestResult | undefined): { failedChecks?: readonly string[] } {
	const failed = (r?.subtests ?? []).filter((x) => x.status === "fail").map((x) => x.name);
	return failed.length === 0 ? {} : { failedChecks: failed.slice(0, 5) };
}

/** Each test's tallies, kernel by kernel in the given order, from the run's cells. */
export function tallyRuns(
	summary: Pick<RunSummary, "cells">,
	kernels: readonly ReproduceKernel[],
	tests: readonly Pick<ReportedTest, "suite" | "testId">[],
	target: string,
	runs: number,
): Map<string, Tally[]> {
	const out = new Map<string, Tally[]>();
	for (const test of tests) {
		const key = testKey(test);
		out.set(
			key,
			kernels.map((k) => {
				const cells = summary.cells
					.filter((c) => c.kernel.id === k.id && cellTarget(c, target, runs) >= 0)
					.sort((a, b) => cellTarget(a, target, runs) - cellTarget(b, target, runs));
				const statuses: TestStatus[] = [];
				const notRun: string[] = [];
				let first: TestResult | undefined;
				for (const cell of cells) {
					const r = resultOf(cell.results, key);
					// A result recorded before the cell failed (a crash, then a boot that failed) stands.
					if (r === undefined && cell.state === "failed")
						notRun.push(`${cell.failure?.stage ?? "cell"} failed: ${cell.failure?.reason ?? "?"}`);
					else if (r === undefined) notRun.push(cell.state === "cancelled" ? "cancelled" : "the test did not run");
					else if (r.status === "error") notRun.push(r.detail ?? "the test could not run");
					else {
						statuses.push(r.status);
						// The first failing run that says how it failed, else the first failing run.
						if (
							isFailingStatus(r.status) &&
							(first === undefined || (first.detail === undefined && r.detail !== undefined))
						)
							first = r;
					}
				}
				for (let i = cells.length; i < runs; i++) notRun.push("cancelled");
				return {
					kernel: k.id,
					sha: k.sha,
					role: k.role,
					statuses,
					notRun,
					...(first?.detail === undefined ? {} : { detail: first.detail }),
					...failedChecksOf(first),
					...(first?.logPath === undefined ? {} : { logPath: first.logPath }),
				};
			}),
		);
	}
	return out;
}

export type TallyOutcome = "fails" | "passes" | "intermittent" | "partial" | "skips" | "not-run";

/**
 * What a tally comes to. `passes` is strict: every run ran the test and it passed, since a pass is
 * the evidence a pending-fix rests on. Failures with no pass are `fails`, even when some runs did
 * not run it (the failure was seen). Passes with runs missing or skipped are `partial`: evidence
 * of nothing.
 */
export function tallyOutcome(t: Pick<Tally, "statuses" | "notRun">): TallyOutcome {
	if (t.statuses.length === 0) return "not-run";
	const failing = t.statuses.filter(isFailingStatus).length;
	const passing = t.statuses.filter((s) => s === "pass").length;
	if (failing > 0 && passing > 0) return "intermittent";
	if (failing > 0) return "fails";
	if (passing === 0) return t.notRun.length === 0 ? "skips" : "partial";
	return passing === t.statuses.length && t.notRun.length === 0 ? "passes" : "partial";
}

/**
 * The one result a tally stands for, to classify: every run failed is a failure; every run passed
 * is a pass; both is a pass after failures, which the classifier calls flaky (and which is never
 * taken as a kernel the test passes on). Nothing ran, or a pass that not every run confirms: an
 * `error` saying so, which is `infra` and no evidence for any other kernel.
 */
export function tallyResult(suite: ReportedTest["suite"], testId: string, t: Tally): FinalResult {
	const base = { suite, testId, durationMs: 0 } as const;
	const outcome = tallyOutcome(t);
	if (outcome === "not-run")
		return { ...base, status: "error", attempt: 1, detail: t.notRun[0] ?? "the test did not run" };
	if (outcome === "partial")
		return { ...base, status: "error", attempt: 1, detail: `${tallyWords(t)}: not enough to go on` };
	if (outcome === "passes" || outcome === "skips")
		return { ...base, status: outcome === "passes" ? "pass" : "skip", attempt: 1 };
	const failures: TestResult[] = t.statuses
		.filter(isFailingStatus)
		.map((status, i) => ({ ...base, status, attempt: i + 1 }));
	if (outcome === "intermittent")
		// The failures first, then one pass: the shape of a pass after a retry.
		return { ...base, status: "pass", attempt: failures.length + 1, earlier: failures };
	const last = failures.at(-1) as TestResult;
	const earlier = failures.slice(0, -1);
	return {
		...last,
		...(t.detail === undefined ? {} : { detail: t.detail }),
		...(earlier.length === 0 ? {} : { earlier }),
	};
}

/** `fails 3/3`, `fails 1/3, passes 2/3`, `not run 3/3 (build failed: ...)`, as a bug's reader says it. */
export function tallyWords(t: Tally): string {
	const total = t.statuses.length + t.notRun.length;
	const count = (what: string, n: number) => (n === 0 ? [] : [`${what} ${n}/${total}`]);
	const failing = t.statuses.filter(isFailingStatus).length;
	const parts = [
		...count("fails", failing),
		...count("passes", t.statuses.filter((s) => s === "pass").length),
		...count("skips", t.statuses.filter((s) => s === "skip").length),
	];
	const notRun = t.notRun.length === 0 ? [] : [`not run ${t.notRun.length}/${total} (${t.notRun[0]})`];
	return [...parts, ...notRun].join(", ");
}

/** The range a bisection would search, from the evidence: where the test fails and where it passes. */
export type BisectRange =
	| { readonly mode: "fixed"; readonly broken: Tally; readonly fixedAt: Tally; readonly count: number }
	| { readonly mode: "regression"; readonly good: Tally; readonly bad: Tally; readonly count: number };

/**
 * The range to bisect for one test: the reporter's kernel must fail every run; the nearest kernel
 * that descends from it and passes every run makes it `fixed` (its first fixed commit), else the
 * nearest ancestor that passes every run makes it a regression. `relation(a, b)` says how b relates
 * to a by git (`descendant`/`ancestor` with the commit count between them, or neither).
 */
export async function bisectRange(
	tallies: readonly Tally[],
	relation: (from: string, to: string) => Promise<{ kind: "descendant" | "ancestor"; count: number } | undefined>,
): Promise<BisectRange | { readonly none: string }> {
	const reported = tallies.find((t) => t.role === "reported");
	if (reported === undefined || tallyOutcome(reported) !== "fails" || reported.notRun.length > 0)
		return { none: `it does not fail every run on ${reported?.kernel ?? "the reporter's kernel"}` };
	const passing = tallies.filter((t) => t !== reported && tallyOutcome(t) === "passes");
	const related = await Promise.all(passing.map(async (t) => ({ t, r: await relation(reported.sha, t.sha) })));
	const nearest = (kind: "descendant" | "ancestor") =>
		related
			.flatMap(({ t, r }) => (r?.kind === kind ? [{ t, count: r.count }] : []))
			.sort((a, b) => a.count - b.count)[0];
	const down = nearest("descendant");
	if (down !== undefined) return { mode: "fixed", broken: reported, fixedAt: down.t, count: down.count };
	const up = nearest("ancestor");
	if (up !== undefined) return { mode: "regression", good: up.t, bad: reported, count: up.count };
	return {
		none:
			passing.length === 0
				? "it passes every run on no other kernel"
				: `no kernel it passes on descends from ${reported.kernel} or precedes it`,
	};
}
