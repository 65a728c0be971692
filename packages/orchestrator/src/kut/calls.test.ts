import test from "ava";
import { planCalls } from "./calls.js";
import { longestFirst } from "./durations.js";

const plan = { longMs: 8_000, batchMs: 8_000, maxTests: 3 };

test("with no history every test is a call of its own, longest first as before", (t) => {
	t.deepEqual(
		planCalls(["a", "b", "c"], {}, () => ""),
		[["a"], ["b"], ["c"]],
	);
});

test("short tests share calls up to a size; long and unknown ones run alone, first", (t) => {
	const durations = { vmx: 95_000, apic: 12_000, c1: 2_000, c2: 2_000, c3: 2_000, c4: 2_000, c5: 1_000 };
	const order = longestFirst(["c1", "c2", "new", "c3", "vmx", "c4", "apic", "c5"], durations);
	t.deepEqual(
		planCalls(order, durations, () => "", plan),
		[["new"], ["vmx"], ["apic"], ["c1", "c2", "c3"], ["c4", "c5"]],
	);
});

test("tests with different run_tests.sh options or TIMEOUT never share a call", (t) => {
	const durations = { a: 1_000, b: 1_000, c: 1_000, d: 1_000 };
	const key = (name: string) => (name === "b" || name === "d" ? "-g nodefault" : "");
	t.deepEqual(planCalls(["a", "b", "c", "d"], durations, key, plan, 0), [
		["a", "c"],
		["b", "d"],
	]);
});

test("a call stops growing at its expected time", (t) => {
	const durations = { a: 5_000, b: 4_000, c: 3_000 };
	t.deepEqual(
		planCalls(["a", "b", "c"], durations, () => "", plan, 0),
		[["a"], ["b", "c"]],
	);
});

test("each slot starts with one of the longest tests alone, however short the suite", (t) => {
	const durations = { timeout: 2_100, pass: 300, fail: 400, skip: 100 };
	const order = longestFirst(["pass", "fail", "skip", "timeout"], durations);
	t.deepEqual(
		planCalls(order, durations, () => "", plan, 2),
		[["timeout"], ["fail"], ["pass", "skip"]],
	);
});
