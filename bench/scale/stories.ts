// Which selftests fail on which kernel, and why, so the verdicts come out a real mix. Pure: a
// test's story follows from its number and the history's layout (history.ts), the same for every
// run the bench generates.
//
// A test added with a fix fails where the fix is missing: pending-fix. Of the others, by a hash of
// the number: 15 % fail everywhere (new-failure on master, the baseline; still-failing elsewhere),
// 9.5 % broke in next (regression against master, an ancestor), 9 % fail on master and stable but
// pass on next (pending-fix: fixed in a descendant), 1 % broke in queue only, 1 % on stable only,
// 0.5 % are flaky (fail, then pass on the retry) on one kernel. About a quarter fail on each.
import { backportedToStable, fixHomeOf, TEST_COUNT } from "./history.js";

export const KERNELS = ["master", "next", "queue", "stable"] as const;
export type KernelName = (typeof KERNELS)[number];

export type FailingStatus = "fail" | "timeout";

/** A test's two attempts where it does not simply pass: the first fails, the retry may pass. */
export interface Failure {
	readonly status: FailingStatus;
	readonly retry: FailingStatus | "pass";
	readonly detail: string;
}

/** A well-mixed hash of a test number, so stories do not line up with directories or fix homes. */
const mix = (k: number) => {
	let h = Math.imul(k ^ 0x5bd1e995, 0x27d4eb2d);
	h ^= h >>> 15;
	h = Math.imul(h, 0x165667b1);
	return ((h ^ (h >>> 13)) >>> 0) % 1000;
};

function failsOn(k: number, kernel: KernelName): "fails" | "flaky" | undefined {
	switch (fixHomeOf(k)) {
		case "next":
			return kernel === "master" || kernel === "stable" ? "fails" : undefined;
		case "queue":
			return kernel === "queue" ? undefined : "fails";
		case "master-late":
			return kernel === "stable" && !backportedToStable(k) ? "fails" : undefined;
		default: {
			const h = mix(k);
			const on = (...kernels: KernelName[]) => (kernels.includes(kernel) ? "fails" : undefined);
			if (h < 150) return "fails";
			if (h < 245) return on("next", "queue");
			if (h < 335) return on("master", "stable");
			if (h < 345) return on("queue");
			if (h < 355) return on("stable");
			if (h < 360) return KERNELS[k % KERNELS.length] === kernel ? "flaky" : undefined;
			return undefined;
		}
	}
}

/** How test `k` ends on `kernel`; undefined when it passes the first time. */
export function failureOf(k: number, kernel: KernelName): Failure | undefined {
	const story = failsOn(k, kernel);
	if (story === undefined) return undefined;
	const status: FailingStatus = mix(k * 31 + 7) % 37 === 0 ? "timeout" : "fail";
	const detail = status === "timeout" ? "timed out after 120 s" : k % 2 === 0 ? "assertion failed" : "exit status 1";
	return { status, retry: story === "flaky" ? "pass" : status, detail };
}

/** `count` tests spread over the whole set (a stride prime to it), as a smaller suite selection would be. */
export const sampleTests = (count: number): number[] =>
	Array.from({ length: Math.min(count, TEST_COUNT) }, (_, j) => (j * 7919) % TEST_COUNT);

/**
 * The `count` tests of `tests` that fail on `kernel` for a run with few failures: those added with
 * a fix first (up to a third), so a small run still has pending fixes among its failures.
 */
export function fewFailing(tests: readonly number[], kernel: KernelName, count: number): Set<number> {
	const failing = tests.filter((k) => failureOf(k, kernel) !== undefined);
	const withFix = failing.filter((k) => fixHomeOf(k) !== undefined).slice(0, Math.ceil(count / 3));
	const rest = failing.filter((k) => !withFix.includes(k));
	return new Set([...withFix, ...rest].slice(0, count));
}
