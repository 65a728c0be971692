// A guest that never ran a test gets one more boot. Linux under TCG on a loaded machine now and
// then stops for good early in its boot (seen: silent after "Switched to clocksource hpet"); the
// cell's own boot retry cannot help, since the runner has by then reported every test as an error.
import type { BootOutcome } from "@kvm-matrix/qemu-runner";
import type { TestResult } from "../events/types.js";

/** What one guest's share of a suite came to. */
export interface GuestRun {
	readonly results: readonly TestResult[];
	readonly boots: readonly BootOutcome[];
}

/** Hooks the runner calls: every result, and the moment the first test starts in the guest. */
export interface GuestHooks {
	readonly onResult: (result: TestResult) => void;
	readonly onRunning: () => void;
}

/** True when a guest's run started no test and its first boot did not complete. */
export function neverRan(run: GuestRun): boolean {
	const first = run.boots[0];
	return first !== undefined && first.kind !== "completed" && run.results.every((r) => r.status === "error");
}

/**
 * Runs `runOnce`, and once more when its guest never started a test (neverRan). Results wait until
 * the guest starts a test, so the first boot's "no test ran" errors are dropped when it is booted
 * again: every test has one result. `retried` is the first boot's outcome when a second was made.
 */
export async function withUnbootedRetry<R extends GuestRun>(
	runOnce: (tryNumber: 1 | 2, hooks: GuestHooks) => Promise<R>,
	forward: (result: TestResult) => void,
	signal: AbortSignal,
): Promise<{ readonly run: R; readonly retried?: BootOutcome }> {
	const held: TestResult[] = [];
	let running = false;
	const first = await runOnce(1, {
		onResult: (result) => (running ? forward(result) : held.push(result)),
		onRunning: () => {
			if (running) return;
			running = true;
			for (const result of held.splice(0)) forward(result);
		},
	});
	const firstBoot = first.boots[0];
	if (running || signal.aborted || !neverRan(first) || firstBoot === undefined) {
		for (const result of held.splice(0)) forward(result);
		return { run: first };
	}
	const second = await runOnce(2, { onResult: forward, onRunning: () => {} });
	return { run: second, retried: firstBoot };
}
