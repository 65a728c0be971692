import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { logName } from "../selftests/run.js";
import { claimRunDirectory, RunDirectory, runDirectoryInUse } from "./run-dir.js";

test("runs started in the same second get directories of their own", (t) => {
	const runs = path.join(mkdtempSync(path.join(os.tmpdir(), "runs-")), "runs");
	const base = "20261125-120000-nightly";
	const claimed = [1, 2, 3].map(() => claimRunDirectory(runs, base));
	t.deepEqual(
		claimed.map((d) => path.basename(d)),
		[base, `${base}-2`, `${base}-3`],
	);
	t.deepEqual(readdirSync(runs).sort(), [base, `${base}-2`, `${base}-3`]);
});

test("a directory holding a run's journal is refused for another; an empty one is taken", (t) => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "run-dir-"));
	t.is(runDirectoryInUse(dir), undefined);
	t.is(runDirectoryInUse(path.join(dir, "not-yet")), undefined);
	writeFileSync(path.join(dir, "journal.jsonl"), "{}\n");
	t.is(runDirectoryInUse(dir), `${dir} already holds a run; give --run-dir a new directory`);
});

test("cell directories and selftest logs are one per id: `a/b__c` and `a__b/c` do not share one", (t) => {
	const runDir = new RunDirectory(mkdtempSync(path.join(os.tmpdir(), "cell-dirs-")));
	t.not(runDir.cellDir("k@a/b__c"), runDir.cellDir("k@a__b/c"));
	t.not(logName("x86/a__b"), logName("x86__a/b"));
	// The spelling users' scripts know stays for the ids that had it to themselves.
	t.is(path.basename(runDir.cellDir("debian/tcg")), "debian__tcg");
	t.is(logName("x86_64/cpuid_test"), "x86_64__cpuid_test.log");
	t.is(path.dirname(runDir.cellDir("..")), path.join(runDir.dir, "cells"));
});
