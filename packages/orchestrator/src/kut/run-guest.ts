import { writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type BootOutcome, boot } from "@kvm-matrix/qemu-runner";
import type { TestResult } from "../events/types.js";
import type { Target } from "../matrix/types.js";
import { scriptableName } from "../selftests/guest-script.js";
import {
	type ChannelEvent,
	ChannelNotes,
	harnessFunctions,
	harnessHandlers,
	RESULT_CHANNEL,
	ResultChannelReader,
} from "../selftests/result-channel.js";
import { builtinModuleParams, kvmModules, partText } from "../selftests/run.js";
import { parseStatusLine } from "./output.js";
import { kutResult } from "./run-host.js";

export interface KutGuestRun {
	readonly kernel: { readonly image: string; readonly modulesDir?: string };
	readonly target: Target;
	/** The built KUT tree on the host; the guest sees it through the read-only root share. */
	readonly dir: string;
	readonly tests: readonly string[];
	/** run_tests.sh's arguments for a test (see `runTestsArgs`); its name alone when omitted. */
	readonly argsFor?: (name: string) => readonly string[];
	readonly accel?: string;
	/** Each test's own timeout in seconds, for the guest's time budget. */
	readonly timeoutSFor: (name: string) => number;
	readonly logDir: string;
	readonly cacheDir: string;
	readonly signal?: AbortSignal;
	readonly onResult?: (result: TestResult) => void;
	/** Every console line (kernel and payload), for a log pane: test output, never the harness's records. */
	readonly onConsoleLine?: (line: string) => void;
}

export interface KutGuestOutcome {
	readonly results: TestResult[];
	readonly boot: BootOutcome;
	/** What the result channel said that was not used, for the cell's notes. */
	readonly notes: readonly string[];
}

const ROOT = "/host";
const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
// run_tests.sh's options and the matrix's group names: anything else is not an argument kvm-matrix makes.
const SAFE_ARG = /^-?[A-Za-z0-9][A-Za-z0-9_.+,=-]*$/;
// Scratch lives under the guest's own /dev (devtmpfs): a tmpfs over /tmp would hide a KUT tree kept there.
const SCRATCH = "/dev/shm";
const kutLogIn = (name: string) => `${SCRATCH}/kut-logs/${name}`;
/** How long kvm-matrix lets run_tests.sh run past the test's own timeout before it kills it. */
const GRACE_S = 60;

/**
 * The guest script: the host's file system (shared read-only) becomes the guest's userland in a
 * chroot, as virtme-ng does, so KUT's own run_tests.sh and the host's QEMU run unchanged inside
 * the kernel under test, on its nested KVM. Scratch space is a tmpfs. For each test the harness
 * sends, on the result channel, its start, run_tests.sh's output, the test's log and its end;
 * the console shows the same output for people, and the host reads nothing from it.
 */
export function kutGuestScript(
	dir: string,
	tests: readonly string[],
	accel: string | undefined,
	argsFor: (name: string) => readonly string[] = (name) => [name],
	timeoutFor: (name: string) => string | undefined = () => undefined,
	limitSFor: (name: string) => number = () => 90 + GRACE_S,
): string {
	const env = [
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		`HOME=${SCRATCH}`,
		`TMPDIR=${SCRATCH}`,
		...(accel === undefined ? [] : [`ACCEL=${accel}`]),
	];
	// KUT's TIMEOUT overrides every cfg entry's own timeout: each test gets its own budget.
	const envFor = (name: string) => {
		const timeout = timeoutFor(name);
		return [...env, ...(timeout === undefined ? [] : [`TIMEOUT=${timeout}`]), `unittest_log_dir=${kutLogIn(name)}`];
	};
	const argsOf = (name: string) =>
		argsFor(name).map((arg) => {
			if (!SAFE_ARG.test(arg)) throw new Error(`refusing to pass ${JSON.stringify(arg)} to run_tests.sh`);
			return arg;
		});
	return [
		`R=${ROOT}`,
		`mount -t proc proc $R/proc && mount -t sysfs sysfs $R/sys && mount -t devtmpfs devtmpfs $R/dev && mkdir -p $R${SCRATCH} && mount -t tmpfs tmpfs $R${SCRATCH} || exit 125`,
		"[ -e $R/dev/fd ] || ln -s /proc/self/fd $R/dev/fd",
		harnessFunctions(),
		// After run_tests.sh: its output and the test's log go back, and the log to the console too.
		"kvmm_kut() {",
		'\tkvmm_send "$1" output "$kvmm_out"',
		`\tkvmm_log="$R${SCRATCH}/kut-logs/$2/$2.log"`,
		'\tkvmm_send "$1" log "$kvmm_log"',
		'\t[ -f "$kvmm_log" ] && cat "$kvmm_log"',
		'\tkvmm_end "$1"',
		"}",
		...tests.flatMap((raw, i) => {
			const name = scriptableName(raw, false);
			const shell = `cd ${quote(dir)} && ./run_tests.sh ${argsOf(name).map(quote).join(" ")}`;
			return [
				`echo "kvm-matrix: kvm-unit-tests ${name}"`,
				`kvmm_start ${i}`,
				`kvmm_run ${Math.max(1, Math.ceil(limitSFor(name)))} chroot $R /usr/bin/env -i ${envFor(name).map(quote).join(" ")} /bin/bash -c ${quote(shell)}`,
				`kvmm_kut ${i} ${name}`,
			];
		}),
		"exit 0",
		"",
	].join("\n");
}

/**
 * The result of a test whose run_tests.sh printed no status line for it: an `error`, or, when
 * kvm-matrix stopped it at its limit, a `timeout` worded as on the host.
 */
function noStatusLine(name: string, ms: number, status: number, limitS: number, logPath: string): TestResult {
	const overdue = status === 137 && ms >= limitS * 1000 - 50;
	return {
		suite: "kut",
		testId: name,
		status: overdue ? "timeout" : "error",
		durationMs: ms,
		attempt: 1,
		logPath,
		detail: overdue
			? `run_tests.sh still running after ${limitS} s; stopped by kvm-matrix`
			: `no status line for it: run_tests.sh exited with status ${status}`,
	};
}

/**
 * Runs KUT tests inside the booted kernel under test; one guest for the whole list. Every test
 * asked for gets a result: one that printed no status line, or never ran because the guest
 * stopped, is an `error` (a `timeout` when kvm-matrix stopped it at its limit, a `crash` when
 * the kernel under test crashed while it ran).
 */
export async function runKutInGuest(options: KutGuestRun): Promise<KutGuestOutcome> {
	const tests = options.tests.map((name) => scriptableName(name, false));
	await mkdir(options.logDir, { recursive: true });
	const results: TestResult[] = [];
	const notes = new ChannelNotes();
	const report = (result: TestResult) => {
		results.push(result);
		options.onResult?.(result);
	};
	// Host paths come from the host's own list of names, never from the guest.
	const logPath = (name: string) => path.join(options.logDir, `${name}.log`);
	const limitS = (name: string) => options.timeoutSFor(name) + GRACE_S;
	const reader = new ResultChannelReader({ count: tests.length, parts: ["output", "log"] });
	const ended = new Set<number>();
	let parts = new Map<string, string>();
	let consoleSinceStart: string[] = [];
	const onEvent = (event: ChannelEvent) => {
		if (event.kind === "ignored" || event.kind === "broken") {
			notes.add(event.note);
			return;
		}
		const name = tests[event.index];
		if (name === undefined) return;
		if (event.kind === "start") {
			parts = new Map();
			consoleSinceStart = [];
		} else if (event.kind === "data") {
			parts.set(event.part, partText(event.bytes, event.skipped));
		} else {
			ended.add(event.index);
			const output = (parts.get("output") ?? "").split("\n");
			const log = parts.get("log") ?? "";
			const line = output.find((l) => parseStatusLine(l)?.name === name);
			const parsed = line === undefined ? undefined : kutResult(line, log.split("\n"), event.ms, logPath(name));
			const result = parsed ?? noStatusLine(name, event.ms, event.status, limitS(name), logPath(name));
			writeFileSync(
				logPath(name),
				parsed === undefined
					? `${log}\n[kvm-matrix: run_tests.sh printed no status line; its output:]\n${output.join("\n")}\n`
					: log,
			);
			report({ ...result, testId: name });
		}
	};
	const { qemu } = options.target;
	const outcome = await boot(
		{
			kernel: options.kernel.image,
			...(options.kernel.modulesDir === undefined
				? {}
				: { modulesDir: options.kernel.modulesDir, modules: kvmModules(options.target) }),
			shares: [{ host: "/", guest: ROOT }],
			channels: [RESULT_CHANNEL],
			payload: {
				kind: "script",
				text: kutGuestScript(
					options.dir,
					tests,
					options.accel,
					options.argsFor,
					(name) => `${options.timeoutSFor(name)}s`,
					limitS,
				),
			},
			cmdline: [...options.target.cmdline, ...builtinModuleParams(options.target)],
			...(qemu.cpu === undefined ? {} : { cpu: qemu.cpu }),
			smp: qemu.smp,
			memoryBytes: qemu.memoryBytes,
			accel: qemu.accel,
			// KUT keeps a test's output in its log until the test ends: the guest is quiet for as long
			// as the longest test may take, and the whole list may take the sum.
			timeoutMs: (tests.reduce((sum, name) => sum + limitS(name), 0) + 180) * 1000,
			noOutputTimeoutMs: (Math.max(0, ...tests.map(limitS)) + 30) * 1000,
			workDir: path.join(options.logDir, "boot"),
			cacheDir: options.cacheDir,
			...(options.signal === undefined ? {} : { signal: options.signal }),
		},
		harnessHandlers(reader, onEvent, {
			onConsoleLine: options.onConsoleLine,
			keep: (line) => {
				if (consoleSinceStart.length < 10_000) consoleSinceStart.push(line);
			},
		}),
	);
	for (const event of reader.close()) onEvent(event);
	const stopped = `${outcome.kind}: ${outcome.summary}`;
	const channel = outcome.channels.find((c) => c.name === RESULT_CHANNEL);
	const noChannel = outcome.bootMs !== undefined && channel?.opened === false;
	for (const [index, name] of tests.entries()) {
		if (ended.has(index)) continue;
		const wasRunning = index === reader.current && !reader.broken;
		const crashed = wasRunning && (outcome.kind === "panic" || outcome.kind === "oops");
		const detail = reader.broken
			? `no status line for it: ${notes.last() ?? "the result channel broke"}`
			: noChannel
				? "not run: the guest has no result channel (a kernel without virtio-console?)"
				: wasRunning
					? `no status line for it: the guest stopped while it ran (${stopped})`
					: `not run: the guest stopped before it started (${stopped})`;
		if (wasRunning) {
			writeFileSync(
				logPath(name),
				`${consoleSinceStart.map((l) => `${l}\n`).join("")}\n[kvm-matrix: ${stopped}]\n${outcome.excerpt.join("\n")}\n`,
			);
		}
		report({
			suite: "kut",
			testId: name,
			status: crashed ? "crash" : "error",
			durationMs: 0,
			attempt: 1,
			...(wasRunning ? { logPath: logPath(name) } : {}),
			detail: crashed ? `${stopped} (no status line for it)` : detail,
		});
	}
	return { results, boot: outcome, notes: notes.list() };
}
