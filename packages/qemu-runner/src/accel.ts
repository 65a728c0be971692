import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { BootOutcome, UsedAccel } from "./types.js";

export interface AccelChoice {
	readonly accel: UsedAccel;
	/** Why KVM was not used, when it was asked for with `auto`. */
	readonly warning?: string;
}

/** The accelerator probe was stopped through its signal; nothing was cached. */
export class AccelProbeCancelledError extends Error {
	override readonly name = "AccelProbeCancelledError";
	constructor() {
		super("the KVM probe was cancelled");
	}
}

/**
 * What one probe boot under KVM says, and how far the answer reaches: `host` holds for every
 * kernel on this host and QEMU, `kernel` only for the kernel that was booted, `none` for nothing
 * beyond this boot (it is not kept).
 */
export interface ProbeVerdict {
	readonly usable: boolean;
	readonly scope: "host" | "kernel" | "none";
	readonly reason?: string;
}

// QEMU's own words when KVM itself refuses the guest: `failed to initialize kvm`, `Could not
// access KVM kernel module`, `kvm_buf_set_msrs: Assertion ... failed`, `failed to set MSR 0x10a`.
const KVM_REFUSED = /\bkvm|\bMSR\b/i;

/**
 * Judges a probe boot (pure). A guest that ran its payload proves KVM for the host. A QEMU that
 * KVM refused is the host's answer too. A kernel that panicked, failed to boot or made QEMU refuse
 * it for another reason says something about that kernel only, so one broken kernel cannot turn
 * KVM off for every later one. A probe that ran out of time (a loaded machine, a spin) says nothing
 * that should outlive this boot.
 */
export function judgeProbe(outcome: BootOutcome): ProbeVerdict {
	const reason = `a test boot under KVM ended in ${outcome.kind}: ${outcome.summary}`;
	switch (outcome.kind) {
		case "completed":
			return { usable: true, scope: "host" };
		case "oops":
			// The payload finished: KVM boots Linux here, and the oops is the kernel's to report.
			return outcome.exitStatus === undefined
				? { usable: false, scope: "kernel", reason }
				: { usable: true, scope: "host" };
		case "qemu-error":
			return {
				usable: false,
				scope: [outcome.summary, ...outcome.excerpt].some((line) => KVM_REFUSED.test(line)) ? "host" : "kernel",
				reason,
			};
		case "panic":
		case "boot-failed":
			return { usable: false, scope: "kernel", reason };
		case "timeout":
		case "hung":
			return { usable: false, scope: "none", reason };
	}
}

interface ProbeRecord {
	readonly usable: boolean;
	readonly reason?: string;
	/** When it was probed (ms since the epoch): the oldest records go first when the file is full. */
	readonly at: number;
}

/** Kernel answers are kept for this many kernels; host answers are a handful at most. */
const MAX_RECORDS = 64;
const CACHE_FILE = "accel-probe-v2.json";

async function kvmDeviceProblem(device: string): Promise<string | undefined> {
	try {
		await access(device, constants.R_OK | constants.W_OK);
		return undefined;
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		return code === "ENOENT" ? `there is no ${device}` : `${device} is not readable and writable by this user`;
	}
}

/** A file's identity without reading it: path, size and modification time. */
const fileStamp = (file: string) =>
	stat(file).then(
		(s) => `${path.resolve(file)}:${s.size}:${s.mtimeMs}`,
		() => `${path.resolve(file)}:?`,
	);

/** The cached answers; a file that is missing, damaged or of another version is no answers. */
async function readRecords(file: string): Promise<Record<string, ProbeRecord>> {
	try {
		const parsed = JSON.parse(await readFile(file, "utf8")) as { version?: unknown; records?: unknown };
		if (parsed.version !== 2 || typeof parsed.records !== "object" || parsed.records === null) return {};
		const records: Record<string, ProbeRecord> = {};
		for (const [key, value] of Object.entries(parsed.records as Record<string, unknown>)) {
			const r = value as Partial<ProbeRecord> | null;
			if (typeof r?.usable !== "boolean" || typeof r.at !== "number") continue;
			records[key] = { usable: r.usable, at: r.at, ...(typeof r.reason === "string" ? { reason: r.reason } : {}) };
		}
		return records;
	} catch {
		return {};
	}
}

/** Adds one answer; replaced whole under a private name, since several boots (and runs) probe at once. */
async function writeRecord(file: string, key: string, record: ProbeRecord): Promise<void> {
	const records = { ...(await readRecords(file)), [key]: record };
	const kept = Object.entries(records)
		.sort(([, a], [, b]) => b.at - a.at)
		.slice(0, MAX_RECORDS);
	await mkdir(path.dirname(file), { recursive: true });
	const partial = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.partial`;
	try {
		await writeFile(partial, `${JSON.stringify({ version: 2, records: Object.fromEntries(kept) })}\n`);
		await rename(partial, file);
	} catch (error) {
		await rm(partial, { force: true });
		throw error;
	}
}

/**
 * Picks the accelerator for `auto`: KVM only if it can really boot a Linux guest here. A working
 * /dev/kvm is not proof (FACTS.md: a software KVM runs kvm-unit-tests but aborts or spins on
 * Linux), so the answer comes from booting `kernel` once under KVM with an empty payload
 * (`probe`). Answers are cached as `judgeProbe` scopes them: per (QEMU, host kernel, CPU model),
 * or that and the probed kernel's identity. `signal` stops the probe (QEMU with it) and then
 * nothing is cached.
 */
export async function chooseAccel(options: {
	readonly cacheDir: string;
	readonly qemuBinary: string;
	readonly cpu: string | undefined;
	/** The kernel the probe boots. */
	readonly kernel: string;
	readonly signal?: AbortSignal | undefined;
	readonly probe: (signal: AbortSignal | undefined) => Promise<BootOutcome>;
	/** `/dev/kvm`; another path for tests. */
	readonly kvmDevice?: string;
}): Promise<AccelChoice> {
	const fallback = (reason: string): AccelChoice => ({
		accel: "tcg",
		warning: `KVM cannot boot a guest here (${reason}); using TCG, which is much slower`,
	});
	const problem = await kvmDeviceProblem(options.kvmDevice ?? "/dev/kvm");
	if (problem !== undefined) return fallback(problem);

	const hostKey = [options.qemuBinary, await fileStamp(options.qemuBinary), os.release(), options.cpu ?? "host"].join(
		"|",
	);
	const kernelKey = `${hostKey}|kernel=${await fileStamp(options.kernel)}`;
	const cacheFile = path.join(options.cacheDir, CACHE_FILE);
	const records = await readRecords(cacheFile);
	const known = records[hostKey] ?? records[kernelKey];
	if (known !== undefined) return known.usable ? { accel: "kvm" } : fallback(known.reason ?? "unknown");

	if (options.signal?.aborted) throw new AccelProbeCancelledError();
	const outcome = await options.probe(options.signal);
	// Whatever the probe saw after the signal (QEMU killed under it) is not about KVM.
	if (options.signal?.aborted) throw new AccelProbeCancelledError();
	const verdict = judgeProbe(outcome);
	if (verdict.scope !== "none") {
		const record = {
			usable: verdict.usable,
			at: Date.now(),
			...(verdict.reason === undefined ? {} : { reason: verdict.reason }),
		};
		await writeRecord(cacheFile, verdict.scope === "host" ? hostKey : kernelKey, record);
	}
	return verdict.usable ? { accel: "kvm" } : fallback(verdict.reason ?? "unknown");
}
