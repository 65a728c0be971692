// A run directory as `kvm-matrix run` (or `ci run --shard K/N`) leaves it, written without running
// anything: plan.json, journal.jsonl (every record the engine writes, in its order: the cell's
// stages with their times, the shared jobs, the build, each test's attempts, the retry of every
// failing test, the run's own verdicts), results.json derived from that journal by the engine's
// own code, and a log per attempt with the guest's boot directory. The journal is read back with
// the engine's parser before anything is kept: a record it would drop is an error here.
import { linkSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseJournal } from "@kvm-matrix/orchestrator";
import type { JournalRecord, ShardRecord } from "../../packages/orchestrator/src/engine/journal.js";
import { foldJournal } from "../../packages/orchestrator/src/engine/run-record.js";
import { resultsDocument, summariseCells } from "../../packages/orchestrator/src/engine/summary.js";
import type { TestResult } from "../../packages/orchestrator/src/events/types.js";
import type { Verdict } from "../../packages/orchestrator/src/verdicts/classify.js";
import { testId } from "./history.js";
import type { Failure } from "./stories.js";

export interface CellRun {
	readonly id: string;
	readonly kernelId: string;
	readonly target: string;
	/** The kernel's commit, as the run resolved it. */
	readonly sha: string;
	readonly tests: readonly number[];
	readonly failure: (k: number) => Failure | undefined;
}

/** The parts of plan.json the journal's job records follow. */
export interface PlanJson {
	readonly cells: readonly { readonly id: string; readonly needs: readonly string[] }[];
	readonly jobs: readonly { readonly id: string; readonly kind: string; readonly sha?: string }[];
	readonly [key: string]: unknown;
}

export interface RunSpec {
	readonly dir: string;
	readonly runId: string;
	/** The matrix's name, as results.json records it. */
	readonly name: string;
	readonly started: Date;
	readonly matrixFile: string;
	readonly matrixDigest: string;
	readonly resolved: Readonly<Record<string, string>>;
	readonly plan: PlanJson;
	readonly cells: readonly CellRun[];
	readonly shard?: ShardRecord;
	/** An initramfs image to hard-link into every boot directory (a real one is about 1.4 MB). */
	readonly initrd: string;
	/** The cache the run would have used: the checkout jobs name their worktrees in it. */
	readonly cacheRoot: string;
}

const durationOf = (k: number, f: Failure | undefined, attempt: number) =>
	f !== undefined && (attempt === 1 ? f.status : f.retry) === "timeout"
		? 120_000
		: 150 + ((k * 7919 + attempt * 613) % 2_850);
const hex20 = (text: string) => {
	let h = 0x811c9dc5;
	for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
	return ((h >>> 0).toString(16).padStart(8, "0") + text.length.toString(16).padStart(4, "0")).repeat(2).slice(0, 20);
};

/** What the selftest printed: a pass's last lines, or an assertion failure as kvm_util reports it. */
function logText(k: number, status: TestResult["status"]): string {
	const id = testId(k);
	const seed = `Random seed: 0x${((k * 2654435761) >>> 0).toString(16)}\n`;
	if (status === "pass") return `${seed}# ${id}: all ${1 + (k % 7)} checks passed\n`;
	const assertion = `==== Test Assertion Failure ====\n  ${id}.c:${40 + (k % 200)}: r == 0\n  pid=${1000 + (k % 30_000)} tid=${1000 + (k % 30_000)} errno=22 - Invalid argument\n     1\t0x0000000000402b63: main at ${path.basename(id)}.c:${40 + (k % 200)}\n  KVM_RUN failed, rc: -1 errno: 22\n`;
	return status === "timeout" ? `${seed}kvm-matrix: killed after 120 s\n` : `${seed}${assertion}`;
}

interface Attempted {
	readonly k: number;
	readonly status: TestResult["status"];
	readonly ms: number;
}

/** One boot of the guest for one attempt: its console, the result channel's log and records, the initramfs. */
function writeBootDir(dir: string, spec: RunSpec, attempted: readonly Attempted[], nonce: string): void {
	mkdirSync(dir, { recursive: true });
	linkSync(spec.initrd, path.join(dir, "initrd.img"));
	const lines = attempted.map((a) => `kvm-matrix: selftest ${testId(a.k)}\n${logText(a.k, a.status)}`).join("");
	writeFileSync(path.join(dir, "console.log"), `Linux version 6.12.0 (kvm-matrix)\n${lines}`);
	const channel = attempted
		.map(
			(a, i) => `{"t":"start","i":${i}}\n{"t":"end","i":${i},"status":${a.status === "pass" ? 0 : 254},"ms":${a.ms}}\n`,
		)
		.join("");
	writeFileSync(path.join(dir, "channel-results.log"), channel);
	writeFileSync(
		path.join(dir, "records.jsonl"),
		`{"nonce":"${nonce}","t":"init"}\n{"nonce":"${nonce}","t":"start","output":"virtio","channels":" results"}\n{"nonce":"${nonce}","t":"exit","status":0}\n`,
	);
}

/** Writes the run directory `spec` describes; returns how many journal records it holds. */
export function writeRunDirectory(spec: RunSpec): number {
	const records: JournalRecord[] = [];
	let now = spec.started.getTime();
	const tick = (ms: number) => {
		now += ms;
		return now;
	};
	records.push({
		type: "run-started",
		runId: spec.runId,
		at: spec.started.toISOString(),
		cells: spec.cells.map((c) => c.id),
		matrix: spec.matrixFile,
		matrixDigest: spec.matrixDigest,
		resolved: spec.resolved,
		...(spec.shard === undefined ? {} : { shard: spec.shard }),
	});
	const jobs = new Map(spec.plan.jobs.map((j) => [j.id, j]));
	const finished = new Set<string>();
	const finishJobs = (cell: string, kinds: readonly string[]) => {
		const needs = spec.plan.cells.find((c) => c.id === cell)?.needs ?? [];
		for (const id of needs) {
			const job = jobs.get(id);
			if (job === undefined || !kinds.includes(job.kind) || finished.has(id)) continue;
			finished.add(id);
			const ms = job.kind === "checkout" ? 2_400 : job.kind === "kernel-build" ? 612_000 : 95_000;
			const detail =
				job.kind === "checkout"
					? `worktree ${path.join(spec.cacheRoot, "worktrees", job.sha ?? id)}`
					: job.kind === "kernel-build"
						? `built kernel ${hex20(id)} in ${Math.round(ms / 1000)} s`
						: "built 10000 selftests";
			records.push({ type: "job-finished", job: id, ok: true, detail, ms: ms + (tick(ms) % 1000) });
		}
	};
	const verdicts: JournalRecord[] = [];
	for (const cell of spec.cells) {
		const state = (stage: "queued" | "checkout" | "build" | "boot" | "running" | "done") =>
			records.push({ type: "cell-state", cell: cell.id, state: { stage }, at: tick(40) });
		const cellDir = path.join(spec.dir, "cells", cell.id.replaceAll("/", "__"), "selftests");
		state("queued");
		state("checkout");
		finishJobs(cell.id, ["checkout"]);
		state("build");
		finishJobs(cell.id, ["kernel-build", "selftests-build"]);
		records.push({ type: "cell-build", cell: cell.id, key: hex20(`${cell.kernelId} build`), cacheHit: false });
		const perTest: [string, Verdict][] = [];
		const attempt = (n: 1 | 2, tests: readonly number[]) => {
			const dir = n === 1 ? cellDir : path.join(cellDir, `attempt-${n}`);
			mkdirSync(dir, { recursive: true });
			state("boot");
			tick(9_000);
			state("running");
			const attempted: Attempted[] = [];
			for (const k of tests) {
				const failure = cell.failure(k);
				const status = failure === undefined ? "pass" : n === 1 ? failure.status : failure.retry;
				const ms = durationOf(k, failure, n);
				const logPath = path.join(dir, `${testId(k).replaceAll("/", "__")}.log`);
				writeFileSync(logPath, logText(k, status));
				const result: TestResult = {
					suite: "selftests",
					testId: testId(k),
					status,
					durationMs: ms,
					attempt: n,
					logPath,
					...(status === "pass" || failure === undefined ? {} : { detail: failure.detail }),
				};
				tick(ms);
				records.push({ type: "test-result", cell: cell.id, result });
				attempted.push({ k, status, ms });
			}
			writeBootDir(path.join(dir, "boot-1"), spec, attempted, hex20(`${cell.id} ${n}`).padEnd(32, "0"));
			return attempted;
		};
		attempt(1, cell.tests);
		records.push({ type: "cell-accel", cell: cell.id, accel: "tcg" });
		const retried = attempt(
			2,
			cell.tests.filter((k) => cell.failure(k) !== undefined),
		);
		state("done");
		// The run's own verdicts saw only its own cells (a shard: no baseline, no other kernel).
		for (const r of retried)
			perTest.push([
				`selftests:${testId(r.k)}`,
				r.status === "pass"
					? { verdict: "flaky", evidence: { attempts: [cell.failure(r.k)?.status ?? "fail", "pass"] } }
					: { verdict: "new-failure", evidence: { notes: [] } },
			]);
		verdicts.push({ type: "verdicts", cell: cell.id, verdicts: perTest });
	}
	records.push(...verdicts, { type: "run-finished", outcome: "completed" });

	const text = `${records.map((r) => JSON.stringify(r)).join("\n")}\n`;
	const read = parseJournal(text);
	if (read.problems.length > 0 || read.records.length !== records.length)
		throw new Error(
			`${spec.dir}: the engine does not read the generated journal: ${read.problems.slice(0, 3).join("; ")}`,
		);
	writeFileSync(path.join(spec.dir, "journal.jsonl"), text);
	writeFileSync(path.join(spec.dir, "plan.json"), `${JSON.stringify(spec.plan, null, 2)}\n`);
	const cells = summariseCells(
		spec.cells.map((c) => ({ id: c.id, kernel: c.kernelId, target: c.target, sha: c.sha })),
		foldJournal(records),
	);
	const head = {
		runId: spec.runId,
		matrix: spec.name,
		started: spec.started.toISOString(),
		finished: new Date(now).toISOString(),
	};
	writeFileSync(
		path.join(spec.dir, "results.json"),
		`${JSON.stringify(resultsDocument(head, "completed", cells), null, 2)}\n`,
	);
	return records.length;
}
