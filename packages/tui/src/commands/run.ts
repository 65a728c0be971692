import { writeFile } from "node:fs/promises";
import path from "node:path";
import {
	CancelledError,
	cacheRoot,
	createEventBus,
	type EngineEvent,
	executeRun,
	isFailing,
	RunSetupError,
	type RunSummary,
} from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { attachLineReporter } from "../render/line-reporter.js";
import { colourEnabled, palette } from "../render/palette.js";
import { loadOrReport } from "./load.js";

export interface RunCommandOptions {
	readonly headless: boolean;
	readonly runDir?: string;
	readonly json?: string;
	readonly only?: string;
	readonly verbose: boolean;
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

export async function runCommand(file: string, options: RunCommandOptions, io: CliIo): Promise<ExitCode> {
	const matrix = await loadOrReport(file, io);
	if (matrix === undefined) return EXIT.usage;
	const bus = createEventBus<EngineEvent>();
	const colours = palette(colourEnabled(io.env, io.isTty));
	// The interactive TUI comes later; for now every run uses the plain line reporter.
	attachLineReporter(bus, (line) => io.stdout(`${line}\n`), colours, { verbose: options.verbose });
	try {
		const summary = await executeRun(matrix, {
			cacheRoot: cacheRoot(io.env),
			cwd: io.cwd,
			bus,
			...(options.runDir === undefined ? {} : { runDir: path.resolve(io.cwd, options.runDir) }),
			...(options.only === undefined ? {} : { only: options.only }),
			...(io.signal === undefined ? {} : { signal: io.signal }),
		});
		for (const line of summaryLines(summary)) io.stdout(`${line}\n`);
		if (options.json !== undefined)
			await writeFile(path.resolve(io.cwd, options.json), `${JSON.stringify(summary, null, 2)}\n`);
		if (summary.outcome === "cancelled") return EXIT.interrupted;
		return needsAttention(summary) ? EXIT.testFailures : EXIT.ok;
	} catch (error) {
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
