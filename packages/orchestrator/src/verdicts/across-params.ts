// Evidence across the `params` axis: a test that fails under some parameter sets of a kernel and
// target and passes under others says so ("fails only with ept-off, npt-off"), which is what a KVM
// developer needs first: the failure is in the code those parameters select.
import { type FinalResult, isFailing, resultOf } from "../events/attempts.js";
import { targetParts } from "../plan/cells.js";
import type { Verdict } from "./classify.js";
import { passedClean } from "./for-run.js";

export interface ParamsCell {
	readonly cell: string;
	readonly kernelId: string;
	/** `target/set` on the params axis (a matrix's own target names have no "/"). */
	readonly target: string;
	readonly results: readonly FinalResult[];
}

/**
 * The sets a failing test fails and cleanly passes under (a pass after a failed attempt is no
 * evidence), among its kernel and target's other cells, and those it has no result under (not run,
 * an error): a note may say "only" when every set ran it.
 */
export function onlyWith(
	cells: readonly ParamsCell[],
	cell: ParamsCell,
	key: string,
): { failing: string[]; passing: string[]; unknown: string[] } | undefined {
	const { target: base, params } = targetParts(cell.target);
	if (params === undefined) return undefined;
	const failing: string[] = [];
	const passing: string[] = [];
	const unknown: string[] = [];
	for (const other of cells) {
		const there = targetParts(other.target);
		if (other.kernelId !== cell.kernelId || there.target !== base || there.params === undefined) continue;
		const r = resultOf(other.results, key);
		const set = there.params;
		if (r !== undefined && isFailing(r)) failing.push(set);
		else if (r !== undefined && passedClean(r)) passing.push(set);
		else if (r === undefined || r.status === "error") unknown.push(set);
	}
	return passing.length > 0 && failing.length > 0 ? { failing, passing, unknown } : undefined;
}

/** `fails only with ept-off; passes with default`, or without "only" when some set did not say. */
export function paramsNote(sets: { failing: string[]; passing: string[]; unknown: string[] }): string {
	const only = sets.unknown.length === 0 ? "only " : "";
	const rest = sets.unknown.length === 0 ? "" : `; no result with ${sets.unknown.join(", ")}`;
	return `fails ${only}with ${sets.failing.join(", ")}; passes with ${sets.passing.join(", ")}${rest}`;
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
			next.set(key, sets === undefined ? v : withNote(v, paramsNote(sets)));
		}
		out.set(cellId, next);
	}
	return out;
}
