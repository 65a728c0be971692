import { selectCells } from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { loadOrReport } from "./load.js";

export async function validateCommand(file: string, io: CliIo): Promise<ExitCode> {
	const matrix = await loadOrReport(file, io);
	if (matrix === undefined) return EXIT.usage;
	const cells = selectCells(matrix).cells.length;
	const suites = Object.keys(matrix.suites).join(", ");
	const sets = matrix.params?.length ?? 0;
	const axes = `${count(matrix.kernels.length, "kernel")} × ${count(matrix.targets.length, "target")}${sets === 0 ? "" : ` × ${count(sets, "parameter set")}`}`;
	io.stdout(`${file}: ok: "${matrix.name}", ${count(cells, "cell")} (${axes}), suites: ${suites}\n`);
	return EXIT.ok;
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? "" : "s"}`;
