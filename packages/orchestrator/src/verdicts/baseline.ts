import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import path from "node:path";
import { type FinalResult, isFailing, resultOf } from "../events/attempts.js";
import type { TestResult } from "../events/types.js";
import type { Matrix } from "../matrix/types.js";
import { isCommitId } from "../sources/commit-id.js";
import type { BaselineResult } from "./classify.js";

/** What the verdicts compare a cell with (DESIGN.md: a baseline kernel in this run, or the last run). */
export type BaselineSource =
	| { readonly kind: "none" }
	| { readonly kind: "kernel"; readonly kernelId: string }
	| { readonly kind: "previous-run"; readonly run?: PreviousRun }
	/** Each cell's last earlier run (from the history index), by cell id. */
	| {
			readonly kind: "history";
			readonly cells: ReadonlyMap<string, PreviousRun["cells"][number] & { readonly run: string }>;
	  };

/** The parts of an earlier run's results.json a baseline needs. */
export interface PreviousRun {
	readonly runId: string;
	readonly started: string;
	readonly cells: readonly {
		readonly id: string;
		readonly kernel: { readonly id: string; readonly sha?: string };
		readonly results: readonly (Pick<TestResult, "suite" | "testId" | "status"> & Pick<FinalResult, "earlier">)[];
	}[];
}

interface CellView {
	readonly cell: string;
	readonly kernelId: string;
	readonly target: string;
	readonly kernel?: { readonly sha: string };
	readonly results: readonly (Pick<TestResult, "suite" | "testId" | "status"> & Pick<FinalResult, "earlier">)[];
}

/**
 * The same test's result on the baseline, with the commit range between the two kernels. Pure:
 * `cells` are this run's cells (for a baseline kernel), `source.run` the earlier run.
 */
export function baselineResult(
	source: BaselineSource,
	cells: ReadonlyMap<string, CellView>,
	cell: CellView,
	key: string,
): BaselineResult | undefined {
	const compare = (base: CellView | PreviousRun["cells"][number], extra: { run?: string }) => {
		const r = resultOf(base.results, key);
		if (r === undefined) return undefined;
		// Passed only on a retry: flaky there, so it says neither that the test passes nor that it fails.
		if (r.status === "pass" && (r.earlier ?? []).some(isFailing)) return undefined;
		const baseSha = "cell" in base ? base.kernel?.sha : base.kernel.sha;
		const kernelId = "cell" in base ? base.kernelId : base.kernel.id;
		return {
			kernel: kernelId,
			...(baseSha === undefined ? {} : { sha: baseSha }),
			status: r.status,
			...extra,
			...(baseSha === undefined || cell.kernel === undefined ? {} : { range: `${baseSha}..${cell.kernel.sha}` }),
		} satisfies BaselineResult;
	};
	switch (source.kind) {
		case "none":
			return undefined;
		case "kernel": {
			if (source.kernelId === cell.kernelId) return undefined;
			const base = cells.get(`${source.kernelId}/${cell.target}`);
			return base === undefined ? undefined : compare(base, {});
		}
		case "previous-run": {
			const base = source.run?.cells.find((c) => c.id === cell.cell);
			return base === undefined || source.run === undefined ? undefined : compare(base, { run: source.run.runId });
		}
		case "history": {
			const base = source.cells.get(cell.cell);
			return base === undefined ? undefined : compare(base, { run: base.run });
		}
	}
}

/**
 * The newest completed run of the same matrix in `runsDir` that started before `before`: the
 * baseline of `baseline: previous-run`. Directories that are not runs, or whose results cannot
 * be read, are passed over.
 *
 * A nightly's runs root holds hundreds of runs of thousands of results each: runs are chosen by
 * the fields results.json opens with (its first kilobytes), and only the chosen one is read whole
 * (and its fields checked again); a file that does not open that way is read whole.
 */
export function findPreviousRun(
	runsDir: string,
	matrixName: string,
	before: string,
	exclude?: string,
): PreviousRun | undefined {
	if (!existsSync(runsDir)) return undefined;
	const candidates: { readonly file: string; readonly started: string | undefined }[] = [];
	for (const entry of readdirSync(runsDir, { withFileTypes: true })) {
		if (!entry.isDirectory()) continue;
		const dir = path.join(runsDir, entry.name);
		if (exclude !== undefined && path.resolve(dir) === path.resolve(exclude)) continue;
		const file = path.join(dir, "results.json");
		const head = headFields(file);
		if (head === undefined) continue;
		if (head.matrix !== undefined && head.matrix !== matrixName) continue;
		if (head.outcome !== undefined && head.outcome !== "completed") continue;
		if (head.started !== undefined && !(head.started < before)) continue;
		candidates.push({ file, started: head.started });
	}
	// Newest first; a file whose head said nothing is read in any case.
	candidates.sort((a, b) => ((a.started ?? "") < (b.started ?? "") ? 1 : -1));
	let best: PreviousRun | undefined;
	for (const { file, started } of candidates) {
		if (best !== undefined && started !== undefined && started <= best.started) continue;
		let run: PreviousRun & { matrix?: string; outcome?: string };
		try {
			run = JSON.parse(readFileSync(file, "utf8")) as typeof run;
		} catch {
			continue;
		}
		if (run.matrix !== matrixName || run.outcome !== "completed" || !(run.started < before)) continue;
		if (!Array.isArray(run.cells)) continue;
		if (best === undefined || run.started > best.started) best = withCommitIdsOnly(run);
	}
	return best;
}

/**
 * An earlier run's results.json is read back, not trusted: a kernel sha that is not a commit id
 * (it would reach git as an argument in a commit range) is dropped, and that cell compares
 * without a range.
 */
function withCommitIdsOnly(run: PreviousRun): PreviousRun {
	return {
		...run,
		cells: run.cells.map((c) =>
			c.kernel?.sha === undefined || isCommitId(c.kernel.sha) ? c : { ...c, kernel: { id: c.kernel.id } },
		),
	};
}

/** The top-level string fields results.json opens with; undefined when there is no such file. */
function headFields(file: string): { matrix?: string; outcome?: string; started?: string } | undefined {
	let fd: number;
	try {
		fd = openSync(file, "r");
	} catch {
		return undefined;
	}
	try {
		const buffer = Buffer.alloc(HEAD_BYTES);
		const head = buffer.toString("utf8", 0, readSync(fd, buffer, 0, HEAD_BYTES, 0));
		// Only what comes before the first nested value is the top level's.
		const nested = head.slice(1).search(/[[{]/);
		const top = nested === -1 ? head : head.slice(0, nested + 1);
		const field = (name: string) => {
			const m = new RegExp(`"${name}"\\s*:\\s*("(?:[^"\\\\]|\\\\.)*")`).exec(top);
			if (m?.[1] === undefined) return undefined;
			try {
				const value: unknown = JSON.parse(m[1]);
				return typeof value === "string" ? value : undefined;
			} catch {
				return undefined;
			}
		};
		const fields = { matrix: field("matrix"), outcome: field("outcome"), started: field("started") };
		return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
	} catch {
		return undefined;
	} finally {
		closeSync(fd);
	}
}

const HEAD_BYTES = 4096;

/** The newest completed run of the same matrix next to `runDir`, started before this one. */
export function earlierRun(matrix: Matrix, runDir: string, started: string): PreviousRun | undefined {
	return findPreviousRun(path.dirname(path.resolve(runDir)), matrix.name, started, runDir);
}

/** The baseline a matrix asks for; for `previous-run`, `earlier` (see `earlierRun`). */
export function baselineFor(matrix: Matrix, earlier: PreviousRun | undefined): BaselineSource {
	if (matrix.baseline === undefined) return { kind: "none" };
	if (matrix.baseline.kind === "kernel") return { kind: "kernel", kernelId: matrix.baseline.kernelId };
	// The history index answers this one (verdicts/history-verdicts.ts `historyBaseline`).
	if (matrix.baseline.kind === "history") return { kind: "history", cells: new Map() };
	return earlier === undefined ? { kind: "previous-run" } : { kind: "previous-run", run: earlier };
}
