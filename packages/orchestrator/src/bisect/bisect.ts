// `kvm-matrix bisect`: the commit that broke a test (or fixed it), found by building, booting and
// running the one test at each step through the same engine as `run`, one cell per step. The
// bisection directory is its record: bisect.json says what is searched, steps.jsonl one line per
// step as it ends; a killed bisection resumes from them, and a step cut short runs again.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as z from "zod";
import { executeRun } from "../engine/run.js";
import type { CellSummary } from "../engine/summary.js";
import { createEventBus } from "../events/bus.js";
import type { EngineEvent } from "../events/types.js";
import type { KernelConfig, Matrix } from "../matrix/types.js";
import { cachePaths } from "../paths/cache.js";
import { LockBusyError, LockCompromisedError, withLock } from "../paths/lock.js";
import { capture } from "../proc/run.js";
import { resolveRef, SourceError, syncTree } from "../sources/git.js";
import { applyStep, conclusion, nextCommit, type SearchState, type StepVerdict, startState } from "./search.js";

/** Bad input (an unknown ref, a test the matrix cannot run, a directory in use): one line. */
export class BisectError extends Error {
	override readonly name = "BisectError";
}

export type BisectMode = "regression" | "fixed";

const requestShape = z.object({
	mode: z.enum(["regression", "fixed"]),
	matrix: z.string(),
	tree: z.string(),
	test: z.object({ suite: z.enum(["selftests", "kut"]), testId: z.string() }),
	/** The range's start (good, or broken) and end (bad, or fixed), as given and as resolved. */
	old: z.object({ ref: z.string(), sha: z.string() }),
	new: z.object({ ref: z.string(), sha: z.string() }),
	target: z.string(),
	maxSteps: z.number().int().positive(),
});
export type BisectRequest = z.infer<typeof requestShape>;

const stepShape = z.object({
	sha: z.string(),
	verdict: z.enum(["old", "new", "skip"]),
	/** What was seen, in words: `fails (fail, then fail on its retry)`, `build failed: ...`. */
	seen: z.string(),
	/** Whether the step built its kernel (a cache hit builds nothing). */
	built: z.boolean(),
	runDir: z.string(),
	/** A check of one end of the range before the search: it must behave as the user said. */
	end: z.enum(["old", "new"]).optional(),
});
export type BisectStep = z.infer<typeof stepShape>;

export interface BisectOutcome {
	readonly request: BisectRequest;
	readonly steps: readonly BisectStep[];
	readonly result:
		| { readonly kind: "found"; readonly commit: CommitInfo }
		| { readonly kind: "ambiguous"; readonly candidates: readonly CommitInfo[] }
		| { readonly kind: "step-cap"; readonly steps: number; readonly remaining: number };
	readonly builds: number;
}

export interface CommitInfo {
	readonly sha: string;
	readonly subject: string;
	/** `Link:` and `Message-Id:` trailers, as written. */
	readonly trailers: readonly string[];
	/** `Name <address>`, as git has it. */
	readonly author?: string;
	/** The people its trailers name (`Signed-off-by:`, `Reviewed-by:`, `Acked-by:`, `Cc:`, ...), as written, in order. */
	readonly people?: readonly string[];
}

/** The words of each mode, for people: git bisect's terms. */
export const TERMS: Readonly<Record<BisectMode, { readonly old: string; readonly new: string }>> = {
	regression: { old: "good", new: "bad" },
	fixed: { old: "broken", new: "fixed" },
};

export interface StartOptions {
	readonly matrix: Matrix;
	readonly mode: BisectMode;
	readonly tree?: string;
	readonly test: string;
	readonly old: string;
	readonly new: string;
	readonly target?: string;
	readonly maxSteps?: number;
	readonly dir: string;
	readonly cacheRoot: string;
}

const errorLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";

/** Checks what is asked and writes bisect.json; the directory must not hold a bisection already. */
export async function startBisect(options: StartOptions): Promise<BisectRequest> {
	const { matrix } = options;
	if (existsSync(path.join(options.dir, "bisect.json")))
		throw new BisectError(`${options.dir} holds a bisection already; continue it with --resume ${options.dir}`);
	const sourceTrees = matrix.kernels.flatMap((k) => (k.kind === "source" ? [k.tree] : []));
	const tree = options.tree ?? sourceTrees[0];
	if (tree === undefined || !matrix.trees.has(tree))
		throw new BisectError(
			tree === undefined
				? "the matrix builds no kernel from a tree; name one with --tree"
				: `--tree ${tree}: the matrix has no tree ${tree}`,
		);
	const colon = options.test.indexOf(":");
	const suite = options.test.slice(0, colon);
	const testId = options.test.slice(colon + 1);
	if ((suite !== "selftests" && suite !== "kut") || testId === "")
		throw new BisectError(`--test ${options.test}: expected SUITE:TEST (selftests:x86_64/cpuid_test or kut:vmx)`);
	if (matrix.suites[suite] === undefined)
		throw new BisectError(`--test ${options.test}: the matrix has no ${suite} suite to run it with`);
	const targets = matrix.targets.filter((t) => !t.host);
	const target = options.target ?? targets[0]?.name;
	// On the params axis a target is named with its set, as in cell ids: --target default/ept-off.
	const [base, set, ...more] = (target ?? "").split("/");
	const sets = (matrix.params ?? []).map((p) => p.name);
	if (target === undefined || more.length > 0 || !targets.some((t) => t.name === base))
		throw new BisectError(
			target === undefined
				? "the matrix has no target that boots a kernel"
				: `--target ${target}: no such target that boots a kernel (${targets.map((t) => t.name).join(", ")})`,
		);
	if (set !== undefined && !sets.includes(set))
		throw new BisectError(
			`--target ${target}: no parameter set ${set} (${sets.length === 0 ? "the matrix has no params axis" : sets.join(", ")})`,
		);
	const source = matrix.trees.get(tree);
	if (source === undefined) throw new BisectError(`the matrix has no tree ${tree}`);
	const repo = await syncTree(source, cachePaths(options.cacheRoot).mirrors).catch((error: unknown) => {
		throw new BisectError(errorLine(error));
	});
	const resolve = (ref: string, what: string) =>
		resolveRef(repo, tree, ref).catch((error: unknown) => {
			throw new BisectError(`${what} ${ref}: ${error instanceof SourceError ? error.message : errorLine(error)}`);
		});
	const terms = TERMS[options.mode];
	const oldSha = await resolve(options.old, `--${terms.old}`);
	const newSha = await resolve(options.new, `--${options.mode === "fixed" ? "fixed-at" : terms.new}`);
	if (oldSha === newSha)
		throw new BisectError(
			`--${terms.old} ${options.old} and ${options.new} are the same commit: there is nothing to bisect`,
		);
	const ancestor = await capture("git", ["-C", repo, "merge-base", "--is-ancestor", oldSha, newSha]).then(
		() => true,
		() => false,
	);
	if (!ancestor)
		throw new BisectError(
			`--${terms.old} ${options.old} is not an ancestor of ${options.new}: there is no range between them to bisect`,
		);
	const request: BisectRequest = {
		mode: options.mode,
		matrix: matrix.file,
		tree,
		test: { suite, testId },
		old: { ref: options.old, sha: oldSha },
		new: { ref: options.new, sha: newSha },
		target,
		maxSteps: options.maxSteps ?? 20,
	};
	mkdirSync(options.dir, { recursive: true });
	// Whole or not at all: a kill while it is written leaves no bisection, not a torn one.
	const file = path.join(options.dir, "bisect.json");
	writeFileSync(`${file}.tmp`, `${JSON.stringify(request, null, 2)}\n`);
	renameSync(`${file}.tmp`, file);
	return request;
}

/** A bisection directory's request and the steps it finished (a torn last line is dropped). */
export function readBisect(dir: string): { request: BisectRequest; steps: BisectStep[] } {
	let text: string;
	try {
		text = readFileSync(path.join(dir, "bisect.json"), "utf8");
	} catch {
		throw new BisectError(`${dir}: not a bisection directory (no bisect.json)`);
	}
	let raw: unknown;
	try {
		raw = JSON.parse(text);
	} catch {
		raw = undefined;
	}
	const request = requestShape.safeParse(raw);
	if (!request.success) throw new BisectError(`${dir}/bisect.json: not a bisection kvm-matrix wrote`);
	const steps: BisectStep[] = [];
	const journal = path.join(dir, "steps.jsonl");
	const lines = existsSync(journal) ? readFileSync(journal, "utf8").split("\n") : [];
	for (const line of lines) {
		try {
			const step = stepShape.safeParse(JSON.parse(line));
			if (step.success) steps.push(step.data);
		} catch {}
	}
	return { request: request.data, steps };
}

/** The one-cell matrix of a step: the commit, the target, the one test, a failure retried once. */
export function stepMatrix(matrix: Matrix, request: BisectRequest, sha: string): Matrix {
	const sources = matrix.kernels.flatMap((k) => (k.kind === "source" ? [k] : []));
	const kernelConfig: KernelConfig | undefined = (sources.find((k) => k.tree === request.tree) ?? sources[0])?.config;
	if (kernelConfig === undefined)
		throw new BisectError("the matrix builds no kernel: no config to build the steps with");
	const [base, setName] = request.target.split("/");
	const found = matrix.targets.find((t) => t.name === base);
	if (found === undefined) throw new BisectError(`the matrix has no target ${request.target}`);
	// One set, or none: each step is one cell, judged by its own result.
	const set = (matrix.params ?? []).find((p) => p.name === setName);
	const target = found;
	const { suite, testId } = request.test;
	const selftests = matrix.suites.selftests;
	const kut = matrix.suites.kut;
	// No baseline: each step stands alone, judged only by its own result.
	const { baseline: _baseline, params: _params, ...rest } = matrix;
	return {
		...rest,
		name: `${matrix.name}-bisect`,
		kernels: [
			{ kind: "source", id: `${request.tree}@${sha.slice(0, 12)}`, tree: request.tree, ref: sha, config: kernelConfig },
		],
		targets: [target],
		...(set === undefined ? {} : { params: [set] }),
		suites:
			suite === "selftests" && selftests !== undefined
				? { selftests: { ...selftests, include: [testId], exclude: [], parallel: 1 } }
				: kut !== undefined
					? { kut: { ...kut, include: [testId], exclude: [], groups: [], all: true } }
					: {},
		retries: 1,
		exclude: [],
		include: [],
	};
}

/** What one step's run says about the commit. */
export function stepVerdict(
	mode: BisectMode,
	cell: CellSummary | undefined,
	testKey: string,
): {
	verdict: StepVerdict;
	seen: string;
} {
	if (cell === undefined) return { verdict: "skip", seen: "the run has no cell" };
	if (cell.state === "failed")
		return { verdict: "skip", seen: `${cell.failure?.stage ?? "cell"} failed: ${cell.failure?.reason ?? "?"}` };
	if (cell.state === "cancelled") return { verdict: "skip", seen: "cancelled" };
	const r = cell.results.find((x) => `${x.suite}:${x.testId}` === testKey);
	if (r === undefined) return { verdict: "skip", seen: "the test did not run (not in this commit's tree?)" };
	const attempts = [...(r.earlier ?? []).map((e) => e.status), r.status].join(", then ");
	// Failed, then passed on its retry: the commit cannot be called either (an intermittent failure
	// called good would send the search past the commit that broke it).
	if (r.status === "pass" && (r.earlier ?? []).length > 0)
		return { verdict: "skip", seen: `cannot tell: flaky (${attempts})` };
	if (r.status === "pass") return { verdict: mode === "regression" ? "old" : "new", seen: `passes (${attempts})` };
	if (r.status === "fail" || r.status === "timeout" || r.status === "crash")
		return { verdict: mode === "regression" ? "new" : "old", seen: `fails (${attempts})` };
	return { verdict: "skip", seen: `cannot tell (${attempts}${r.detail === undefined ? "" : `: ${r.detail}`})` };
}

/** One line per step; a line torn by a kill is ended first, so the next step starts a line of its own. */
function appendStep(dir: string, step: BisectStep): void {
	const journal = path.join(dir, "steps.jsonl");
	const text = existsSync(journal) ? readFileSync(journal, "utf8") : "";
	appendFileSync(journal, `${text === "" || text.endsWith("\n") ? "" : "\n"}${JSON.stringify(step)}\n`);
}

export async function commitInfo(repo: string, sha: string): Promise<CommitInfo> {
	const subject = await capture("git", ["-C", repo, "log", "-1", "--format=%s", sha]);
	const author = await capture("git", ["-C", repo, "log", "-1", "--format=%an <%ae>", sha]);
	const people = await capture("git", [
		"-C",
		repo,
		"log",
		"-1",
		"--format=%(trailers:key=Signed-off-by,key=Reviewed-by,key=Acked-by,key=Tested-by,key=Cc,key=Suggested-by,key=Reported-by,valueonly)",
		sha,
	]);
	const trailers = await capture("git", [
		"-C",
		repo,
		"log",
		"-1",
		"--format=%(trailers:key=Link,key=Message-Id,key=Message-ID)",
		sha,
	]);
	return {
		sha,
		subject,
		trailers: trailers.split("\n").filter((l) => l.trim() !== ""),
		author: author.trim(),
		people: [
			...new Set(
				people
					.split("\n")
					.map((l) => l.trim())
					.filter((l) => l !== ""),
			),
		],
	};
}

/** The bisection was cancelled (Ctrl-C, SIGTERM): what it finished is kept for --resume. */
export class BisectCancelled extends Error {
	override readonly name = "BisectCancelled";
	constructor(readonly dir: string) {
		super(`cancelled; continue with --resume ${dir}`);
	}
}

export interface BisectProgress {
	/** Before an end of the range is checked. */
	readonly onEnd?: (end: "old" | "new", sha: string) => void;
	/** Steps this invocation may take (the request's own cap when omitted). */
	readonly maxSteps?: number;
	readonly onStep?: (step: BisectStep, index: number, remaining: number) => void;
	readonly onTesting?: (sha: string, index: number, remaining: number) => void;
	readonly bus?: ReturnType<typeof createEventBus<EngineEvent>>;
	readonly signal?: AbortSignal;
	/** The bisection lock's fence: no step is written once another process holds it. */
	readonly stillHeld?: () => boolean;
}

/**
 * Runs (or continues) the bisection in `dir` until it finds the commit or reaches the step cap.
 * One process at a time: a second `--resume` of the same directory would run the same steps twice
 * and interleave their lines.
 */
export async function runBisect(
	dir: string,
	matrix: Matrix,
	cacheRoot: string,
	progress: BisectProgress = {},
): Promise<BisectOutcome> {
	try {
		return await withLock(
			path.join(dir, "bisect"),
			(lost, stillHeld) =>
				bisectHeld(dir, matrix, cacheRoot, {
					...progress,
					signal: progress.signal === undefined ? lost : AbortSignal.any([progress.signal, lost]),
					stillHeld,
				}),
			{ maxWaitMs: 3_000, what: dir, whenLost: "stop" },
		);
	} catch (error) {
		if (error instanceof LockBusyError)
			throw new BisectError(`${dir} is in use by another kvm-matrix bisect; let it finish or stop it first`);
		if (error instanceof LockCompromisedError)
			throw new BisectError(
				`${dir}: another kvm-matrix bisect took this one over (it was stopped past its lock's stale time); this one stopped writing to it`,
			);
		throw error;
	}
}

async function bisectHeld(
	dir: string,
	matrix: Matrix,
	cacheRoot: string,
	progress: BisectProgress,
): Promise<BisectOutcome> {
	const { request, steps } = readBisect(dir);
	const source = matrix.trees.get(request.tree);
	if (source === undefined) throw new BisectError(`the matrix has no tree ${request.tree}`);
	const repo = await syncTree(source, cachePaths(cacheRoot).mirrors).catch((error: unknown) => {
		throw new BisectError(errorLine(error));
	});
	let state: SearchState = startState(request.old.sha, request.new.sha);
	for (const step of steps) state = applyStep(state, step.sha, step.verdict);
	const testKey = `${request.test.suite}:${request.test.testId}`;
	const revList = async (...extra: string[]) =>
		(await capture("git", ["-C", repo, "rev-list", ...extra, state.firstNew, "--not", ...state.old]))
			.split("\n")
			.map((l) => l.trim().split(" ")[0] ?? "")
			.filter((l) => l !== "");
	const runStep = async (sha: string, index: number, end?: "old" | "new"): Promise<BisectStep> => {
		// A step cut short by a kill left a run directory behind: the step runs again beside it.
		const base = path.join(dir, "steps", `${end === undefined ? index : `end-${end}`}-${sha.slice(0, 12)}`);
		let runDir = base;
		for (let n = 2; existsSync(runDir); n++) runDir = `${base}-${n}`;
		const summary = await executeRun(stepMatrix(matrix, request, sha), {
			cacheRoot,
			runDir,
			cwd: path.dirname(matrix.file),
			bus: progress.bus ?? createEventBus<EngineEvent>(),
			...(progress.signal === undefined ? {} : { signal: progress.signal }),
		});
		if (summary.outcome === "cancelled") throw new BisectCancelled(dir);
		const cell = summary.cells[0];
		const { verdict, seen } = stepVerdict(request.mode, cell, testKey);
		return {
			sha,
			verdict,
			seen,
			built: cell?.kernel.build !== undefined && !cell.kernel.build.cacheHit,
			runDir,
			...(end === undefined ? {} : { end }),
		};
	};
	const done = [...steps];
	// Both ends first: a --bad that passes (or a --good that fails) would send every step one way
	// and name a commit that broke nothing.
	const terms = TERMS[request.mode];
	for (const end of ["old", "new"] as const) {
		if (done.some((s) => s.end === end)) continue;
		const at = request[end];
		progress.onEnd?.(end, at.sha);
		const step = await runStep(at.sha, 0, end);
		if (progress.stillHeld?.() !== false) appendStep(dir, step);
		done.push(step);
		progress.onStep?.(step, 0, 0);
	}
	for (const end of ["old", "new"] as const) {
		const step = done.find((s) => s.end === end);
		if (step === undefined || step.verdict === end) continue;
		const flag = end === "old" ? `--${terms.old}` : request.mode === "fixed" ? "--fixed-at" : `--${terms.new}`;
		const expected = (request.mode === "regression") === (end === "old") ? "pass" : "fail";
		throw new BisectError(
			`${flag} ${request[end].ref}: the test should ${expected} there, but it ${step.seen}; nothing to bisect`,
		);
	}
	for (;;) {
		const remaining = await revList();
		const next = nextCommit(state, await revList("--bisect-all"));
		if (next === undefined) {
			const end = conclusion(state, remaining);
			return {
				request,
				steps: done,
				builds: done.filter((x) => x.built).length,
				result:
					end.kind === "found"
						? { kind: "found", commit: await commitInfo(repo, end.sha) }
						: { kind: "ambiguous", candidates: await Promise.all(end.candidates.map((sha) => commitInfo(repo, sha))) },
			};
		}
		// The cap is per invocation: --resume goes on for as many steps again (or --max-steps).
		const cap = progress.maxSteps ?? request.maxSteps;
		if (done.filter((x) => x.end === undefined).length - steps.filter((x) => x.end === undefined).length >= cap)
			return {
				request,
				steps: done,
				builds: done.filter((x) => x.built).length,
				result: { kind: "step-cap", steps: cap, remaining: remaining.length },
			};
		const index = done.filter((x) => x.end === undefined).length + 1;
		progress.onTesting?.(next, index, remaining.length);
		const step = await runStep(next, index);
		if (progress.stillHeld?.() !== false) appendStep(dir, step);
		done.push(step);
		state = applyStep(state, next, step.verdict);
		progress.onStep?.(step, index, remaining.length);
	}
}
