// `ci plan`: the matrix's refs resolved once, its cells partitioned into shards by what earlier
// runs took, written as a file every shard job reads (so all shards test the same commits and
// agree on who runs what) and as a CI system's job matrix.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { resolveRefs, treeRepos } from "../engine/refs.js";
import { matrixDigest } from "../engine/run.js";
import { firstIssue, RunSetupError } from "../engine/setup-error.js";
import type { EventBus } from "../events/bus.js";
import type { EngineEvent } from "../events/types.js";
import type { Matrix } from "../matrix/types.js";
import { cachePaths } from "../paths/cache.js";
import { planRun } from "../plan/plan.js";
import { CancelledError } from "../proc/run.js";
import { commitIdSchema } from "../sources/commit-id.js";
import { recordedDurations, runDirsUnder } from "./durations.js";
import { planShards } from "./shards.js";

export const CI_PLAN_VERSION = 1;

const ciPlanShape = z.object({
	kvmMatrixCiPlan: z.literal(CI_PLAN_VERSION),
	id: z.string(),
	matrix: z.string(),
	file: z.string(),
	matrixDigest: z.string(),
	resolved: z.record(z.string(), commitIdSchema),
	shards: z.array(
		z.object({
			shard: z.string(),
			index: z.number().int().min(1),
			cells: z.array(z.string()),
			builds: z.array(z.string()),
			estimateMs: z.number(),
		}),
	),
	idealMs: z.number(),
	largestCellMs: z.number(),
	estimated: z.array(z.string()),
	history: z.array(z.string()),
});

export type CiPlan = z.infer<typeof ciPlanShape>;

export interface CiPlanOptions {
	readonly shards: number;
	/** Run directories, or directories of them, whose journals give the durations. */
	readonly history: readonly string[];
	readonly cacheRoot: string;
	readonly bus: EventBus<EngineEvent>;
	readonly signal?: AbortSignal;
}

/** Resolves the matrix's refs and partitions its cells into `shards` shards. */
export async function makeCiPlan(matrix: Matrix, options: CiPlanOptions): Promise<CiPlan> {
	const signal = options.signal ?? new AbortController().signal;
	const repoOf = treeRepos(matrix, cachePaths(options.cacheRoot).mirrors, options.bus, signal);
	const resolutions = await resolveRefs(matrix, repoOf, signal);
	if (signal.aborted) throw new CancelledError();
	const plan = planRun(matrix, resolutions);
	const recorded = recordedDurations(runDirsUnder(options.history), matrix.name);
	// Durations are kept by kernel id (a build's job id names a commit that moves nightly); the
	// partition groups by job, so two kernels at one commit and config share one build.
	const kernelOfJob = new Map<string, string>();
	for (const c of plan.cells) if (c.jobs.kernel !== undefined) kernelOfJob.set(c.jobs.kernel, c.kernel.id);
	const buildMs = new Map<string, number>();
	for (const [job, kernel] of kernelOfJob) {
		const ms = recorded.buildMs.get(kernel);
		if (ms !== undefined) buildMs.set(job, ms);
	}
	const shards = planShards(
		plan.cells.map((c) => ({ id: c.id, ...(c.jobs.kernel === undefined ? {} : { build: c.jobs.kernel }) })),
		{ cellMs: recorded.cellMs, buildMs },
		options.shards,
	);
	const resolved = Object.fromEntries(resolutions);
	const digest = matrixDigest(matrix);
	const shardList = shards.shards.map((s) => ({
		shard: `${s.index}/${options.shards}`,
		index: s.index,
		cells: [...s.cells],
		builds: [...new Set(s.builds.map((b) => kernelOfJob.get(b) ?? b))].sort(),
		estimateMs: Math.round(s.estimateMs),
	}));
	// The id names what the shards are: the same matrix, commits and partition give the same id.
	const id = createHash("sha256")
		.update(JSON.stringify([digest, resolved, shardList.map((s) => s.cells)]))
		.digest("hex")
		.slice(0, 12);
	return {
		kvmMatrixCiPlan: CI_PLAN_VERSION,
		id,
		matrix: matrix.name,
		file: matrix.file,
		matrixDigest: digest,
		resolved,
		shards: shardList,
		idealMs: Math.round(shards.idealMs),
		largestCellMs: Math.round(shards.largestCellMs),
		estimated: [...shards.estimated],
		history: [...recorded.runs],
	};
}

/** A plan file `ci plan --out` wrote, checked; a file that is not one is refused in one line. */
export function readCiPlan(file: string): CiPlan {
	let value: unknown;
	try {
		value = JSON.parse(readFileSync(file, "utf8"));
	} catch (error) {
		throw new RunSetupError(
			`${file}: cannot be read as a plan (${error instanceof Error ? error.message : String(error)})`,
		);
	}
	const parsed = ciPlanShape.safeParse(value);
	if (!parsed.success)
		throw new RunSetupError(
			`${file}: not a kvm-matrix ci plan (${firstIssue(parsed.error)}); write one with kvm-matrix ci plan --out`,
		);
	return parsed.data;
}

const minutes = (ms: number) => Math.max(1, Math.round(ms / 60_000));

/** GitHub Actions' `strategy.matrix`, as one line of JSON for `fromJSON()`. */
export function githubMatrix(plan: CiPlan): string {
	return JSON.stringify({
		include: plan.shards.map((s) => ({
			shard: s.shard,
			cells: s.cells.length,
			estimate_min: minutes(s.estimateMs),
		})),
	});
}

/** A GitLab CI include: a hidden job with `parallel:matrix` over the shards, to `extends:`. */
export function gitlabMatrix(plan: CiPlan): string {
	const shards = plan.shards.map((s) => JSON.stringify(s.shard)).join(", ");
	return [
		`# kvm-matrix ci plan ${plan.id} of ${plan.matrix}: ${plan.shards.length} shards`,
		...plan.shards.map((s) => `#   ${s.shard}: ${s.cells.length} cells, about ${minutes(s.estimateMs)} min`),
		".kvm-matrix-shards:",
		"  variables:",
		`    KVM_MATRIX_PLAN_ID: ${JSON.stringify(plan.id)}`,
		"  parallel:",
		"    matrix:",
		`      - SHARD: [${shards}]`,
		"",
	].join("\n");
}
