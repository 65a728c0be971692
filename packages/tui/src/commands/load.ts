import { formatMatrixError, loadMatrixFile, type Matrix } from "@kvm-matrix/orchestrator";
import type { CliIo } from "../io.js";

/** Loads a matrix for a command, or prints every problem (one line each) and returns undefined. */
export async function loadOrReport(file: string, io: CliIo): Promise<Matrix | undefined> {
	const loaded = await loadMatrixFile(file, io.cwd);
	if (loaded.ok) return loaded.value;
	io.stderr(`${loaded.error.map(formatMatrixError).join("\n")}\n`);
	return undefined;
}
