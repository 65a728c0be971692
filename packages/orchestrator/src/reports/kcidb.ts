// KCIDB v5.3 submission JSON (FACTS.md, "Report formats"): a checkout per kernel source, a build
// per kernel, a test per result. KCIDB objects allow no properties of their own, so the
// verdict, its evidence and what kvm-matrix knows beyond KCIDB's fields go in `misc`.
import type { CellSummary } from "../engine/summary.js";
import { targetParts } from "../plan/cells.js";
import type { RunView } from "./run-view.js";

export const KCIDB_VERSION = { major: 5, minor: 3 } as const;

/** KCIDB's rule for an origin: lower-case letters, digits and underscores. */
export const KCIDB_ORIGIN = /^[a-z0-9_]+$/;

export type KcidbStatus = "FAIL" | "ERROR" | "MISS" | "PASS" | "DONE" | "SKIP";

export interface KcidbOptions {
	readonly origin: string;
	/** A tree's repository URL; KCIDB takes https only, so others are left out. */
	readonly repositoryUrl?: (tree: string) => string | undefined;
}

type Result = CellSummary["results"][number];

/** A test path is dot-separated parts of `[a-zA-Z0-9_-]`: `x86/cpuid_test` is `x86.cpuid_test`. */
/** The parameter set of a cell on the `params` axis, for KCIDB's environment. */
const paramsOf = (target: string) => {
	const { params } = targetParts(target);
	return params === undefined ? {} : { params };
};

export function kcidbPath(suite: string, testId: string): string {
	const part = (p: string) => p.replace(/[^a-zA-Z0-9_-]/g, "_") || "_";
	return [suite, ...testId.split(/[/.]+/).filter((p) => p !== "")].map(part).join(".");
}

/** A kvm-matrix status as KCIDB's: a harness error is ERROR, a test that never ran MISS. */
export function kcidbStatus(r: Pick<Result, "status" | "verdict">): KcidbStatus {
	switch (r.status) {
		case "pass":
			return "PASS";
		case "skip":
			return "SKIP";
		case "error":
			return "ERROR";
		default:
			return r.verdict?.verdict === "infra" ? "ERROR" : "FAIL";
	}
}

const httpsOnly = (url: string | undefined) => (url !== undefined && /^https:\/\/\S+$/.test(url) ? url : undefined);

/** The run as a KCIDB submission. Throws on an origin KCIDB would refuse (the caller checks first). */
export function kcidbDocument(view: RunView, options: KcidbOptions) {
	const { origin } = options;
	if (!KCIDB_ORIGIN.test(origin)) throw new Error(`KCIDB origin ${origin}: must match ${KCIDB_ORIGIN.source}`);
	// Ids are unique per run: the same kernel in another run is another submission's checkout.
	const id = (...parts: string[]) => `${origin}:${[view.runId, ...parts].join(":")}`;
	const kernelOf = new Map(view.kernels.map((k) => [k.id, k]));
	const checkouts = view.kernels.map((k) => {
		const url = k.tree === undefined ? undefined : httpsOnly(options.repositoryUrl?.(k.tree));
		return {
			id: id("checkout", k.id),
			origin,
			...(k.tree === undefined ? {} : { tree_name: k.tree }),
			...(url === undefined ? {} : { git_repository_url: url }),
			...(k.ref === undefined ? {} : { git_repository_branch: k.ref }),
			...(k.sha === undefined ? {} : { git_commit_hash: k.sha }),
			...(view.started === undefined ? {} : { start_time: view.started }),
			misc: { kernel: k.id, prebuilt: k.tree === undefined },
		};
	});
	const builds = view.kernels.map((k) => {
		const cells = view.cells.filter((c) => c.kernel.id === k.id);
		const built = cells.find((c) => c.kernel.build !== undefined)?.kernel.build;
		const broken = cells.find((c) => c.state === "failed" && c.failure?.stage === "build");
		const status: KcidbStatus | undefined = broken !== undefined ? "FAIL" : built !== undefined ? "PASS" : undefined;
		return {
			id: id("build", k.id),
			origin,
			checkout_id: id("checkout", k.id),
			architecture: "x86_64",
			...(k.config === undefined ? {} : { config_name: k.config }),
			...(view.started === undefined ? {} : { start_time: view.started }),
			...(status === undefined ? {} : { status }),
			misc: {
				kernel: k.id,
				...(built === undefined ? {} : { build_key: built.key, cache_hit: built.cacheHit }),
				...(broken?.failure === undefined ? {} : { failure: broken.failure.reason }),
			},
		};
	});
	const tests = view.cells.flatMap((cell) => {
		const build = kernelOf.get(cell.kernel.id) === undefined ? undefined : id("build", cell.kernel.id);
		if (build === undefined) return [];
		return cell.results.map((r) => ({
			id: id("test", cell.id, r.suite, r.testId),
			origin,
			build_id: build,
			path: kcidbPath(r.suite, r.testId),
			status: kcidbStatus(r),
			duration: r.durationMs / 1000,
			...(view.started === undefined ? {} : { start_time: view.started }),
			environment: { misc: { target: cell.target, ...paramsOf(cell.target) } },
			misc: {
				cell: cell.id,
				suite: r.suite,
				test: r.testId,
				kvm_matrix_status: r.status,
				attempt: r.attempt,
				...(r.detail === undefined ? {} : { detail: r.detail }),
				...(r.verdict === undefined ? {} : { verdict: r.verdict.verdict, evidence: r.explanation ?? "" }),
			},
		}));
	});
	return { version: KCIDB_VERSION, checkouts, builds, tests };
}
