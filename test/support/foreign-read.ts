// What the foreign-results tests read back: the results, or the test fails with the reader's error.
import type { ForeignRead, ForeignResults } from "../../packages/orchestrator/src/results/foreign.js";

export function ok(t: { fail: (m: string) => void }, read: ForeignRead): ForeignResults {
	if ("error" in read) {
		t.fail(read.error);
		throw new Error(read.error);
	}
	return read;
}

/** test id → [status, detail]. */
export const statuses = (read: ForeignResults) =>
	Object.fromEntries(read.results.map((r) => [r.testId, [r.status, r.detail ?? ""]] as const));
