import test from "ava";
import { parseJournal } from "./journal.js";
import { rebootedWhileRunning } from "./rebooted.js";
import { cellSettled, foldJournal } from "./run-record.js";

const BOOT_A = "0b9f6a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
const BOOT_B = "7e8f9a0b-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
const here = (bootId: string) => ({ where: "this machine", bootId, host: "qa-1" });
const pin = (record: ReturnType<typeof fold>, now: string, host = "qa-1", where = "this machine") =>
	rebootedWhileRunning(record, where, host, now);
const started = (cell: string, testId: string, bootId = BOOT_A, suite = "kut") =>
	JSON.stringify({ type: "test-started", cell, suite, testId, attempt: 1, machine: here(bootId) });
const result = (cell: string, testId: string, status = "pass", suite = "kut") =>
	JSON.stringify({ type: "test-result", cell, result: { suite, testId, status, durationMs: 5, attempt: 1 } });
const fold = (...lines: string[]) => {
	const read = parseJournal(lines.join("\n"));
	return foldJournal(read.records, read.problems);
};

test("a test that started and has no result is what its machine was running", (t) => {
	const record = fold(started("k/host", "pass"), result("k/host", "pass"), started("k/host", "hang"));
	t.deepEqual(
		record.byCell.get("k/host")?.open?.map((o) => o.testId),
		["hang"],
	);
	t.deepEqual(record.problems, []);
});

test("the machine went down under one test: a crash pinned on it, saying what is known", (t) => {
	const record = fold(started("k/host", "pass"), result("k/host", "pass"), started("k/host", "hang"));
	t.deepEqual(pin(record, BOOT_B), [
		{
			cell: "k/host",
			result: {
				suite: "kut",
				testId: "hang",
				durationMs: 0,
				attempt: 1,
				status: "crash",
				detail: "this machine went down while it ran (boot 0b9f6a4e, now 7e8f9a0b)",
				noRetry: true,
			},
		},
	]);
});

test("the same boot (kvm-matrix was killed, the machine was not), another machine or host: nothing is pinned", (t) => {
	const record = fold(started("k/host", "hang"));
	t.deepEqual(pin(record, BOOT_A), []);
	t.deepEqual(pin(record, BOOT_B, "qa-1", "kvmqa@qa-icx-01"), [], "another machine's boot says nothing of this one");
	t.deepEqual(pin(record, BOOT_B, "qa-2"), [], "the run directory resumed on another host");
});

test("tests side by side when the machine went down: none is blamed, each says so", (t) => {
	const record = fold(started("k/host", "a"), started("k2/host", "b", BOOT_A, "selftests"));
	const pinned = pin(record, BOOT_B);
	t.deepEqual(
		pinned.map((p) => [p.cell, p.result.testId, p.result.status]),
		[
			["k/host", "a", "error"],
			["k2/host", "b", "error"],
		],
	);
	t.regex(
		pinned[0]?.result.detail ?? "",
		/while it and k2\/host b were under way .*which of them, if any, brought it down is not known$/,
	);
});

test("a start from an earlier boot that a later run of the test closed is not open", (t) => {
	const record = fold(started("k/host", "hang", BOOT_A), started("k/host", "hang", BOOT_B), result("k/host", "hang"));
	t.deepEqual(record.byCell.get("k/host")?.open ?? [], []);
});

test("a test whose cell (or run) ended is not open: a cancel stopped it, the machine did not", (t) => {
	const ended = (stage: object) =>
		fold(started("k/host", "hang"), JSON.stringify({ type: "cell-state", cell: "k/host", state: stage }));
	t.deepEqual(ended({ stage: "cancelled", cancelledIn: "running" }).byCell.get("k/host")?.open, undefined);
	t.deepEqual(ended({ stage: "failed", failedIn: "running", reason: "x" }).byCell.get("k/host")?.open, undefined);
	const finished = fold(started("k/host", "hang"), JSON.stringify({ type: "run-finished", outcome: "cancelled" }));
	t.deepEqual(pin(finished, BOOT_B), []);
	// Resumed, it starts again: open once more until its result.
	const again = fold(
		started("k/host", "hang"),
		JSON.stringify({ type: "cell-state", cell: "k/host", state: { stage: "cancelled", cancelledIn: "running" } }),
		started("k/host", "hang"),
	);
	t.is(pin(again, BOOT_B).length, 1);
});

test("a boot id that is not the kernel's UUID is not a record kvm-matrix wrote", (t) => {
	const read = parseJournal(started("k/host", "x", "../../etc"));
	t.deepEqual(read.records, []);
	t.is(read.problems.length, 1);
});

test("a cell that stopped on a lost connection runs again on resume; one that failed does not", (t) => {
	const state = (failure: object) =>
		JSON.stringify({
			type: "cell-state",
			cell: "k/loop",
			state: { stage: "failed", failedIn: "boot", reason: "ssh to x: lost" },
			failure,
		});
	const lost = fold(state({ stage: "boot", reason: "ssh to x: lost", evidence: [], resumable: true }));
	t.false(cellSettled(lost.byCell.get("k/loop")));
	const failed = fold(state({ stage: "boot", reason: "QEMU exited", evidence: [] }));
	t.true(cellSettled(failed.byCell.get("k/loop")));
	// Once it runs again, it has not ended.
	const again = fold(
		state({ stage: "boot", reason: "ssh to x: lost", evidence: [], resumable: true }),
		JSON.stringify({ type: "cell-state", cell: "k/loop", state: { stage: "running" } }),
	);
	t.is(again.byCell.get("k/loop")?.end, undefined);
});
