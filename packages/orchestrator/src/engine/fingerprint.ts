// What a cell's results depend on, as one digest: its kernel (commit, config, or the prebuilt
// image it boots), the commits and selection of its suites, its target and the matrix's
// retries, and for a host target this machine's running kernel. Two cells with one fingerprint run the same tests on the same kernel the same way,
// so `--changed-since` may carry one's results over to the other.
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import os from "node:os";
import type { Matrix } from "../matrix/types.js";
import type { Job, PlannedCell } from "../plan/types.js";
import type { PrebuiltFiles } from "./prebuilt.js";

/** A prebuilt image by its path and what it is on disk: a package upgrade changes it. */
function imageIdentity(files: PrebuiltFiles | undefined) {
	if (files === undefined) return undefined;
	try {
		const s = statSync(files.image);
		return { ...files, size: s.size, mtime: Math.floor(s.mtimeMs) };
	} catch {
		return { ...files };
	}
}

/** This machine's running kernel, as a host target's results depend on it: release and build. */
let running: string | undefined;
function runningKernel(): string {
	// It cannot change while this process runs: read once, not once per cell.
	if (running !== undefined) return running;
	try {
		running = `${os.release()} ${readFileSync("/proc/sys/kernel/version", "utf8").trim()}`;
	} catch {
		running = os.release();
	}
	return running;
}

/**
 * The cell's fingerprint, or none for a cell on an ssh target: the kernel that machine runs is
 * known only once the cell reaches it (it may have booted another since), so such a cell is never
 * carried over.
 */
export function cellFingerprint(
	matrix: Pick<Matrix, "suites" | "retries">,
	cell: PlannedCell,
	jobs: ReadonlyMap<string, Job>,
	prebuilt: ReadonlyMap<string, PrebuiltFiles>,
): string | undefined {
	if (cell.target.ssh !== undefined) return undefined;
	const sha = (id: string | undefined) => (id === undefined ? undefined : (jobs.get(id)?.revision.sha ?? id));
	const data = {
		kernel: cell.kernel,
		kernelJob: cell.jobs.kernel,
		kernelSha: sha(cell.jobs.kernel),
		image: imageIdentity(prebuilt.get(cell.kernel.id)),
		selftests: sha(cell.jobs.selftests),
		kut: sha(cell.jobs.kut),
		suites: matrix.suites,
		target: cell.target,
		...(cell.target.host ? { running: runningKernel() } : {}),
		retries: matrix.retries,
	};
	return createHash("sha256").update(JSON.stringify(data)).digest("hex").slice(0, 16);
}
