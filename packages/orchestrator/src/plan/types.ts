import type { KernelConfig, KernelSpec, Target } from "../matrix/types.js";

/** `checkout:kvm@next`, `kernel:1a2b3c4d5e6f+cfg-0c1d2e3f`: stable, readable, unique within a plan. */
export type JobId = string;

/** A tree at a ref, and the commit it resolved to when the plan was made with resolved refs. */
export interface Revision {
	readonly tree: string;
	readonly ref: string;
	readonly sha?: string;
}

export type Job =
	| { readonly kind: "checkout"; readonly id: JobId; readonly needs: readonly JobId[]; readonly revision: Revision }
	| {
			readonly kind: "kernel-build";
			readonly id: JobId;
			readonly needs: readonly JobId[];
			readonly revision: Revision;
			readonly config: KernelConfig;
			/** Identifies the config as written; the build's cache key adds the final .config and compiler. */
			readonly configKey: string;
	  }
	| {
			readonly kind: "selftests-build";
			readonly id: JobId;
			readonly needs: readonly JobId[];
			readonly revision: Revision;
	  }
	| { readonly kind: "kut-build"; readonly id: JobId; readonly needs: readonly JobId[]; readonly revision: Revision };

export type JobKind = Job["kind"];

/** The jobs a cell runs on; a prebuilt kernel has no kernel job. */
export interface CellJobs {
	readonly kernel?: JobId;
	readonly selftests?: JobId;
	readonly kut?: JobId;
}

export interface PlannedCell {
	readonly id: string;
	readonly kernel: KernelSpec;
	readonly target: Target;
	readonly jobs: CellJobs;
	/** Every job this cell waits for, directly or not. */
	readonly needs: readonly JobId[];
}

export interface Plan {
	readonly name: string;
	readonly cells: readonly PlannedCell[];
	/** In dependency order: every job comes after the jobs it needs. */
	readonly jobs: readonly Job[];
}
