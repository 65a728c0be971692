// The run's life through the real engine on the KUT fixture (host target: real git, make and
// run_tests.sh, no guest): a cancel in each stage, and a view that throws.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createEventBus, type EngineEvent, executeRun, loadMatrixFile } from "@kvm-matrix/orchestrator";
import test from "ava";
import { execa } from "execa";
import { runCli } from "../packages/tui/src/main.js";
import { CLI } from "./support/cli.js";
import { hostMatrix, kutFixture } from "./support/kut-fixture.js";
import { processesUnder } from "./support/run-process.js";

const SUITE = "{ tree: kut, ref: master, include: [pass, fail, skip, timeout], accel: tcg }";

for (const stage of ["checkout", "build", "running"] as const) {
	test.serial(`a cancel in ${stage} ends the run cancelled, writes its results and leaves no process`, async (t) => {
		t.timeout(180_000);
		const repo = await kutFixture();
		const { dir, file } = hostMatrix(repo, `cancel-${stage}`, SUITE);
		const loaded = await loadMatrixFile(file, dir);
		if (!loaded.ok) return t.fail(JSON.stringify(loaded.error));
		const cache = mkdtempSync(path.join(os.tmpdir(), "cancel-cache-"));
		const runDir = path.join(dir, "run");
		const bus = createEventBus<EngineEvent>();
		const cancel = new AbortController();
		const seen: string[] = [];
		bus.subscribe((e) => {
			if (e.type !== "cell-state") return;
			seen.push(e.state.stage);
			if (e.state.stage === stage) cancel.abort();
		});
		const summary = await executeRun(loaded.value, { cacheRoot: cache, cwd: dir, runDir, bus, signal: cancel.signal });
		t.is(summary.outcome, "cancelled");
		t.is(summary.cells[0]?.state, "cancelled");
		t.true(seen.includes(stage));
		t.true(existsSync(summary.resultsFile));
		const journal = readFileSync(path.join(runDir, "journal.jsonl"), "utf8").trim().split("\n");
		t.deepEqual(JSON.parse(journal.at(-1) ?? "{}"), { type: "run-finished", outcome: "cancelled" });
		// Nothing the run started is still there: no make, no run_tests.sh, no QEMU of this tree.
		const left = await execa("pgrep", ["-af", `${cache}|${runDir}`], { reject: false });
		t.is(left.stdout.trim(), "", left.stdout);
	});
}

test.serial("a view that throws is reported once, exit 3, and the run's results are still written", async (t) => {
	t.timeout(180_000);
	const repo = await kutFixture();
	const { dir, file } = hostMatrix(repo, "view-throws", SUITE);
	const runDir = path.join(dir, "run");
	const out: string[] = [];
	const err: string[] = [];
	const code = await runCli(["run", file, "--run-dir", runDir], {
		stdout: (text) => {
			// The plain reporter's writes: a broken pipe, say, on the first test result.
			if (text.includes("PASS")) throw new Error("EPIPE: the view's output went away");
			out.push(text);
		},
		stderr: (text) => err.push(text),
		env: { NO_COLOR: "1", KVM_MATRIX_CACHE: path.join(dir, "cache") },
		cwd: dir,
		isTty: false,
	});
	t.is(code, 3);
	t.is(err.length, 1, err.join(""));
	t.regex(
		err[0] ?? "",
		/a view failed \(EPIPE: the view's output went away\); the run went on without it, results in /,
	);
	t.true((err[0] ?? "").includes(runDir));
	const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as {
		outcome: string;
		cells: { results: { testId: string }[] }[];
	};
	t.is(results.outcome, "completed");
	t.deepEqual(results.cells[0]?.results.map((r) => r.testId).sort(), ["fail", "pass", "skip", "timeout"]);
});

test.serial("kvm-matrix killed with SIGKILL takes its host tests with it: nothing it started is left", async (t) => {
	t.timeout(180_000);
	// A test that hangs for longer than this test waits: only kvm-matrix's death can end it.
	const repo = await kutFixture({
		extraImages: { longhang: `int main(void) { puts("PASS: started"); fflush(stdout); for (;;) sleep(1); }` },
		extraCfg: "\n[longhang]\nfile = longhang.flat\ntimeout = 600s\n",
	});
	const { dir, file } = hostMatrix(repo, "sigkill", "{ tree: kut, ref: master, include: [longhang], accel: tcg }");
	const cache = path.join(dir, "cache");
	const child = execa("node", [CLI, "run", file, "--run-dir", path.join(dir, "run"), "--headless"], {
		env: { NO_COLOR: "1", KVM_MATRIX_CACHE: cache },
		cwd: dir,
		reject: false,
	});
	// The hanging test runs (its image under the checkout in the cache): now kvm-matrix dies.
	let ended = false;
	void child.then(() => {
		ended = true;
	});
	const started = () => processesUnder(cache).some((p) => p.includes("longhang.flat"));
	for (let waited = 0; waited < 120_000 && !ended && !started(); waited += 200)
		await new Promise((resolve) => setTimeout(resolve, 200));
	if (!started()) {
		const r = await child;
		return t.fail(`the test never started: ${r.stdout}\n${r.stderr}`);
	}
	child.kill("SIGKILL");
	await child;
	let left = processesUnder(cache);
	for (let waited = 0; waited < 5_000 && left.length > 0; waited += 200) {
		await new Promise((resolve) => setTimeout(resolve, 200));
		left = processesUnder(cache);
	}
	t.deepEqual(left, []);

	// The journal says what this machine was running. Had the machine gone down under it (a host
	// panic takes kvm-matrix along), its boot id would differ on resume: made so here by hand.
	const runDir = path.join(dir, "run");
	const journalFile = path.join(runDir, "journal.jsonl");
	const journal = readFileSync(journalFile, "utf8");
	const start = journal.split("\n").find((l) => l.includes('"type":"test-started"') && l.includes('"longhang"'));
	if (start === undefined) return t.fail(journal);
	const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
	t.true(start.includes(`"bootId":"${bootId}"`), start);
	const before = bootId.replace(/^./, (c) => (c === "0" ? "1" : "0"));
	writeFileSync(journalFile, journal.replace(start, start.replace(bootId, before)));
	const resumed = await execa("node", [CLI, "resume", runDir, "--headless"], {
		env: { NO_COLOR: "1", KVM_MATRIX_CACHE: cache },
		cwd: dir,
		reject: false,
	});
	const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as {
		cells: { results: { testId: string; status: string; detail?: string }[] }[];
	};
	const longhang = results.cells[0]?.results.filter((r) => r.testId === "longhang");
	t.deepEqual(
		longhang?.map((r) => [r.status, r.detail]),
		[["crash", `this machine went down while it ran (boot ${before.slice(0, 8)}, now ${bootId.slice(0, 8)})`]],
		`${resumed.stdout}\n${resumed.stderr}`,
	);
});
