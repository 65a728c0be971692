import test from "ava";
import { createActor } from "xstate";
import { collapseAttempts } from "../events/attempts.js";
import type { TestResult } from "../events/types.js";
import { type CellContext, CellInterruptedError, createCellMachine, type SuitesPass } from "./cell-machine.js";

const result = (testId: string, status: TestResult["status"], attempt: number): TestResult => ({
	suite: "selftests",
	testId,
	status,
	durationMs: 1,
	attempt,
});

/** Drives a cell whose VM stage reports what `script` says for each pass, and records the passes. */
async function drive(
	retries: number,
	script: (pass: SuitesPass) => { results: [string, TestResult["status"]][]; bootFails?: boolean },
) {
	const passes: SuitesPass[] = [];
	const machine = createCellMachine({
		checkout: async () => {},
		build: async () => ({ kernel: { image: "bzImage" }, notes: [] }),
		suites: async (pass, send) => {
			passes.push(pass);
			const step = script(pass);
			if (step.bootFails) throw new Error("qemu-error: could not start");
			send({ type: "RUNNING" });
			for (const [id, status] of step.results) send({ type: "RESULT", result: result(id, status, pass.attempt) });
		},
	});
	const actor = createActor(machine, {
		input: { cellId: "k/t", buildTimeoutMs: 60_000, maxBootAttempts: 2, retries },
	});
	const final = new Promise<{ value: unknown; context: CellContext }>((resolve) =>
		actor.subscribe((s) => {
			if (s.status === "done") resolve({ value: s.value, context: s.context });
		}),
	);
	actor.start();
	actor.send({ type: "START" });
	return { ...(await final), passes };
}

test("a failing test runs again alone; a pass on the retry leaves both attempts", async (t) => {
	const { value, context, passes } = await drive(1, (pass) =>
		pass.attempt === 1
			? {
					results: [
						["a", "fail"],
						["b", "pass"],
						["c", "timeout"],
					],
				}
			: {
					results: [
						["a", "pass"],
						["c", "timeout"],
					],
				},
	);
	t.is(value, "done");
	t.deepEqual(
		passes.map((p) => [p.pass, p.attempt, p.only]),
		[
			[1, 1, undefined],
			[2, 2, ["selftests:a", "selftests:c"]],
		],
	);
	const final = collapseAttempts(context.results);
	t.deepEqual(
		final.map((r) => [r.testId, r.status, r.attempt, r.earlier?.map((e) => e.status)]),
		[
			["a", "pass", 2, ["fail"]],
			["b", "pass", 1, undefined],
			["c", "timeout", 2, ["timeout"]],
		],
	);
});

test("retries stop when they are spent, or when nothing fails any more", async (t) => {
	const always = await drive(2, () => ({ results: [["a", "crash"]] }));
	t.deepEqual(
		always.passes.map((p) => p.attempt),
		[1, 2, 3],
	);
	const none = await drive(0, () => ({ results: [["a", "fail"]] }));
	t.is(none.passes.length, 1);
	const green = await drive(3, () => ({ results: [["a", "pass"]] }));
	t.is(green.passes.length, 1);
});

test("a retry whose guest cannot start leaves the first attempt standing; a first boot failure is retried", async (t) => {
	const retryBoot = await drive(1, (pass) =>
		pass.attempt === 1 ? { results: [["a", "fail"]] } : { results: [], bootFails: true },
	);
	t.is(retryBoot.value, "done");
	t.deepEqual(
		collapseAttempts(retryBoot.context.results).map((r) => r.status),
		["fail"],
	);
	const firstBoot = await drive(1, (pass) =>
		pass.pass === 1 ? { results: [], bootFails: true } : { results: [["a", "pass"]] },
	);
	t.is(firstBoot.value, "done");
	t.deepEqual(
		firstBoot.passes.map((p) => [p.pass, p.attempt]),
		[
			[1, 1],
			[2, 1],
		],
	);
	const never = await drive(1, () => ({ results: [], bootFails: true }));
	t.is(never.value, "failed");
	t.is(never.context.failure?.reason, "qemu-error: could not start");
});

test("a cell interrupted by its machine (a full disk) ends cancelled, to run again, not failed", async (t) => {
	for (const stage of ["checkout", "build", "suites"] as const) {
		const interrupt = () => Promise.reject(new CellInterruptedError("ENOSPC: no space left on device, write"));
		const machine = createCellMachine({
			checkout: stage === "checkout" ? interrupt : async () => {},
			build: stage === "build" ? interrupt : async () => ({ kernel: { image: "bzImage" }, notes: [] }),
			suites: stage === "suites" ? interrupt : async () => {},
		});
		const actor = createActor(machine, {
			input: { cellId: "k/t", buildTimeoutMs: 60_000, maxBootAttempts: 2, retries: 0 },
		});
		const final = new Promise<unknown>((resolve) =>
			actor.subscribe((s) => {
				if (s.status === "done") resolve(s.value);
			}),
		);
		actor.start();
		actor.send({ type: "START" });
		t.is(await final, "cancelled", stage);
	}
});
