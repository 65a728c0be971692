import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import type { Verdict } from "../verdicts/classify.js";
import { withHistory } from "../verdicts/history-flaky.js";
import { firstFailures } from "./first-failure.js";
import { HistoryIndex } from "./index-db.js";
import { type TimelineEntry, timeline } from "./queries.js";
import { parseSince } from "./since.js";

const entry = (runId: string, status: TimelineEntry["status"], extra: Partial<TimelineEntry> = {}): TimelineEntry => ({
	runId,
	dir: `/runs/${runId}`,
	started: `2026-12-0${runId.slice(1)}T03:00:00.000Z`,
	cell: "kvm@next/tcg",
	kernel: "kvm@next",
	sha: `${runId.slice(1)}`.repeat(40),
	target: "tcg",
	test: "kut:vmx",
	status,
	retried: false,
	...extra,
});

test("first failure: the run it last passed in, the first of the failures it has now, the commits between", (t) => {
	const [f] = firstFailures([
		entry("r1", "fail"),
		entry("r2", "pass"),
		entry("r3", "error"),
		entry("r4", "fail"),
		entry("r5", "timeout"),
	]);
	if (f?.state !== "failing") return t.fail(JSON.stringify(f));
	t.is(f.lastPassed?.runId, "r2");
	t.is(f.firstFailed.runId, "r4");
	t.is(f.failedRuns, 2);
	t.is(f.range, `${"2".repeat(40)}..${"4".repeat(40)}`);
	// Passing now; never passed; only errors.
	t.is(firstFailures([entry("r1", "fail"), entry("r2", "pass")])[0]?.state, "passing");
	const never = firstFailures([entry("r1", "fail"), entry("r2", "fail")])[0];
	t.true(never?.state === "failing" && never.lastPassed === undefined && never.failedRuns === 2);
	t.is(firstFailures([entry("r1", "error")])[0]?.state, "unknown");
	// Same commit on both sides: no range, a kernel change did not do it.
	const same = firstFailures([
		entry("r1", "pass", { sha: "a".repeat(40) }),
		entry("r2", "fail", { sha: "a".repeat(40) }),
	])[0];
	t.true(same?.state === "failing" && same.range === undefined);
	// Each cell on its own.
	t.is(firstFailures([entry("r1", "pass"), entry("r1", "fail", { cell: "kvm@next/icx" })]).length, 2);
});

const regression: Verdict = {
	verdict: "regression",
	evidence: { passed: { kernel: "kvm@next", status: "pass", run: "r2" }, notes: [] },
};
const cell = { cell: "kvm@next/tcg", revision: "abc, kut def", target: "tcg" };
const seen = (...s: [string, "pass" | "fail" | "skip" | "error", boolean?][]) =>
	s.map(([runId, status, retried]) => ({ runId, status, retried: retried === true }));

test("history makes a failure flaky only when earlier runs on the same build both passed and failed it", (t) => {
	const flaky = withHistory(regression, ["fail"], cell, seen(["r1", "fail"], ["r2", "pass"]));
	t.is(flaky.verdict, "flaky");
	if (flaky.verdict !== "flaky") return;
	t.like(flaky.evidence.history, { runs: 3, failed: 2, instead: "regression", revision: "abc, kut def" });
	// Passes, then failures only: a step, not a flake; the verdict stands.
	t.is(withHistory(regression, ["fail"], cell, seen(["r1", "pass"], ["r2", "fail"])).verdict, "regression");
	t.is(withHistory(regression, ["fail"], cell, seen(["r1", "pass"], ["r2", "fail"], ["r3", "pass"])).verdict, "flaky");
	// Only passes before: a real change, the verdict stands. Only failures: it stands too.
	t.is(withHistory(regression, ["fail"], cell, seen(["r1", "pass"], ["r2", "pass"])).verdict, "regression");
	t.is(
		withHistory(regression, ["fail"], cell, seen(["r1", "fail"], ["r2", "error"], ["r3", "skip"])).verdict,
		"regression",
	);
	// A pass after a retry is both.
	t.is(withHistory(regression, ["fail"], cell, seen(["r1", "pass", true])).verdict, "flaky");
	// No revision (a prebuilt image): nothing says the kernel was the same.
	t.is(
		withHistory(regression, ["fail"], { cell: cell.cell, target: "tcg" }, seen(["r1", "fail"], ["r2", "pass"])).verdict,
		"regression",
	);
	// Explained verdicts stay explained.
	const known: Verdict = { verdict: "known", evidence: { issue: { test: "kut:vmx", reason: "r" } } };
	t.is(withHistory(known, ["fail"], cell, seen(["r1", "fail"], ["r2", "pass"])), known);
});

test("--since: spans back from now, or a date; anything else one line", (t) => {
	const now = new Date("2026-12-07T00:00:00.000Z");
	t.deepEqual(parseSince("30d", now), { ok: true, since: "2026-11-07T00:00:00.000Z" });
	t.deepEqual(parseSince("12h", now), { ok: true, since: "2026-12-06T12:00:00.000Z" });
	t.deepEqual(parseSince("2w", now), { ok: true, since: "2026-11-23T00:00:00.000Z" });
	t.deepEqual(parseSince("2026-11-01", now), { ok: true, since: "2026-11-01T00:00:00.000Z" });
	for (const bad of ["yesterday", "30", "-1d", "2026-13-45", ""]) t.false(parseSince(bad, now).ok, bad);
});

test("an index file that is not a database (tampered, torn) is made again: it is only derived", (t) => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "history-index-"));
	const file = path.join(dir, "index.sqlite");
	writeFileSync(file, "not an SQLite file ".repeat(300));
	const index = HistoryIndex.open(file);
	t.deepEqual(timeline(index, [dir], "kut:vmx"), []);
	t.deepEqual(index.refresh([dir]), { runs: 0, indexed: 0, dropped: 0, unreadable: [] });
	index.close();
	t.is(readFileSync(file).subarray(0, 15).toString(), "SQLite format 3");
});
