import { randomBytes } from "node:crypto";
import { constants, existsSync } from "node:fs";
import { access, mkdir, mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { Readable } from "node:stream";
import { execa } from "execa";
import { AccelProbeCancelledError, chooseAccel } from "./accel.js";
import { CHANNEL_NAME, ChannelEnd, channelEndMarker, MAX_CHANNELS } from "./channel.js";
import { CappedLog, DEFAULT_LOG_CAP } from "./console/capped-log.js";

/** The logs that failed, as the outcome says them; nothing when every one was written. */
const logFailuresOf = (logs: readonly CappedLog[]) => {
	const failures = logs.flatMap((log) => (log.failure === undefined ? [] : [log.failure]));
	return failures.length === 0 ? {} : { logFailures: failures };
};

import { LineSplitter } from "./console/lines.js";
import { FaultScanner, TailBuffer } from "./console/scan.js";
import { baseArchive, findStaticBusybox, payloadArchive, writeInitrd } from "./initramfs/build.js";
import { type ModuleRequest, readModuleIndex, resolveModules } from "./initramfs/modules.js";
import { kernelRelease } from "./kernel-release.js";
import { qemuArgs } from "./qemu-args.js";
import type {
	BootHandlers,
	BootOutcome,
	BootRequest,
	ChannelOutcome,
	ConsoleLine,
	ModuleParamCheck,
	ModuleParamReading,
	OutcomeKind,
	ParamsRefusal,
	UsedAccel,
} from "./types.js";

export const DEFAULTS = {
	smp: 2,
	memoryBytes: 1024 * 2 ** 20,
	timeoutMs: 10 * 60_000,
	noOutputTimeoutMs: 2 * 60_000,
	qemuBinary: "qemu-system-x86_64",
} as const;

/** A request that cannot be booted as asked (a module that does not exist, a file to add that is missing). */
export class BootRequestError extends Error {
	override readonly name = "BootRequestError";
}

/** The boot was aborted through its signal; QEMU is gone and the logs are kept. */
export class BootCancelledError extends Error {
	override readonly name = "BootCancelledError";
	constructor(readonly consoleLog: string) {
		super("the boot was cancelled");
	}
}

export const defaultCacheDir = (): string =>
	path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "kvm-matrix");

async function findExecutable(name: string): Promise<string | undefined> {
	const candidates = name.includes("/")
		? [name]
		: (process.env.PATH ?? "").split(":").map((dir) => path.join(dir || ".", name));
	for (const candidate of candidates) {
		try {
			await access(candidate, constants.X_OK);
			return path.resolve(candidate);
		} catch {}
	}
	return undefined;
}

// Modules the runner itself needs when the kernel has them as modules: virtio-console carries
// the payload's output, 9p the shares. Built-in or absent ones are skipped.
const OUTPUT_MODULES = ["virtio_pci", "virtio_console"];
const SHARE_MODULES = ["9pnet_virtio", "9p"];

interface Prepared {
	readonly initrd: string;
	readonly nonce: string;
	readonly shares: readonly { readonly host: string; readonly guest: string; readonly tag: string }[];
}

async function prepare(request: BootRequest, workDir: string, cacheDir: string): Promise<Prepared> {
	const release = await kernelRelease(request.kernel).catch(() => undefined);
	const hostModules = release === undefined ? undefined : `/lib/modules/${release}`;
	const modulesDir =
		request.modulesDir ?? (hostModules !== undefined && existsSync(hostModules) ? hostModules : undefined);
	const shares = (request.shares ?? []).map((s, i) => ({ ...s, tag: `kvmm${i}` }));
	let modules: ReturnType<typeof resolveModules> = [];
	if (modulesDir !== undefined) {
		if (!existsSync(modulesDir)) throw new BootRequestError(`modules directory not found: ${modulesDir}`);
		const index = readModuleIndex(modulesDir);
		const extra = [...OUTPUT_MODULES, ...(shares.length > 0 ? SHARE_MODULES : [])]
			.filter((name) => index.paths.has(name))
			.map((name): ModuleRequest => ({ name }));
		try {
			modules = resolveModules(index, [...extra, ...(request.modules ?? [])]);
		} catch (error) {
			throw new BootRequestError((error as Error).message);
		}
	} else if ((request.modules ?? []).length > 0) {
		throw new BootRequestError("modules were requested but no modules directory was given or found");
	}
	for (const m of request.modules ?? []) {
		for (const param of m.params ?? []) {
			if (!/^[\w.-]+(=[^\s"'\\]*)?$/.test(param))
				throw new BootRequestError(`bad module parameter "${param}" for ${m.name}`);
		}
	}
	for (const file of request.files ?? []) {
		if (!existsSync(file.host)) throw new BootRequestError(`file to add not found: ${file.host}`);
		if (!file.guest.startsWith("/") || file.guest.split("/").includes("..")) {
			throw new BootRequestError(`guest path must be absolute, without "..": ${file.guest}`);
		}
	}
	for (const share of shares) {
		if (!existsSync(share.host)) throw new BootRequestError(`directory to share not found: ${share.host}`);
	}
	for (const p of request.requireModuleParams ?? []) {
		// The value is only compared in the init, never put into a record: one word will do.
		if (!/^\w+$/.test(p.module) || !/^\w+$/.test(p.param) || !/^[^\s"'\\]+$/.test(p.value))
			throw new BootRequestError(`bad module parameter to check: ${p.module}.${p.param}=${p.value}`);
	}
	const channels = request.channels ?? [];
	if (channels.length > MAX_CHANNELS)
		throw new BootRequestError(`at most ${MAX_CHANNELS} channels, not ${channels.length}`);
	for (const [i, name] of channels.entries()) {
		if (!CHANNEL_NAME.test(name) || channels.indexOf(name) !== i)
			throw new BootRequestError(`bad or repeated channel name "${name}" (lower-case letters, digits and "-")`);
	}
	const busybox = await findStaticBusybox().catch((error: Error) => {
		throw new BootRequestError(error.message);
	});
	const base = await baseArchive({ cacheDir, busybox, ...(modulesDir === undefined ? {} : { modulesDir }), modules });
	const nonce = randomBytes(16).toString("hex");
	const payload = await payloadArchive({
		nonce,
		payload: request.payload,
		modules,
		shares,
		files: request.files ?? [],
		channels,
		params: request.requireModuleParams ?? [],
	});
	const initrd = path.join(workDir, "initrd.img");
	await writeInitrd(initrd, base.path, payload);
	return { initrd, nonce, shares };
}

/**
 * Boots `request.kernel` under QEMU, runs the payload, and resolves to what happened. Console
 * lines and the payload's records are streamed to `handlers` as they arrive. QEMU is always
 * stopped before this returns, whatever happened.
 */
export async function boot(request: BootRequest, handlers: BootHandlers = {}): Promise<BootOutcome> {
	const cacheDir = request.cacheDir ?? defaultCacheDir();
	const workDir = request.workDir ?? (await mkdtemp(path.join(os.tmpdir(), "kvm-matrix-boot-")));
	await mkdir(workDir, { recursive: true });
	const consoleLog = path.join(workDir, "console.log");
	const recordsLog = path.join(workDir, "records.jsonl");
	const channelLogs = (request.channels ?? []).map((name) => path.join(workDir, `channel-${name}.log`));
	const binaryName = request.qemuBinary ?? DEFAULTS.qemuBinary;
	const early = (kind: OutcomeKind & ("qemu-error" | "boot-failed"), summary: string, accel: UsedAccel = "tcg") =>
		({
			kind,
			accel,
			durationMs: 0,
			consoleLog,
			recordsLog,
			channels: (request.channels ?? []).map(
				(name, i): ChannelOutcome => ({ name, opened: false, complete: false, log: channelLogs[i] ?? "" }),
			),
			truncated: { console: false, records: false },
			summary,
			excerpt: [summary],
			qemuCommand: [],
			moduleParams: [],
		}) satisfies BootOutcome;

	const binary = await findExecutable(binaryName);
	if (binary === undefined) {
		return early("qemu-error", `${binaryName} not found (install it: apt-get install qemu-system-x86)`);
	}
	if (!existsSync(request.kernel)) return early("qemu-error", `kernel image not found: ${request.kernel}`);

	let accel: UsedAccel;
	let accelWarning: string | undefined;
	if ((request.accel ?? "auto") === "auto") {
		const choice = await chooseAccel({
			cacheDir,
			qemuBinary: binary,
			cpu: request.cpu,
			kernel: request.kernel,
			signal: request.signal,
			probe: (signal) =>
				boot({
					kernel: request.kernel,
					payload: { kind: "command", argv: ["true"] },
					accel: "kvm",
					...(request.cpu === undefined ? {} : { cpu: request.cpu }),
					memoryBytes: 512 * 2 ** 20,
					timeoutMs: 60_000,
					noOutputTimeoutMs: 20_000,
					cacheDir,
					qemuBinary: binary,
					...(signal === undefined ? {} : { signal }),
				}),
		}).catch((error: unknown) => {
			// Cancelled while probing: to the caller, the boot was.
			throw error instanceof AccelProbeCancelledError ? new BootCancelledError(consoleLog) : error;
		});
		accel = choice.accel;
		accelWarning = choice.warning;
	} else {
		accel = request.accel === "kvm" ? "kvm" : "tcg";
	}

	handlers.onAccel?.(accel, accelWarning);
	const prepared = await prepare(request, workDir, cacheDir);
	// Unix socket paths are limited to 107 bytes: keep them in a short private directory.
	const socketDir = await mkdtemp(path.join(os.tmpdir(), "kvmm-"));
	try {
		return await run(request, handlers, {
			binary,
			accel,
			...(accelWarning === undefined ? {} : { accelWarning }),
			prepared,
			consoleLog,
			recordsLog,
			channelLogs,
			socketDir,
		});
	} finally {
		await rm(socketDir, { recursive: true, force: true });
	}
}

interface RunContext {
	readonly binary: string;
	readonly accel: UsedAccel;
	readonly accelWarning?: string;
	readonly prepared: Prepared;
	readonly consoleLog: string;
	readonly recordsLog: string;
	readonly channelLogs: readonly string[];
	readonly socketDir: string;
}

type Ending =
	| { readonly why: "exit"; readonly status: number }
	| { readonly why: "panic" }
	| { readonly why: "qemu-exited"; readonly code: number | undefined; readonly signal: string | undefined }
	| { readonly why: "timeout" }
	| { readonly why: "hung" }
	| { readonly why: "cancelled" }
	| { readonly why: "params" };

/** A Unix socket server that hands over its first connection: QEMU connects to it at start-up. */
function socketServer(file: string): { server: net.Server; connection: Promise<net.Socket> } {
	const server = net.createServer();
	const connection = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
	server.listen(file);
	return { server, connection };
}

async function run(request: BootRequest, handlers: BootHandlers, ctx: RunContext): Promise<BootOutcome> {
	const start = performance.now();
	const { prepared } = ctx;
	const recordSocket = path.join(ctx.socketDir, "r");
	const outputSocket = path.join(ctx.socketDir, "o");
	const records = socketServer(recordSocket);
	const output = socketServer(outputSocket);
	const channels = (request.channels ?? []).map((name, i) => {
		const socket = path.join(ctx.socketDir, `c${i}`);
		return { name, socket, ...socketServer(socket), end: new ChannelEnd(channelEndMarker(prepared.nonce)) };
	});
	const servers = [records.server, output.server, ...channels.map((c) => c.server)];
	await Promise.all(servers.map((s) => new Promise((r) => s.once("listening", r))));

	const args = qemuArgs({
		accel: ctx.accel,
		cpu: request.cpu ?? (ctx.accel === "tcg" ? "max" : "host"),
		smp: request.smp ?? DEFAULTS.smp,
		memoryBytes: request.memoryBytes ?? DEFAULTS.memoryBytes,
		kernel: request.kernel,
		initrd: prepared.initrd,
		cmdline: request.cmdline ?? [],
		recordSocket,
		outputSocket,
		shares: prepared.shares,
		channels: channels.map(({ name, socket }) => ({ name, socket })),
	}).concat(request.extraQemuArgs ?? []);
	const logCap = request.logCapBytes ?? DEFAULT_LOG_CAP;
	const consoleLog = new CappedLog(ctx.consoleLog, logCap);
	const recordsLog = new CappedLog(ctx.recordsLog, logCap);
	const channelLogs = ctx.channelLogs.map((file) => new CappedLog(file, logCap));
	let openedChannels: readonly string[] = [];
	const scanner = new FaultScanner();
	const tail = new TailBuffer(30);
	const stderrLines: string[] = [];
	let bootMs: number | undefined;
	let exitStatus: number | undefined;
	let outputDone = false;
	let outputMode: "virtio" | "console" | undefined;
	let sawOutput = false;

	// setpriv ties QEMU's life to this process: if Node is killed, the kernel kills QEMU too.
	const setpriv = await findExecutable("setpriv");
	const command =
		setpriv === undefined ? [ctx.binary, ...args] : [setpriv, "--pdeathsig", "KILL", "--", ctx.binary, ...args];
	const qemu = execa(command[0] ?? ctx.binary, command.slice(1), {
		stdin: "ignore",
		buffer: false,
		reject: false,
		cleanup: true,
	});

	let settle: (ending: Ending) => void = () => {};
	const ended = new Promise<Ending>((resolve) => {
		settle = resolve;
	});
	let ending: Ending | undefined;
	const end = (e: Ending) => {
		if (ending === undefined) {
			ending = e;
			settle(e);
		}
	};

	let lastOutput = performance.now();
	const overall = setTimeout(() => end({ why: "timeout" }), request.timeoutMs ?? DEFAULTS.timeoutMs);
	const noOutputMs = request.noOutputTimeoutMs ?? DEFAULTS.noOutputTimeoutMs;
	const watchdog = setInterval(
		() => {
			if (performance.now() - lastOutput > noOutputMs) end({ why: "hung" });
		},
		Math.min(1000, noOutputMs / 4),
	);
	const onAbort = () => end({ why: "cancelled" });
	request.signal?.addEventListener("abort", onAbort, { once: true });
	if (request.signal?.aborted) onAbort();

	if (ctx.accelWarning !== undefined) await consoleLog.write(`[kvm-matrix: warning: ${ctx.accelWarning}]`);

	const emit = async (line: ConsoleLine) => {
		await consoleLog.write(line.line);
		tail.push(line.line);
		handlers.onConsoleLine?.(line);
	};

	// Once the payload runs, only its own output and records show progress: a guest whose kernel
	// keeps printing soft-lockup traces while the payload is stuck is hung, not busy.
	const pump = async (stream: Readable | null, onLine: (line: string) => Promise<void>, kernel = false) => {
		if (stream === null) return;
		const splitter = new LineSplitter();
		try {
			for await (const chunk of stream) {
				if (!kernel || bootMs === undefined) lastOutput = performance.now();
				for (const line of splitter.push(chunk as Buffer)) await onLine(line);
			}
		} catch {
			// A socket reset when QEMU is killed ends the stream like EOF.
		}
		for (const line of splitter.end()) await onLine(line);
	};

	const consoleDone = pump(
		qemu.stdout,
		async (line) => {
			sawOutput = true;
			const fault = scanner.push(line);
			await emit({ source: "kernel", line });
			// A panic's trace is complete at its end marker; QEMU then exits on its own (panic=-1).
			if (fault?.kind === "panic") {
				if (fault.complete) end({ why: "panic" });
				// Normally the guest restarts (panic=-1) and QEMU exits; if a cmdline override stops that, don't wait for a hang.
				else setTimeout(() => end({ why: "panic" }), 5000);
			}
		},
		true,
	);
	const stderrDone = pump(qemu.stderr, async (line) => {
		if (stderrLines.length < 50) stderrLines.push(line);
	});
	const endMarker = `@@kvm-matrix-end ${prepared.nonce}@@`;
	let heldBlank = false;
	const outputDoneTask = output.connection.then((socket) =>
		pump(socket, async (line) => {
			if (line === endMarker) {
				outputDone = true;
				heldBlank = false;
				return;
			}
			// The end marker is preceded by a newline in case the payload's output did not end in one.
			if (heldBlank) await emit({ source: "payload", line: "" });
			heldBlank = line === "";
			if (!heldBlank) await emit({ source: "payload", line });
		}),
	);
	const readings: ModuleParamReading[] = [];
	let paramsRefused: ParamsRefusal | undefined;
	const recordsDone = records.connection.then((socket) =>
		pump(socket, async (line) => {
			await recordsLog.write(line);
			let value: unknown;
			try {
				value = JSON.parse(line);
			} catch {
				return;
			}
			if (typeof value === "object" && value !== null && (value as { nonce?: unknown }).nonce === prepared.nonce) {
				const control = value as { t?: string; status?: number; output?: string };
				if (control.t === "param") {
					const reading = paramReading(value, request.requireModuleParams ?? []);
					if (reading !== undefined) readings.push(reading);
				} else if (control.t === "params-refused") {
					const why = (value as { why?: unknown }).why;
					paramsRefused = why === "none-apply" || why === "no-kvm" ? why : "mismatch";
					end({ why: "params" });
				} else if (control.t === "start") {
					bootMs = performance.now() - start;
					outputMode = control.output === "virtio" ? "virtio" : "console";
					const opened = (value as { channels?: unknown }).channels;
					openedChannels = typeof opened === "string" ? opened.split(" ").filter(Boolean) : [];
				} else if (control.t === "exit" && typeof control.status === "number") {
					exitStatus = control.status;
					const status = control.status;
					// The payload's last output may still be on its way through the virtio ports.
					const drained = () =>
						(outputMode !== "virtio" || outputDone) &&
						channels.every((c) => c.end.ended || !openedChannels.includes(c.name));
					void waitFor(drained, 3000).then(() => end({ why: "exit", status }));
				}
				return;
			}
			handlers.onRecord?.(value);
		}),
	);

	// A channel is raw bytes, not lines: its records may carry binary data of their own.
	const channelsDone = channels.map((channel, i) =>
		channel.connection.then(async (socket) => {
			const deliver = async (bytes: Buffer) => {
				if (bytes.length === 0) return;
				await channelLogs[i]?.append(bytes);
				handlers.onChannelData?.(channel.name, bytes);
			};
			try {
				for await (const chunk of socket) {
					lastOutput = performance.now();
					await deliver(channel.end.push(chunk as Buffer));
				}
			} catch {
				// A socket reset when QEMU is killed ends the stream like EOF.
			}
			await deliver(channel.end.flush());
		}),
	);

	qemu.then((result) => end({ why: "qemu-exited", code: result.exitCode, signal: result.signal }));

	const finalEnding = await ended;
	clearTimeout(overall);
	clearInterval(watchdog);
	request.signal?.removeEventListener("abort", onAbort);

	// A panic prints its trace, then the guest reboots and QEMU (-no-reboot) exits: let it.
	if (finalEnding.why === "panic") await Promise.race([qemu, delay(3000)]);
	qemu.kill("SIGKILL");
	await qemu;
	await Promise.race([Promise.all([consoleDone, stderrDone]), delay(2000)]);
	for (const server of servers) server.close();
	for (const task of [records.connection, output.connection, ...channels.map((c) => c.connection)]) {
		void task.then((s) => s.destroy());
	}
	await Promise.race([Promise.all([recordsDone, outputDoneTask, ...channelsDone]), delay(1000)]);
	await Promise.all([consoleLog.close(), recordsLog.close(), ...channelLogs.map((log) => log.close())]);

	const base = {
		accel: ctx.accel,
		...(ctx.accelWarning === undefined ? {} : { accelWarning: ctx.accelWarning }),
		durationMs: Math.round(performance.now() - start),
		...(bootMs === undefined ? {} : { bootMs: Math.round(bootMs) }),
		consoleLog: ctx.consoleLog,
		recordsLog: ctx.recordsLog,
		channels: channels.map(
			(c, i): ChannelOutcome => ({
				name: c.name,
				opened: openedChannels.includes(c.name),
				complete: c.end.ended,
				log: ctx.channelLogs[i] ?? "",
			}),
		),
		truncated: { console: consoleLog.truncated, records: recordsLog.truncated },
		...logFailuresOf([consoleLog, recordsLog, ...channelLogs]),
		qemuCommand: command,
		moduleParams: readings,
		...(paramsRefused === undefined ? {} : { paramsRefused }),
	};
	if (finalEnding.why === "cancelled") throw new BootCancelledError(ctx.consoleLog);

	const panic = scanner.panic;
	if (panic !== undefined) return { ...base, kind: "panic", summary: panic.headline, excerpt: panic.excerpt };
	const oops = scanner.oops;
	const phase = bootMs === undefined ? "while booting" : "while the payload ran";
	const limit = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
	let other: { kind: Exclude<OutcomeKind, "oops" | "panic">; summary: string; excerpt: readonly string[] };
	switch (finalEnding.why) {
		case "exit":
			other = { kind: "completed", summary: `the command exited with status ${finalEnding.status}`, excerpt: [] };
			break;
		case "timeout":
			other = {
				kind: "timeout",
				summary: `not finished after ${limit(request.timeoutMs ?? DEFAULTS.timeoutMs)} (${phase})`,
				excerpt: tail.lines,
			};
			break;
		case "params":
			other = {
				kind: "boot-failed",
				summary:
					paramsRefused === "none-apply"
						? `no module parameter asked applies to this CPU, so the payload was not run: ${readings.map(readingText).join("; ")}`
						: paramsRefused === "no-kvm"
							? `KVM did not come up under the module parameters (no /dev/kvm), so the payload was not run: ${readings.map(readingText).join(", ")}`
							: `module parameters do not hold, so the payload was not run: ${readings
									.filter((r) => !r.holds)
									.map(readingText)
									.join("; ")}`,
				excerpt: [],
			};
			break;
		case "hung":
			other = {
				kind: "hung",
				summary: `no output for ${limit(noOutputMs)} ${phase}: the guest is hung`,
				excerpt: tail.lines,
			};
			break;
		default: {
			const code = finalEnding.why === "qemu-exited" ? finalEnding.code : undefined;
			const qemuMessage = stderrLines.find((l) => l.trim() !== "");
			if (!sawOutput && qemuMessage !== undefined) {
				other = { kind: "qemu-error", summary: qemuMessage.trim(), excerpt: stderrLines };
			} else {
				const when = bootMs === undefined ? "before the payload started" : "before the payload finished";
				other = {
					kind: "boot-failed",
					summary: `the guest stopped ${when} (QEMU exited with status ${code ?? "?"})`,
					excerpt: [...tail.lines, ...stderrLines],
				};
			}
		}
	}
	if (oops !== undefined && other.kind !== "qemu-error") {
		const then = other.kind === "completed" ? `; ${other.summary}` : `; then: ${other.summary}`;
		return {
			...base,
			kind: "oops",
			...(exitStatus === undefined ? {} : { exitStatus }),
			summary: `${oops.headline}${scanner.oopsCount > 1 ? ` (and ${scanner.oopsCount - 1} more)` : ""}${then}`,
			excerpt: oops.excerpt,
		};
	}
	if (other.kind === "completed" && finalEnding.why === "exit") {
		return {
			...base,
			kind: "completed",
			exitStatus: finalEnding.status,
			summary: other.summary,
			excerpt: other.excerpt,
		};
	}
	return {
		...base,
		kind: other.kind === "completed" ? "boot-failed" : other.kind,
		summary: other.summary,
		excerpt: other.excerpt,
	};
}

/** One `param` record of the init, checked against what was asked (records for other checks are dropped). */
function paramReading(value: object, asked: readonly ModuleParamCheck[]): ModuleParamReading | undefined {
	const r = value as { module?: unknown; param?: unknown; got?: unknown; missing?: unknown; cpu?: unknown };
	const check = asked.find((a) => a.module === r.module && a.param === r.param);
	if (check === undefined) return undefined;
	if (r.missing === "vendor")
		return { ...check, missing: "vendor", ...(typeof r.cpu === "string" ? { cpu: r.cpu } : {}), holds: true };
	if (r.missing === "module" || r.missing === "param") return { ...check, missing: r.missing, holds: false };
	if (typeof r.got !== "string") return undefined;
	return { ...check, got: r.got, holds: sameValue(r.got, check.value) };
}

/** As the init compares: equal, or a bool read back (Y/N) that kstrtobool would parse the asked value as. */
export function sameValue(got: string, asked: string): boolean {
	if (got === asked) return true;
	if (got !== "Y" && got !== "N") return false;
	const bool = /^on$/i.test(asked)
		? "Y"
		: /^off$/i.test(asked)
			? "N"
			: /^[YyTt1]/.test(asked)
				? "Y"
				: /^[NnFf0]/.test(asked)
					? "N"
					: undefined;
	return bool === got;
}

/** `kvm_amd.npt is N, not 1`, `kvm_intel is not loaded`, for one line a person reads. */
export function readingText(r: ModuleParamReading): string {
	if (r.missing === "vendor")
		return `${r.module}.${r.param}=${r.value} does not apply (the CPU is ${r.cpu ?? "another vendor's"})`;
	if (r.missing === "module") return `${r.module} is not loaded (asked ${r.module}.${r.param}=${r.value})`;
	if (r.missing === "param") return `${r.module} has no parameter ${r.param} (asked ${r.param}=${r.value})`;
	return r.holds ? `${r.module}.${r.param}=${r.got}` : `${r.module}.${r.param} is ${r.got}, not ${r.value}`;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function waitFor(condition: () => boolean, maxMs: number): Promise<void> {
	return new Promise((resolve) => {
		const started = performance.now();
		const check = () => (condition() || performance.now() - started > maxMs ? resolve() : setTimeout(check, 20));
		check();
	});
}
