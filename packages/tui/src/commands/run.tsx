import { writeFile } from "node:fs/promises";
import path from "node:path";
import {
	CancelledError,
	cacheRoot,
	checkWritableFile,
	createEventBus,
	type EngineEvent,
	type EventBus,
	type EventSource,
	type ExitDecision,
	executeRun,
	type FailOn,
	indexEndedRun,
	type Matrix,
	RunCommands,
	RunSetupError,
	type RunSummary,
	RunTakenOverError,
	RunWriteError,
	readRunView,
	resumeRun,
	runExit,
	runMatrixFile,
	UserPathError,
} from "@kvm-matrix/orchestrator";
import { render } from "ink";
import { App } from "../app/App.js";
import { RunStore } from "../app/store.js";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { attachLineReporter, changedSinceLines } from "../render/line-reporter.js";
import { lineTracking } from "../render/line-tracking.js";
import { colourEnabled, palette } from "../render/palette.js";
import { chooseView } from "../render/view-choice.js";
import { bisectRunRegressions, parseMaxBuilds } from "./bisect-regressions.js";
import { loadOrReport } from "./load.js";
import { type ReportSpec, writeRunReports } from "./report.js";

export interface RunCommandOptions {
	readonly headless: boolean;
	readonly runDir?: string;
	readonly json?: string;
	readonly only?: string;
	readonly verbose: boolean;
	readonly lore?: string;
	readonly failOn: FailOn;
	readonly report: readonly ReportSpec[];
	readonly junitStrict?: boolean;
	readonly bisectRegressions?: boolean;
	readonly maxBuilds?: string;
	readonly changedSince?: string;
}

function summaryLines(summary: RunSummary): string[] {
	const lines = ["", "results:"];
	const width = Math.max(...summary.cells.map((c) => c.id.length));
	for (const cell of summary.cells) {
		const c = cell.counts;
		const counts = `${c.pass} pass, ${c.fail} fail, ${c.skip} skip, ${c.timeout} timeout, ${c.crash} crash, ${c.error} error`;
		const state =
			cell.state === "done"
				? `${counts}${cell.carried === undefined ? "" : ` (carried from ${cell.carried.run})`}`
				: `${cell.state}${cell.failure ? ` in ${cell.failure.stage}: ${cell.failure.reason}` : ""}`;
		lines.push(`  ${cell.id.padEnd(width)}  ${state}`);
		for (const line of cell.failure?.evidence ?? []) lines.push(`  ${" ".repeat(width)}  | ${line}`);
		const explained = cell.results.filter((r) => r.explanation !== undefined);
		const testWidth = Math.max(0, ...explained.map((r) => r.testId.length));
		for (const r of explained) lines.push(`  ${" ".repeat(width)}  ${r.testId.padEnd(testWidth)}  ${r.explanation}`);
		for (const n of cell.notes) lines.push(`  ${" ".repeat(width)}  note: ${n}`);
	}
	if (summary.changedSince !== undefined)
		lines.push("", ...changedSinceLines(summary.changedSince, summary.cells.length));
	lines.push("", `run directory: ${summary.dir}`, `results: ${summary.resultsFile}`);
	return lines;
}

/** The Ink app on the terminal, fed by the engine's events through a store it reads at ≤ 10 fps. */
function startTui(
	bus: EventSource<EngineEvent>,
	terminal: NonNullable<CliIo["terminal"]>,
	cancel: AbortController,
	commands: RunCommands,
): { done: Promise<unknown>; stop: () => void; atLineStart: () => boolean } {
	const store = new RunStore();
	const stdout = lineTracking(terminal.stdout);
	bus.subscribe((event) => store.apply(event));
	const instance = render(
		<App
			store={store}
			control={{ cancel: () => cancel.abort(), retry: (cellId, testKey) => commands.retry(cellId, testKey) }}
		/>,
		{
			stdin: terminal.stdin,
			stdout: stdout.stream,
			exitOnCtrlC: false,
			patchConsole: false,
			maxFps: 10,
		},
	);
	return { done: instance.waitUntilExit(), stop: () => instance.unmount(), atLineStart: stdout.atLineStart };
}

/** The views a run or a resume shows, and the engine's two ways in: cancel and retry. */
export interface Views {
	readonly bus: EventBus<EngineEvent>;
	readonly signal: AbortSignal;
	readonly commands: RunCommands;
	/** The first exception a view's listener threw; the run went on without that view. */
	readonly viewError: () => unknown;
	/** Waits for the views to end, then prints the summary (none when `summary` is undefined). */
	readonly finish: (summary: RunSummary | undefined, decision?: ExitDecision) => Promise<void>;
	readonly stop: () => void;
}

export interface ViewPlace {
	/** Where plain progress lines go (stdout for `run`; stderr when stdout is for a report). */
	readonly line?: (line: string) => void;
	/** Print the run's summary lines at the end (`run`, `resume`). */
	readonly summary?: boolean;
}

export function startViews(
	command: string,
	options: Pick<RunCommandOptions, "headless" | "verbose">,
	io: CliIo,
	place: ViewPlace = {},
): Views {
	let viewError: unknown;
	// A bug in a view must not lose the run: the listener is dropped, the error kept for the end.
	const bus = createEventBus<EngineEvent>({
		onListenerError: (error) => {
			viewError ??= error;
		},
	});
	const colours = palette(colourEnabled(io.env, io.isTty));
	// The view's only way into the engine: cancel (Ctrl-C or q in the TUI, a signal otherwise).
	const cancel = new AbortController();
	const signal = io.signal === undefined ? cancel.signal : AbortSignal.any([io.signal, cancel.signal]);
	const commands = new RunCommands();
	const view = chooseView({ terminal: io.terminal !== undefined, headless: options.headless, env: io.env });
	const tui =
		view.kind === "interactive" && io.terminal !== undefined ? startTui(bus, io.terminal, cancel, commands) : undefined;
	if (view.kind === "plain" && view.note !== undefined) io.stderr(`kvm-matrix ${command}: ${view.note}\n`);
	if (tui === undefined)
		attachLineReporter(bus, place.line ?? ((line) => io.stdout(`${line}\n`)), colours, { verbose: options.verbose });
	return {
		bus,
		signal,
		commands,
		viewError: () => viewError,
		finish: async (summary, decision) => {
			try {
				if (tui !== undefined) {
					await tui.done;
					if (!tui.atLineStart()) io.stdout("\n");
				}
				if (summary === undefined || place.summary === false) return;
				for (const line of tui === undefined ? summaryLines(summary) : [`results: ${summary.resultsFile}`])
					io.stdout(`${line}\n`);
				// Why the exit status is what it is, last, where a CI log's reader looks first.
				if (decision !== undefined && summary.outcome === "completed")
					io.stdout(`exit ${decision.red ? EXIT.testFailures : EXIT.ok}, ${decision.line}\n`);
			} catch (error) {
				// The view that broke may break again on the summary: the run is written either way.
				viewError ??= error;
			}
		},
		stop: () => tui?.stop(),
	};
}

/** The exit status of a run that ended, by the engine's policy; a view that broke is exit 3. */
export async function ended(
	command: string,
	ranSummary: RunSummary,
	views: Views,
	options: {
		readonly failOn: FailOn;
		readonly json?: string;
		readonly report?: readonly ReportSpec[];
		readonly junitStrict?: boolean;
		/** `--bisect-regressions [--max-builds N]`: bisect the regressions before the reports. */
		readonly bisect?: { readonly maxBuilds?: number };
		readonly matrix: Matrix;
		/** A CI shard's verdicts saw only its cells: it says them, `ci merge` exits by them. */
		readonly shard?: { readonly index: number; readonly count: number };
	},
	io: CliIo,
): Promise<ExitCode> {
	const { failOn, json, shard } = options;
	let summary = ranSummary;
	const own = runExit(summary, failOn);
	const decision =
		shard === undefined
			? own
			: {
					red: false,
					failing: [],
					line: `shard ${shard.index}/${shard.count} (its cells alone): ${own.line}; ci merge gives the verdict`,
				};
	await views.finish(summary, decision);
	let bisectCancelled = false;
	if (options.bisect !== undefined && summary.outcome === "completed" && shard === undefined) {
		bisectCancelled = await bisectRunRegressions(summary.dir, options.matrix, options.bisect.maxBuilds, io, command);
		summary = { ...summary, cells: readRunView(summary.dir).cells };
	}
	// Checked before the run; a disk that filled since is one line, and the run stands.
	const jsonWritten =
		json === undefined ||
		(await writeFile(path.resolve(io.cwd, json), `${JSON.stringify(summary, null, 2)}\n`).then(
			() => true,
			(error: unknown) => {
				io.stderr(
					`kvm-matrix ${command}: --json ${json} not written (${error instanceof Error ? error.message : String(error)}); results in ${summary.dir}\n`,
				);
				return false;
			},
		));
	const broken = views.viewError();
	if (broken !== undefined) {
		const why = broken instanceof Error ? broken.message : String(broken);
		io.stderr(
			`kvm-matrix ${command}: a view failed (${why.split("\n")[0]}); the run went on without it, results in ${summary.dir}\n`,
		);
		return EXIT.internal;
	}
	// Written for a cancelled run too: what it finished is worth reading.
	const reported = await writeRunReports(
		summary.dir,
		options.report ?? [],
		failOn,
		options.matrix,
		io,
		command,
		options.junitStrict === true,
	);
	const unindexed = indexEndedRun(cacheRoot(io.env), summary.dir);
	if (unindexed !== undefined) io.stderr(`kvm-matrix ${command}: ${unindexed}\n`);
	if (summary.outcome === "cancelled" || bisectCancelled) return EXIT.interrupted;
	// A --report path that cannot be written is bad input, like a matrix that cannot be read.
	if (!reported || !jsonWritten) return EXIT.usage;
	return decision.red ? EXIT.testFailures : EXIT.ok;
}

/**
 * The files a run writes at its end (`--json`, `--report`), checked before it starts: a path that
 * cannot be written is bad input, said in one line, not found out after an hour of tests.
 */
export function unwritableOutput(
	command: string,
	outputs: { readonly json?: string | undefined; readonly report?: readonly ReportSpec[] | undefined },
	io: CliIo,
): ExitCode | undefined {
	const files = [...(outputs.json === undefined ? [] : [outputs.json]), ...(outputs.report ?? []).map((r) => r.path)];
	for (const file of files) {
		try {
			checkWritableFile(path.resolve(io.cwd, file));
		} catch (error) {
			if (!(error instanceof UserPathError)) throw error;
			io.stderr(`kvm-matrix ${command}: ${error.message}\n`);
			return EXIT.usage;
		}
	}
	return undefined;
}

/** Errors found before anything ran, as one line; anything else is a bug and propagates. */
export function refused(command: string, error: unknown, views: Views, io: CliIo): ExitCode {
	views.stop();
	if (error instanceof RunSetupError) {
		io.stderr(`kvm-matrix ${command}: ${error.message}\n`);
		return EXIT.usage;
	}
	if (error instanceof CancelledError) {
		io.stderr(`kvm-matrix ${command}: cancelled before anything started\n`);
		return EXIT.interrupted;
	}
	// The run goes on under whoever took it over, or resumes once the disk has room: this process
	// stopped, as for Ctrl-C.
	if (error instanceof RunTakenOverError || error instanceof RunWriteError) {
		io.stderr(`kvm-matrix ${command}: ${error.message}\n`);
		return EXIT.interrupted;
	}
	throw error;
}

export async function runCommand(file: string, options: RunCommandOptions, io: CliIo): Promise<ExitCode> {
	const maxBuilds = parseMaxBuilds(options.maxBuilds);
	if (typeof maxBuilds === "object") {
		io.stderr(`kvm-matrix run: ${maxBuilds.error}\n`);
		return EXIT.usage;
	}
	if (options.maxBuilds !== undefined && options.bisectRegressions !== true) {
		io.stderr("kvm-matrix run: --max-builds goes with --bisect-regressions\n");
		return EXIT.usage;
	}
	const matrix = await loadOrReport(file, io);
	if (matrix === undefined) return EXIT.usage;
	const unwritable = unwritableOutput("run", options, io);
	if (unwritable !== undefined) return unwritable;
	const views = startViews("run", options, io);
	try {
		const summary = await executeRun(matrix, {
			cacheRoot: cacheRoot(io.env),
			cwd: io.cwd,
			bus: views.bus,
			signal: views.signal,
			commands: views.commands,
			...(options.runDir === undefined ? {} : { runDir: path.resolve(io.cwd, options.runDir) }),
			...(options.only === undefined ? {} : { only: options.only }),
			...(options.lore === undefined ? {} : { lore: options.lore }),
			...(options.changedSince === undefined ? {} : { changedSince: path.resolve(io.cwd, options.changedSince) }),
		});
		return await ended(
			"run",
			summary,
			views,
			{
				failOn: options.failOn,
				report: options.report,
				junitStrict: options.junitStrict === true,
				...(options.bisectRegressions === true ? { bisect: bisectOption(options.maxBuilds) } : {}),
				matrix,
				...(options.json === undefined ? {} : { json: options.json }),
			},
			io,
		);
	} catch (error) {
		return refused("run", error, views, io);
	}
}

export interface ResumeCommandOptions {
	readonly headless: boolean;
	readonly matrix?: string;
	readonly json?: string;
	readonly verbose: boolean;
	readonly lore?: string;
	readonly failOn: FailOn;
}

/** `kvm-matrix resume RUN_DIR`: the rest of a killed or cancelled run, in the same directory. */
export async function resumeCommand(dir: string, options: ResumeCommandOptions, io: CliIo): Promise<ExitCode> {
	const runDir = path.resolve(io.cwd, dir);
	let matrixFile = options.matrix;
	if (matrixFile === undefined) {
		try {
			matrixFile = await runMatrixFile(runDir);
		} catch {
			io.stderr(
				`kvm-matrix resume: ${runDir} holds no run (no readable plan.json; a run killed before it planned has nothing to resume: start it again)\n`,
			);
			return EXIT.usage;
		}
	}
	const matrix = await loadOrReport(matrixFile, io);
	if (matrix === undefined) return EXIT.usage;
	const unwritable = unwritableOutput("resume", options, io);
	if (unwritable !== undefined) return unwritable;
	const views = startViews("resume", options, io);
	try {
		const result = await resumeRun(runDir, matrix, {
			cacheRoot: cacheRoot(io.env),
			bus: views.bus,
			signal: views.signal,
			commands: views.commands,
			matrixNamed: options.matrix !== undefined,
			...(options.lore === undefined ? {} : { lore: options.lore }),
		});
		if (result.kind === "finished-before") {
			views.stop();
			io.stdout(
				`kvm-matrix resume: ${result.dir} finished before; nothing to resume (results: ${result.resultsFile})\n`,
			);
			return EXIT.ok;
		}
		return await ended(
			"resume",
			result.summary,
			views,
			{ failOn: options.failOn, matrix, ...(options.json === undefined ? {} : { json: options.json }) },
			io,
		);
	} catch (error) {
		return refused("resume", error, views, io);
	}
}

/** `--max-builds`, checked before the run (refused in one line by `runCommand`), as `ended` wants it. */
export function bisectOption(maxBuilds: string | undefined): { readonly maxBuilds?: number } {
	const n = parseMaxBuilds(maxBuilds);
	return typeof n === "number" ? { maxBuilds: n } : {};
}
