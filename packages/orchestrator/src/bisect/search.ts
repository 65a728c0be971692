// The bisection itself, as git bisect does it, in its own terms: commits known `old` (the test
// behaves as it did at the start of the range), `new` (as it does at the end) and `skip` (could
// not be tested: it did not build or boot). For a regression old is "passes" and new "fails"; for
// a fix, old is "fails" and new "passes". Pure: git's answers come in as data.

export type StepVerdict = "old" | "new" | "skip";

export interface SearchState {
	/** The newest commit known `new` that is closest to the old side: the answer so far. */
	readonly firstNew: string;
	/** Every commit known `old` (the range's start, then each step's). */
	readonly old: readonly string[];
	readonly skipped: readonly string[];
}

export function startState(oldSha: string, newSha: string): SearchState {
	return { firstNew: newSha, old: [oldSha], skipped: [] };
}

export function applyStep(state: SearchState, sha: string, verdict: StepVerdict): SearchState {
	if (verdict === "new") return { ...state, firstNew: sha };
	if (verdict === "old") return { ...state, old: [...state.old, sha] };
	return { ...state, skipped: [...state.skipped, sha] };
}

/**
 * The next commit to test: the best of `git rev-list --bisect-all firstNew --not old...` (nearest
 * the middle first) that is neither the answer so far nor skipped; undefined when none is left.
 */
export function nextCommit(state: SearchState, bisectAll: readonly string[]): string | undefined {
	return bisectAll.find((sha) => sha !== state.firstNew && !state.skipped.includes(sha));
}

/**
 * What the search found once nothing is left to test: the first new commit, or, when skipped
 * commits lie between the last old one and it, every commit that could be it.
 */
export function conclusion(
	state: SearchState,
	/** `git rev-list firstNew --not old...`: the commits still in the range, the answer so far included. */
	remaining: readonly string[],
): { readonly kind: "found"; readonly sha: string } | { readonly kind: "ambiguous"; readonly candidates: string[] } {
	const others = remaining.filter((sha) => sha !== state.firstNew);
	if (others.length === 0) return { kind: "found", sha: state.firstNew };
	return { kind: "ambiguous", candidates: [...others, state.firstNew] };
}
