import { readFile } from "node:fs/promises";
import path from "node:path";
import {
	type BugReport,
	CancelledError,
	cacheRoot,
	fetchBug,
	keepAnswer,
	parseBugArg,
	reportFromText,
	reproduce,
	reproduceRuns,
	reproduceTarget,
	type TriageAnswer,
	TriageError,
	triageMarkdown,
	triageWithTrees,
} from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { loadOrReport } from "./load.js";
import { startViews, type Views } from "./run.js";

export interface TriageOptions {
	readonly matrix: string;
	readonly from?: string;
	readonly bugzilla?: string;
	readonly kernel?: string;
	readonly test: readonly string[];
	readonly json: boolean;
	readonly lore?: string;
	readonly reproduce: boolean;
	/** Absent: 3, or 5 when the report says the failure is intermittent. */
	readonly runs?: string;
	readonly bisect: boolean;
	readonly target?: string;
	readonly dir?: string;
	readonly headless: boolean;
	readonly verbose: boolean;
}

const DEFAULT_BUGZILLA = "https://bugzilla.kernel.org";

/** A word a POSIX shell reads back as itself: as it is when it is plain, else single-quoted. */
export const shellWord = (word: string) =>
	/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;

const errorLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";

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
	const given = options.runs === undefined ? undefined : Number(options.runs);
	if (given !== undefined && (!Number.isInteger(given) || given < 1 || given > 100))
		return fail(io, `--runs ${options.runs}: expected a whole number from 1 to 100`);
	if (!options.reproduce) {
		const needs = [
			...(options.bisect ? ["--bisect"] : []),
			...(options.target === undefined ? [] : ["--target"]),
			...(options.dir === undefined ? [] : ["--dir"]),
			...(options.runs !== undefined ? ["--runs"] : []),
		];
		if (needs.length > 0) return fail(io, `${needs.join(", ")} ${needs.length === 1 ? "goes" : "go"} with --reproduce`);
	}
	const matrix = await loadOrReport(options.matrix, io);
	if (matrix === undefined) return EXIT.usage;
	let views: Views | undefined;
	try {
		// What the matrix cannot run is said before the report is fetched or a tree synced.
		if (options.reproduce) reproduceTarget(matrix, options.target);
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
		const root = cacheRoot(io.env);
		const { answer: found, trees } = await triageWithTrees({
			matrix,
			report,
			cacheRoot: root,
			...(options.kernel === undefined ? {} : { kernel: options.kernel }),
			...(options.test.length === 0 ? {} : { tests: options.test }),
			...(options.lore === undefined ? {} : { lore: options.lore }),
		});
		let answer: TriageAnswer = found;
		// One sample says little about a failure that comes and goes: five runs unless told otherwise.
		const runs = reproduceRuns(given, found.facts.kind);
		// A command to paste into a shell: every value quoted as it needs to be.
		const again = [
			"kvm-matrix triage",
			options.from === undefined ? shellWord(bug ?? "") : `--from ${shellWord(options.from)}`,
			`--matrix ${shellWord(options.matrix)}`,
			...(options.kernel === undefined ? [] : [`--kernel ${shellWord(options.kernel)}`]),
			...options.test.map((t) => `--test ${shellWord(t)}`),
			...(options.reproduce ? ["--reproduce", ...(given === undefined ? [] : [`--runs ${given}`])] : []),
			...(options.bisect ? ["--bisect"] : []),
			...(options.target === undefined ? [] : [`--target ${shellWord(options.target)}`]),
		].join(" ");
		if (options.reproduce) {
			// stdout is for the answer: the run's progress goes to stderr (or to the live view).
			views = startViews("triage", options, io, { line: (line) => io.stderr(`${line}\n`), summary: false });
			const live = views;
			const reproduction = await reproduce(matrix, found, trees, root, {
				runs,
				cwd: io.cwd,
				bisect: options.bisect,
				bus: live.bus,
				signal: live.signal,
				onRunEnd: () => live.finish(undefined),
				onBisectLine: (line) => io.stderr(`${line}\n`),
				...(options.target === undefined ? {} : { target: options.target }),
				...(options.dir === undefined ? {} : { runDir: path.resolve(io.cwd, options.dir) }),
				...(options.lore === undefined ? {} : { lore: options.lore }),
			});
			answer = { ...found, reproduction };
		}
		const markdown = triageMarkdown(answer, again);
		io.stdout(options.json ? `${JSON.stringify(answer, null, 2)}\n` : markdown);
		const done = answer.reproduction;
		if (done !== undefined) {
			// The answer is on stdout already: a directory that cannot be written loses nothing.
			try {
				await keepAnswer(done.runDir, answer, markdown);
				io.stderr(`kvm-matrix triage: the answer is also in ${done.runDir}/triage.md and triage.json\n`);
			} catch (error) {
				io.stderr(`kvm-matrix triage: could not keep the answer in ${done.runDir}: ${errorLine(error)}\n`);
			}
			const broken = views?.viewError();
			if (broken !== undefined) {
				io.stderr(`kvm-matrix triage: a view failed (${errorLine(broken)}); the run went on without it\n`);
				return EXIT.internal;
			}
			if (done.cancelled) {
				io.stderr(`kvm-matrix triage: cancelled; the answer covers what finished, in ${done.runDir}\n`);
				return EXIT.interrupted;
			}
		}
		return EXIT.ok;
	} catch (error) {
		views?.stop();
		if (error instanceof CancelledError) {
			io.stderr("kvm-matrix triage: cancelled before anything started\n");
			return EXIT.interrupted;
		}
		if (error instanceof TriageError) {
			// Tools that asked for JSON get what was read beside the error, on stdout.
			if (options.json && error.partial !== undefined)
				io.stdout(`${JSON.stringify({ error: error.message, ...error.partial }, null, 2)}\n`);
			return fail(io, error.message);
		}
		throw error;
	}
}
