// A test on a running kernel whose machine went down under it: the journal says the test began,
// and no result came; the machine's boot id is not the one it ran under. Found on `resume` (a
// host panic takes kvm-matrix with it), and pinned on the test only if it ran there alone.
import { readFileSync } from "node:fs";
import type { TestResult } from "../events/types.js";
import { BOOT_ID } from "./journal.js";
import type { OpenTest, RunRecord } from "./run-record.js";

/** This machine's boot id, or undefined where the kernel has none to read. */
export function localBootId(): string | undefined {
	try {
		const id = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
		return BOOT_ID.test(id) ? id : undefined;
	} catch {
		return undefined;
	}
}

/**
 * The results for tests whose machine rebooted while they ran: a `crash` for a test that ran
 * there alone; with several, an `error` for each, since which of them (if any) brought the
 * machine down is not known. `bootNow` has the machines whose boot id could be read, by `where`.
 */
export function rebootedWhileRunning(
	record: RunRecord,
	bootNow: ReadonlyMap<string, string>,
): { readonly cell: string; readonly result: TestResult }[] {
	const byBoot = new Map<string, { cell: string; test: OpenTest }[]>();
	for (const [cell, c] of record.byCell) {
		for (const test of c.open ?? []) {
			const now = bootNow.get(test.machine.where);
			if (now === undefined || now === test.machine.bootId) continue;
			const key = `${test.machine.where}\n${test.machine.bootId}`;
			byBoot.set(key, [...(byBoot.get(key) ?? []), { cell, test }]);
		}
	}
	return [...byBoot.values()].flatMap((tests) =>
		tests.map(({ cell, test }) => {
			const { where, bootId } = test.machine;
			const boots = `boot ${bootId.slice(0, 8)}, now ${bootNow.get(where)?.slice(0, 8) ?? "?"}`;
			const others = tests.filter((o) => o.test !== test).map((o) => `${o.cell} ${o.test.testId}`);
			const base = { suite: test.suite, testId: test.testId, durationMs: 0, attempt: test.attempt };
			return {
				cell,
				result:
					others.length === 0
						? {
								...base,
								status: "crash" as const,
								detail: `${where} went down while it ran (${boots})`,
								noRetry: true as const,
							}
						: {
								...base,
								status: "error" as const,
								// Side by side, or queued in one run_tests.sh call: started, and not ended.
								detail: `${where} went down while it and ${others.join(", ")} were under way (${boots}); which of them, if any, brought it down is not known`,
							},
			};
		}),
	);
}
