// The classifying stage of a run's life: verdicts for every cell's results, from the plan and
// the journal (the same input a later `classify` of the run directory uses), journaled and told.
import type { SuiteName } from "../events/types.js";
import { baselineFor, earlierRun } from "../verdicts/baseline.js";
import { describeVerdict, type KnownIssue, type Verdict } from "../verdicts/classify.js";
import { verdictsWithHistory } from "../verdicts/history-verdicts.js";
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
			baseline: baselineFor(ctx.matrix, earlier),
			...optional("earlier", earlier),
			...optional("lore", loreFor(input.lore ?? ctx.matrix.lore, ctx.cache.root)),
			knownIssues: input.knownIssues,
			repoOf: ctx.repoOf,
			cacheRoot: ctx.cache.root,
		});
		verdicts = verdictsWithHistory(ctx.runDir.dir, ctx.cache.root, verdicts, results, (cell, line) =>
			ctx.note(cell, line),
		);
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
			verdicts: [...perTest].map(([key, v]) => {
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
