import { countJobs } from "./plan.js";
import type { Job, Plan } from "./types.js";

const jobJson = (job: Job) => {
	const { revision } = job;
	const base = {
		id: job.id,
		kind: job.kind,
		needs: job.needs,
		tree: revision.tree,
		ref: revision.ref,
		...(revision.sha === undefined ? {} : { sha: revision.sha }),
	};
	return job.kind === "kernel-build" ? { ...base, configKey: job.configKey, config: job.config } : base;
};

/** The plan as `kvm-matrix plan --json` prints it: ids instead of nested objects, counts up front. */
export function planToJson(plan: Plan) {
	return {
		name: plan.name,
		summary: { cells: plan.cells.length, ...countJobs(plan) },
		cells: plan.cells.map((cell) => ({
			id: cell.id,
			kernel: cell.kernel.id,
			target: cell.target.name,
			jobs: cell.jobs,
			needs: cell.needs,
		})),
		jobs: plan.jobs.map(jobJson),
	};
}
