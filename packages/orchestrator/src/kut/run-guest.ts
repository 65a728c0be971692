import { writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type BootOutcome, boot } from "@kvm-matrix/qemu-runner";
import type { TestResult } from "../events/types.js";
import type { Target } from "../matrix/types.js";
import { type SideBySide, scriptableName, sideBySideLoop } from "../selftests/guest-script.js";
import {
	type ChannelEvent,
	ChannelNotes,
	ConsoleSinceStart,
	harnessFunctions,
	harnessHandlers,
	RESULT_CHANNEL,
	ResultChannelReader,
} from "../selftests/result-channel.js";
import { builtinModuleParams, kvmModules, partText, requiredParams, vendorSkip } from "../selftests/run.js";
import { parseStatusLine } from "./output.js";
import { kutResult } from "./run-host.js";

export interface KutGuestRun {
	readonly kernel: { readonly image: string; readonly modulesDir?: string };
	readonly target: Target;
	/** The built KUT tree on the host; the guest sees it through the read-only root share. */
	readonly dir: string;
	readonly tests: readonly string[];
	/** At most this many tests run at once in the guest (1 when omitted). */
	readonly sideBySide?: number;
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
	/** The last boot (the only one unless a crash made the rest go on in another). */
	readonly boot: BootOutcome;
	readonly boots: readonly BootOutcome[];
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
	sideBySide: SideBySide = { width: 1, alone: 0 },
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
	const names = tests.map((raw) => scriptableName(raw, false));
	const command = (name: string) => {
		const shell = `cd ${quote(dir)} && ./run_tests.sh ${argsOf(name).map(quote).join(" ")}`;
		return `chroot $R /usr/bin/env -i ${envFor(name).map(quote).join(" ")} /bin/bash -c ${quote(shell)}`;
	};
	const limit = (name: string) => Math.max(1, Math.ceil(limitSFor(name)));
	const banner = (name: string) => `echo "kvm-matrix: kvm-unit-tests ${name}"`;
	const steps =
		sideBySide.width > 1
			? [
					sideBySideLoop(
						{
							launch: names.map(
								(name, i) => `${banner(name)}; kvmm_start ${i}; kvmm_bg ${i} ${limit(name)} ${command(name)}`,
							),
							collect: names.map((name, i) => `kvmm_bg_result ${i}; kvmm_kut ${i} ${name} "$kvmm_out_bg"`),
						},
						sideBySide,
					),
				]
			: names.flatMap((name, i) => [
					banner(name),
					`kvmm_start ${i}`,
					`kvmm_run ${limit(name)} ${command(name)}`,
					`kvmm_kut ${i} ${name} "$kvmm_out"`,
				]);
	return [
		`R=${ROOT}`,
		`mount -t proc proc $R/proc && mount -t sysfs sysfs $R/sys && mount -t devtmpfs devtmpfs $R/dev && mkdir -p $R${SCRATCH} && mount -t tmpfs tmpfs $R${SCRATCH} || exit 125`,
		"[ -e $R/dev/fd ] || ln -s /proc/self/fd $R/dev/fd",
		harnessFunctions(),
		// After run_tests.sh: its output and the test's log go back, and the log to the console too.
		"kvmm_kut() {",
		'\tkvmm_send "$1" output "$3"',
		`\tkvmm_log="$R${SCRATCH}/kut-logs/$2/$2.log"`,
		'\tkvmm_send "$1" log "$kvmm_log"',
		'\t[ -f "$kvmm_log" ] && cat "$kvmm_log"',
		'\tkvmm_end "$1"',
		"}",
		...steps,
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
 * Runs KUT tests inside the booted kernel under test, `sideBySide` at a time (1 when omitted),
 * one guest for as long as the kernel survives. Every test asked for gets a result: one that
 * printed no status line is an `error` (a `timeout` when kvm-matrix stopped it at its limit); a
 * test running alone when the kernel crashed is a `crash`, and the rest go on in a new boot; when
 * several ran side by side, each runs again alone, so a crash is pinned on the test that caused it.
 * A guest that stopped with no test running (it did not boot, has no channel) ends the list: the
 * tests it did not run are `error`s.
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
	const width = Math.max(1, options.sideBySide ?? 1);
	const alone = new Set<string>();
	const suspectNotes: string[] = [];
	const boots: BootOutcome[] = [];
	let pending = tests;
	while (pending.length > 0) {
		const scheduled = [...pending.filter((n) => alone.has(n)), ...pending.filter((n) => !alone.has(n))];
		const outcome = await bootOnce(options, scheduled, {
			width,
			alone: scheduled.filter((n) => alone.has(n)).length,
			boot: boots.length + 1,
			limitS,
			logPath,
			notes,
			report,
		});
		boots.push(outcome.boot);
		const stopped = `${outcome.boot.kind}: ${outcome.boot.summary}`;
		const [only, ...others] = outcome.running;
		const unstarted = scheduled.filter((n) => !outcome.ended.has(n) && !outcome.running.includes(n));
		if (only !== undefined && others.length === 0) {
			const crashed = outcome.boot.kind === "panic" || outcome.boot.kind === "oops";
			writeFileSync(
				logPath(only),
				`${outcome.console.map((l) => `${l}\n`).join("")}\n[kvm-matrix: ${stopped}]\n${outcome.boot.excerpt.join("\n")}\n`,
			);
			report({
				suite: "kut",
				testId: only,
				status: crashed ? "crash" : "error",
				durationMs: 0,
				attempt: 1,
				logPath: logPath(only),
				detail: crashed
					? `${stopped} (no status line for it)`
					: `no status line for it: the guest stopped while it ran (${stopped})`,
			});
			pending = unstarted;
			continue;
		}
		if (outcome.running.length > 1) {
			for (const n of outcome.running) alone.add(n);
			suspectNotes.push(
				`the guest stopped (${outcome.boot.kind}) while ${outcome.running.join(", ")} ran side by side; each runs again alone`,
			);
			pending = [...outcome.running, ...unstarted];
			continue;
		}
		const channel = outcome.boot.channels.find((c) => c.name === RESULT_CHANNEL);
		const noChannel = outcome.boot.bootMs !== undefined && channel?.opened === false;
		const skip = vendorSkip(outcome.boot);
		for (const name of unstarted) {
			report({
				suite: "kut",
				testId: name,
				status: skip === undefined ? "error" : "skip",
				durationMs: 0,
				attempt: 1,
				detail:
					skip !== undefined
						? skip
						: outcome.broken
							? `no status line for it: ${notes.last() ?? "the result channel broke"}`
							: noChannel
								? "not run: the guest has no result channel (a kernel without virtio-console?)"
								: `not run: the guest stopped before it started (${stopped})`,
			});
		}
		break;
	}
	const last = boots.at(-1);
	if (last === undefined) throw new Error("runKutInGuest: no test to run");
	return { results, boot: last, boots, notes: [...notes.list(), ...suspectNotes] };
}

interface BootContext {
	readonly width: number;
	readonly alone: number;
	/** The boot's number in this run: its directory is `boot` for the first, `boot-N` after. */
	readonly boot: number;
	readonly limitS: (name: string) => number;
	readonly logPath: (name: string) => string;
	readonly notes: ChannelNotes;
	readonly report: (result: TestResult) => void;
}

/** One guest over `scheduled`: the tests that ended are reported; what it left is said. */
async function bootOnce(
	options: KutGuestRun,
	scheduled: readonly string[],
	ctx: BootContext,
): Promise<{
	readonly boot: BootOutcome;
	readonly ended: ReadonlySet<string>;
	/** The tests running when the guest stopped, oldest first (none when the channel broke). */
	readonly running: readonly string[];
	readonly broken: boolean;
	/** The console since the test running alone started, when one was. */
	readonly console: readonly string[];
}> {
	const { limitS, logPath } = ctx;
	const reader = new ResultChannelReader({ count: scheduled.length, parts: ["output", "log"], width: ctx.width });
	const ended = new Set<string>();
	const parts = new Map<number, Map<string, string>>();
	const consoleSince = new ConsoleSinceStart();
	const onEvent = (event: ChannelEvent) => {
		if (event.kind === "ignored" || event.kind === "broken") {
			ctx.notes.add(event.note);
			return;
		}
		const name = scheduled[event.index];
		if (name === undefined) return;
		if (event.kind === "start") {
			parts.set(event.index, new Map());
			consoleSince.start(event.index);
		} else if (event.kind === "data") {
			parts.get(event.index)?.set(event.part, partText(event.bytes, event.skipped));
		} else {
			consoleSince.end(event.index);
			ended.add(name);
			const got = parts.get(event.index) ?? new Map<string, string>();
			parts.delete(event.index);
			const output = (got.get("output") ?? "").split("\n");
			const log = got.get("log") ?? "";
			const line = output.find((l) => parseStatusLine(l)?.name === name);
			const parsed = line === undefined ? undefined : kutResult(line, log.split("\n"), event.ms, logPath(name));
			const result = parsed ?? noStatusLine(name, event.ms, event.status, limitS(name), logPath(name));
			writeFileSync(
				logPath(name),
				parsed === undefined
					? `${log}\n[kvm-matrix: run_tests.sh printed no status line; its output:]\n${output.join("\n")}\n`
					: log,
			);
			ctx.report({ ...result, testId: name });
		}
	};
	const { qemu } = options.target;
	const boot_ = await boot(
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
					scheduled,
					options.accel,
					options.argsFor,
					(name) => `${options.timeoutSFor(name)}s`,
					limitS,
					{ width: ctx.width, alone: ctx.alone },
				),
			},
			cmdline: [...options.target.cmdline, ...builtinModuleParams(options.target)],
			requireModuleParams: requiredParams(options.target),
			...(qemu.cpu === undefined ? {} : { cpu: qemu.cpu }),
			smp: qemu.smp,
			memoryBytes: qemu.memoryBytes,
			accel: qemu.accel,
			// KUT keeps a test's output in its log until the test ends: the guest is quiet for as long
			// as the longest test may take, and the whole list may take the sum.
			timeoutMs: (scheduled.reduce((sum, name) => sum + limitS(name), 0) + 180) * 1000,
			noOutputTimeoutMs: (Math.max(0, ...scheduled.map(limitS)) + 30) * 1000,
			workDir: path.join(options.logDir, ctx.boot === 1 ? "boot" : `boot-${ctx.boot}`),
			cacheDir: options.cacheDir,
			...(options.signal === undefined ? {} : { signal: options.signal }),
		},
		harnessHandlers(reader, onEvent, {
			onConsoleLine: options.onConsoleLine,
			keep: (line) => consoleSince.line(line),
		}),
	);
	for (const event of reader.close()) onEvent(event);
	const runningIndexes = reader.broken ? [] : reader.running;
	const running = runningIndexes.flatMap((i) => scheduled[i] ?? []);
	// The log of a test that was running alone when the guest stopped.
	const consoleLines = runningIndexes.length === 1 ? consoleSince.of(runningIndexes[0] ?? -1) : [];
	return { boot: boot_, ended, running, broken: reader.broken, console: consoleLines };
}
