import { writeFileSync } from "node:fs";
import path from "node:path";
import {
	type CiPlan,
	cacheRoot,
	createEventBus,
	decideExit,
	type EngineEvent,
	executeRun,
	type FailOn,
	githubMatrix,
	gitlabMatrix,
	indexEndedRun,
	type Matrix,
	makeCiPlan,
	matrixDigest,
	mergeShards,
	parseShardSpec,
	RunSetupError,
	RunTakenOverError,
	RunWriteError,
	readCiPlan,
	readRunRecordOf,
	resumeRun,
	runMatrixFile,
	runVerdictCounts,
	SourceError,
} from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { bisectRunRegressions, parseMaxBuilds } from "./bisect-regressions.js";
import { loadOrReport } from "./load.js";
import { type ReportSpec, writeRunReports } from "./report.js";
import { bisectOption, ended, refused, startViews, unwritableOutput } from "./run.js";

export type CiPlanFormat = "github" | "gitlab" | "json";

export interface CiPlanOptions {
	readonly shards: string;
	readonly format: CiPlanFormat;
	readonly out?: string;
	readonly history: readonly string[];
}

const fail = (io: CliIo, command: string, message: string): ExitCode => {
	io.stderr(`kvm-matrix ci ${command}: ${message}\n`);
	return EXIT.usage;
};

const minutes = (ms: number) => `${Math.max(1, Math.round(ms / 60_000))} min`;

/** Where earlier runs are looked for when `--history` is not given: `runs/` here. */
const historyDirs = (io: CliIo, given: readonly string[]) =>
	(given.length === 0 ? ["runs"] : given).map((d) => path.resolve(io.cwd, d));

/** A bus for commands that print no progress view: lines that matter go to stderr. */
function quietBus(io: CliIo) {
	const bus = createEventBus<EngineEvent>();
	bus.subscribe((e) => {
		if (e.type === "log-line" && e.stream === "engine") io.stderr(`${e.line}\n`);
	});
	return bus;
}

async function planFor(matrix: Matrix, shards: number, history: readonly string[], io: CliIo): Promise<CiPlan> {
	return makeCiPlan(matrix, {
		shards,
		history,
		cacheRoot: cacheRoot(io.env),
		bus: quietBus(io),
		...(io.signal === undefined ? {} : { signal: io.signal }),
	});
}

/** `kvm-matrix ci plan FILE --shards N [--format github|gitlab|json] [--out PLAN]`. */
export async function ciPlanCommand(file: string, options: CiPlanOptions, io: CliIo): Promise<ExitCode> {
	const shards = Number(options.shards);
	if (!Number.isInteger(shards) || shards < 1 || shards > 256)
		return fail(io, "plan", `--shards ${options.shards}: expected a whole number from 1 to 256`);
	const matrix = await loadOrReport(file, io);
	if (matrix === undefined) return EXIT.usage;
	let plan: CiPlan;
	try {
		plan = await planFor(matrix, shards, historyDirs(io, options.history), io);
	} catch (error) {
		if (error instanceof RunSetupError || error instanceof SourceError) return fail(io, "plan", error.message);
		throw error;
	}
	const json = `${JSON.stringify(plan, null, 2)}\n`;
	if (options.out !== undefined) writeFileSync(path.resolve(io.cwd, options.out), json);
	for (const s of plan.shards)
		io.stderr(
			`shard ${s.shard}: ${s.cells.length} cells, ${s.builds.length} kernel builds, about ${minutes(s.estimateMs)}\n`,
		);
	const timed =
		plan.history.length === 0 ? "no earlier run timed anything" : `times from ${plan.history.length} earlier runs`;
	io.stderr(
		`plan ${plan.id}: ideal ${minutes(plan.idealMs)} a shard; ${timed}${plan.estimated.length === 0 ? "" : `; ${plan.estimated.length} cells estimated`}\n`,
	);
	if (options.format === "github") io.stdout(`${githubMatrix(plan)}\n`);
	else if (options.format === "gitlab") io.stdout(gitlabMatrix(plan));
	else io.stdout(json);
	return EXIT.ok;
}

export interface CiRunOptions {
	readonly shard: string;
	readonly runDir: string;
	readonly plan?: string;
	readonly history: readonly string[];
	readonly headless: boolean;
	readonly verbose: boolean;
	readonly lore?: string;
	readonly failOn: FailOn;
	readonly report: readonly ReportSpec[];
	readonly junitStrict?: boolean;
	readonly changedSince?: string;
}

/** `kvm-matrix ci run FILE --shard K/N --run-dir DIR [--plan PLAN]`: that shard's cells, resumable. */
export async function ciRunCommand(file: string, options: CiRunOptions, io: CliIo): Promise<ExitCode> {
	const spec = parseShardSpec(options.shard);
	if (!spec.ok) return fail(io, "run", spec.error);
	const matrix = await loadOrReport(file, io);
	if (matrix === undefined) return EXIT.usage;
	let plan: CiPlan;
	try {
		plan =
			options.plan === undefined
				? await planFor(matrix, spec.count, historyDirs(io, options.history), io)
				: readCiPlan(path.resolve(io.cwd, options.plan));
	} catch (error) {
		if (error instanceof RunSetupError || error instanceof SourceError) return fail(io, "run", error.message);
		throw error;
	}
	if (plan.matrixDigest !== matrixDigest(matrix))
		return fail(io, "run", `${options.plan}: planned for another version of ${file} (plan again with ci plan)`);
	if (plan.shards.length !== spec.count)
		return fail(io, "run", `--shard ${options.shard}: the plan has ${plan.shards.length} shards, not ${spec.count}`);
	const cells = plan.shards[spec.index - 1]?.cells ?? [];
	const shard = { index: spec.index, count: spec.count, plan: plan.id };
	const runDir = path.resolve(io.cwd, options.runDir);
	const before = readRunRecordOf(runDir);
	if (before !== undefined) {
		const was = before.shard;
		if (was === undefined || was.plan !== shard.plan || was.index !== shard.index || was.count !== shard.count)
			return fail(
				io,
				"run",
				`${options.runDir} holds ${was === undefined ? "a run that is not a shard" : `shard ${was.index}/${was.count} of plan ${was.plan}`}, not shard ${options.shard} of plan ${plan.id}`,
			);
	}
	const unwritable = unwritableOutput("ci run", options, io);
	if (unwritable !== undefined) return unwritable;
	const views = startViews("ci run", options, io);
	const end = {
		failOn: options.failOn,
		report: options.report,
		junitStrict: options.junitStrict === true,
		matrix,
		...(spec.count > 1 ? { shard } : {}),
	};
	try {
		const common = {
			cacheRoot: cacheRoot(io.env),
			bus: views.bus,
			signal: views.signal,
			commands: views.commands,
			...(options.lore === undefined ? {} : { lore: options.lore }),
		};
		if (before !== undefined) {
			// The same shard again: it goes on where it stopped, or says it is done.
			const result = await resumeRun(runDir, matrix, { ...common, matrixNamed: false });
			if (result.kind === "finished-before") {
				views.stop();
				io.stdout(`kvm-matrix ci run: shard ${options.shard} in ${result.dir} finished before; nothing to run\n`);
				return EXIT.ok;
			}
			return await ended("ci run", result.summary, views, end, io);
		}
		const summary = await executeRun(matrix, {
			...common,
			cwd: io.cwd,
			runDir,
			cells,
			resolved: plan.resolved,
			shard,
			...(options.changedSince === undefined ? {} : { changedSince: path.resolve(io.cwd, options.changedSince) }),
		});
		return await ended("ci run", summary, views, end, io);
	} catch (error) {
		return refused("ci run", error, views, io);
	}
}

export interface CiMergeOptions {
	readonly out: string;
	readonly matrix?: string;
	readonly partial: boolean;
	readonly lore?: string;
	readonly failOn: FailOn;
	readonly report: readonly ReportSpec[];
	readonly junitStrict?: boolean;
	readonly bisectRegressions?: boolean;
	readonly maxBuilds?: string;
}

/** `kvm-matrix ci merge DIR... --out DIR`: one run of all shards, its verdicts, and the one exit. */
export async function ciMergeCommand(dirs: readonly string[], options: CiMergeOptions, io: CliIo): Promise<ExitCode> {
	if (dirs.length === 0) return fail(io, "merge", "give the shards' run directories");
	const maxBuilds = parseMaxBuilds(options.maxBuilds);
	if (typeof maxBuilds === "object") return fail(io, "merge", maxBuilds.error);
	if (options.maxBuilds !== undefined && options.bisectRegressions !== true)
		return fail(io, "merge", "--max-builds goes with --bisect-regressions");
	let matrixFile = options.matrix;
	if (matrixFile === undefined) {
		try {
			matrixFile = await runMatrixFile(path.resolve(io.cwd, dirs[0] ?? ""));
		} catch {
			return fail(io, "merge", `${dirs[0]}: not a run directory (no plan.json)`);
		}
	}
	const matrix = await loadOrReport(matrixFile, io);
	if (matrix === undefined) return EXIT.usage;
	const out = path.resolve(io.cwd, options.out);
	try {
		const merged = await mergeShards({
			dirs: dirs.map((d) => path.resolve(io.cwd, d)),
			out,
			matrix,
			cacheRoot: cacheRoot(io.env),
			partial: options.partial,
			...(options.lore === undefined ? {} : { lore: options.lore }),
			...(io.signal === undefined ? {} : { signal: io.signal }),
			onLine: (line) => io.stderr(`kvm-matrix ci merge: ${line}\n`),
		});
		io.stdout(`merged ${merged.shards.length} shards of plan ${merged.shards[0]?.shard.plan} into ${out}\n`);
		for (const cell of merged.cells) {
			const explained = cell.results.filter((r) => r.explanation !== undefined);
			io.stdout(`${cell.id}: ${explained.length === 0 ? "no failures" : `${explained.length} to explain`}\n`);
			const width = Math.max(0, ...explained.map((r) => r.testId.length));
			for (const r of explained) io.stdout(`  ${r.testId.padEnd(width)}  ${r.explanation}\n`);
		}
		io.stdout(`results: ${merged.resultsPath}\n`);
		const decision = decideExit(runVerdictCounts(merged.cells), options.failOn);
		let bisectCancelled = false;
		if (options.bisectRegressions === true)
			bisectCancelled = await bisectRunRegressions(
				out,
				matrix,
				bisectOption(options.maxBuilds).maxBuilds,
				io,
				"ci merge",
			);
		const reported = await writeRunReports(
			out,
			options.report,
			options.failOn,
			matrix,
			io,
			"ci merge",
			options.junitStrict === true,
		);
		const unindexed = indexEndedRun(cacheRoot(io.env), out);
		if (unindexed !== undefined) io.stderr(`kvm-matrix ci merge: ${unindexed}\n`);
		io.stdout(`exit ${decision.red ? EXIT.testFailures : EXIT.ok}, ${decision.line}\n`);
		if (bisectCancelled) return EXIT.interrupted;
		if (!reported) return EXIT.usage;
		return decision.red ? EXIT.testFailures : EXIT.ok;
	} catch (error) {
		if (error instanceof RunSetupError || error instanceof SourceError) return fail(io, "merge", error.message);
		if (error instanceof RunTakenOverError || error instanceof RunWriteError) {
			io.stderr(`kvm-matrix ci merge: ${error.message}\n`);
			return EXIT.interrupted;
		}
		throw error;
	}
}
