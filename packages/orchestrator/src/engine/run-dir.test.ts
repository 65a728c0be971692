import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { claimRunDirectory, runDirectoryInUse } from "./run-dir.js";

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
