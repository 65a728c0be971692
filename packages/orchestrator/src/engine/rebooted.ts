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
 * machine down is not known. `where`, `host` and `now` are this machine's name, hostname and boot id.
 */
export function rebootedWhileRunning(
	record: RunRecord,
	where: string,
	host: string,
	now: string,
): { readonly cell: string; readonly result: TestResult }[] {
	const byBoot = new Map<string, { cell: string; test: OpenTest }[]>();
	for (const [cell, c] of record.byCell) {
		for (const test of c.open ?? []) {
			// Another machine's test (or one of a run begun on another host) is not this boot's to judge.
			if (test.machine.where !== where || test.machine.host !== host || test.machine.bootId === now) continue;
			const key = `${test.machine.where}\n${test.machine.bootId}`;
			byBoot.set(key, [...(byBoot.get(key) ?? []), { cell, test }]);
		}
	}
	return [...byBoot.values()].flatMap((tests) =>
		tests.map(({ cell, test }) => {
			const { bootId } = test.machine;
			const boots = `boot ${bootId.slice(0, 8)}, now ${now.slice(0, 8)}`;
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
