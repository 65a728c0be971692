import path from "node:path";
import { parseDuration, parseSize } from "@kvm-matrix/orchestrator";
import {
	type Accel,
	BootCancelledError,
	type BootOutcome,
	type BootRequest,
	BootRequestError,
	boot,
	type GuestFile,
	type Share,
} from "@kvm-matrix/qemu-runner";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";

export interface BootOptions {
	readonly kernel: string;
	readonly modules?: string;
	readonly load?: string;
	readonly add: readonly string[];
	readonly share: readonly string[];
	readonly append: readonly string[];
	readonly cpu?: string;
	readonly smp: string;
	readonly memory: string;
	readonly accel: string;
	readonly timeout: string;
	readonly hangTimeout: string;
	readonly console: boolean;
	readonly json: boolean;
	readonly workDir?: string;
}

class UsageError extends Error {}

function hostGuest(text: string, what: string, cwd: string): { host: string; guest: string } {
	const colon = text.lastIndexOf(":");
	if (colon <= 0 || colon === text.length - 1) throw new UsageError(`${what} "${text}" must be HOST:GUEST`);
	const guest = text.slice(colon + 1);
	if (!guest.startsWith("/")) throw new UsageError(`${what} "${text}": the guest path must be absolute`);
	return { host: path.resolve(cwd, text.slice(0, colon)), guest };
}

function unwrap<T>(result: { ok: true; value: T } | { ok: false; error: string }, option: string): T {
	if (!result.ok) throw new UsageError(`${option}: ${result.error}`);
	return result.value;
}

/** Turns the command line into a boot request; every problem is a one-line usage error. */
export function bootRequest(options: BootOptions, command: readonly string[], cwd: string): BootRequest {
	if (command.length === 0) throw new UsageError("no guest command: give one after --, e.g. -- uname -r");
	const accel = options.accel;
	if (accel !== "auto" && accel !== "kvm" && accel !== "tcg") {
		throw new UsageError(`--accel must be auto, kvm or tcg, not "${accel}"`);
	}
	const smp = Number(options.smp);
	if (!Number.isInteger(smp) || smp < 1)
		throw new UsageError(`--smp must be a whole number of CPUs, not "${options.smp}"`);
	if (options.load !== undefined && options.modules === undefined && options.load.trim() === "") {
		throw new UsageError("--load needs module names");
	}
	const files: GuestFile[] = options.add.map((a) => hostGuest(a, "--add", cwd));
	const shares: Share[] = options.share.map((s) => hostGuest(s, "--share", cwd));
	return {
		kernel: path.resolve(cwd, options.kernel),
		...(options.modules === undefined ? {} : { modulesDir: path.resolve(cwd, options.modules) }),
		modules: (options.load ?? "")
			.split(",")
			.map((m) => m.trim())
			.filter(Boolean)
			.map((spec) => {
				// kvm_amd:nested=1:avic=0 → the module and its parameters.
				const [name = "", ...params] = spec.split(":");
				return { name, params };
			}),
		files,
		shares,
		payload: { kind: "command", argv: command },
		cmdline: options.append,
		...(options.cpu === undefined ? {} : { cpu: options.cpu }),
		smp,
		memoryBytes: unwrap(parseSize(options.memory), "--memory"),
		accel: accel satisfies Accel,
		timeoutMs: unwrap(parseDuration(options.timeout), "--timeout"),
		noOutputTimeoutMs: unwrap(parseDuration(options.hangTimeout), "--hang-timeout"),
		...(options.workDir === undefined ? {} : { workDir: path.resolve(cwd, options.workDir) }),
	};
}

/** What `boot` exits with: the command's status when it ran to the end, else the kind of failure. */
export function bootExitCode(outcome: BootOutcome): ExitCode {
	switch (outcome.kind) {
		case "completed":
			return outcome.exitStatus;
		case "panic":
		case "oops":
			return EXIT.kernelFault;
		case "timeout":
		case "hung":
			return EXIT.timedOut;
		default:
			return EXIT.bootFailed;
	}
}

export async function bootCommand(
	options: BootOptions,
	command: readonly string[],
	io: CliIo,
	signal?: AbortSignal,
): Promise<ExitCode> {
	let request: BootRequest;
	try {
		request = bootRequest(options, command, io.cwd);
	} catch (error) {
		if (!(error instanceof UsageError)) throw error;
		io.stderr(`kvm-matrix boot: ${error.message}\n`);
		return EXIT.usage;
	}
	// With --json, stdout is the outcome record alone; the command's output moves to stderr.
	const out = options.json ? io.stderr : io.stdout;
	let outcome: BootOutcome;
	try {
		outcome = await boot(
			{ ...request, ...(signal === undefined ? {} : { signal }) },
			{
				onAccel: (_accel, warning) => {
					if (warning !== undefined) io.stderr(`kvm-matrix boot: warning: ${warning}\n`);
				},
				onConsoleLine: ({ source, line }) => {
					if (source === "payload") out(`${line}\n`);
					else if (options.console) io.stderr(`${line}\n`);
				},
			},
		);
	} catch (error) {
		if (error instanceof BootRequestError) {
			io.stderr(`kvm-matrix boot: ${error.message}\n`);
			return EXIT.usage;
		}
		if (error instanceof BootCancelledError) {
			io.stderr(`kvm-matrix boot: cancelled; console log: ${error.consoleLog}\n`);
			return EXIT.interrupted;
		}
		throw error;
	}
	if (options.json) io.stdout(`${JSON.stringify(outcome, null, 2)}\n`);
	if (outcome.kind !== "completed") {
		io.stderr(`kvm-matrix boot: ${outcome.kind}: ${outcome.summary}\n`);
		if (!options.json && outcome.excerpt.length > 0) {
			io.stderr(outcome.excerpt.map((line) => `  | ${line}\n`).join(""));
		}
		io.stderr(`kvm-matrix boot: console log: ${outcome.consoleLog}\n`);
	}
	return bootExitCode(outcome);
}
