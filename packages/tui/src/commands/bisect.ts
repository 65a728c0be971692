import path from "node:path";
import {
	BisectCancelled,
	BisectError,
	type BisectMode,
	type BisectOutcome,
	type CommitInfo,
	cacheRoot,
	RunSetupError,
	readBisect,
	runBisect,
	startBisect,
	TERMS,
} from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { loadOrReport } from "./load.js";

export interface BisectOptions {
	readonly matrix?: string;
	readonly test?: string;
	readonly good?: string;
	readonly bad?: string;
	readonly fixed: boolean;
	readonly broken?: string;
	readonly fixedAt?: string;
	readonly tree?: string;
	readonly target?: string;
	readonly maxSteps?: string;
	readonly dir?: string;
	readonly resume?: string;
	readonly json: boolean;
}

const fail = (io: CliIo, message: string): ExitCode => {
	io.stderr(`kvm-matrix bisect: ${message.split("\n")[0]}\n`);
	return EXIT.usage;
};

const commitLines = (c: CommitInfo) => [`${c.sha.slice(0, 12)} ${c.subject}`, ...c.trailers.map((t) => `  ${t}`)];

function stamp(date: Date): string {
	const p = (n: number) => String(n).padStart(2, "0");
	return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

/** What a new bisection asks for, checked: a range in one mode, and the test. */
function rangeOf(options: BisectOptions): { mode: BisectMode; old: string; new: string } | { error: string } {
	if (options.fixed) {
		if (options.good !== undefined || options.bad !== undefined)
			return { error: "--fixed takes --broken A --fixed-at B, not --good/--bad" };
		if (options.broken === undefined || options.fixedAt === undefined)
			return { error: "--fixed needs --broken A (the test fails there) and --fixed-at B (it passes there)" };
		return { mode: "fixed", old: options.broken, new: options.fixedAt };
	}
	if (options.broken !== undefined || options.fixedAt !== undefined)
		return { error: "--broken and --fixed-at go with --fixed" };
	if (options.good === undefined || options.bad === undefined)
		return { error: "give --good A --bad B (a regression), or --fixed --broken A --fixed-at B (a fix)" };
	return { mode: "regression", old: options.good, new: options.bad };
}

/**
 * `kvm-matrix bisect`: the first bad (or first fixed) commit of a test, each step built, booted
 * and run as `run` does, its state in a directory that `--resume DIR` continues.
 */
export async function bisectCommand(options: BisectOptions, io: CliIo): Promise<ExitCode> {
	const root = cacheRoot(io.env);
	let dir: string;
	let matrixFile: string;
	try {
		if (options.resume !== undefined) {
			dir = path.resolve(io.cwd, options.resume);
			matrixFile = options.matrix ?? readBisect(dir).request.matrix;
		} else {
			if (options.matrix === undefined) return fail(io, "--matrix FILE is needed to start a bisection");
			if (options.test === undefined)
				return fail(io, "--test SUITE:TEST is needed (selftests:x86_64/cpuid_test, kut:vmx)");
			matrixFile = options.matrix;
			dir = path.resolve(io.cwd, options.dir ?? path.join("runs", `${stamp(new Date())}-bisect`));
		}
	} catch (error) {
		if (error instanceof BisectError) return fail(io, error.message);
		throw error;
	}
	const matrix = await loadOrReport(matrixFile, io);
	if (matrix === undefined) return EXIT.usage;
	try {
		const maxSteps = options.maxSteps === undefined ? undefined : Number(options.maxSteps);
		if (maxSteps !== undefined && (!Number.isInteger(maxSteps) || maxSteps < 1))
			return fail(io, `--max-steps ${options.maxSteps}: expected a whole number of at least 1`);
		if (options.resume === undefined) {
			const range = rangeOf(options);
			if ("error" in range) return fail(io, range.error);
			const request = await startBisect({
				matrix,
				mode: range.mode,
				test: options.test ?? "",
				old: range.old,
				new: range.new,
				dir,
				cacheRoot: root,
				...(options.tree === undefined ? {} : { tree: options.tree }),
				...(options.target === undefined ? {} : { target: options.target }),
				...(maxSteps === undefined ? {} : { maxSteps }),
			});
			const terms = TERMS[request.mode];
			const named = (r: { ref: string; sha: string }) =>
				r.sha.startsWith(r.ref) ? r.sha.slice(0, 12) : `${r.ref} (${r.sha.slice(0, 12)})`;
			io.stdout(
				`bisecting ${request.test.suite}:${request.test.testId} in ${request.tree}: ${terms.old} ${named(request.old)}, ${terms.new} ${named(request.new)}; state in ${dir}\n`,
			);
		} else {
			const { request, steps } = readBisect(dir);
			io.stdout(
				`resuming the bisection of ${request.test.suite}:${request.test.testId} in ${dir}: ${steps.filter((s) => s.end === undefined).length} steps done\n`,
			);
		}
		const { request } = readBisect(dir);
		const terms = TERMS[request.mode];
		const outcome = await runBisect(dir, matrix, root, {
			...(maxSteps === undefined ? {} : { maxSteps }),
			...(io.signal === undefined ? {} : { signal: io.signal }),
			onEnd: (end, sha) => io.stdout(`checking the ${terms[end]} end, ${sha.slice(0, 12)}\n`),
			onTesting: (sha, index, remaining) =>
				io.stdout(`step ${index}: testing ${sha.slice(0, 12)} (${remaining} commits left in the range)\n`),
			onStep: (step, index) =>
				io.stdout(
					`${step.end === undefined ? `step ${index}` : `${terms[step.end]} end`}: ${step.sha.slice(0, 12)} ${step.seen}: ${step.verdict === "skip" ? "skipped" : terms[step.verdict]}\n`,
				),
		});
		if (options.json) {
			io.stdout(`${JSON.stringify(outcome, null, 2)}\n`);
			return outcome.result.kind === "found" ? EXIT.ok : EXIT.testFailures;
		}
		io.stdout(report(outcome, dir));
		return outcome.result.kind === "found" ? EXIT.ok : EXIT.testFailures;
	} catch (error) {
		if (error instanceof BisectCancelled) {
			io.stderr(`kvm-matrix bisect: ${error.message}\n`);
			return EXIT.interrupted;
		}
		if (error instanceof BisectError || error instanceof RunSetupError) return fail(io, error.message);
		throw error;
	}
}

function report(outcome: BisectOutcome, dir: string): string {
	const terms = TERMS[outcome.request.mode];
	const lines: string[] = [];
	const { result } = outcome;
	if (result.kind === "found") lines.push(`first ${terms.new} commit: ${commitLines(result.commit).join("\n")}`);
	else if (result.kind === "ambiguous")
		lines.push(
			`the first ${terms.new} commit is one of these (the others could not be tested):`,
			...result.candidates.flatMap((c) => commitLines(c).map((l) => `  ${l}`)),
		);
	else
		lines.push(
			`stopped after ${result.steps} steps (--max-steps) with ${result.remaining} commits left; continue with --resume ${dir}`,
		);
	const search = outcome.steps.filter((s) => s.end === undefined);
	lines.push(
		`${search.length} steps and the two ends, ${outcome.builds} kernel builds (${search.filter((s) => s.verdict === "skip").length} skipped); state in ${dir}`,
	);
	return `${lines.join("\n")}\n`;
}
