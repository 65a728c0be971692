import { writeFile } from "node:fs/promises";
import path from "node:path";
import {
	CancelledError,
	cacheRoot,
	createEventBus,
	type EngineEvent,
	type EventSource,
	executeRun,
	isFailing,
	RunCommands,
	RunSetupError,
	type RunSummary,
} from "@kvm-matrix/orchestrator";
import { render } from "ink";
import { App } from "../app/App.js";
import { RunStore } from "../app/store.js";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { attachLineReporter } from "../render/line-reporter.js";
import { lineTracking } from "../render/line-tracking.js";
import { colourEnabled, palette } from "../render/palette.js";
import { chooseView } from "../render/view-choice.js";
import { loadOrReport } from "./load.js";

export interface RunCommandOptions {
	readonly headless: boolean;
	readonly runDir?: string;
	readonly json?: string;
	readonly only?: string;
	readonly verbose: boolean;
	readonly lore?: string;
}

function summaryLines(summary: RunSummary): string[] {
	const lines = ["", "results:"];
	const width = Math.max(...summary.cells.map((c) => c.id.length));
	for (const cell of summary.cells) {
		const c = cell.counts;
		const counts = `${c.pass} pass, ${c.fail} fail, ${c.skip} skip, ${c.timeout} timeout, ${c.crash} crash, ${c.error} error`;
		const state =
			cell.state === "done"
				? counts
				: `${cell.state}${cell.failure ? ` in ${cell.failure.stage}: ${cell.failure.reason}` : ""}`;
		lines.push(`  ${cell.id.padEnd(width)}  ${state}`);
		for (const line of cell.failure?.evidence ?? []) lines.push(`  ${" ".repeat(width)}  | ${line}`);
		const explained = cell.results.filter((r) => r.explanation !== undefined);
		const testWidth = Math.max(0, ...explained.map((r) => r.testId.length));
		for (const r of explained) lines.push(`  ${" ".repeat(width)}  ${r.testId.padEnd(testWidth)}  ${r.explanation}`);
		for (const n of cell.notes) lines.push(`  ${" ".repeat(width)}  note: ${n}`);
	}
	lines.push("", `run directory: ${summary.dir}`, `results: ${summary.resultsFile}`);
	return lines;
}

/**
 * A run is red when a person has to look: a regression, a failure nothing explains, the harness
 * failing, or a cell that never got to run its tests. A pending fix, a known issue, a flaky test
 * and a test failing on the baseline too are already explained.
 */
export function needsAttention(summary: RunSummary): boolean {
	const red = new Set(["regression", "new-failure", "infra"]);
	return summary.cells.some(
		(c) =>
			c.state === "failed" ||
			c.results.some((r) => (r.verdict === undefined ? isFailing(r) : red.has(r.verdict.verdict))),
	);
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

export async function runCommand(file: string, options: RunCommandOptions, io: CliIo): Promise<ExitCode> {
	const matrix = await loadOrReport(file, io);
	if (matrix === undefined) return EXIT.usage;
	const bus = createEventBus<EngineEvent>();
	const colours = palette(colourEnabled(io.env, io.isTty));
	// The view's only way into the engine: cancel (Ctrl-C or q in the TUI, a signal otherwise).
	const cancel = new AbortController();
	const signal = io.signal === undefined ? cancel.signal : AbortSignal.any([io.signal, cancel.signal]);
	const commands = new RunCommands();
	const view = chooseView({ terminal: io.terminal !== undefined, headless: options.headless, env: io.env });
	const tui =
		view.kind === "interactive" && io.terminal !== undefined ? startTui(bus, io.terminal, cancel, commands) : undefined;
	if (view.kind === "plain" && view.note !== undefined) io.stderr(`kvm-matrix run: ${view.note}\n`);
	if (tui === undefined)
		attachLineReporter(bus, (line) => io.stdout(`${line}\n`), colours, { verbose: options.verbose });
	try {
		const summary = await executeRun(matrix, {
			cacheRoot: cacheRoot(io.env),
			cwd: io.cwd,
			bus,
			signal,
			commands,
			...(options.runDir === undefined ? {} : { runDir: path.resolve(io.cwd, options.runDir) }),
			...(options.only === undefined ? {} : { only: options.only }),
			...(options.lore === undefined ? {} : { lore: options.lore }),
		});
		if (tui !== undefined) {
			await tui.done;
			if (!tui.atLineStart()) io.stdout("\n");
		}
		for (const line of tui === undefined ? summaryLines(summary) : [`results: ${summary.resultsFile}`])
			io.stdout(`${line}\n`);
		if (options.json !== undefined)
			await writeFile(path.resolve(io.cwd, options.json), `${JSON.stringify(summary, null, 2)}\n`);
		if (summary.outcome === "cancelled") return EXIT.interrupted;
		return needsAttention(summary) ? EXIT.testFailures : EXIT.ok;
	} catch (error) {
		tui?.stop();
		if (error instanceof RunSetupError) {
			io.stderr(`kvm-matrix run: ${error.message}\n`);
			return EXIT.usage;
		}
		if (error instanceof CancelledError) {
			io.stderr("kvm-matrix run: cancelled before anything started\n");
			return EXIT.interrupted;
		}
		throw error;
	}
}
