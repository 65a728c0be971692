import { existsSync } from "node:fs";
import path from "node:path";
import {
	cacheRoot,
	classifyForeignResults,
	decideExit,
	type ExitDecision,
	type FailOn,
	ForeignResultsError,
	RunSetupError,
	reclassifyRun,
	runMatrixFile,
	runVerdictCounts,
	SourceError,
	type VerdictName,
} from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { loadOrReport } from "./load.js";

export interface ClassifyOptions {
	readonly matrix?: string;
	readonly results: readonly string[];
	readonly json: boolean;
	readonly lore?: string;
	readonly failOn: FailOn;
}

/** The exit decision as `--json` prints it, beside the verdicts. */
const exitJson = (d: ExitDecision) => ({
	status: d.red ? EXIT.testFailures : EXIT.ok,
	red: d.red,
	failing: d.failing,
	why: d.line,
});

const firstLine = (error: unknown) => (error instanceof Error ? error.message.split("\n")[0] : String(error));

/**
 * `kvm-matrix classify RUN_DIR [--matrix FILE]`: verdicts again, from the run directory; or
 * `kvm-matrix classify --results KERNEL=FILE ... --matrix FILE [--json]`: verdicts for results
 * produced elsewhere. Running nothing either way.
 */
export async function classifyCommand(
	runDir: string | undefined,
	options: ClassifyOptions,
	io: CliIo,
): Promise<ExitCode> {
	if (options.results.length > 0) {
		if (runDir !== undefined) {
			io.stderr("kvm-matrix classify: give a run directory or --results, not both\n");
			return EXIT.usage;
		}
		return classifyResults(options, io);
	}
	if (runDir === undefined) {
		io.stderr("kvm-matrix classify: give a run directory, or --results KERNEL=FILE with --matrix FILE\n");
		return EXIT.usage;
	}
	const dir = path.resolve(io.cwd, runDir);
	let matrixFile: string;
	try {
		matrixFile = options.matrix ?? (await runMatrixFile(dir));
	} catch (error) {
		// A plan.json that is there but damaged or tampered with says what is wrong with it.
		const why =
			error instanceof RunSetupError && existsSync(path.join(dir, "plan.json"))
				? error.message
				: `${runDir}: not a run directory (no plan.json)`;
		io.stderr(`kvm-matrix classify: ${why}\n`);
		return EXIT.usage;
	}
	const matrix = await loadOrReport(matrixFile, io);
	if (matrix === undefined) return EXIT.usage;
	try {
		const { resultsPath, cells } = await reclassifyRun(dir, matrix, cacheRoot(io.env), {
			...(options.lore === undefined ? {} : { lore: options.lore }),
			onNote: (line) => io.stderr(`kvm-matrix classify: ${line}\n`),
		});
		const decision = decideExit(runVerdictCounts(cells), options.failOn);
		if (options.json) {
			const results = cells.flatMap((cell) =>
				cell.results.flatMap((r) =>
					r.verdict === undefined
						? []
						: [
								{
									cell: cell.id,
									test: `${r.suite}:${r.testId}`,
									status: r.status,
									verdict: r.verdict.verdict,
									evidence: r.explanation,
								},
							],
				),
			);
			io.stdout(`${JSON.stringify({ results, exit: exitJson(decision) }, null, 2)}\n`);
			return decision.red ? EXIT.testFailures : EXIT.ok;
		}
		for (const cell of cells) {
			const explained = cell.results.filter((r) => r.explanation !== undefined);
			io.stdout(`${cell.id}: ${explained.length === 0 ? "no failures" : `${explained.length} to explain`}\n`);
			const width = Math.max(0, ...explained.map((r) => r.testId.length));
			for (const r of explained) io.stdout(`  ${r.testId.padEnd(width)}  ${r.explanation}\n`);
		}
		io.stdout(`results: ${resultsPath}\n`);
		io.stdout(`exit ${decision.red ? EXIT.testFailures : EXIT.ok}, ${decision.line}\n`);
		return decision.red ? EXIT.testFailures : EXIT.ok;
	} catch (error) {
		io.stderr(`kvm-matrix classify: ${firstLine(error)}\n`);
		return EXIT.usage;
	}
}

/** `--results KERNEL=FILE ...`: one line per failure, `KERNEL TEST VERDICT: evidence`, or JSON. */
async function classifyResults(options: ClassifyOptions, io: CliIo): Promise<ExitCode> {
	if (options.matrix === undefined) {
		io.stderr("kvm-matrix classify: --results needs --matrix FILE (the trees to look fixes up in)\n");
		return EXIT.usage;
	}
	const given: { kernel: string; file: string }[] = [];
	for (const spec of options.results) {
		const eq = spec.indexOf("=");
		if (eq <= 0 || eq === spec.length - 1) {
			io.stderr(`kvm-matrix classify: --results ${spec}: expected KERNEL=FILE (e.g. kvm@master=run_tests.out)\n`);
			return EXIT.usage;
		}
		given.push({ kernel: spec.slice(0, eq), file: path.resolve(io.cwd, spec.slice(eq + 1)) });
	}
	const matrix = await loadOrReport(options.matrix, io);
	if (matrix === undefined) return EXIT.usage;
	try {
		const results = await classifyForeignResults({
			matrix,
			results: given,
			cacheRoot: cacheRoot(io.env),
			...(options.lore === undefined ? {} : { lore: options.lore }),
		});
		const counts: Partial<Record<VerdictName, number>> = {};
		for (const r of results) counts[r.verdict] = (counts[r.verdict] ?? 0) + 1;
		const decision = decideExit(counts, options.failOn);
		if (options.json) {
			io.stdout(`${JSON.stringify({ results, exit: exitJson(decision) }, null, 2)}\n`);
		} else if (results.length === 0) {
			io.stdout("no failures\n");
		} else {
			const kw = Math.max(...results.map((r) => r.kernel.length));
			const tw = Math.max(...results.map((r) => r.test.length));
			for (const r of results)
				io.stdout(
					`${r.kernel.padEnd(kw)}  ${r.test.padEnd(tw)}  ${r.verdict}${r.evidence === "" ? "" : `: ${r.evidence}`}\n`,
				);
		}
		if (!options.json) io.stdout(`exit ${decision.red ? EXIT.testFailures : EXIT.ok}, ${decision.line}\n`);
		return decision.red ? EXIT.testFailures : EXIT.ok;
	} catch (error) {
		if (error instanceof ForeignResultsError || error instanceof SourceError) {
			io.stderr(`kvm-matrix classify: ${error.message}\n`);
			return EXIT.usage;
		}
		throw error;
	}
}
