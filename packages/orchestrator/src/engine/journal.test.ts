import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import type { TestResult } from "../events/types.js";
import { type JournalRecord, parseJournal } from "./journal.js";
import { RunDirectory } from "./run-dir.js";
import { cellSettled, finalResults, foldJournal, readRunRecord } from "./run-record.js";
import { runVerdictCounts, summariseCells } from "./summary.js";

const result = (testId: string, status: TestResult["status"], attempt = 1): TestResult => ({
	suite: "selftests",
	testId,
	status,
	durationMs: 10,
	attempt,
});
const lines = (records: readonly JournalRecord[]) => records.map((r) => JSON.stringify(r)).join("\n");

const started: JournalRecord = { type: "run-started", runId: "r1", at: "2026-12-02T00:00:00Z", cells: ["a", "b"] };

test("a torn last line is dropped with a note naming it; the records before it stand", (t) => {
	const text = `${lines([started, { type: "test-result", cell: "a", result: result("x86_64/t1", "pass") }])}\n{"type":"test-res`;
	const read = parseJournal(text, "j.jsonl");
	t.is(read.records.length, 2);
	t.deepEqual(read.problems, ["j.jsonl:3: a torn last line (the run was killed while writing it), ignored"]);
});

test("lines that are not records are ignored one by one, never thrown", (t) => {
	const read = parseJournal(
		[
			"garbage",
			JSON.stringify({ type: "test-result", cell: "a", result: { suite: "selftests" } }),
			JSON.stringify({ type: "what-is-this" }),
			"[]",
			"null",
			JSON.stringify(started),
			"",
		].join("\n"),
	);
	t.is(read.records.length, 1);
	t.is(read.problems.length, 5);
	t.true(read.problems.every((p) => p.includes("ignored") && !p.includes("\n")));
});

test("the fold keeps every attempt, the cell's own end, and ignores the end of a retry from a view", (t) => {
	const record = foldJournal([
		started,
		{ type: "cell-state", cell: "a", state: { stage: "running" } },
		{ type: "test-result", cell: "a", result: result("x86_64/t1", "fail") },
		{ type: "test-result", cell: "a", result: result("x86_64/t2", "pass") },
		{ type: "cell-state", cell: "a", state: { stage: "done" } },
		{ type: "test-result", cell: "a", result: result("x86_64/t1", "pass", 2) },
		{
			type: "cell-state",
			cell: "a",
			state: { stage: "failed", failedIn: "boot", reason: "no guest" },
			retry: true,
		},
		{ type: "cell-note", cell: "b", text: "n" },
		{ type: "cell-note", cell: "b", text: "n" },
		{ type: "cell-state", cell: "b", state: { stage: "build" } },
	]);
	const a = record.byCell.get("a");
	t.deepEqual(a?.end, { state: "done" });
	t.deepEqual(
		finalResults(a).map((r) => [r.testId, r.status, r.attempt]),
		[
			["x86_64/t1", "pass", 2],
			["x86_64/t2", "pass", 1],
		],
	);
	t.true(cellSettled(a));
	t.false(cellSettled(record.byCell.get("b")));
	t.deepEqual(record.byCell.get("b")?.notes, ["n"]);
	t.is(record.outcome, undefined);
});

test("a resume makes a cancelled run unfinished again, and a cancelled cell runs again when it restarts", (t) => {
	const record = foldJournal([
		started,
		{ type: "cell-state", cell: "a", state: { stage: "cancelled", cancelledIn: "build" } },
		{ type: "run-finished", outcome: "cancelled" },
		{ type: "run-resumed", at: "later", matrix: "m.yaml", matrixDigest: "d2" },
		{ type: "cell-state", cell: "a", state: { stage: "queued" } },
	]);
	t.is(record.outcome, undefined);
	t.is(record.resumes, 1);
	t.is(record.matrixDigest, "d2");
	t.is(record.byCell.get("a")?.end, undefined);
});

test("a killed run is summarised from its journal: unfinished cells are cancelled, failures keep their evidence", (t) => {
	const record = foldJournal([
		started,
		{ type: "test-result", cell: "a", result: result("x86_64/t1", "fail") },
		{
			type: "cell-state",
			cell: "b",
			state: { stage: "failed", failedIn: "build", reason: "make failed" },
			failure: { stage: "build", reason: "make failed", evidence: ["foo.c:1: error"] },
		},
	]);
	const cells = summariseCells(
		[
			{ id: "a", kernel: "k", target: "t", sha: "abc" },
			{ id: "b", kernel: "k2", target: "t" },
		],
		record,
	);
	t.is(cells[0]?.state, "cancelled");
	t.is(cells[0]?.counts.fail, 1);
	t.is(cells[0]?.kernel.sha, "abc");
	t.deepEqual(cells[1]?.failure?.evidence, ["foo.c:1: error"]);
	// The unclassified failure and the cell that never ran are what the exit policy weighs.
	t.deepEqual(runVerdictCounts(cells), { "new-failure": 1, infra: 1 });
});

test("a journal torn by a kill gets its line ended before the next record, so both lines read", (t) => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "journal-"));
	writeFileSync(path.join(dir, "plan.json"), "{}");
	writeFileSync(path.join(dir, "journal.jsonl"), `${JSON.stringify(started)}\n{"type":"cell-no`);
	const runDir = RunDirectory.existing(dir);
	runDir.append({ type: "cell-note", cell: "a", text: "after" });
	const record = readRunRecord(runDir.journal);
	t.deepEqual(record.byCell.get("a")?.notes, ["after"]);
	t.is(record.problems.length, 1);
	t.true(readFileSync(runDir.journal, "utf8").endsWith("\n"));
});

test("a directory without a plan is refused in one line", (t) => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "journal-"));
	const error = t.throws(() => RunDirectory.existing(dir));
	t.regex(error?.message ?? "", /holds no run \(no plan\.json\)/);
});

test("each classify's verdicts replace the last: only the last whole record per cell is read, a torn one replaces nothing", (t) => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "journal-verdicts-"));
	const file = path.join(dir, "journal.jsonl");
	const verdicts = (cell: string, reason: string): JournalRecord => ({
		type: "verdicts",
		cell,
		verdicts: [["kut:vmx", { verdict: "infra", evidence: { reason } }]],
	});
	const lines = [
		verdicts("a/t", "first"),
		verdicts("b/t", "only"),
		verdicts("a/t", "second"),
		verdicts("a/t", "third"),
	].map((r) => JSON.stringify(r));
	// The third was torn by a kill: the second stands.
	const torn = (lines[3] as string).slice(0, 60);
	writeFileSync(file, `${lines.slice(0, 3).join("\n")}\n${torn}`);
	const reason = (record: ReturnType<typeof readRunRecord>, cell: string) => {
		const v = record.byCell.get(cell)?.verdicts?.get("kut:vmx");
		return v?.verdict === "infra" ? v.evidence.reason : undefined;
	};
	const torn3 = readRunRecord(file);
	t.is(reason(torn3, "a/t"), "second");
	t.is(reason(torn3, "b/t"), "only");
	t.is(torn3.problems.length, 1);
	// Whole, the last one stands; the ones before are not even read.
	writeFileSync(file, `${lines.join("\n")}\n`);
	t.is(reason(readRunRecord(file), "a/t"), "third");
	const read = parseJournal(readFileSync(file, "utf8"), file, { latestVerdictsOnly: true });
	t.deepEqual(
		read.records.map((r) => (r.type === "verdicts" ? r.cell : r.type)),
		["b/t", "a/t"],
	);
});
