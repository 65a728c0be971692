// Selftests on a running kernel, this machine's or a remote one's (a host or ssh target): each
// binary under `timeout -s KILL`, as the guest script runs them, its output its log, its exit code
// read as kselftest defines it. Results are the same shape as a guest's, so verdicts compare them.
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import PQueue from "p-queue";
import type { TestResult } from "../events/types.js";
import { CommandError } from "../proc/run.js";
import { ConnectionLostError, type Shell } from "../remote/shell.js";
import type { SelftestsBuild } from "./build.js";
import { type ScheduledTest, scriptableName } from "./guest-script.js";
import { lastLines, logName } from "./run.js";
import { parseTapSubtests, selftestStatus } from "./status.js";

export interface DirectSelftestsRun {
	readonly shell: Shell;
	/** The build's output directory as `shell` sees it. */
	readonly dir: string;
	/** The working directory the tests run in (a scratch directory, as in a guest). */
	readonly cwd: string;
	readonly build: SelftestsBuild;
	readonly tests: readonly ScheduledTest[];
	readonly logDir: string;
	/** At most this many of these tests at once. */
	readonly parallel: number;
	/** The machine's queue, shared with other cells' tests there: each test takes a slot of it. */
	readonly queue?: PQueue;
	readonly signal?: AbortSignal;
	/** A test is about to start there (journaled: a machine that goes down names it). */
	readonly onStart?: (testId: string) => void;
	readonly onResult?: (result: TestResult) => void;
}

/** A log holds at most this many lines: a test that prints without end must not fill the disk. */
const MAX_LOG_LINES = 200_000;

export async function runSelftestsDirect(options: DirectSelftestsRun): Promise<TestResult[]> {
	for (const t of options.tests) scriptableName(t.id, true);
	await mkdir(options.logDir, { recursive: true });
	const results: TestResult[] = [];
	const report = (r: TestResult) => {
		results.push(r);
		options.onResult?.(r);
	};
	const notBuilt = new Set(options.build.tests.filter((t) => t.binary === undefined).map((t) => t.id));
	for (const t of options.tests.filter((t) => notBuilt.has(t.id)))
		report({ suite: "selftests", testId: t.id, status: "error", durationMs: 0, attempt: 1, detail: "did not build" });
	const own = new PQueue({ concurrency: Math.max(1, options.parallel) });
	const signal = options.signal === undefined ? {} : { signal: options.signal };
	// After a lost connection no test starts: each would wait out its own connect timeout.
	let lost: ConnectionLostError | undefined;
	const one = async (t: ScheduledTest) => {
		if (lost !== undefined) return;
		try {
			options.onStart?.(t.id);
			report(await runOne(options, t));
		} catch (error) {
			if (!(error instanceof ConnectionLostError)) throw error;
			lost ??= error;
		}
	};
	await Promise.all(
		options.tests
			.filter((t) => !notBuilt.has(t.id))
			.map((t) =>
				own.add(() => (options.queue === undefined ? one(t) : options.queue.add(() => one(t), signal)), signal),
			),
	);
	if (lost !== undefined) throw lost;
	return results;
}

async function runOne(options: DirectSelftestsRun, test: ScheduledTest): Promise<TestResult> {
	const limitS = Math.max(1, Math.ceil(test.timeoutS));
	const output: string[] = [];
	const started = performance.now();
	let exitCode = 0;
	try {
		await options.shell.run("timeout", ["-s", "KILL", String(limitS), `${options.dir}/${test.id}`], {
			cwd: options.cwd,
			...(options.signal === undefined ? {} : { signal: options.signal }),
			onLine: (line) => {
				if (output.length < MAX_LOG_LINES) output.push(line);
			},
		});
	} catch (error) {
		if (!(error instanceof CommandError)) throw error;
		// `timeout` passes on the signal that ended the test, as a shell would report it.
		const signalNumber = error.signal === undefined ? undefined : os.constants.signals[error.signal as NodeJS.Signals];
		exitCode = error.exitCode ?? (signalNumber === undefined ? 137 : 128 + signalNumber);
	}
	const ms = Math.round(performance.now() - started);
	const text = output.length === 0 ? "" : `${output.join("\n")}\n`;
	const logPath = path.join(options.logDir, logName(test.id));
	await writeFile(logPath, text);
	// The clock decides a timeout, as in a guest: a KILLed test's 137 looks like any SIGKILL.
	const { status, detail } = selftestStatus(exitCode, ms >= limitS * 1000 - 50);
	const subtests = parseTapSubtests(lastLines(text));
	return {
		suite: "selftests",
		testId: test.id,
		status,
		durationMs: ms,
		attempt: 1,
		logPath,
		...(detail === undefined ? {} : { detail }),
		...(subtests.length > 0 ? { subtests } : {}),
	};
}
