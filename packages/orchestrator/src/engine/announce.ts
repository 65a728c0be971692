// What the views are told when a run starts: its shape as a grid, and for a resumed run what its
// journal already holds, replayed as the events it was, so a view shows one run.
import path from "node:path";
import type { EngineEvent } from "../events/types.js";
import { refKey } from "../plan/plan.js";
import type { RunContext } from "./context.js";
import type { ChangedSince } from "./journal.js";
import { cellSettled, type RunRecord } from "./run-record.js";

/** A line from the engine itself (a journal note), for the views' log. */
export const engineLine = (line: string): EngineEvent => ({
	type: "log-line",
	at: Date.now(),
	subject: { kind: "job", id: "journal" },
	stream: "engine",
	line,
});

export /** Tells the views the run's shape, and for a resumed run what it already holds, as events. */
function announce(ctx: RunContext, runId: string, before: RunRecord | undefined, changed?: ChangedSince): void {
	const { cells, bus } = ctx;
	const kept = cells.flatMap((c) => before?.byCell.get(c.id)?.attempts ?? []).length;
	bus.emit({
		type: "run-started",
		at: Date.now(),
		runId,
		matrix: ctx.matrix.name,
		cells: cells.map((c) => c.id),
		jobs: ctx.plan.jobs.map((j) => j.id),
		grid: {
			kernels: [...new Map(cells.map((c) => [c.kernel.id, c.kernel])).values()].map((k) => {
				const sha = k.kind === "source" ? ctx.resolutions.get(refKey(k)) : undefined;
				// A kernel pinned to a full sha (triage, bisect) is better known by its id: kvm@v6.1.
				const label =
					k.kind === "source"
						? /^[0-9a-f]{40}$/.test(k.ref)
							? k.id
							: `${k.tree}@${k.ref}`
						: `prebuilt ${path.basename(ctx.prebuilt.get(k.id)?.image ?? k.image)}`;
				return { id: k.id, label, ...(sha === undefined ? {} : { sha }) };
			}),
			targets: [...new Set(cells.map((c) => c.target.name))],
			cells: cells.map((c) => ({ id: c.id, kernel: c.kernel.id, target: c.target.name, jobs: c.needs })),
		},
		dir: ctx.runDir.dir,
		...(before === undefined || changed !== undefined
			? {}
			: { resumed: { results: kept, cellsDone: cells.filter((c) => cellSettled(before.byCell.get(c.id))).length } }),
		...(changed === undefined ? {} : { changedSince: changed }),
	});
	if (before === undefined) return;
	// What was already done, replayed as it happened, so a view shows one run.
	const at = Date.now();
	for (const c of cells) {
		const known = before.byCell.get(c.id);
		if (known === undefined) continue;
		for (const text of known.notes) bus.emit({ type: "cell-note", at, cellId: c.id, text });
		if (known.accel !== undefined) bus.emit({ type: "cell-accel", at, cellId: c.id, ...known.accel });
		for (const result of known.attempts) bus.emit({ type: "test-result", at, cellId: c.id, result });
		const end = known.end;
		// A cell about to run again (cancelled, stopped on a lost connection) shows as it runs.
		if (end === undefined || end.state === "cancelled" || !cellSettled(known)) continue;
		const state =
			end.state === "done"
				? { stage: "done" as const }
				: { stage: "failed" as const, failedIn: end.failure.stage, reason: end.failure.reason };
		bus.emit({ type: "cell-state", at, cellId: c.id, state });
	}
}
