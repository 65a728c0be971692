import { constants } from "node:fs";
import { access, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { BootOutcome, UsedAccel } from "./types.js";

export interface AccelChoice {
	readonly accel: UsedAccel;
	/** Why KVM was not used, when it was asked for with `auto`. */
	readonly warning?: string;
}

interface ProbeRecord {
	readonly key: string;
	readonly usable: boolean;
	readonly reason?: string;
}

async function kvmDeviceProblem(): Promise<string | undefined> {
	try {
		await access("/dev/kvm", constants.R_OK | constants.W_OK);
		return undefined;
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		return code === "ENOENT" ? "there is no /dev/kvm" : "/dev/kvm is not readable and writable by this user";
	}
}

/**
 * Picks the accelerator for `auto`: KVM only if it can really boot a Linux guest here. A working
 * /dev/kvm is not proof (FACTS.md: a software KVM runs kvm-unit-tests but aborts or spins on
 * Linux), so the answer comes from booting the kernel once under KVM with an empty payload.
 * The answer is a property of the host and QEMU, so it is cached per (QEMU, host kernel, CPU model).
 */
export async function chooseAccel(options: {
	readonly cacheDir: string;
	readonly qemuBinary: string;
	readonly cpu: string | undefined;
	readonly probe: () => Promise<BootOutcome>;
}): Promise<AccelChoice> {
	const fallback = (reason: string): AccelChoice => ({
		accel: "tcg",
		warning: `KVM cannot boot a guest here (${reason}); using TCG, which is much slower`,
	});
	const problem = await kvmDeviceProblem();
	if (problem !== undefined) return fallback(problem);

	const qemuStamp = await stat(options.qemuBinary).then(
		(s) => `${s.size}:${s.mtimeMs}`,
		() => "?",
	);
	const key = [options.qemuBinary, qemuStamp, os.release(), options.cpu ?? "host"].join("|");
	const cacheFile = path.join(options.cacheDir, "accel-probe.json");
	const cached = await readFile(cacheFile, "utf8").then(
		(text) => JSON.parse(text) as ProbeRecord,
		() => undefined,
	);
	let record: ProbeRecord;
	if (cached?.key === key) {
		record = cached;
	} else {
		const outcome = await options.probe();
		record =
			outcome.kind === "completed"
				? { key, usable: true }
				: { key, usable: false, reason: `a test boot under KVM ended in ${outcome.kind}: ${outcome.summary}` };
		await mkdir(options.cacheDir, { recursive: true });
		await writeFile(cacheFile, `${JSON.stringify(record)}\n`);
	}
	return record.usable ? { accel: "kvm" } : fallback(record.reason ?? "unknown");
}
