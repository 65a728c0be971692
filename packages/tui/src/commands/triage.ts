import { readFile } from "node:fs/promises";
import path from "node:path";
import {
	type BugReport,
	cacheRoot,
	fetchBug,
	parseBugArg,
	reportFromText,
	TriageError,
	triageMarkdown,
	triageReport,
} from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { loadOrReport } from "./load.js";

export interface TriageOptions {
	readonly matrix: string;
	readonly from?: string;
	readonly bugzilla?: string;
	readonly kernel?: string;
	readonly test: readonly string[];
	readonly json: boolean;
	readonly lore?: string;
}

const DEFAULT_BUGZILLA = "https://bugzilla.kernel.org";

const fail = (io: CliIo, message: string): ExitCode => {
	io.stderr(`kvm-matrix triage: ${message.split("\n")[0]}\n`);
	return EXIT.usage;
};

/**
 * `kvm-matrix triage BUG --matrix FILE` or `--from FILE`: reads the report, finds its failing tests
 * and its kernel in the configured trees, and classifies them, printing Markdown to paste into
 * the bug (or JSON). Everything is worked out before anything is printed: an error is one line
 * on stderr and stdout stays empty.
 */
export async function triageCommand(bug: string | undefined, options: TriageOptions, io: CliIo): Promise<ExitCode> {
	if ((bug === undefined) === (options.from === undefined))
		return fail(io, "give a bug (a number or URL) or --from FILE, one of them");
	const matrix = await loadOrReport(options.matrix, io);
	if (matrix === undefined) return EXIT.usage;
	try {
		let report: BugReport;
		if (options.from !== undefined) {
			const file = path.resolve(io.cwd, options.from);
			const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
				throw new TriageError(`${options.from}: ${error.code === "ENOENT" ? "no such file" : error.message}`);
			});
			const read = reportFromText(text, options.from);
			if ("error" in read) throw new TriageError(read.error);
			report = read;
		} else {
			const arg = parseBugArg(bug ?? "", options.bugzilla ?? matrix.bugzilla ?? DEFAULT_BUGZILLA);
			if ("error" in arg) throw new TriageError(arg.error);
			report = await fetchBug(arg);
		}
		const answer = await triageReport({
			matrix,
			report,
			cacheRoot: cacheRoot(io.env),
			...(options.kernel === undefined ? {} : { kernel: options.kernel }),
			...(options.test.length === 0 ? {} : { tests: options.test }),
			...(options.lore === undefined ? {} : { lore: options.lore }),
		});
		if (options.json) {
			io.stdout(`${JSON.stringify(answer, null, 2)}\n`);
			return EXIT.ok;
		}
		const again = [
			"kvm-matrix triage",
			options.from === undefined ? (bug ?? "") : `--from ${options.from}`,
			`--matrix ${options.matrix}`,
			...(options.kernel === undefined ? [] : [`--kernel ${options.kernel}`]),
			...options.test.map((t) => `--test ${t}`),
		].join(" ");
		io.stdout(triageMarkdown(answer, again));
		return EXIT.ok;
	} catch (error) {
		if (error instanceof TriageError) return fail(io, error.message);
		throw error;
	}
}
