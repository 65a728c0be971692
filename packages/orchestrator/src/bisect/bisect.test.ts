import test from "ava";
import type { CellSummary } from "../engine/summary.js";
import type { TestResult } from "../events/types.js";
import { stepVerdict } from "./bisect.js";

const result = (status: TestResult["status"], earlier: TestResult["status"][] = []) => ({
	suite: "selftests" as const,
	testId: "x86_64/a_test",
	status,
	durationMs: 1,
	attempt: earlier.length + 1,
	...(earlier.length === 0
		? {}
		: {
				earlier: earlier.map((s, i) => ({
					suite: "selftests" as const,
					testId: "x86_64/a_test",
					status: s,
					durationMs: 1,
					attempt: i + 1,
				})),
			}),
});

const cell = (r: ReturnType<typeof result>, state: CellSummary["state"] = "done"): CellSummary => ({
	id: "fake@x/t",
	kernel: { id: "fake@x" },
	target: "t",
	state,
	counts: { pass: 0, fail: 0, skip: 0, timeout: 0, crash: 0, error: 0 },
	results: [r],
	verdicts: {},
	notes: [],
});

const KEY = "selftests:x86_64/a_test";

test("a step's verdict in each mode: passes, fails, flaky and untestable", (t) => {
	t.is(stepVerdict("regression", cell(result("pass")), KEY).verdict, "old");
	t.is(stepVerdict("regression", cell(result("fail", ["fail"])), KEY).verdict, "new");
	t.is(stepVerdict("fixed", cell(result("pass")), KEY).verdict, "new");
	t.is(stepVerdict("fixed", cell(result("timeout", ["fail"])), KEY).verdict, "old");
	// Failed, then passed on its retry: neither good nor bad.
	t.deepEqual(stepVerdict("regression", cell(result("pass", ["fail"])), KEY), {
		verdict: "skip",
		seen: "cannot tell: flaky (fail, then pass)",
	});
	t.is(stepVerdict("regression", cell(result("error")), KEY).verdict, "skip");
	t.is(stepVerdict("regression", cell(result("pass"), "failed"), KEY).verdict, "skip");
	t.is(stepVerdict("regression", undefined, KEY).verdict, "skip");
});
