import { createWriteStream, type WriteStream } from "node:fs";
import { appendFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { type BootOutcome, boot, type ModuleRequest } from "@kvm-matrix/qemu-runner";
import type { TestResult } from "../events/types.js";
import type { Target } from "../matrix/types.js";
import type { SelftestsBuild } from "./build.js";
import { MARKER, type ScheduledTest, selftestsScript } from "./guest-script.js";
import { parseTapSubtests, selftestStatus } from "./status.js";

export interface SuiteKernel {
	readonly image: string;
	readonly modulesDir?: string;
}

export interface SuiteRunOptions {
	readonly kernel: SuiteKernel;
	readonly target: Target;
	readonly build: SelftestsBuild;
	readonly tests: readonly ScheduledTest[];
	readonly logDir: string;
	/** Names this run's boot directories (`<prefix>boot-1`), when several run side by side. */
	readonly bootPrefix?: string;
	readonly cacheDir: string;
	readonly signal?: AbortSignal;
	readonly onResult?: (result: TestResult) => void;
	/** Each boot, when the payload starts (first) and when it ends. */
	readonly onBoot?: (phase: "booting" | "running", attempt: number) => void;
	readonly onConsoleLine?: (line: string) => void;
}

export interface SuiteRun {
	readonly results: readonly TestResult[];
	readonly boots: readonly BootOutcome[];
}

export const logName = (id: string) => `${id.replaceAll("/", "__")}.log`;
const GUEST_DIR = "/kvm-matrix-selftests";

/** KVM as modules (a distro kernel): load the vendor module the guest CPU has; the other fails harmlessly. */
export function kvmModules(target: Target): ModuleRequest[] {
	return ["kvm_amd", "kvm_intel"].map((name) => {
		const params = Object.entries(target.moduleParams[name] ?? target.moduleParams[name.replace("_", "-")] ?? {}).map(
			([k, v]) => `${k}=${v}`,
		);
		return { name, params };
	});
}

export function builtinModuleParams(target: Target): string[] {
	// Built-in modules take their parameters on the kernel command line as module.param=value.
	return Object.entries(target.moduleParams).flatMap(([mod, params]) =>
		Object.entries(params).map(([k, v]) => `${mod}.${k}=${v}`),
	);
}

/**
 * Runs the selected selftests in the guest, one boot for as long as the kernel survives: a panic
 * in test k makes k a `crash` (with the trace in its log) and the rest continue in a new boot.
 */
export async function runSelftests(options: SuiteRunOptions): Promise<SuiteRun> {
	await mkdir(options.logDir, { recursive: true });
	const results: TestResult[] = [];
	const boots: BootOutcome[] = [];
	const notBuilt = new Set(options.build.tests.filter((t) => t.binary === undefined).map((t) => t.id));
	const report = (r: TestResult) => {
		results.push(r);
		options.onResult?.(r);
	};
	for (const t of options.tests.filter((t) => notBuilt.has(t.id))) {
		report({ suite: "selftests", testId: t.id, status: "error", durationMs: 0, attempt: 1, detail: "did not build" });
	}
	let pending = options.tests.filter((t) => !notBuilt.has(t.id));
	const { qemu } = options.target;
	let attempt = 0;
	while (pending.length > 0) {
		attempt++;
		const started = new Map<string, { log: WriteStream; lines: string[] }>();
		const ended = new Set<string>();
		let current: { id: string; log: WriteStream; lines: string[] } | undefined;
		let running = false;
		const budgetS = pending.reduce((sum, t) => sum + t.timeoutS + 5, 0);
		const longest = Math.max(...pending.map((t) => t.timeoutS));
		options.onBoot?.("booting", attempt);
		const outcome = await boot(
			{
				kernel: options.kernel.image,
				...(options.kernel.modulesDir === undefined
					? {}
					: { modulesDir: options.kernel.modulesDir, modules: kvmModules(options.target) }),
				shares: [{ host: options.build.outputDir, guest: GUEST_DIR }],
				payload: { kind: "script", text: selftestsScript(GUEST_DIR, pending) },
				cmdline: [...options.target.cmdline, ...builtinModuleParams(options.target)],
				...(qemu.cpu === undefined ? {} : { cpu: qemu.cpu }),
				smp: qemu.smp,
				memoryBytes: qemu.memoryBytes,
				accel: qemu.accel,
				timeoutMs: (budgetS + 180) * 1000,
				noOutputTimeoutMs: (longest + 60) * 1000,
				workDir: path.join(options.logDir, `${options.bootPrefix ?? ""}boot-${attempt}`),
				cacheDir: options.cacheDir,
				...(options.signal === undefined ? {} : { signal: options.signal }),
			},
			{
				onConsoleLine: ({ source, line }) => {
					options.onConsoleLine?.(line);
					if (source !== "payload") return;
					const marker = MARKER.exec(line);
					if (marker?.[1] === "start" && marker[2] !== undefined) {
						const log = createWriteStream(path.join(options.logDir, logName(marker[2])));
						current = { id: marker[2], log, lines: [] };
						started.set(marker[2], current);
						return;
					}
					if (marker?.[1] === "end") {
						current?.log.end();
						current = undefined;
						return;
					}
					if (current !== undefined) {
						current.log.write(`${line}\n`);
						if (current.lines.length < 10_000) current.lines.push(line);
					}
				},
				onRecord: (record) => {
					const r = record as { t?: string; test?: string; status?: number; ms?: number };
					if (r.t === "test-start" && !running) {
						running = true;
						options.onBoot?.("running", attempt);
					}
					options.onBoot?.("running", attempt);
					if (r.t !== "test-end" || typeof r.test !== "string" || typeof r.status !== "number") return;
					const scheduled = pending.find((t) => t.id === r.test);
					if (scheduled === undefined || ended.has(r.test)) return;
					ended.add(r.test);
					const ms = typeof r.ms === "number" ? r.ms : 0;
					const { status, detail } = selftestStatus(r.status, ms >= scheduled.timeoutS * 1000 - 50);
					const subtests = parseTapSubtests(started.get(r.test)?.lines ?? []);
					report({
						suite: "selftests",
						testId: r.test,
						status,
						durationMs: ms,
						attempt: 1,
						logPath: path.join(options.logDir, logName(r.test)),
						...(detail === undefined ? {} : { detail }),
						...(subtests.length > 0 ? { subtests } : {}),
					});
				},
			},
		);
		boots.push(outcome);
		for (const { log } of started.values()) log.end();
		const crashed = [...started.keys()].find((id) => !ended.has(id));
		const remaining = pending.filter((t) => !ended.has(t.id) && t.id !== crashed);
		if (crashed !== undefined) {
			const status = outcome.kind === "timeout" || outcome.kind === "hung" ? "timeout" : "crash";
			report({
				suite: "selftests",
				testId: crashed,
				status,
				durationMs: 0,
				attempt: 1,
				logPath: path.join(options.logDir, logName(crashed)),
				detail: `${outcome.kind}: ${outcome.summary}`,
			});
			await appendFile(
				path.join(options.logDir, logName(crashed)),
				`\n[kvm-matrix: ${outcome.kind}: ${outcome.summary}]\n${outcome.excerpt.join("\n")}\n`,
			);
		} else if (remaining.length > 0) {
			// The guest stopped before a test started (boot failure, QEMU error): no test can run.
			for (const t of remaining) {
				report({
					suite: "selftests",
					testId: t.id,
					status: "error",
					durationMs: 0,
					attempt: 1,
					detail: `${outcome.kind}: ${outcome.summary}`,
				});
			}
			break;
		}
		pending = remaining;
	}
	return { results, boots };
}
