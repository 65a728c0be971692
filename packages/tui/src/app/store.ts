import type { CellState, EngineEvent, RunGrid, SuiteName, TestStatus } from "@kvm-matrix/orchestrator";
import { terminalSafe } from "../render/terminal-text.js";
import { Ring } from "./ring.js";

/** DESIGN.md's verdicts, worst first: the order a cell's colour and the failure filter use. */
export const VERDICTS = [
	"regression",
	"new-failure",
	"infra",
	"still-failing",
	"pending-fix",
	"flaky",
	"known",
] as const;
export type VerdictName = (typeof VERDICTS)[number];

export interface TestRow {
	readonly key: string;
	readonly suite: SuiteName;
	readonly testId: string;
	readonly status: TestStatus;
	readonly durationMs: number;
	readonly attempt: number;
	readonly detail?: string;
	readonly verdict?: VerdictName;
	readonly explanation?: string;
}

export interface CellRow {
	readonly id: string;
	readonly kernel: string;
	readonly target: string;
	readonly jobs: readonly string[];
	state: CellState;
	/** One row per test: its latest attempt. */
	readonly tests: Map<string, TestRow>;
	readonly log: Ring<string>;
	readonly notes: string[];
	accel?: "kvm" | "tcg";
}

export interface Progress {
	readonly step: string;
	readonly done: number;
	readonly total?: number;
	readonly unit: string;
}

export interface FailureRow {
	readonly cell: string;
	readonly test: TestRow;
}

const FAILING: ReadonlySet<TestStatus> = new Set(["fail", "timeout", "crash", "error"]);
const LOG_LINES = 400;

/**
 * Everything the TUI shows, kept up to date from engine events at O(1) per event (a log line is
 * a push into a ring). Views read it when they render, at most a few times a second; `version`
 * says whether anything changed since.
 */
export class RunStore {
	/** Bumped by every event. */
	version = 0;
	/** Bumped by events that change what a cell is (stage, results, verdicts), not by the stream
	 * of log lines and progress counts a build emits. */
	stateVersion = 0;
	runId = "";
	matrix = "";
	dir = "";
	startedAt: number | undefined;
	/** A resumed run: the results its journal already held when this process took over. */
	resumed: { readonly results: number; readonly cellsDone: number } | undefined;
	finishedAt: number | undefined;
	outcome: "completed" | "cancelled" | "failed" | undefined;
	kernels: RunGrid["kernels"] = [];
	targets: readonly string[] = [];
	readonly cells = new Map<string, CellRow>();
	readonly progress = new Map<string, Progress>();
	readonly jobLogs = new Map<string, Ring<string>>();
	/** Why a guest fell back to TCG, once per reason: worth a header line. */
	readonly warnings: string[] = [];

	apply(raw: EngineEvent): void {
		// Guest console lines, test output and commit subjects are outside text, shown on the terminal.
		const event = terminalSafe(raw);
		this.version++;
		if (event.type !== "log-line" && event.type !== "step-progress") this.stateVersion++;
		switch (event.type) {
			case "run-started":
				this.runId = event.runId;
				this.matrix = event.matrix;
				this.dir = event.dir;
				this.startedAt = event.at;
				this.resumed = event.resumed;
				this.kernels = event.grid.kernels;
				this.targets = event.grid.targets;
				for (const c of event.grid.cells) {
					this.cells.set(c.id, {
						...c,
						state: { stage: "queued" },
						tests: new Map(),
						log: new Ring(LOG_LINES),
						notes: [],
					});
				}
				break;
			case "cell-state": {
				const cell = this.cells.get(event.cellId);
				if (cell !== undefined) cell.state = event.state;
				break;
			}
			case "cell-note":
				this.cells.get(event.cellId)?.notes.push(event.text);
				break;
			case "cell-accel": {
				const cell = this.cells.get(event.cellId);
				if (cell !== undefined) cell.accel = event.accel;
				if (event.warning !== undefined && !this.warnings.includes(event.warning)) this.warnings.push(event.warning);
				break;
			}
			case "step-progress":
				this.progress.set(event.subject.id, {
					step: event.step,
					done: event.done,
					...(event.total === undefined ? {} : { total: event.total }),
					unit: event.unit,
				});
				break;
			case "log-line": {
				if (event.subject.kind === "cell") this.cells.get(event.subject.id)?.log.push(event.line);
				else {
					let ring = this.jobLogs.get(event.subject.id);
					if (ring === undefined) {
						ring = new Ring(LOG_LINES);
						this.jobLogs.set(event.subject.id, ring);
					}
					ring.push(event.line);
				}
				break;
			}
			case "test-result": {
				const cell = this.cells.get(event.cellId);
				const r = event.result;
				const key = `${r.suite}:${r.testId}`;
				cell?.tests.set(key, {
					key,
					suite: r.suite,
					testId: r.testId,
					status: r.status,
					durationMs: r.durationMs,
					attempt: r.attempt,
					...(r.detail === undefined ? {} : { detail: r.detail }),
				});
				cell?.log.push(`${r.status.toUpperCase()} ${r.testId} (${(r.durationMs / 1000).toFixed(1)}s)`);
				break;
			}
			case "verdicts": {
				const cell = this.cells.get(event.cellId);
				for (const v of event.verdicts) {
					const key = `${v.suite}:${v.testId}`;
					const row = cell?.tests.get(key);
					if (row !== undefined && isVerdict(v.verdict))
						cell?.tests.set(key, { ...row, verdict: v.verdict, explanation: v.explanation });
				}
				break;
			}
			case "run-finished":
				this.finishedAt = event.at;
				this.outcome = event.outcome;
				break;
		}
	}

	/** Pass/fail/skip... counts of a cell's tests as they stand. */
	counts(cell: CellRow): Record<TestStatus, number> {
		const counts: Record<TestStatus, number> = { pass: 0, fail: 0, skip: 0, timeout: 0, crash: 0, error: 0 };
		for (const t of cell.tests.values()) counts[t.status]++;
		return counts;
	}

	/** The worst verdict among a cell's tests, or undefined when nothing needs one. */
	worstVerdict(cell: CellRow): VerdictName | undefined {
		let worst: number | undefined;
		for (const t of cell.tests.values()) {
			if (t.verdict === undefined) continue;
			const rank = VERDICTS.indexOf(t.verdict);
			if (worst === undefined || rank < worst) worst = rank;
		}
		return worst === undefined ? undefined : VERDICTS[worst];
	}

	/** Every result that needs a look: failing ones, and any with a verdict (a flaky pass). */
	failures(filter?: VerdictName): FailureRow[] {
		const rows: FailureRow[] = [];
		for (const cell of this.cells.values()) {
			for (const test of cell.tests.values()) {
				if (!FAILING.has(test.status) && test.verdict === undefined) continue;
				if (filter !== undefined && test.verdict !== filter) continue;
				rows.push({ cell: cell.id, test });
			}
		}
		return rows;
	}

	/** What the cell is doing: the progress of the job it waits on, if any reports progress. */
	cellProgress(cell: CellRow): Progress | undefined {
		if (cell.state.stage !== "build" && cell.state.stage !== "checkout") return undefined;
		for (const job of cell.jobs) {
			const p = this.progress.get(job);
			if (p !== undefined && (p.total === undefined || p.done < p.total)) return p;
		}
		return undefined;
	}

	/** The lines the log pane shows for a cell: its build's while building, its console after. */
	logOf(cell: CellRow, lines: number): string[] {
		const building = cell.state.stage === "build" || cell.state.stage === "checkout" || cell.state.stage === "queued";
		if (building) {
			for (const job of [...cell.jobs].reverse()) {
				const ring = this.jobLogs.get(job);
				if (ring !== undefined && ring.size > 0) return ring.last(lines);
			}
		}
		return cell.log.last(lines);
	}

	/** `tcg`, `kvm`, or `kvm 2 · tcg 1`: the accelerators the run's guests got so far. */
	accelerators(): string {
		const counts = new Map<string, number>();
		for (const c of this.cells.values()) if (c.accel !== undefined) counts.set(c.accel, (counts.get(c.accel) ?? 0) + 1);
		if (counts.size <= 1) return [...counts.keys()][0] ?? "";
		return [...counts].map(([a, n]) => `${a} ${n}`).join(" · ");
	}

	/** The slowest tests of the run, for the summary. */
	slowest(n: number): FailureRow[] {
		const all: FailureRow[] = [];
		for (const cell of this.cells.values()) for (const test of cell.tests.values()) all.push({ cell: cell.id, test });
		return all.sort((a, b) => b.test.durationMs - a.test.durationMs).slice(0, n);
	}
}

function isVerdict(v: string): v is VerdictName {
	return (VERDICTS as readonly string[]).includes(v);
}
