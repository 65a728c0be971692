// The history index at nightly scale: RUNS run directories (default 1,000, one a night) of
// RESULTS results each (default 1,000: 2 kernels × 2 targets × 250 selftests), written as the
// engine journals them (plan.json and journal.jsonl, checked with the engine's parser), then
// indexed cold, refreshed with nothing changed, refreshed with one new run, and queried as
// `kvm-matrix history` asks. Prints each figure; asserts nothing on time.
// Run: pnpm bench:history [RUNS] [RESULTS]
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { firstFailures, flakyTests, HistoryIndex, parseJournal, parseSince, timeline } from "@kvm-matrix/orchestrator";
import type { JournalRecord } from "../packages/orchestrator/src/engine/journal.js";
import type { TestResult } from "../packages/orchestrator/src/events/types.js";
import type { Verdict } from "../packages/orchestrator/src/verdicts/classify.js";

const RUNS = Number(process.argv[2] ?? 1_000);
const RESULTS = Number(process.argv[3] ?? 1_000);
const KERNELS = ["kvm-x86@next", "kvm@next"] as const;
const TARGETS = ["tcg", "icx"] as const;
const TESTS = Math.max(1, Math.floor(RESULTS / (KERNELS.length * TARGETS.length)));
const DAY = 86_400_000;

const sha = (seed: string) => {
	let h = 0x811c9dc5;
	let out = "";
	for (let round = 0; out.length < 40; round++) {
		for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193) ^ round;
		out += (h >>> 0).toString(16).padStart(8, "0");
	}
	return out.slice(0, 40);
};
const testId = (k: number) => `x86_64/test_${String(k).padStart(4, "0")}`;

/**
 * What test k does in run r on a kernel: most pass; one in 50 fails from the night its kernel
 * moved to a breaking commit on; one in 40 fails one night in three whatever the kernel (flaky).
 */
function statusOf(k: number, r: number, kernel: number): TestResult["status"] {
	if (k % 40 === 7 && (r + k + kernel) % 3 === 0) return "fail";
	if (k % 50 === 3 && r > (k * 13) % RUNS) return "fail";
	if (k % 97 === 5) return "skip";
	return "pass";
}

function writeRun(root: string, r: number, now: number): string {
	const started = new Date(now - (RUNS - r) * DAY);
	const runId = `${started.toISOString().slice(0, 10).replaceAll("-", "")}-030000-nightly`;
	const dir = path.join(root, runId);
	mkdirSync(dir, { recursive: true });
	// The kernels move every few nights, as kvm-x86/next and kvm/next do.
	const shas = KERNELS.map((k, i) => sha(`${k} ${Math.floor(r / (3 + i))}`));
	const cells = KERNELS.flatMap((k, i) => TARGETS.map((target) => ({ id: `${k}/${target}`, kernel: k, i, target })));
	const plan = {
		runId,
		matrix: "/etc/kvm-matrix/nightly.yaml",
		name: "nightly",
		resolved: Object.fromEntries(KERNELS.map((k, i) => [k, shas[i] as string])),
		cells: cells.map((c) => ({
			id: c.id,
			kernel: c.kernel,
			target: c.target,
			jobs: { kernel: `kernel:${c.kernel}`, selftests: `selftests:${c.kernel}` },
			needs: [`kernel:${c.kernel}`, `selftests:${c.kernel}`],
		})),
		jobs: KERNELS.flatMap((k, i) => {
			const [tree = "", ref = ""] = k.split("@");
			return [
				{ id: `kernel:${k}`, kind: "kernel-build", tree, ref, sha: shas[i], configKey: "tinyconfig+kvm_guest" },
				{ id: `selftests:${k}`, kind: "selftests-build", tree, ref, sha: shas[i] },
			];
		}),
	};
	const records: JournalRecord[] = [
		{
			type: "run-started",
			runId,
			at: started.toISOString(),
			cells: cells.map((c) => c.id),
			matrix: plan.matrix,
			matrixDigest: "0123456789abcdef",
			resolved: plan.resolved,
		},
	];
	for (const c of cells) {
		records.push({ type: "cell-build", cell: c.id, key: sha(`build ${shas[c.i]}`).slice(0, 20), cacheHit: r > 0 });
		const verdicts: [string, Verdict][] = [];
		for (let k = 0; k < TESTS; k++) {
			const status = statusOf(k, r, c.i);
			const result: TestResult = {
				suite: "selftests",
				testId: testId(k),
				status,
				durationMs: 150 + ((k * 7919) % 2_850),
				attempt: 1,
				logPath: path.join(dir, "cells", c.id.replace("/", "__"), `${testId(k).replace("/", "__")}.log`),
				...(status === "fail" ? { detail: "exit status 254" } : {}),
			};
			records.push({ type: "test-result", cell: c.id, result });
			if (status === "fail")
				verdicts.push([`selftests:${testId(k)}`, { verdict: "new-failure", evidence: { notes: [] } }]);
		}
		records.push({ type: "cell-state", cell: c.id, state: { stage: "done" }, at: started.getTime() + 3_600_000 });
		records.push({ type: "verdicts", cell: c.id, verdicts });
	}
	records.push({ type: "run-finished", outcome: "completed" });
	const text = `${records.map((x) => JSON.stringify(x)).join("\n")}\n`;
	if (r === 0) {
		const read = parseJournal(text);
		if (read.problems.length > 0 || read.records.length !== records.length)
			throw new Error(`the engine does not read the generated journal: ${read.problems.slice(0, 3).join("; ")}`);
	}
	writeFileSync(path.join(dir, "plan.json"), `${JSON.stringify(plan)}\n`);
	writeFileSync(path.join(dir, "journal.jsonl"), text);
	return dir;
}

const time = <T>(fn: () => T): [T, number] => {
	const t0 = performance.now();
	const value = fn();
	return [value, performance.now() - t0];
};
/** The median of `n` timings of `fn`, in ms. */
const median = (n: number, fn: () => unknown) => {
	const ms: number[] = [];
	for (let i = 0; i < n; i++) ms.push(time(fn)[1]);
	ms.sort((a, b) => a - b);
	return ms[Math.floor(n / 2)] as number;
};
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const msText = (ms: number) => `${ms.toFixed(1)} ms`;

// BENCH_HISTORY_KEEP=DIR: generate into DIR and keep it (to profile the indexing on it).
const keep = process.env.BENCH_HISTORY_KEEP;
const work = keep ?? mkdtempSync(path.join(os.tmpdir(), "bench-history-"));
try {
	const runs = path.join(work, "runs");
	const now = Date.now();
	const [, genMs] = time(() => {
		for (let r = 0; r < RUNS; r++) writeRun(runs, r, now);
	});
	console.log(`generated ${RUNS} runs × ${TESTS * KERNELS.length * TARGETS.length} results in ${s(genMs)}`);

	const dbFile = path.join(work, "cache", "history", "index.sqlite");
	const index = HistoryIndex.open(dbFile);
	const [cold, coldMs] = time(() => index.refresh([runs]));
	console.log(
		`index, cold:            ${s(coldMs)}  (${cold.indexed} runs read; ${(statSync(dbFile).size / 1e6).toFixed(0)} MB)`,
	);
	const [, warmMs] = time(() => index.refresh([runs]));
	console.log(`index, nothing new:     ${s(warmMs)}  (${RUNS} journals looked at)`);
	writeRun(runs, RUNS, now + DAY);
	const [one, oneMs] = time(() => index.refresh([runs]));
	console.log(`index, one new run:     ${s(oneMs)}  (${one.indexed} run read)`);

	const since = parseSince("30d", new Date(now + DAY));
	if (!since.ok) throw new Error(since.error);
	const queries: [string, () => unknown][] = [
		[`history ${testId(3)} (every run)`, () => timeline(index, [runs], `selftests:${testId(3)}`)],
		[
			`history ${testId(3)} --kernel kvm@next --target tcg`,
			() => timeline(index, [runs], `selftests:${testId(3)}`, { kernel: "kvm@next", target: "tcg" }),
		],
		[`history --first-failure ${testId(3)}`, () => firstFailures(timeline(index, [runs], `selftests:${testId(3)}`))],
		["history --flaky --since 30d", () => flakyTests(index, [runs], since.since)],
		["history --flaky (all runs)", () => flakyTests(index, [runs])],
	];
	for (const [name, fn] of queries) {
		const [answer] = time(fn);
		const size = Array.isArray(answer) ? ` (${answer.length} rows)` : "";
		console.log(`query ${name.padEnd(52)} ${msText(median(5, fn))}${size}`);
	}
	index.close();
} finally {
	if (keep === undefined) rmSync(work, { recursive: true, force: true });
}
