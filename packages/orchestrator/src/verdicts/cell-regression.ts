// A kernel that built (booted) before and now does not: the cell's own verdict. Pure: what the
// kernel did before comes in as `before` (the baseline kernel of this run, the cell's last run).
import type { CellVerdict } from "./classify.js";

/** How the stop of a cell reads: its stage, the line that said why, the evidence kept. */
export interface CellStop {
	readonly stage: string;
	readonly reason: string;
	readonly evidence: readonly string[];
	readonly resumable?: true;
}

/** The same cell (or the baseline kernel's on the same target) somewhere before. */
export interface KernelBefore {
	readonly kernel: string;
	readonly sha?: string;
	/** The earlier run, when it is not this run's baseline kernel. */
	readonly run?: string;
	readonly built: boolean;
	/** Some test ran on it: it came up far enough to run one. */
	readonly booted: boolean;
}

/** How kvm-matrix says a kernel's build failed (build/kernel.ts): a compiler's doing, not the harness's. */
const KERNEL_BUILD_FAILED = /^kernel build failed: /;
/** A build the machine stopped, not the sources: the compiler killed, out of memory or disk. */
const MACHINE_STOPPED_BUILD =
	/Killed signal terminated program|internal compiler error|virtual memory exhausted|Cannot allocate memory|No space left on device|Disk quota exceeded/i;
/**
 * A boot that ended by the kernel's doing, as the guest runner names how a boot that ran no test
 * ended (`<kind>: <summary>`, engine/suites.ts): a panic, an oops, silence, the guest gone before
 * its payload. Not QEMU's error, nor module parameters this CPU refuses.
 */
const KERNEL_BOOT_FAILED =
	/^(?:panic|oops|hung): |^boot-failed: the guest stopped before the payload started|^timeout: .*\(booting\)$/;

/**
 * `build-regression` when the kernel's build failed and it built before; `boot-regression` when
 * its boot ended by the kernel's doing and it booted before; otherwise nothing (an `infra` stop).
 * A stop something outside the cell caused (`resumable`) is never the kernel's.
 */
export function cellRegression(
	stop: CellStop,
	here: { readonly sha?: string },
	before: readonly KernelBefore[],
): CellVerdict | undefined {
	if (stop.resumable === true) return undefined;
	if ([stop.reason, ...stop.evidence].some((line) => MACHINE_STOPPED_BUILD.test(line))) return undefined;
	const kind =
		stop.stage === "build" && KERNEL_BUILD_FAILED.test(stop.reason)
			? "build-regression"
			: stop.stage === "boot" && KERNEL_BOOT_FAILED.test(stop.reason)
				? "boot-regression"
				: undefined;
	if (kind === undefined) return undefined;
	const passed = before.find((b) => (kind === "build-regression" ? b.built : b.booted));
	if (passed === undefined) return undefined;
	return {
		verdict: kind,
		evidence: {
			lines: stop.evidence.length > 0 ? stop.evidence.slice(0, 25) : [stop.reason],
			reason: stop.reason,
			passed: {
				kernel: passed.kernel,
				...(passed.sha === undefined ? {} : { sha: passed.sha }),
				...(passed.run === undefined ? {} : { run: passed.run }),
			},
			...(here.sha === undefined ? {} : { here: here.sha }),
		},
	};
}
