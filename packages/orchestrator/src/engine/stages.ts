// The cell machine's stage work for a real run: checkout and build here, the VM stage in
// suites.ts. Each is an actor the machine invokes; none knows about the others.
import os from "node:os";
import { BuildFailedError } from "../build/kernel.js";
import type { CellActors, PreparedCell } from "./cell-machine.js";
import { CellInterruptedError, StageError } from "./cell-machine.js";
import type { RunContext } from "./context.js";
import type { JobRunner } from "./jobs.js";
import { isDiskFull } from "./run-dir.js";
import { runSuites } from "./suites.js";

const asStageError = (error: unknown) =>
	error instanceof BuildFailedError ? new StageError(error.message, error.errors) : error;

/**
 * A full disk (or quota, or file-size limit) stops the run, through its directory's fence, and
 * interrupts the cell instead of failing it: no test of it ran for a reason of its own.
 */
function interruptOnFullDisk(ctx: RunContext, error: unknown): unknown {
	if (!isDiskFull(error)) return error;
	ctx.runDir.refuse(error);
	return new CellInterruptedError(error instanceof Error ? error.message : String(error));
}

export function stageActors(ctx: RunContext, jobs: JobRunner): CellActors {
	const actors = stageWork(ctx, jobs);
	return {
		checkout: (cellId, signal) =>
			actors.checkout(cellId, signal).catch((e: unknown) => Promise.reject(interruptOnFullDisk(ctx, e))),
		build: (cellId, signal) =>
			actors.build(cellId, signal).catch((e: unknown) => Promise.reject(interruptOnFullDisk(ctx, e))),
		suites: (pass, send, signal) =>
			actors.suites(pass, send, signal).catch((e: unknown) => Promise.reject(interruptOnFullDisk(ctx, e))),
	};
}

function stageWork(ctx: RunContext, jobs: JobRunner): CellActors {
	return {
		checkout: async (cellId) => {
			const c = ctx.cell(cellId);
			await Promise.all(
				c.needs.filter((id) => ctx.plan.jobs.find((j) => j.id === id)?.kind === "checkout").map(jobs.worktree),
			);
		},
		build: async (cellId) => {
			const c = ctx.cell(cellId);
			try {
				if (c.target.host) {
					// No kernel to build or boot: the suites run on a running kernel (an ssh target's
					// is named when the cell reaches that machine).
					if (c.target.ssh === undefined)
						ctx.note(
							cellId,
							`host target: ran on this machine's kernel ${os.release()}; ${c.kernel.id} was not built or booted`,
						);
					await Promise.all([
						c.jobs.selftests === undefined ? undefined : jobs.selftestsBuild(c.jobs.selftests),
						c.jobs.kut === undefined ? undefined : jobs.kutBuild(c.jobs.kut),
					]);
					return { kernel: { image: "" }, notes: [] } satisfies PreparedCell;
				}
				const [kernel] = await Promise.all([
					c.jobs.kernel === undefined ? undefined : jobs.kernelBuild(c.jobs.kernel),
					c.jobs.selftests === undefined ? undefined : jobs.selftestsBuild(c.jobs.selftests),
					c.jobs.kut === undefined ? undefined : jobs.kutBuild(c.jobs.kut),
				]);
				if (kernel !== undefined) {
					ctx.runDir.append({ type: "cell-build", cell: cellId, key: kernel.key, cacheHit: kernel.cacheHit });
					if (kernel.cacheHit) ctx.note(cellId, `kernel build cache hit (${kernel.key}): make skipped`);
					if (kernel.dropped.length > 0)
						ctx.note(cellId, `config: not in the final .config: ${kernel.dropped.join(" ")}`);
					return { kernel: { image: kernel.image }, notes: [] } satisfies PreparedCell;
				}
				const files = ctx.prebuilt.get(c.kernel.id);
				if (files === undefined) throw new StageError(`kernel ${c.kernel.id}: no image`);
				return { kernel: files, notes: [] } satisfies PreparedCell;
			} catch (error) {
				throw asStageError(error);
			}
		},
		suites: (pass, send, cellSignal) => runSuites(ctx, jobs, pass, send, cellSignal),
	};
}
