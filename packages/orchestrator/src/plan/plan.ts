import { createHash } from "node:crypto";
import type { KernelConfig, Matrix, TreeRef } from "../matrix/types.js";
import { selectCells } from "./cells.js";
import type { CellJobs, Job, JobId, Plan, PlannedCell, Revision } from "./types.js";

/** What each `tree@ref` resolved to. Refs missing from it are planned unresolved, by name. */
export type Resolutions = ReadonlyMap<string, string>;

export const refKey = (ref: TreeRef): string => `${ref.tree}@${ref.ref}`;

/** The same commit is the same source whichever tree or branch named it. */
const sourceKey = (revision: Revision): string =>
	revision.sha === undefined ? refKey(revision) : revision.sha.slice(0, 12);

export function configKey(config: KernelConfig): string {
	const digest = createHash("sha256").update(JSON.stringify(config)).digest("hex");
	return `cfg-${digest.slice(0, 8)}`;
}

/**
 * Turns a matrix into cells and the jobs they need, with every job shared as widely as it can
 * be: one checkout per (tree, commit), one kernel build per (commit, config), one selftests build
 * per source commit, one KUT build per KUT commit. Pure: refs are resolved by the caller.
 */
export function planRun(matrix: Matrix, resolutions: Resolutions = new Map()): Plan {
	const jobs = new Map<JobId, Job>();
	const add = <J extends Job>(job: J): J => {
		const existing = jobs.get(job.id);
		if (existing !== undefined) return existing as J;
		jobs.set(job.id, job);
		return job;
	};
	const revision = (ref: TreeRef): Revision => {
		const sha = resolutions.get(refKey(ref));
		return sha === undefined ? { tree: ref.tree, ref: ref.ref } : { tree: ref.tree, ref: ref.ref, sha };
	};
	// A checkout is per tree (each tree has its own object store), but builds are per commit, so
	// the first tree to name a commit provides the checkout every build of that commit uses.
	const checkoutFor = (rev: Revision): JobId =>
		add({ kind: "checkout", id: `checkout:${rev.tree}@${rev.sha?.slice(0, 12) ?? rev.ref}`, needs: [], revision: rev })
			.id;
	const buildOf = (kind: "selftests-build" | "kut-build", rev: Revision): JobId => {
		const prefix = kind === "selftests-build" ? "selftests" : "kut";
		const id = `${prefix}:${sourceKey(rev)}`;
		return jobs.has(id) ? id : add({ kind, id, needs: [checkoutFor(rev)], revision: rev }).id;
	};

	const { selftests, kut } = matrix.suites;
	const cells = selectCells(matrix).cells.map(({ id, kernel, target }): PlannedCell => {
		const cellJobs: { -readonly [K in keyof CellJobs]: CellJobs[K] } = {};
		if (kernel.kind === "source") {
			const rev = revision(kernel);
			const key = configKey(kernel.config);
			const buildId = `kernel:${sourceKey(rev)}+${key}`;
			cellJobs.kernel = jobs.has(buildId)
				? buildId
				: add({
						kind: "kernel-build",
						id: buildId,
						needs: [checkoutFor(rev)],
						revision: rev,
						config: kernel.config,
						configKey: key,
					}).id;
		}
		if (selftests !== undefined) {
			const from =
				selftests.source.kind === "tree" ? selftests.source : kernel.kind === "source" ? kernel : kernel.source;
			// Validation guarantees a source; a prebuilt kernel without one cannot reach here.
			if (from !== undefined) cellJobs.selftests = buildOf("selftests-build", revision(from));
		}
		if (kut !== undefined) cellJobs.kut = buildOf("kut-build", revision(kut));
		const direct = Object.values(cellJobs);
		const needs = new Set<JobId>();
		const visit = (jobId: JobId) => {
			if (needs.has(jobId)) return;
			needs.add(jobId);
			for (const dep of jobs.get(jobId)?.needs ?? []) visit(dep);
		};
		direct.forEach(visit);
		return { id, kernel, target, jobs: cellJobs, needs: [...needs].sort() };
	});

	const order: Job[] = [];
	const placed = new Set<JobId>();
	const place = (job: Job) => {
		if (placed.has(job.id)) return;
		for (const dep of job.needs) {
			const needed = jobs.get(dep);
			if (needed !== undefined) place(needed);
		}
		placed.add(job.id);
		order.push(job);
	};
	for (const job of jobs.values()) place(job);
	return { name: matrix.name, cells, jobs: order };
}

/** Counts of each kind of job: what deduplication saved is visible at a glance. */
export function countJobs(plan: Plan): Record<Job["kind"], number> {
	const counts = { checkout: 0, "kernel-build": 0, "selftests-build": 0, "kut-build": 0 };
	for (const job of plan.jobs) counts[job.kind]++;
	return counts;
}
