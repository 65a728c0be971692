import { selectCells } from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { loadOrReport } from "./load.js";

export async function validateCommand(file: string, io: CliIo): Promise<ExitCode> {
	const matrix = await loadOrReport(file, io);
	if (matrix === undefined) return EXIT.usage;
	const cells = selectCells(matrix).cells.length;
	const suites = Object.keys(matrix.suites).join(", ");
	io.stdout(
		`${file}: ok: "${matrix.name}", ${cells} cell${cells === 1 ? "" : "s"} (${matrix.kernels.length} kernels × ${matrix.targets.length} targets), suites: ${suites}\n`,
	);
	return EXIT.ok;
}
