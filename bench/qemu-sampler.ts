// Watches /proc for QEMU processes while a benchmark runs: how many run at once over time, and
// each one's wall and CPU time. Polling is coarse (every `everyMs`), so a QEMU shorter than that
// may be missed; KUT's QEMUs live a second or more.
import { readdir, readFile } from "node:fs/promises";

export interface QemuSeen {
	readonly pid: number;
	readonly args: readonly string[];
	readonly firstMs: number;
	lastMs: number;
	/** utime + stime, in seconds, at the last sample. */
	cpuS: number;
}

export interface QemuSampler {
	stop(): Promise<QemuReport>;
}

export interface QemuReport {
	readonly samples: number;
	readonly max: number;
	readonly mean: number;
	readonly processes: readonly (QemuSeen & { readonly test: string })[];
	/** Per sample, the pids of the QEMUs seen. */
	readonly counts: readonly (readonly number[])[];
}

/**
 * Only the QEMUs that ran a test image (`-kernel`): KUT also starts QEMU to probe what it
 * supports, and those live a few milliseconds.
 */
export function testQemus(report: QemuReport): QemuReport {
	const tests = new Set(report.processes.filter((p) => p.args.includes("-kernel")).map((p) => p.pid));
	return summarise(
		report.counts.map((pids) => pids.filter((pid) => tests.has(pid))),
		report.processes.filter((p) => tests.has(p.pid)),
	);
}

function summarise(counts: readonly (readonly number[])[], processes: QemuReport["processes"]): QemuReport {
	return {
		samples: counts.length,
		max: Math.max(0, ...counts.map((c) => c.length)),
		mean: counts.length === 0 ? 0 : counts.reduce((a, c) => a + c.length, 0) / counts.length,
		processes,
		counts,
	};
}

const TICKS = 100; // USER_HZ on Linux

async function sample(seen: Map<number, QemuSeen>, now: number): Promise<number[]> {
	const pids: number[] = [];
	for (const entry of await readdir("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
		const close = stat.lastIndexOf(")");
		if (!stat.slice(0, close).includes("(qemu-system-")) continue;
		const fields = stat.slice(close + 2).split(" ");
		// fields[0] is state (field 3); utime and stime are fields 14 and 15.
		const cpuS = (Number(fields[11]) + Number(fields[12])) / TICKS;
		const pid = Number(entry);
		pids.push(pid);
		const known = seen.get(pid);
		if (known !== undefined) {
			known.lastMs = now;
			known.cpuS = cpuS;
			continue;
		}
		const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
		seen.set(pid, { pid, args: cmdline.split("\0").filter(Boolean), firstMs: now, lastMs: now, cpuS });
	}
	return pids;
}

export function sampleQemus(everyMs = 200): QemuSampler {
	const seen = new Map<number, QemuSeen>();
	const counts: number[][] = [];
	let running = true;
	const loop = (async () => {
		while (running) {
			counts.push(await sample(seen, performance.now()));
			await new Promise((r) => setTimeout(r, everyMs));
		}
	})();
	return {
		async stop() {
			running = false;
			await loop;
			return summarise(
				counts,
				[...seen.values()].map((q) => ({ ...q, test: kutFileOf(q.args) })),
			);
		},
	};
}

/** The KUT test a QEMU runs, from its `-kernel x86/<file>.flat` and `-append` arguments. */
export function kutFileOf(args: readonly string[]): string {
	const kernel = args.indexOf("-kernel");
	const file = kernel >= 0 ? (args[kernel + 1] ?? "?") : "?";
	const append = args.indexOf("-append");
	return append >= 0 ? `${file} ${args[append + 1] ?? ""}`.trim() : file;
}
