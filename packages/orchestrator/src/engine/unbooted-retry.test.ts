import type { BootOutcome, OutcomeKind } from "@kvm-matrix/qemu-runner";
import test from "ava";
import type { TestResult, TestStatus } from "../events/types.js";
import { type GuestHooks, type GuestRun, neverRan, withUnbootedRetry } from "./unbooted-retry.js";

/** A boot as boot() reports it; only kind and summary matter here. */
const boot = (kind: OutcomeKind, summary: string) =>
	({
		kind,
		accel: "tcg",
		durationMs: 1,
		consoleLog: "/dev/null",
		recordsLog: "/dev/null",
		channels: [],
		truncated: { console: false, records: false },
		summary,
		excerpt: [summary],
		qemuCommand: [],
		moduleParams: [],
	}) as BootOutcome;

const HUNG = boot("hung", "no output for 180s while booting: the guest is hung");
const result = (testId: string, status: TestStatus, detail?: string): TestResult => ({
	suite: "selftests",
	testId,
	status,
	durationMs: 0,
	attempt: 1,
	...(detail === undefined ? {} : { detail }),
});

/** A guest as runSelftests drives it: some tests start (onRunning), then results; or none do. */
type Script = { running: boolean; results: TestResult[]; boots: BootOutcome[] };
function guest(scripts: Script[]) {
	const tries: number[] = [];
	const runOnce = async (tryNumber: 1 | 2, hooks: GuestHooks): Promise<GuestRun> => {
		tries.push(tryNumber);
		const script = scripts[tryNumber - 1];
		if (script === undefined) throw new Error(`no script for try ${tryNumber}`);
		if (script.running) hooks.onRunning();
		for (const r of script.results) hooks.onResult(r);
		return { results: script.results, boots: script.boots };
	};
	return { runOnce, tries };
}

test("a guest that hung before any test is booted once more, and only its second boot's results are kept", async (t) => {
	const hungErrors = [result("a", "error", HUNG.summary), result("b", "error", HUNG.summary)];
	const second = [result("a", "pass"), result("b", "fail")];
	const { runOnce, tries } = guest([
		{ running: false, results: hungErrors, boots: [HUNG] },
		{ running: true, results: second, boots: [boot("completed", "the payload exited with 0")] },
	]);
	const forwarded: TestResult[] = [];
	const { run, retried } = await withUnbootedRetry(runOnce, (r) => forwarded.push(r), new AbortController().signal);
	t.deepEqual(tries, [1, 2]);
	t.deepEqual(forwarded, second);
	t.is(retried, HUNG);
	t.false(neverRan(run));
});

test("a second boot that hangs too is reported, once, as errors", async (t) => {
	const errors = [result("a", "error", HUNG.summary)];
	const { runOnce, tries } = guest([
		{ running: false, results: errors, boots: [HUNG] },
		{ running: false, results: errors, boots: [HUNG] },
	]);
	const forwarded: TestResult[] = [];
	const { run } = await withUnbootedRetry(runOnce, (r) => forwarded.push(r), new AbortController().signal);
	t.deepEqual(tries, [1, 2]);
	t.deepEqual(forwarded, errors);
	t.true(neverRan(run));
});

test("a guest that ran tests is not booted again, and its results pass through as they come", async (t) => {
	// A panic in the first test after it started: the test is a crash, not a boot to make again.
	const crashed = [result("a", "crash", "panic: Kernel panic"), result("b", "error", "not run")];
	const { runOnce, tries } = guest([{ running: true, results: crashed, boots: [boot("panic", "Kernel panic")] }]);
	const forwarded: TestResult[] = [];
	const { retried } = await withUnbootedRetry(runOnce, (r) => forwarded.push(r), new AbortController().signal);
	t.deepEqual(tries, [1]);
	t.deepEqual(forwarded, crashed);
	t.is(retried, undefined);
});

test("results that need no boot (skips for the other vendor, tests not built) are kept without a second boot", async (t) => {
	const vendor = [result("a", "skip", "needs Intel")];
	const { runOnce, tries } = guest([{ running: false, results: vendor, boots: [boot("completed", "exited 0")] }]);
	const forwarded: TestResult[] = [];
	await withUnbootedRetry(runOnce, (r) => forwarded.push(r), new AbortController().signal);
	t.deepEqual(tries, [1]);
	t.deepEqual(forwarded, vendor);
});

test("a cancelled run is not booted again: its errors stand", async (t) => {
	const controller = new AbortController();
	controller.abort();
	const errors = [result("a", "error", "cancelled")];
	const { runOnce, tries } = guest([
		{ running: false, results: errors, boots: [boot("qemu-error", "QEMU was stopped")] },
	]);
	const forwarded: TestResult[] = [];
	await withUnbootedRetry(runOnce, (r) => forwarded.push(r), controller.signal);
	t.deepEqual(tries, [1]);
	t.deepEqual(forwarded, errors);
});
