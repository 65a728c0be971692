import path from "node:path";
import { cacheRoot, reclassifyRun, runMatrixFile } from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { loadOrReport } from "./load.js";

/** `kvm-matrix classify RUN_DIR [--matrix FILE]`: verdicts again, from the run directory, running nothing. */
export async function classifyCommand(
	runDir: string,
	options: { readonly matrix?: string },
	io: CliIo,
): Promise<ExitCode> {
	const dir = path.resolve(io.cwd, runDir);
	let matrixFile: string;
	try {
		matrixFile = options.matrix ?? (await runMatrixFile(dir));
	} catch {
		io.stderr(`kvm-matrix classify: ${runDir}: not a run directory (no plan.json)\n`);
		return EXIT.usage;
	}
	const matrix = await loadOrReport(matrixFile, io);
	if (matrix === undefined) return EXIT.usage;
	try {
		const { resultsPath, cells } = await reclassifyRun(dir, matrix, cacheRoot(io.env));
		for (const cell of cells) {
			const explained = cell.results.filter((r) => r.explanation !== undefined);
			io.stdout(`${cell.id}: ${explained.length === 0 ? "no failures" : `${explained.length} to explain`}\n`);
			const width = Math.max(0, ...explained.map((r) => r.testId.length));
			for (const r of explained) io.stdout(`  ${r.testId.padEnd(width)}  ${r.explanation}\n`);
		}
		io.stdout(`results: ${resultsPath}\n`);
		return EXIT.ok;
	} catch (error) {
		io.stderr(`kvm-matrix classify: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}\n`);
		return EXIT.usage;
	}
}
