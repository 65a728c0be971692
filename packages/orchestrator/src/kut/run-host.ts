import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import PQueue from "p-queue";
import type { TestResult } from "../events/types.js";
import { checkTestName } from "../matrix/names.js";
import { CommandError, runCommand } from "../proc/run.js";
import { ConnectionLostError, type Shell } from "../remote/shell.js";
import { planCalls } from "./calls.js";
import { longestFirst, noDurations, readKutDurations, recordKutDurations } from "./durations.js";
import { findSummary, type KutCheck, parseChecks, parseStatusLine } from "./output.js";

export interface KutHostRun {
	readonly dir: string;
	/** In unittests.cfg's order, which run_tests.sh runs a call's tests in. */
	readonly tests: readonly string[];
	/** run_tests.sh's arguments for a test (see `runTestsArgs`); its name alone when omitted. */
	readonly argsFor?: (name: string) => readonly string[];
	/** ACCEL for KUT (`kvm`, `tcg`); KUT's own default when omitted. */
	readonly accel?: string;
	/** TIMEOUT for KUT when the entry has none. */
	readonly timeout?: string;
	/** Each test's own timeout in seconds (its cfg entry's, else TIMEOUT): KUT enforces it; kvm-matrix
	 * stops a run_tests.sh that outlives it by a minute, so a stuck QEMU costs a result, not the run. */
	readonly timeoutSFor?: (name: string) => number;
	readonly logRoot: string;
	readonly parallel: number;
	/** The run's VM queue, so KUT tests share the machine's slots with boots; one of its own otherwise. */
	readonly queue?: PQueue;
	/** name → milliseconds, from earlier runs: the longest go first so the slots drain evenly. */
	readonly durationsFile?: string;
	readonly signal?: AbortSignal;
	/** A test is starting there (as run_tests.sh goes through a call's tests in `tests`' order). */
	readonly onStart?: (name: string) => void;
	readonly onResult?: (result: TestResult) => void;
	/** run_tests.sh runs on a remote machine: `dir` is the built tree's copy there. */
	readonly remote?: RemoteKut;
}

/** A remote machine's side of a host run: where run_tests.sh writes its logs, and how they come back. */
export interface RemoteKut {
	readonly shell: Shell;
	/** A private directory there for the calls' log directories. */
	readonly scratch: string;
	readonly pull: (remoteDir: string, localDir: string) => Promise<void>;
}

/** What the matrix asked for, in run_tests.sh's own terms. */
export interface KutSelection {
	/** The matrix's groups: a test is asked for with `-g <its group>`, as `run_tests.sh -g` would run it. */
	readonly groups: readonly string[];
	/** `-a`: nodefault tests run too. */
	readonly all: boolean;
}

/**
 * run_tests.sh's arguments for one test. With the group the matrix selected it by, KUT itself
 * decides as `run_tests.sh -g group` would (a nodefault test in an asked-for group runs); with
 * `all`, as `run_tests.sh -a` would.
 */
export function runTestsArgs(name: string, groupsOfTest: readonly string[], selection?: KutSelection): string[] {
	const group = selection?.groups.find((g) => groupsOfTest.includes(g));
	return [...(selection?.all ? ["-a"] : []), ...(group === undefined ? [] : ["-g", group]), name];
}

const checkStatus = (c: KutCheck): "pass" | "fail" | "skip" =>
	c.status === "pass" || c.status === "xfail" || c.status === "kfail" ? "pass" : c.status === "skip" ? "skip" : "fail";

/** The status line of one test, turned into a result with its checks as subtests. */
export function kutResult(
	line: string,
	logLines: readonly string[],
	durationMs: number,
	logPath: string,
): TestResult | undefined {
	const parsed = parseStatusLine(line);
	if (parsed === undefined) return undefined;
	const checks = parseChecks(logLines);
	const detail = parsed.detail;
	const status: TestResult["status"] =
		parsed.status === "PASS"
			? "pass"
			: parsed.status === "SKIP"
				? // A QEMU that aborts at start-up is reported by KUT as a skip; it is the host's fault, not the test's.
					detail?.includes("QEMU Aborted")
					? "error"
					: "skip"
				: detail?.startsWith("timeout;")
					? "timeout"
					: "fail";
	const summary = parsed.summary ?? findSummary(logLines);
	return {
		suite: "kut",
		testId: parsed.name,
		status,
		durationMs,
		attempt: 1,
		logPath,
		...(detail === undefined ? {} : { detail }),
		...(checks.length > 0 ? { subtests: checks.map((c) => ({ name: c.text, status: checkStatus(c) })) } : {}),
		...(summary === undefined ? {} : { checks: summary }),
	};
}

/**
 * Runs KUT tests on this machine's KVM through KUT's own `run_tests.sh`, one test per call with
 * its own `unittest_log_dir` (KUT moves an existing log directory aside, so parallel calls must
 * not share one), N at a time, longest first.
 */
export async function runKutOnHost(options: KutHostRun): Promise<TestResult[]> {
	// Names become run_tests.sh arguments and log directories: checked before anything runs.
	for (const name of options.tests) {
		const checked = checkTestName(name);
		if (!checked.ok) throw new Error(`refusing to run ${checked.error}`);
	}
	const durations = options.durationsFile === undefined ? noDurations() : await readKutDurations(options.durationsFile);
	const order = longestFirst(options.tests, durations);
	const argsOf = (name: string) => [...(options.argsFor?.(name) ?? [name])];
	// Tests share a call when run_tests.sh would be asked the same way for each (options, TIMEOUT).
	const keyOf = (name: string) => JSON.stringify([argsOf(name).slice(0, -1), timeoutEnv(options, name)]);
	const calls = planCalls(
		order,
		durations,
		keyOf,
		undefined,
		Math.max(1, options.queue?.concurrency ?? options.parallel),
	);
	const queue = options.queue ?? new PQueue({ concurrency: Math.max(1, options.parallel) });
	const results: TestResult[] = [];
	await mkdir(options.logRoot, { recursive: true });
	const finish = (result: TestResult) => {
		results.push(result);
		durations[result.testId] = result.durationMs;
		options.onResult?.(result);
	};
	// After a lost connection no call starts: each would wait out its own connect timeout.
	let lost: ConnectionLostError | undefined;
	await Promise.all(
		calls.map((names, index) =>
			queue.add(
				async () => {
					if (lost !== undefined) return;
					try {
						await runCall(options, names, index, argsOf, finish);
					} catch (error) {
						if (!(error instanceof ConnectionLostError)) throw error;
						lost ??= error;
					}
				},
				options.signal === undefined ? {} : { signal: options.signal },
			),
		),
	);
	if (options.durationsFile !== undefined) await recordKutDurations(options.durationsFile, durations);
	if (lost !== undefined) throw lost;
	return results;
}

/**
 * One run_tests.sh call over `names` (they share its options and TIMEOUT): each test's result
 * is made the moment KUT prints its status line (its log is complete by then), and its duration is
 * the time since the call's previous status line. kvm-matrix stops a call that outlives its tests'
 * budgets by a minute; a test the call never reported is a `timeout` then, an `error` otherwise.
 */
async function runCall(
	options: KutHostRun,
	names: readonly string[],
	index: number,
	argsOf: (name: string) => string[],
	finish: (result: TestResult) => void,
): Promise<void> {
	const first = names[0] ?? "";
	// A single test keeps its own log directory; a call of several shares one.
	const logDir = path.join(options.logRoot, names.length === 1 ? first : `call-${index + 1}`);
	const limitS = names.reduce((sum, name) => sum + (options.timeoutSFor?.(name) ?? 90), 0) + 60;
	const args = [...argsOf(first).slice(0, -1), ...names];
	// One controller per call, detached from the run's signal afterwards: hundreds of calls must
	// not pile listeners onto it.
	const stop = new AbortController();
	let overdue = false;
	const timer = setTimeout(() => {
		overdue = true;
		stop.abort();
	}, limitS * 1000);
	const cancel = () => stop.abort();
	options.signal?.addEventListener("abort", cancel, { once: true });
	if (options.signal?.aborted) cancel();
	const pending = new Set(names);
	// run_tests.sh goes through unittests.cfg and runs the asked-for tests as it meets them: the
	// next one starts as the previous one's status line comes.
	const cfgOrder = new Map(options.tests.map((name, i) => [name, i]));
	const sequence = [...names].sort((a, b) => (cfgOrder.get(a) ?? 0) - (cfgOrder.get(b) ?? 0));
	const startNext = () => {
		const next = sequence.find((name) => pending.has(name));
		if (next !== undefined) options.onStart?.(next);
	};
	const made: Promise<void>[] = [];
	// On a remote machine the logs are still there when a status line comes: its result waits for them.
	const afterPull: (() => Promise<void>)[] = [];
	const { remote } = options;
	const kutLogDir = remote === undefined ? logDir : `${remote.scratch}/${path.basename(logDir)}`;
	let last = performance.now();
	const onLine = (line: string) => {
		const name = parseStatusLine(line)?.name;
		if (name === undefined || !pending.has(name)) return;
		pending.delete(name);
		startNext();
		const now = performance.now();
		const ms = Math.round(now - last);
		last = now;
		const logPath = path.join(logDir, `${name}.log`);
		const make = async () => {
			const log = existsSync(logPath) ? (await readFile(logPath, "utf8")).split("\n") : [];
			const result = kutResult(line, log, ms, logPath);
			if (result !== undefined) finish(result);
		};
		if (remote === undefined) made.push(make());
		else afterPull.push(make);
	};
	let lines: string[] = [];
	let exitCode: number | undefined = 0;
	let lost: ConnectionLostError | undefined;
	let thrown: unknown;
	// There, kvm-matrix's own limit is enforced on that machine too: stopping ssh here stops nothing there.
	const [file, fileArgs] =
		remote === undefined
			? ["./run_tests.sh", args]
			: ["timeout", ["-s", "KILL", String(limitS), "./run_tests.sh", ...args]];
	startNext();
	try {
		lines = await (remote?.shell.run ?? runCommand)(file, fileArgs, {
			cwd: options.dir,
			env: {
				unittest_log_dir: kutLogDir,
				...(options.accel === undefined ? {} : { ACCEL: options.accel }),
				// KUT's TIMEOUT overrides every cfg entry's own timeout: each test gets its own budget.
				...timeoutEnv(options, first),
			},
			signal: stop.signal,
			onLine,
		});
	} catch (error) {
		// A run_tests.sh that failed to run (or a fork's that exits non-zero): its output is still the result.
		if (error instanceof CommandError) {
			lines = [...error.output];
			exitCode = error.exitCode;
		} else if (error instanceof ConnectionLostError && !options.signal?.aborted) lost = error;
		else if (!overdue || options.signal?.aborted) thrown = error;
	} finally {
		clearTimeout(timer);
		options.signal?.removeEventListener("abort", cancel);
	}
	if (remote !== undefined && lost === undefined && thrown === undefined) {
		// Logs that do not come back leave their results standing, without a log to show.
		await remote.pull(kutLogDir, logDir).catch((error: unknown) => {
			if (error instanceof ConnectionLostError) lost = error;
			else throw error;
		});
	}
	made.push(...afterPull.map((make) => make()));
	await Promise.all(made);
	// What KUT reported before a cancel or a lost connection stays (without its log when it was
	// still there); the tests it never reached are the cell's failure, not results of theirs.
	if (thrown !== undefined) throw thrown;
	if (lost !== undefined) throw lost;
	const ms = Math.round(performance.now() - last);
	for (const name of names.filter((n) => pending.has(n))) {
		const logPath = path.join(logDir, `${name}.log`);
		finish(
			overdue
				? {
						suite: "kut",
						testId: name,
						status: "timeout",
						durationMs: ms,
						attempt: 1,
						logPath,
						detail: `run_tests.sh still running after ${limitS} s; stopped by kvm-matrix`,
					}
				: await noStatusLine(name, ms, exitCode, logPath, lines),
		);
	}
}

/**
 * run_tests.sh said nothing about the test (it died, or printed nothing for it): an `error`, with
 * its output kept as the log when KUT wrote none.
 */
async function noStatusLine(
	name: string,
	ms: number,
	exitCode: number | undefined,
	logPath: string,
	output: readonly string[],
): Promise<TestResult> {
	if (!existsSync(logPath)) {
		await mkdir(path.dirname(logPath), { recursive: true });
		await writeFile(
			logPath,
			`[kvm-matrix: run_tests.sh printed no status line for ${name}; its output:]\n${output.join("\n")}\n`,
		);
	}
	return {
		suite: "kut",
		testId: name,
		status: "error",
		durationMs: ms,
		attempt: 1,
		logPath,
		detail: `no status line for it: run_tests.sh exited with status ${exitCode ?? "?"}`,
	};
}

/** TIMEOUT for one test: its own budget (cfg entry's, else the suite's), or the suite's alone. */
function timeoutEnv(options: Pick<KutHostRun, "timeout" | "timeoutSFor">, name: string): { TIMEOUT?: string } {
	if (options.timeoutSFor !== undefined) return { TIMEOUT: `${options.timeoutSFor(name)}s` };
	return options.timeout === undefined ? {} : { TIMEOUT: options.timeout };
}
