import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { type BootOutcome, boot } from "@kvm-matrix/qemu-runner";
import type { TestResult } from "../events/types.js";
import type { Target } from "../matrix/types.js";
import { builtinModuleParams, kvmModules } from "../selftests/run.js";
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
}

const ROOT = "/host";
const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const MARK = /^@@kvm-matrix-kut-(start|log|end) (\S+)@@$/;

/**
 * The guest script: the host's file system (shared read-only) becomes the guest's userland in a
 * chroot, as virtme-ng does, so KUT's own run_tests.sh and the host's QEMU run unchanged inside
 * the kernel under test, on its nested KVM. Scratch space is a tmpfs; each test's log is printed
 * back between markers because the share cannot be written.
 */
export function kutGuestScript(
	dir: string,
	tests: readonly string[],
	accel: string | undefined,
	argsFor: (name: string) => readonly string[] = (name) => [name],
	timeoutFor: (name: string) => string | undefined = () => undefined,
): string {
	// Scratch lives under the guest's own /dev (devtmpfs): a tmpfs over /tmp would hide a KUT tree kept there.
	const scratch = "/dev/shm";
	const env = [
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		`HOME=${scratch}`,
		`TMPDIR=${scratch}`,
		...(accel === undefined ? [] : [`ACCEL=${accel}`]),
	];
	// KUT's TIMEOUT overrides every cfg entry's own timeout: each test gets its own budget.
	const envFor = (name: string) => {
		const timeout = timeoutFor(name);
		return [...env, ...(timeout === undefined ? [] : [`TIMEOUT=${quote(timeout)}`])].join(" ");
	};
	return [
		`R=${ROOT}`,
		`mount -t proc proc $R/proc && mount -t sysfs sysfs $R/sys && mount -t devtmpfs devtmpfs $R/dev && mkdir -p $R${scratch} && mount -t tmpfs tmpfs $R${scratch} || exit 125`,
		"[ -e $R/dev/fd ] || ln -s /proc/self/fd $R/dev/fd",
		...tests.flatMap((name) => [
			`echo "@@kvm-matrix-kut-start ${name}@@"`,
			`chroot $R /usr/bin/env -i ${envFor(name)} unittest_log_dir=${scratch}/kut-logs/${name} /bin/bash -c ${quote(`cd ${quote(dir)} && ./run_tests.sh ${argsFor(name).map(quote).join(" ")}`)}`,
			`echo "@@kvm-matrix-kut-log ${name}@@"`,
			`cat $R${scratch}/kut-logs/${name}/${name}.log 2>/dev/null`,
			`echo "@@kvm-matrix-kut-end ${name}@@"`,
		]),
		"exit 0",
		"",
	].join("\n");
}

/** Runs KUT tests inside the booted kernel under test; one guest for the whole list. */
export async function runKutInGuest(options: KutGuestRun): Promise<{ results: TestResult[]; boot: BootOutcome }> {
	await mkdir(options.logDir, { recursive: true });
	const results: TestResult[] = [];
	let current: { name: string; phase: "status" | "log"; status: string[]; log: string[]; started: number } | undefined;
	const { qemu } = options.target;
	const outcome = await boot(
		{
			kernel: options.kernel.image,
			...(options.kernel.modulesDir === undefined
				? {}
				: { modulesDir: options.kernel.modulesDir, modules: kvmModules(options.target) }),
			shares: [{ host: "/", guest: ROOT }],
			payload: {
				kind: "script",
				text: kutGuestScript(
					options.dir,
					options.tests,
					options.accel,
					options.argsFor,
					(name) => `${options.timeoutSFor(name)}s`,
				),
			},
			cmdline: [...options.target.cmdline, ...builtinModuleParams(options.target)],
			...(qemu.cpu === undefined ? {} : { cpu: qemu.cpu }),
			smp: qemu.smp,
			memoryBytes: qemu.memoryBytes,
			accel: qemu.accel,
			// KUT keeps a test's output in its log until the test ends: the guest is quiet for as long
			// as the longest test may take, and the whole list may take the sum.
			timeoutMs: (options.tests.reduce((sum, name) => sum + options.timeoutSFor(name) + 30, 0) + 180) * 1000,
			noOutputTimeoutMs: (Math.max(0, ...options.tests.map(options.timeoutSFor)) + 60) * 1000,
			workDir: path.join(options.logDir, "boot"),
			cacheDir: options.cacheDir,
			...(options.signal === undefined ? {} : { signal: options.signal }),
		},
		{
			onConsoleLine: ({ source, line }) => {
				if (source !== "payload") return;
				const mark = MARK.exec(line);
				if (mark?.[1] === "start" && mark[2] !== undefined) {
					current = { name: mark[2], phase: "status", status: [], log: [], started: performance.now() };
				} else if (mark?.[1] === "log" && current !== undefined) {
					current.phase = "log";
				} else if (mark?.[1] === "end" && current !== undefined) {
					const done = current;
					current = undefined;
					const logPath = path.join(options.logDir, `${done.name}.log`);
					void writeFile(logPath, `${done.log.join("\n")}\n`);
					const line = done.status.find((l) => l.includes(` ${done.name}`));
					const result =
						line === undefined
							? undefined
							: kutResult(line, done.log, Math.round(performance.now() - done.started), logPath);
					if (result !== undefined) {
						results.push(result);
						options.onResult?.(result);
					}
				} else if (current !== undefined) {
					(current.phase === "status" ? current.status : current.log).push(line);
				}
			},
		},
	);
	return { results, boot: outcome };
}
