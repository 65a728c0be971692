import { writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type BootOutcome, boot, type ModuleParamCheck, type ModuleRequest } from "@kvm-matrix/qemu-runner";
import type { TestResult } from "../events/types.js";
import type { Target } from "../matrix/types.js";
import { idName } from "../paths/id-name.js";
import type { SelftestsBuild } from "./build.js";
import { type ScheduledTest, scriptableName, selftestsScript } from "./guest-script.js";
import {
	type ChannelEvent,
	ChannelNotes,
	ConsoleSinceStart,
	harnessHandlers,
	RESULT_CHANNEL,
	ResultChannelReader,
} from "./result-channel.js";
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
	/** At most this many tests run at once in one guest (1 when omitted: one after the other). */
	readonly sideBySide?: number;
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
	/** What the result channel said that was not used (records for other tests, out of order), for the cell's notes. */
	readonly notes: readonly string[];
}

export const logName = (id: string) => `${idName(id)}.log`;
const GUEST_DIR = "/kvm-matrix-selftests";

/** KVM as modules (a distro kernel): load the vendor module the guest CPU has; the other fails harmlessly. */
export function kvmModules(target: Target): ModuleRequest[] {
	// kvm itself is loaded as their dependency; asked for first when it has parameters of its own
	// (kvm.enable_pmu=0), since insmod, unlike the kernel, does not read them off the command line.
	const own = Object.keys(target.moduleParams.kvm ?? {}).length > 0 ? ["kvm"] : [];
	return [...own, "kvm_amd", "kvm_intel"].map((name) => {
		const params = Object.entries(target.moduleParams[name] ?? target.moduleParams[name.replace("_", "-")] ?? {}).map(
			([k, v]) => `${k}=${v}`,
		);
		return { name, params };
	});
}

/**
 * The parameters a cell on the `params` axis must really run under, read back in the guest
 * before any test starts: a set KVM ignored or does not have must not pass for results under it.
 */
export function requiredParams(target: Target): ModuleParamCheck[] {
	if (target.params === undefined) return [];
	return Object.entries(target.moduleParams).flatMap(([module, params]) =>
		Object.entries(params).map(([param, value]) => ({ module: module.replaceAll("-", "_"), param, value })),
	);
}

/** Whose CPUs a vendor module is for, in words. */
export const VENDOR: Readonly<Record<string, string>> = { kvm_intel: "Intel", kvm_amd: "AMD" };

/**
 * Why a cell's tests are skipped, when nothing of its set applies to the guest's CPU (kvm_intel
 * parameters on an AMD CPU, as the guest's init read its vendor): not a failure of KVM, a set that
 * does not apply here. A vendor module that should have loaded and did not is infra, never this.
 */
export function vendorSkip(outcome: BootOutcome): string | undefined {
	if (outcome.kind !== "boot-failed" || outcome.paramsRefused !== "none-apply") return undefined;
	const read = outcome.moduleParams;
	if (read.length === 0 || !read.every((r) => r.missing === "vendor")) return undefined;
	const asked = read.map((r) => `${r.module}.${r.param}=${r.value}`).join(", ");
	const vendors = [...new Set(read.map((r) => VENDOR[r.module] ?? r.module))].join(" and ");
	return `${asked}: for ${vendors} CPUs, and this guest's CPU is ${read[0]?.cpu ?? "another vendor's"}`;
}

export function builtinModuleParams(target: Target): string[] {
	// Built-in modules take their parameters on the kernel command line as module.param=value.
	return Object.entries(target.moduleParams).flatMap(([mod, params]) =>
		Object.entries(params).map(([k, v]) => `${mod}.${k}=${v}`),
	);
}

/** A part's bytes as a log: what the guest did not send is said, not silently lost. */
export function partText(bytes: Buffer, skipped: number): string {
	const text = bytes.toString("utf8");
	return skipped > 0 ? `[kvm-matrix: the first ${skipped} bytes of this output were not kept]\n${text}` : text;
}

export const lastLines = (text: string) => text.split("\n").slice(-10_000);

/**
 * Runs the selected selftests in the guest, `sideBySide` at a time, one boot for as long as the
 * kernel survives: a panic in test k makes k a `crash` (with the trace in its log) and the rest
 * continue in a new boot; a panic while several ran makes each of them run again alone.
 * What happened comes from the result channel only; the console is for people to watch.
 */
export async function runSelftests(options: SuiteRunOptions): Promise<SuiteRun> {
	for (const t of options.tests) scriptableName(t.id, true);
	await mkdir(options.logDir, { recursive: true });
	const results: TestResult[] = [];
	const boots: BootOutcome[] = [];
	const notes = new ChannelNotes();
	const notBuilt = new Set(options.build.tests.filter((t) => t.binary === undefined).map((t) => t.id));
	const report = (r: TestResult) => {
		results.push(r);
		options.onResult?.(r);
	};
	// Host paths come from the host's own list of names, never from the guest.
	const logPath = (id: string) => path.join(options.logDir, logName(id));
	for (const t of options.tests.filter((t) => notBuilt.has(t.id))) {
		report({ suite: "selftests", testId: t.id, status: "error", durationMs: 0, attempt: 1, detail: "did not build" });
	}
	let pending = options.tests.filter((t) => !notBuilt.has(t.id));
	const { qemu } = options.target;
	const width = Math.max(1, options.sideBySide ?? 1);
	// Tests that were running side by side when a guest died: any of them may have killed it, so
	// each runs again alone, first in the next boot, and only a test that was alone is blamed.
	const alone = new Set<string>();
	const suspectNotes: string[] = [];
	let attempt = 0;
	while (pending.length > 0) {
		attempt++;
		const scheduled = [...pending.filter((t) => alone.has(t.id)), ...pending.filter((t) => !alone.has(t.id))];
		const aloneCount = scheduled.filter((t) => alone.has(t.id)).length;
		const reader = new ResultChannelReader({ count: scheduled.length, parts: ["output"], width });
		const ended = new Set<string>();
		let running = false;
		const consoleSince = new ConsoleSinceStart();
		const outputs = new Map<number, { bytes: Buffer; skipped: number }>();
		const onEvent = (event: ChannelEvent) => {
			if (event.kind === "ignored" || event.kind === "broken") {
				notes.add(event.note);
				return;
			}
			const test = scheduled[event.index];
			if (test === undefined) return;
			if (event.kind === "start") {
				if (!running) {
					running = true;
					options.onBoot?.("running", attempt);
				}
				consoleSince.start(event.index);
			} else if (event.kind === "data") {
				outputs.set(event.index, { bytes: event.bytes, skipped: event.skipped });
			} else {
				consoleSince.end(event.index);
				ended.add(test.id);
				const output = outputs.get(event.index);
				outputs.delete(event.index);
				const text = output === undefined ? "" : partText(output.bytes, output.skipped);
				writeFileSync(logPath(test.id), text);
				const { status, detail } = selftestStatus(event.status, event.ms >= test.timeoutS * 1000 - 50);
				const subtests = parseTapSubtests(lastLines(text));
				report({
					suite: "selftests",
					testId: test.id,
					status,
					durationMs: event.ms,
					attempt: 1,
					logPath: logPath(test.id),
					...(detail === undefined ? {} : { detail }),
					...(subtests.length > 0 ? { subtests } : {}),
				});
			}
		};
		const budgetS = scheduled.reduce((sum, t) => sum + t.timeoutS + 5, 0);
		const longest = Math.max(...scheduled.map((t) => t.timeoutS));
		options.onBoot?.("booting", attempt);
		const outcome = await boot(
			{
				kernel: options.kernel.image,
				...(options.kernel.modulesDir === undefined
					? {}
					: { modulesDir: options.kernel.modulesDir, modules: kvmModules(options.target) }),
				shares: [{ host: options.build.outputDir, guest: GUEST_DIR }],
				channels: [RESULT_CHANNEL],
				payload: {
					kind: "script",
					text: selftestsScript(GUEST_DIR, scheduled, undefined, { width, alone: aloneCount }),
				},
				cmdline: [...options.target.cmdline, ...builtinModuleParams(options.target)],
				requireModuleParams: requiredParams(options.target),
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
			harnessHandlers(reader, onEvent, {
				onConsoleLine: options.onConsoleLine,
				keep: (line) => consoleSince.line(line),
			}),
		);
		for (const event of reader.close()) onEvent(event);
		boots.push(outcome);
		const runningIndexes = reader.broken ? [] : reader.running;
		const runningTests = runningIndexes.flatMap((i) => scheduled[i] ?? []);
		const crashed = runningTests.length === 1 ? runningTests[0] : undefined;
		const suspects = runningTests.length > 1 ? runningTests : [];
		const remaining = scheduled.filter((t) => !ended.has(t.id) && t.id !== crashed?.id);
		if (crashed !== undefined) {
			const status = outcome.kind === "timeout" || outcome.kind === "hung" ? "timeout" : "crash";
			report({
				suite: "selftests",
				testId: crashed.id,
				status,
				durationMs: 0,
				attempt: 1,
				logPath: logPath(crashed.id),
				detail: `${outcome.kind}: ${outcome.summary}`,
			});
			writeFileSync(
				logPath(crashed.id),
				`${consoleSince
					.of(runningIndexes[0] ?? -1)
					.map((l) => `${l}\n`)
					.join("")}\n[kvm-matrix: ${outcome.kind}: ${outcome.summary}]\n${outcome.excerpt.join("\n")}\n`,
			);
		} else if (suspects.length > 0) {
			for (const t of suspects) alone.add(t.id);
			suspectNotes.push(
				`the guest stopped (${outcome.kind}) while ${suspects.map((t) => t.id).join(", ")} ran side by side; each runs again alone`,
			);
		} else if (remaining.length > 0) {
			// No test is running and some never started: the guest stopped (boot failure, QEMU error),
			// or the result channel is missing or broke. No test can run.
			const channel = outcome.channels.find((c) => c.name === RESULT_CHANNEL);
			const why = reader.broken
				? (notes.last() ?? "the result channel broke")
				: outcome.bootMs !== undefined && channel?.opened === false
					? "the guest has no result channel (a kernel without virtio-console?)"
					: `${outcome.kind}: ${outcome.summary}`;
			const skip = vendorSkip(outcome);
			for (const t of remaining) {
				report({
					suite: "selftests",
					testId: t.id,
					status: skip === undefined ? "error" : "skip",
					durationMs: 0,
					attempt: 1,
					detail: skip ?? why,
				});
			}
			break;
		}
		pending = remaining;
	}
	return { results, boots, notes: [...notes.list(), ...suspectNotes] };
}
