import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import * as path from "node:path";
import { err, type Result } from "../result.js";
import type { MatrixError } from "./errors.js";
import { parseMatrix } from "./parse.js";
import type { Matrix } from "./types.js";

/**
 * Reads and validates a matrix file. Files that travel with the matrix (config fragments, the
 * known-issues list) must exist, so a run cannot start and then fail on a typo; trees and
 * prebuilt kernels are checked when a run needs them.
 */
export async function loadMatrixFile(label: string, cwd = process.cwd()): Promise<Result<Matrix, MatrixError[]>> {
	const file = path.resolve(cwd, label);
	let text: string;
	try {
		text = await readFile(file, "utf8");
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		const why =
			code === "ENOENT"
				? "no such file"
				: code === "EISDIR"
					? "is a directory, not a matrix file"
					: `cannot read (${code ?? "error"})`;
		return err([{ file: label, line: 1, col: 1, message: why }]);
	}
	return parseMatrix(text, { label, file, baseDir: path.dirname(file), homeDir: homedir(), exists: existsSync });
}
