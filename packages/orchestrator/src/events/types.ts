/** Stages a cell goes through, in order (DESIGN.md, "Cell life cycle"). */
export const CELL_STAGES = [
	"queued",
	"checkout",
	"build",
	"boot",
	"running",
	"collecting",
	"classified",
	"done",
] as const;
export type CellStage = (typeof CELL_STAGES)[number];

/** Where a cell is: a stage, or stopped with the stage it stopped in. */
export type CellState =
	| { readonly stage: CellStage }
	| { readonly stage: "failed"; readonly failedIn: CellStage; readonly reason: string }
	| { readonly stage: "cancelled"; readonly cancelledIn: CellStage };

export type TestStatus = "pass" | "fail" | "skip" | "timeout" | "crash" | "error";
export type SuiteName = "selftests" | "kut";

export interface TestResult {
	readonly suite: SuiteName;
	/** `x86/xapic_state_test` for a selftest, the unittests.cfg name for KUT. */
	readonly testId: string;
	readonly status: TestStatus;
	readonly durationMs: number;
	readonly attempt: number;
	readonly logPath?: string;
	/** Why, in a few words: "exit status 1", "killed by signal 11", the panic headline. */
	readonly detail?: string;
	/** TAP subtests the test printed (kselftest_harness). */
	readonly subtests?: readonly { readonly name: string; readonly status: "pass" | "fail" | "skip" }[];
	/** kvm-unit-tests' SUMMARY counts for this test. */
	readonly checks?: {
		readonly tests: number;
		readonly unexpectedFailures: number;
		readonly knownFailures: number;
		readonly expectedFailures: number;
		readonly skipped: number;
	};
	/** Not run again by the matrix's retries: its machine went down under it, and would again. */
	readonly noRetry?: true;
}

/** Rows, columns and what each cell waits on. */
export interface RunGrid {
	readonly kernels: readonly { readonly id: string; readonly label: string; readonly sha?: string }[];
	readonly targets: readonly string[];
	readonly cells: readonly {
		readonly id: string;
		readonly kernel: string;
		readonly target: string;
		/** The shared jobs (checkouts, builds) this cell needs: their progress is the cell's. */
		readonly jobs: readonly string[];
	}[];
}

/** What an event is about: a shared job (a build) or one cell. */
export type Subject = { readonly kind: "job"; readonly id: string } | { readonly kind: "cell"; readonly id: string };

export type RunOutcome = "completed" | "cancelled" | "failed";

/** Everything the engine tells the views. Views only ever receive these; they never call in. */
export type EngineEvent =
	| {
			readonly type: "run-started";
			readonly at: number;
			readonly runId: string;
			readonly matrix: string;
			readonly cells: readonly string[];
			readonly jobs: readonly string[];
			/** The matrix as a grid, so a view can lay it out before anything happens. */
			readonly grid: RunGrid;
			readonly dir: string;
			/** A resumed run: what its journal already held (replayed as events right after this one). */
			readonly resumed?: { readonly results: number; readonly cellsDone: number };
			/** `--changed-since`: the earlier run, the tips that moved, the cells carried from it. */
			readonly changedSince?: {
				readonly runId: string;
				readonly moved: readonly { readonly ref: string; readonly from?: string; readonly to: string }[];
				readonly carried: readonly string[];
			};
	  }
	| {
			/** Something worth telling about a cell: a cache hit, a TCG fallback, a guest that died. */
			readonly type: "cell-note";
			readonly at: number;
			readonly cellId: string;
			readonly text: string;
	  }
	| {
			/** The accelerator a cell's guests run on; a TCG fallback says why. */
			readonly type: "cell-accel";
			readonly at: number;
			readonly cellId: string;
			readonly accel: "kvm" | "tcg";
			readonly warning?: string;
	  }
	| {
			/** The run's verdicts, once every cell is final. */
			readonly type: "verdicts";
			readonly at: number;
			readonly cellId: string;
			readonly verdicts: readonly {
				readonly suite: SuiteName;
				readonly testId: string;
				readonly verdict: string;
				readonly explanation: string;
			}[];
	  }
	| {
			readonly type: "run-finished";
			readonly at: number;
			readonly runId: string;
			readonly outcome: RunOutcome;
			readonly reason?: string;
	  }
	| { readonly type: "cell-state"; readonly at: number; readonly cellId: string; readonly state: CellState }
	| {
			readonly type: "step-progress";
			readonly at: number;
			readonly subject: Subject;
			readonly step: string;
			readonly done: number;
			/** Unknown until the step learns it (a first build has no object count to compare with). */
			readonly total?: number;
			readonly unit: string;
	  }
	| {
			readonly type: "log-line";
			readonly at: number;
			readonly subject: Subject;
			readonly stream: "build" | "console" | "test" | "engine";
			readonly line: string;
	  }
	| { readonly type: "test-result"; readonly at: number; readonly cellId: string; readonly result: TestResult };

export type EngineEventType = EngineEvent["type"];
