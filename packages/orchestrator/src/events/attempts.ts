import type { TestResult } from "./types.js";

/** A test's result as it stands after its retries, with the attempts before it (oldest first). */
export type FinalResult = TestResult & { readonly earlier?: readonly TestResult[] };

export const testKey = (r: Pick<TestResult, "suite" | "testId">) => `${r.suite}:${r.testId}`;

const indexes = new WeakMap<readonly object[], Map<string, unknown>>();

/**
 * The result of test `key` in `results`, found through an index built once per results list: a
 * run's verdicts look up every failing test in every other cell, and a scan each time made that
 * quadratic in the number of tests.
 */
export function resultOf<R extends Pick<TestResult, "suite" | "testId">>(
	results: readonly R[],
	key: string,
): R | undefined {
	let index = indexes.get(results) as Map<string, R> | undefined;
	if (index === undefined) {
		index = new Map();
		// The first result of a test stands, as a scan from the start would find it.
		for (const r of results) {
			const k = testKey(r);
			if (!index.has(k)) index.set(k, r);
		}
		indexes.set(results, index);
	}
	return index.get(key);
}

const FAILING: ReadonlySet<TestResult["status"]> = new Set(["fail", "timeout", "crash"]);

/** Whether a status is one a retry might change: the test ran and did not pass. */
export const isFailingStatus = (status: TestResult["status"]) => FAILING.has(status);
export const isFailing = (r: TestResult) => isFailingStatus(r.status);

/**
 * One result per test: its last attempt stands, the earlier ones ride along as evidence (a pass
 * after a failure is what makes a test flaky). Order follows each test's first appearance.
 */
export function collapseAttempts(results: readonly TestResult[]): FinalResult[] {
	const byTest = new Map<string, TestResult[]>();
	for (const r of results) {
		const key = testKey(r);
		const list = byTest.get(key);
		if (list === undefined) byTest.set(key, [r]);
		else list.push(r);
	}
	return [...byTest.values()].map((attempts) => {
		const sorted = [...attempts].sort((a, b) => a.attempt - b.attempt);
		const last = sorted.at(-1) as TestResult;
		const earlier = sorted.slice(0, -1);
		return earlier.length === 0 ? last : { ...last, earlier };
	});
}

/** The tests of one attempt that failed, so the next attempt runs only those. */
export function failingInAttempt(results: readonly TestResult[], attempt: number): string[] {
	return [...new Set(results.filter((r) => r.attempt === attempt && isFailing(r)).map(testKey))];
}
