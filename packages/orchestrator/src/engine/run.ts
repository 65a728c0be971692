// A run from start to results.json, and the resume of a run that was killed: both set up the
// same context and drive the same machines; they differ only in what the journal already holds.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import picomatch from "picomatch";
import type { EventBus } from "../events/bus.js";
import type { EngineEvent } from "../events/types.js";
import type { Matrix } from "../matrix/types.js";
import { cachePaths } from "../paths/cache.js";
import { planToJson } from "../plan/json.js";
import { planRun, refKey } from "../plan/plan.js";
import type { Plan } from "../plan/types.js";
import { localShell } from "../remote/shell.js";
import type { KnownIssue } from "../verdicts/classify.js";
import { loadKnownIssuesOf } from "../verdicts/known-issues.js";
import type { PlanFile } from "../verdicts/reclassify.js";
import { announce, engineLine } from "./announce.js";
import { carryOver, planChangedSince } from "./carry.js";
import { createCellDriver } from "./cell-driver.js";
import { createCellMachine } from "./cell-machine.js";
import type { RunCommands } from "./commands.js";
import { createRunContext, type RunContext } from "./context.js";
import { cellFingerprint } from "./fingerprint.js";
import { createJobRunner } from "./jobs.js";
import type { ChangedSince, ShardRecord } from "./journal.js";
import { kvmSettled } from "./kvm-params.js";
import { prebuiltFiles } from "./prebuilt.js";
import { localBootId, rebootedWhileRunning } from "./rebooted.js";
import { type RepoOf, resolveRefs, treeRepos } from "./refs.js";
import {
	claimRunDirectory,
	RunDirectory,
	requireRun,
	runDirectoryInUse,
	timestamp,
	withRunDirectory,
} from "./run-dir.js";
import { driveRun } from "./run-machine.js";
import { cellSettled, foldJournal, type RunRecord, readRunRecord } from "./run-record.js";
import { RunSetupError } from "./setup-error.js";
import { stageActors } from "./stages.js";
import { type RunSummary, resultsDocument, summariseCells } from "./summary.js";
import { classifyStage } from "./verdict-stage.js";

export interface RunOptions {
	readonly cacheRoot: string;
	readonly runDir?: string;
	readonly cwd: string;
	/** Only cells whose id matches this glob. */
	readonly only?: string;
	readonly bus: EventBus<EngineEvent>;
	readonly signal?: AbortSignal;
	/** CPUs for builds and VMs; defaults to this machine's. */
	readonly cpus?: number;
	readonly memoryBytes?: number;
	/** Commands a view may send while the run goes on (retry a cell or a test). */
	readonly commands?: RunCommands;
	/** A lore (public-inbox) base URL for links no configured tree has; overrides the matrix's `lore`. */
	readonly lore?: string;
	/** Exactly these cells (a CI shard); every one must be in the matrix. */
	readonly cells?: readonly string[];
	/** Commits resolved before (by `ci plan`): these refs are not looked up again. */
	readonly resolved?: Readonly<Record<string, string>>;
	/** The CI shard this run is, kept in its journal for `ci merge`. */
	readonly shard?: ShardRecord;
	/** An earlier run of the matrix: cells unchanged since it carry its results and do not run. */
	readonly changedSince?: string;
}

export type ResumeOptions = Omit<RunOptions, "runDir" | "only" | "cwd"> & {
	/** The matrix was named on the command line: a matrix that changed since the run is accepted. */
	readonly matrixNamed: boolean;
};

export type ResumeResult =
	| { readonly kind: "finished-before"; readonly dir: string; readonly resultsFile: string }
	| { readonly kind: "resumed"; readonly summary: RunSummary };

/** A digest of the matrix text, so a resume can tell the file changed under it. */
export function matrixDigest(matrix: Matrix): string {
	let text: string;
	try {
		text = readFileSync(matrix.file, "utf8");
	} catch {
		// Text that did not come from a file: the label is all there is to compare.
		text = matrix.file;
	}
	return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

interface Prepared {
	readonly plan: Plan;
	readonly cells: Plan["cells"];
	readonly resolutions: Map<string, string>;
	readonly repoOf: RepoOf;
	readonly knownIssues: KnownIssue[];
	readonly prebuilt: ReturnType<typeof prebuiltMap>;
}

const prebuiltMap = (cells: Plan["cells"]) =>
	new Map(
		cells.flatMap((c) => (c.kernel.kind === "prebuilt" ? [[c.kernel.id, prebuiltFiles(c.kernel)] as const] : [])),
	);

/** Everything that can be refused before a run directory is touched: refs, the plan, kernels, known issues. */
async function prepare(
	matrix: Matrix,
	options: Pick<RunOptions, "cacheRoot" | "bus" | "signal">,
	signal: AbortSignal,
	select: (plan: Plan) => Plan["cells"],
	known: Readonly<Record<string, string>> = {},
): Promise<Prepared> {
	const repoOf = treeRepos(matrix, cachePaths(options.cacheRoot).mirrors, options.bus, signal);
	const resolutions = await resolveRefs(matrix, repoOf, signal, known);
	const plan = planRun(matrix, resolutions);
	const cells = select(plan);
	let knownIssues: KnownIssue[];
	try {
		knownIssues = await loadKnownIssuesOf(matrix);
	} catch (error) {
		throw new RunSetupError(error instanceof Error ? error.message : String(error));
	}
	return { plan, cells, resolutions, repoOf, knownIssues, prebuilt: prebuiltMap(cells) };
}

function planFileOf(runId: string, matrix: Matrix, prepared: Prepared): PlanFile & Record<string, unknown> {
	const plan = { ...prepared.plan, cells: prepared.cells };
	const json = planToJson(plan);
	const jobs = new Map(prepared.plan.jobs.map((j) => [j.id, j]));
	const fingerprints = new Map(
		prepared.cells.map((c) => [c.id, cellFingerprint(matrix, c, jobs, prepared.prebuilt)] as const),
	);
	return {
		runId,
		matrix: matrix.file,
		resolved: Object.fromEntries(prepared.resolutions),
		...json,
		cells: json.cells.map((c) => ({ ...c, fingerprint: fingerprints.get(c.id) })),
	};
}

/**
 * Runs a matrix: resolves every ref to a commit, plans with those commits (so equal commits
 * share jobs), then drives one cell machine per cell. Everything the views need is an event on
 * `bus`; everything worth keeping is in the run directory's journal, as it happens.
 */
export async function executeRun(matrix: Matrix, options: RunOptions): Promise<RunSummary> {
	const started = new Date();
	const inUse = options.runDir === undefined ? undefined : runDirectoryInUse(options.runDir);
	if (inUse !== undefined) throw new RunSetupError(inUse);
	const signal = options.signal ?? new AbortController().signal;
	const onlyMatch = options.only === undefined ? () => true : picomatch(options.only, { bash: true, dot: true });
	const prepared = await prepare(
		matrix,
		options,
		signal,
		(plan) => {
			if (options.cells !== undefined) {
				const known = new Set(plan.cells.map((c) => c.id));
				const unknown = options.cells.find((id) => !known.has(id));
				if (unknown !== undefined) throw new RunSetupError(`cell ${unknown}: not a cell of ${matrix.name}`);
				const wanted = new Set(options.cells);
				// An empty shard is a run of nothing: merge still wants its record.
				return plan.cells.filter((c) => wanted.has(c.id));
			}
			const cells = plan.cells.filter((c) => onlyMatch(c.id));
			if (cells.length === 0)
				throw new RunSetupError(
					`--only ${options.only}: matches no cell (cells: ${plan.cells.map((c) => c.id).join(", ")})`,
				);
			return cells;
		},
		options.resolved,
	);
	// An earlier run that cannot be read is refused before anything is written, like a bad ref.
	const changed =
		options.changedSince === undefined
			? undefined
			: planChangedSince(path.resolve(options.changedSince), matrix.name, planFileOf("", matrix, prepared));
	// Created only now: a run refused before it started leaves nothing behind.
	const named = `${timestamp(started)}-${matrix.name}`;
	const runDir = new RunDirectory(options.runDir ?? claimRunDirectory(path.join(options.cwd, "runs"), named));
	// The directory's name when kvm-matrix chose it (it may carry a -2), else the time and matrix.
	const runId = options.runDir === undefined ? path.basename(runDir.dir) : named;
	return withRunDirectory(runDir.dir, (fence) => {
		// Again under the lock: another run may have started in this directory, and ended, while
		// this one resolved its refs (the check above only spares that work when it already had).
		const taken = runDirectoryInUse(runDir.dir);
		if (taken !== undefined) throw new RunSetupError(taken);
		// A run whose lock was taken over, or whose journal cannot be written, stops as if cancelled.
		const held = runDir.fencedBy(fence);
		return startFresh(
			matrix,
			options,
			AbortSignal.any([signal, fence.signal]),
			held,
			runId,
			started,
			prepared,
			changed,
		);
	});
}

async function startFresh(
	matrix: Matrix,
	options: RunOptions,
	signal: AbortSignal,
	runDir: RunDirectory,
	runId: string,
	started: Date,
	prepared: Prepared,
	changed: ChangedSince | undefined,
): Promise<RunSummary> {
	const planFile = planFileOf(runId, matrix, prepared);
	runDir.write("plan.json", planFile);
	runDir.append({
		type: "run-started",
		runId,
		at: started.toISOString(),
		cells: prepared.cells.map((c) => c.id),
		matrix: matrix.file,
		matrixDigest: matrixDigest(matrix),
		resolved: planFile.resolved,
		...(options.shard === undefined ? {} : { shard: options.shard }),
		...(changed === undefined ? {} : { changedSince: changed }),
	});
	// Carried cells are in the journal before anything runs: to the driver they are done.
	if (changed !== undefined) carryOver(changed.dir, runDir, changed.carried);
	const before = changed === undefined ? foldJournal([]) : readRunRecord(runDir.journal);
	const ctx = contextFor(runId, matrix, options, signal, runDir, prepared, before);
	announce(ctx, runId, changed === undefined ? undefined : before, changed);
	return drive(ctx, { runId, planFile, before, started: started.toISOString(), ...options, prepared });
}

/**
 * Continues a run that was killed or cancelled: what the journal holds is kept and never run
 * again, what was in flight runs again, builds come from the cache. The commits are the ones
 * the run started with, even if a branch has moved since.
 */
export async function resumeRun(dir: string, matrix: Matrix, options: ResumeOptions): Promise<ResumeResult> {
	// Before the lock: a directory without a run gets no lock file either.
	requireRun(dir);
	return withRunDirectory(dir, (fence) =>
		resumeHeld(RunDirectory.existing(dir).fencedBy(fence), matrix, {
			...options,
			signal: options.signal === undefined ? fence.signal : AbortSignal.any([options.signal, fence.signal]),
		}),
	);
}

async function resumeHeld(runDir: RunDirectory, matrix: Matrix, options: ResumeOptions): Promise<ResumeResult> {
	const signal = options.signal ?? new AbortController().signal;
	const before = readRunRecord(runDir.journal);
	const resultsFile = path.join(runDir.dir, "results.json");
	// A finished run may still owe cells that stopped on a lost connection: those run again.
	const owed = [...before.byCell.values()].some((c) => c.end?.state === "failed" && !cellSettled(c));
	if (before.outcome === "completed" && !owed) return { kind: "finished-before", dir: runDir.dir, resultsFile };
	const oldPlan = runDir.readPlan();
	const digest = matrixDigest(matrix);
	if (!options.matrixNamed && before.matrixDigest !== undefined && before.matrixDigest !== digest)
		throw new RunSetupError(
			`${matrix.file} changed since the run started; name it with --matrix to resume with the changed matrix`,
		);
	const wanted = new Set(before.cells.length > 0 ? before.cells : oldPlan.cells.map((c) => c.id));
	const prepared = await prepare(
		matrix,
		options,
		signal,
		(plan) => {
			const cells = plan.cells.filter((c) => wanted.has(c.id));
			if (cells.length === 0)
				throw new RunSetupError(`the matrix has none of the run's cells (${[...wanted].join(", ")})`);
			return cells;
		},
		// The journal's commits first: plan.json is derived and may be older than the last resume.
		{ ...oldPlan.resolved, ...before.resolved },
	);
	for (const problem of before.problems) options.bus.emit(engineLine(problem));
	const planFile = planFileOf(oldPlan.runId, matrix, prepared);
	refuseChangedKernels(oldPlan, planFile, before);
	// The journal first: plan.json is derived, and a kill between the two must not make the
	// next resume think the matrix changed.
	runDir.append({
		type: "run-resumed",
		at: new Date().toISOString(),
		matrix: matrix.file,
		matrixDigest: digest,
		resolved: planFile.resolved,
	});
	runDir.write("plan.json", planFile);
	const record = pinReboots(runDir, before);
	const ctx = contextFor(oldPlan.runId, matrix, options, signal, runDir, prepared, record);
	announce(ctx, oldPlan.runId, record);
	const summary = await drive(ctx, {
		runId: oldPlan.runId,
		planFile,
		before: record,
		started: before.started ?? new Date().toISOString(),
		...options,
		prepared,
	});
	return { kind: "resumed", summary };
}

/** Results for the tests this machine went down under (journaled), and the record with them. */
function pinReboots(runDir: RunDirectory, before: RunRecord): RunRecord {
	const now = localBootId();
	const pinned = now === undefined ? [] : rebootedWhileRunning(before, localShell.where, os.hostname(), now);
	for (const { cell, result } of pinned) runDir.append({ type: "test-result", cell, result });
	return pinned.length === 0 ? before : readRunRecord(runDir.journal);
}

/**
 * A matrix named on resume may change what is still to run, not what already ran: a cell with
 * journaled results whose kernel (commit or config) or test builds changed would mix two runs.
 */
function refuseChangedKernels(oldPlan: PlanFile, planFile: PlanFile, before: RunRecord): void {
	const jobsOf = (plan: PlanFile, id: string) => JSON.stringify(plan.cells.find((c) => c.id === id)?.jobs);
	for (const cell of planFile.cells) {
		if ((before.byCell.get(cell.id)?.attempts.length ?? 0) === 0) continue;
		if (jobsOf(oldPlan, cell.id) !== jobsOf(planFile, cell.id))
			throw new RunSetupError(
				`the matrix changes what cell ${cell.id} is built from, and it already has results; start a new run`,
			);
	}
}

function contextFor(
	runId: string,
	matrix: Matrix,
	options: Pick<RunOptions, "cacheRoot" | "bus" | "cpus" | "memoryBytes">,
	signal: AbortSignal,
	runDir: RunDirectory,
	prepared: Prepared,
	before: RunRecord,
): RunContext {
	return createRunContext({
		runId,
		matrix,
		plan: prepared.plan,
		cells: prepared.cells,
		resolutions: prepared.resolutions,
		prebuilt: prepared.prebuilt,
		cache: cachePaths(options.cacheRoot),
		repoOf: prepared.repoOf,
		bus: options.bus,
		signal,
		runDir,
		...(options.cpus === undefined ? {} : { cpus: options.cpus }),
		...(options.memoryBytes === undefined ? {} : { memoryBytes: options.memoryBytes }),
		resumes: before.resumes + (before.runId === undefined ? 0 : 1),
		knownNotes: new Map([...before.byCell].map(([id, c]) => [id, c.notes])),
	});
}

interface DriveInput extends Pick<RunOptions, "commands" | "lore"> {
	readonly runId: string;
	readonly planFile: PlanFile;
	readonly before: RunRecord;
	readonly started: string;
	readonly prepared: Prepared;
}

/** The run machine over the cells, then results.json and run-finished, all from the journal. */
async function drive(ctx: RunContext, input: DriveInput): Promise<RunSummary> {
	const { runDir } = ctx;
	const jobs = createJobRunner(ctx);
	const machine = createCellMachine(stageActors(ctx, jobs));
	const current = () => readRunRecord(runDir.journal);
	const driver = createCellDriver(ctx, machine, input.before, current);
	const stopServing = input.commands?.serve(driver.retry);
	const outcome = await driveRun(
		{
			// Retries are asked for while cells run; once they settle, verdicts are being made.
			cells: () => driver.runAll().finally(() => stopServing?.()),
			classify: () =>
				classifyStage(ctx, {
					planFile: input.planFile,
					record: current(),
					started: input.started,
					knownIssues: input.prepared.knownIssues,
					...(input.lore === undefined ? {} : { lore: input.lore }),
				}),
			cancel: () => {
				driver.cancelAll();
				ctx.buildQueue.clear();
				ctx.vmQueue.clear();
				ctx.hostQueue.clear();
			},
		},
		ctx.signal,
	);
	stopServing?.();
	await kvmSettled(ctx);
	const summary = writeResults(ctx, input.runId, input.started, outcome, current());
	runDir.append({ type: "run-finished", outcome });
	ctx.bus.emit({ type: "run-finished", at: Date.now(), runId: input.runId, outcome });
	return summary;
}

function writeResults(
	ctx: RunContext,
	runId: string,
	started: string,
	outcome: "completed" | "cancelled",
	record: RunRecord,
): RunSummary {
	const cells = summariseCells(
		ctx.cells.map((c) => {
			const sha = c.kernel.kind === "source" ? ctx.resolutions.get(refKey(c.kernel)) : undefined;
			return { id: c.id, kernel: c.kernel.id, target: c.target.name, ...(sha === undefined ? {} : { sha }) };
		}),
		record,
	);
	const head = { runId, matrix: ctx.matrix.name, started, finished: new Date().toISOString() };
	const resultsFile = ctx.runDir.write("results.json", resultsDocument(head, outcome, cells));
	return {
		runId,
		dir: ctx.runDir.dir,
		outcome,
		cells,
		resultsFile,
		...(record.changedSince === undefined ? {} : { changedSince: record.changedSince }),
	};
}
