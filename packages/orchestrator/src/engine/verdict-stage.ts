// The classifying stage of a run's life: verdicts for every cell's results, from the plan and
// the journal (the same input a later `classify` of the run directory uses), journaled and told.
import type { SuiteName } from "../events/types.js";
import { baselineFor, earlierRun } from "../verdicts/baseline.js";
import { CELL_VERDICT_KEY, describeVerdict, type KnownIssue, type Verdict } from "../verdicts/classify.js";
import { cellRegressions, historyBaseline, verdictsWithHistory } from "../verdicts/history-verdicts.js";
import type { PlanFile } from "../verdicts/reclassify.js";
import { loreFor, optional, verdictsFromPlan } from "../verdicts/reclassify.js";
import type { RunContext } from "./context.js";
import { finalResults, type RunRecord } from "./run-record.js";

export interface VerdictStageInput {
	readonly planFile: PlanFile;
	readonly record: RunRecord;
	readonly started: string;
	readonly knownIssues: readonly KnownIssue[];
	readonly lore?: string;
}

export async function classifyStage(ctx: RunContext, input: VerdictStageInput): Promise<void> {
	let verdicts = new Map<string, Map<string, Verdict>>();
	try {
		// Read once: the baseline of `previous-run`, and evidence across kernels either way.
		const earlier = earlierRun(ctx.matrix, ctx.runDir.dir, input.started);
		const results = new Map(ctx.cells.map((c) => [c.id, finalResults(input.record.byCell.get(c.id))]));
		verdicts = await verdictsFromPlan({
			matrix: ctx.matrix,
			plan: input.planFile,
			results,
			baseline:
				ctx.matrix.baseline?.kind === "history"
					? historyBaseline(
							ctx.runDir.dir,
							ctx.cache.root,
							ctx.matrix.name,
							ctx.cells.map((c) => c.id),
							input.started,
							(cell, line) => ctx.note(cell, line),
						)
					: baselineFor(ctx.matrix, earlier),
			...optional("earlier", earlier),
			...optional("lore", loreFor(input.lore ?? ctx.matrix.lore, ctx.cache.root)),
			knownIssues: input.knownIssues,
			repoOf: ctx.repoOf,
			cacheRoot: ctx.cache.root,
		});
		verdicts = verdictsWithHistory(ctx.runDir.dir, ctx.cache.root, verdicts, results, (cell, line) =>
			ctx.note(cell, line),
		);
		const baselineKernel = ctx.matrix.baseline?.kind === "kernel" ? ctx.matrix.baseline.kernelId : undefined;
		for (const [cell, verdict] of cellRegressions(ctx.runDir.dir, ctx.cache.root, baselineKernel, (c, line) =>
			ctx.note(c, line),
		)) {
			const perTest = verdicts.get(cell) ?? new Map<string, Verdict>();
			perTest.set(CELL_VERDICT_KEY, verdict);
			verdicts.set(cell, perTest);
		}
	} catch (error) {
		for (const c of ctx.cells)
			ctx.note(c.id, `verdicts could not be computed: ${error instanceof Error ? error.message : String(error)}`);
	}
	for (const [cellId, perTest] of verdicts) {
		ctx.runDir.append({ type: "verdicts", cell: cellId, verdicts: [...perTest] });
		ctx.bus.emit({
			type: "verdicts",
			at: Date.now(),
			cellId,
			// A cell's own verdict (its kernel stopped building or booting) is the summary's, not a test's.
			verdicts: [...perTest]
				.filter(([key]) => key !== CELL_VERDICT_KEY)
				.map(([key, v]) => {
					const colon = key.indexOf(":");
					return {
						suite: key.slice(0, colon) as SuiteName,
						testId: key.slice(colon + 1),
						verdict: v.verdict,
						explanation: describeVerdict(v, key),
					};
				}),
		});
	}
}
