import test from "ava";
import type { TestResult } from "../events/types.js";
import { addParamsEvidence, type ParamsCell } from "./across-params.js";
import { describeVerdict, type Verdict } from "./classify.js";

const result = (testId: string, status: TestResult["status"]): TestResult => ({
	suite: "selftests",
	testId,
	status,
	durationMs: 1,
	attempt: 1,
});
const cell = (target: string, statuses: Record<string, TestResult["status"]>, kernelId = "kvm@next"): ParamsCell => ({
	cell: `${kernelId}/${target}`,
	kernelId,
	target,
	results: Object.entries(statuses).map(([id, s]) => result(id, s)),
});
const newFailure: Verdict = { verdict: "new-failure", evidence: { notes: [] } };

test("a test failing under some sets and passing under others says which", (t) => {
	const cells = [
		cell("intel/default", { a: "pass", b: "fail" }),
		cell("intel/ept-off", { a: "fail", b: "fail" }),
		cell("intel/pmu-off", { a: "timeout", b: "fail" }),
		cell("amd/default", { a: "fail" }),
		cell("intel/ept-off", { a: "pass" }, "kvm@queue"),
	];
	const verdicts = new Map([
		[
			"kvm@next/intel/ept-off",
			new Map([
				["selftests:a", newFailure],
				["selftests:b", newFailure],
			]),
		],
		["kvm@next/amd/default", new Map([["selftests:a", newFailure]])],
	]);
	const out = addParamsEvidence(cells, verdicts);
	t.is(
		describeVerdict(out.get("kvm@next/intel/ept-off")?.get("selftests:a") ?? newFailure),
		"new-failure: no baseline result and no linked fix; needs a human; fails only with ept-off, pmu-off; passes with default",
	);
	// A set that gave no result, and a pass after a failed attempt, are no evidence of passing.
	const unknown = addParamsEvidence(
		[
			cell("t/a", { x: "fail" }),
			cell("t/b", { x: "pass" }),
			cell("t/c", { x: "error" }),
			{ ...cell("t/d", { x: "pass" }), results: [{ ...result("x", "pass"), earlier: [result("x", "fail")] }] },
		],
		new Map([["kvm@next/t/a", new Map([["selftests:x", newFailure]])]]),
	);
	t.regex(
		describeVerdict(unknown.get("kvm@next/t/a")?.get("selftests:x") ?? newFailure),
		/; fails with a; passes with b; no result with c$/,
	);
	// Failing under every set: nothing to say across the axis. Another target or kernel is not a sibling.
	t.deepEqual(out.get("kvm@next/intel/ept-off")?.get("selftests:b"), newFailure);
	t.deepEqual(out.get("kvm@next/amd/default")?.get("selftests:a"), newFailure);
});

test("verdicts without notes are left as they are, and cells off the axis are untouched", (t) => {
	const flaky: Verdict = { verdict: "flaky", evidence: { attempts: ["fail", "pass"] } };
	const cells = [cell("t/x", { a: "fail" }), cell("t/y", { a: "pass" }), cell("plain", { a: "fail" })];
	const out = addParamsEvidence(
		cells,
		new Map([
			["kvm@next/t/x", new Map<string, Verdict>([["selftests:a", flaky]])],
			["kvm@next/plain", new Map([["selftests:a", newFailure]])],
		]),
	);
	t.deepEqual(out.get("kvm@next/t/x")?.get("selftests:a"), flaky);
	t.deepEqual(out.get("kvm@next/plain")?.get("selftests:a"), newFailure);
});
