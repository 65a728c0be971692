// One writer per run directory (issue 26): `classify RUN_DIR` appends verdicts to a run's journal
// and rewrites its results.json, so it takes the run's lock like run and resume do; a classify
// while the run (or another classify, or a merge) holds it is refused in one line, and the
// journal is left as it was.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createEventBus, type EngineEvent, executeRun, loadMatrixFile } from "@kvm-matrix/orchestrator";
import test from "ava";
import { execa } from "execa";
import { RunDirectory, RunTakenOverError, withRunDirectory } from "../packages/orchestrator/src/engine/run-dir.js";
import { kvmMatrix } from "./support/cli.js";
import { fakeLinux } from "./support/fakelinux.js";
import { hostMatrix, kutFixture } from "./support/kut-fixture.js";
import { syncCalls } from "./support/syscalls.js";

const RUN_DIR_MODULE = path.join(import.meta.dirname, "../packages/orchestrator/src/engine/run-dir.ts");

/** Another kvm-matrix holding the run directory (a resume): says "held", then holds it. */
const holdRun = (dir: string) =>
	`const { withRunDirectory } = await import(${JSON.stringify(RUN_DIR_MODULE)});
await withRunDirectory(${JSON.stringify(dir)}, async () => { console.log("held"); await new Promise((r) => setTimeout(r, 3_600_000)); });`;

test("classify of a run another kvm-matrix holds is refused in one line; the journal is untouched", async (t) => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "writers-"));
	const tree = await fakeLinux();
	const matrix = path.join(dir, "m.yaml");
	writeFileSync(
		matrix,
		`name: writers
trees:
  linux: { path: ${tree} }
kernels:
  - { tree: linux, ref: master }
targets:
  - { name: tcg, qemu: { cpu: max, smp: 1, memory: 512M, accel: tcg } }
suites:
  selftests: { include: ["x86_64/*"], timeout: 30s }
`,
	);
	const runDir = path.join(dir, "run");
	mkdirSync(runDir);
	const sha = readFileSync(path.join(tree, ".git", "refs", "heads", "master"), "utf8").trim();
	writeFileSync(
		path.join(runDir, "plan.json"),
		JSON.stringify({
			runId: "20261206-100000-writers",
			matrix,
			resolved: { "linux@master": sha },
			cells: [{ id: "linux@master/tcg", kernel: "linux@master", target: "tcg", jobs: {} }],
			jobs: [],
		}),
	);
	const journal = `${JSON.stringify({ type: "run-started", runId: "20261206-100000-writers", at: "2026-12-06T10:00:00.000Z", cells: ["linux@master/tcg"], matrix, matrixDigest: "d", resolved: { "linux@master": sha } })}\n`;
	writeFileSync(path.join(runDir, "journal.jsonl"), journal);
	// This process is the run still writing.
	const r = await withRunDirectory(runDir, () => kvmMatrix(dir, "classify", runDir));
	t.is(r.exitCode, 2, r.stderr);
	t.is(
		r.stderr.trim(),
		`kvm-matrix classify: ${runDir} is in use by another kvm-matrix run or resume; let it finish or stop it first`,
	);
	t.is(readFileSync(path.join(runDir, "journal.jsonl"), "utf8"), journal);
	// Once it has ended, classify takes the run in turn.
	const after = await kvmMatrix(dir, "classify", runDir);
	t.not(after.exitCode, 2, after.stderr);
	t.regex(after.stdout, /^results: /m);
});

test("a run that finds its directory taken once it holds the lock is refused, the other run's journal untouched", async (t) => {
	t.timeout(180_000);
	const repo = await kutFixture();
	const { dir, file } = hostMatrix(repo, "taken", "{ tree: kut, ref: master, include: [pass], accel: tcg }");
	const loaded = await loadMatrixFile(file, dir);
	if (!loaded.ok) return t.fail(JSON.stringify(loaded.error));
	const runDir = path.join(dir, "run");
	mkdirSync(runDir);
	const bus = createEventBus<EngineEvent>();
	// Another run starts (and ends) in the directory while this one resolves its refs: after
	// the early check, before the lock.
	const other = `${JSON.stringify({ type: "run-started", runId: "other", at: "2026-12-06T10:00:00.000Z", cells: [], matrix: file, matrixDigest: "d", resolved: {} })}\n`;
	const firstEvent = new Promise<string>((resolve) =>
		bus.subscribe((e) => {
			if (!existsSync(path.join(runDir, "journal.jsonl"))) writeFileSync(path.join(runDir, "journal.jsonl"), other);
			resolve(e.type);
		}),
	);
	const cache = mkdtempSync(path.join(os.tmpdir(), "taken-cache-"));
	const error = await t.throwsAsync(executeRun(loaded.value, { cacheRoot: cache, cwd: dir, runDir, bus }));
	t.log(`the other run started at the engine's first event: ${await firstEvent}`);
	t.is(error?.message, `${runDir} already holds a run; give --run-dir a new directory`);
	t.is(readFileSync(path.join(runDir, "journal.jsonl"), "utf8"), other);
	t.false(existsSync(path.join(runDir, "plan.json")));
});

test("a run that lost its lock writes no more: the journal and results are the new holder's", async (t) => {
	const runDir = mkdtempSync(path.join(os.tmpdir(), "taken-over-"));
	const lock = `${path.join(runDir, "run")}.lock`;
	const holder = () => execa("node", ["--import=tsx", "--conditions=source", "-e", holdRun(runDir)], { reject: false });
	let other: ReturnType<typeof holder> | undefined;
	const error = await t.throwsAsync(
		withRunDirectory(runDir, async (fence) => {
			const dir = new RunDirectory(runDir).fencedBy(fence);
			dir.append({ type: "run-finished", outcome: "cancelled" });
			// Stopped past the stale time and taken over by a resume: its lock and record now.
			rmSync(lock, { recursive: true });
			rmSync(`${lock}.owner`, { force: true });
			other = holder();
			await new Promise<void>((resolve) => other?.stdout?.once("data", () => resolve()));
			// Continued: what it had still to write.
			dir.append({ type: "run-finished", outcome: "completed" });
			dir.write("results.json", { outcome: "completed" });
			t.true(fence.signal.aborted);
		}),
		{ instanceOf: RunTakenOverError },
	);
	t.regex(error?.message ?? "", /another kvm-matrix took this run over/);
	t.is(
		readFileSync(path.join(runDir, "journal.jsonl"), "utf8"),
		`${JSON.stringify({ type: "run-finished", outcome: "cancelled" })}\n`,
	);
	t.false(existsSync(path.join(runDir, "results.json")));
	other?.kill("SIGKILL");
	await other;
});

test("a journal write the disk refuses part-way is cut back to the last whole record, and the run is told once", async (t) => {
	const runDir = mkdtempSync(path.join(os.tmpdir(), "full-disk-"));
	// A file-size limit (8 KiB) makes the write that crosses it short, then EFBIG, as a full disk
	// makes it short, then ENOSPC. Node ignores the SIGXFSZ that comes with it.
	const script = `const { RunDirectory } = await import(${JSON.stringify(RUN_DIR_MODULE)});
const failures = [];
const dir = new RunDirectory(${JSON.stringify(runDir)}).fencedBy({ stillHeld: () => true, failed: (e) => failures.push(e.message) });
for (let i = 0; i < 200; i++) dir.append({ type: "cell-note", cell: "k/t", text: "n".repeat(90) + i });
dir.write("results.json", { outcome: "completed" });
console.log(JSON.stringify(failures));`;
	const r = await execa("bash", ["-c", 'ulimit -f 8 && exec node --import=tsx --conditions=source -e "$0"', script], {
		reject: false,
	});
	t.is(r.exitCode, 0, r.stderr);
	const failures = JSON.parse(r.stdout) as string[];
	t.deepEqual(failures, [
		`${path.join(runDir, "journal.jsonl")}: cannot be written (EFBIG); the run stopped, its journal ends at its last whole record: resume it once there is room`,
	]);
	const journal = readFileSync(path.join(runDir, "journal.jsonl"), "utf8");
	t.true(journal.endsWith("\n"));
	const lines = journal.trimEnd().split("\n");
	t.true(lines.length > 50 && lines.length < 200, `${lines.length} records`);
	// Whole records only, in order, none after the one that failed.
	for (const [i, line] of lines.entries()) t.is((JSON.parse(line) as { text: string }).text, "n".repeat(90) + i);
	t.false(existsSync(path.join(runDir, "results.json")));
});

test("journal records and results.json are on the disk before the run goes on", async (t) => {
	const runDir = mkdtempSync(path.join(os.tmpdir(), "durable-run-"));
	const journal = path.join(runDir, "journal.jsonl");
	const results = path.join(runDir, "results.json");
	const calls = await syncCalls(
		`const { RunDirectory } = await import(${JSON.stringify(RUN_DIR_MODULE)});
const dir = new RunDirectory(${JSON.stringify(runDir)});
dir.append({ type: "run-finished", outcome: "cancelled" });
dir.appendAll([{ type: "run-finished", outcome: "completed" }]);
dir.write("results.json", { outcome: "completed" });`,
		[runDir],
	);
	t.deepEqual(calls, [
		// The first record makes the journal: its name is synced too.
		`fdatasync(FD<${journal}>)`,
		`fsync(FD<${runDir}>)`,
		`fdatasync(FD<${journal}>)`,
		`fsync(FD<${results}.PARTIAL>)`,
		`rename(${results}.PARTIAL, ${results})`,
		`fsync(FD<${runDir}>)`,
	]);
});
