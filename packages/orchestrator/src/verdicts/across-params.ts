// Evidence across the `params` axis: a test that fails under some parameter sets of a kernel and
// target and passes under others says so ("fails only with ept-off, npt-off"), which is what a KVM
// developer needs first: the failure is in the code those parameters select.
import { type FinalResult, isFailing, testKey } from "../events/attempts.js";
import type { Verdict } from "./classify.js";

export interface ParamsCell {
	readonly cell: string;
	readonly kernelId: string;
	/** `target/set` on the params axis (a matrix's own target names have no "/"). */
	readonly target: string;
	readonly results: readonly FinalResult[];
}

/** The sets a failing test fails and passes under, among its kernel and target's other cells. */
export function onlyWith(
	cells: readonly ParamsCell[],
	cell: ParamsCell,
	key: string,
): { failing: string[]; passing: string[] } | undefined {
	const slash = cell.target.indexOf("/");
	if (slash === -1) return undefined;
	const base = cell.target.slice(0, slash);
	const failing: string[] = [];
	const passing: string[] = [];
	for (const other of cells) {
		if (other.kernelId !== cell.kernelId || !other.target.startsWith(`${base}/`)) continue;
		const r = other.results.find((x) => testKey(x) === key);
		const set = other.target.slice(base.length + 1);
		if (r === undefined) continue;
		if (isFailing(r)) failing.push(set);
		else if (r.status === "pass") passing.push(set);
	}
	return passing.length > 0 && failing.length > 0 ? { failing, passing } : undefined;
}

const withNote = (v: Verdict, note: string): Verdict => {
	switch (v.verdict) {
		case "pending-fix":
		case "regression":
		case "still-failing":
		case "new-failure":
			return { ...v, evidence: { ...v.evidence, notes: [...v.evidence.notes, note] } } as Verdict;
		default:
			return v;
	}
};

/** Each verdict of a cell on the params axis, with the sets its test fails and passes under. */
export function addParamsEvidence(
	cells: readonly ParamsCell[],
	verdicts: ReadonlyMap<string, ReadonlyMap<string, Verdict>>,
): Map<string, Map<string, Verdict>> {
	const out = new Map<string, Map<string, Verdict>>();
	for (const [cellId, perTest] of verdicts) {
		const cell = cells.find((c) => c.cell === cellId);
		const next = new Map<string, Verdict>();
		for (const [key, v] of perTest) {
			const sets = cell === undefined ? undefined : onlyWith(cells, cell, key);
			next.set(
				key,
				sets === undefined
					? v
					: withNote(v, `fails only with ${sets.failing.join(", ")}; passes with ${sets.passing.join(", ")}`),
			);
		}
		out.set(cellId, next);
	}
	return out;
}
