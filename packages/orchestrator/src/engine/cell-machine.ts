import { assign, fromCallback, fromPromise, setup } from "xstate";
import { failingInAttempt } from "../events/attempts.js";
import type { CellStage, CellState, TestResult } from "../events/types.js";
import { ConnectionLostError } from "../remote/shell.js";
import { KvmParamsError } from "./kvm-params.js";

/** What a cell's build stage hands to its VM stage. */
export interface PreparedCell {
	readonly kernel: { readonly image: string; readonly modulesDir?: string };
	readonly notes: readonly string[];
}

/** How the VM stage ended: every selected test has a result, or the boot could not start at all. */
export type SuitesOutcome =
	| { readonly ok: true }
	| {
			readonly ok: false;
			readonly reason: string;
			readonly infra: boolean;
			/** Trying again cannot help (a parameter set the machine refused): no second boot. */
			readonly final?: true;
			/** Something outside the cell stopped it (a lost connection): `resume` runs what remains. */
			readonly resumable?: true;
	  };

export type SuitesEvent =
	| { readonly type: "RUNNING" }
	| { readonly type: "RESULT"; readonly result: TestResult }
	| { readonly type: "SUITES_DONE"; readonly outcome: SuitesOutcome };

export type CellEvent = { readonly type: "START" } | { readonly type: "CANCEL" } | SuitesEvent;

export interface CellContext {
	readonly cellId: string;
	readonly prepared?: PreparedCell;
	readonly results: readonly TestResult[];
	/** Guests started so far (first runs, boot retries, test retries): each gets its own log directory. */
	readonly bootAttempts: number;
	readonly maxBootAttempts: number;
	/** The test attempt under way: 1, then 2... for the failing tests a retry runs again. */
	readonly attempt: number;
	readonly maxAttempts: number;
	/** The tests this attempt runs (`suite:testId`); all selected tests when absent. */
	readonly only?: readonly string[];
	/** Tests whose results the journal already has (a resumed cell): never run again. */
	readonly skip?: readonly string[];
	readonly failure?: {
		readonly stage: CellStage;
		readonly reason: string;
		readonly evidence: readonly string[];
		readonly resumable?: true;
	};
	readonly buildTimeoutMs: number;
}

/** One pass of the VM stage: which guest this is, which test attempt, and which tests. */
export interface SuitesPass {
	readonly cellId: string;
	readonly prepared: PreparedCell;
	/** 1 for the first guest, counting boot retries and test retries; names log directories. */
	readonly pass: number;
	/** The attempt number the results of this pass carry. */
	readonly attempt: number;
	/** Only these tests (`suite:testId`); every selected test when absent. */
	readonly only?: readonly string[];
	/** Never these tests: their results are already journaled. */
	readonly skip?: readonly string[];
}

/** The work each stage does; the run supplies them, tests can supply their own. */
export interface CellActors {
	readonly checkout: (cellId: string, signal: AbortSignal) => Promise<void>;
	readonly build: (cellId: string, signal: AbortSignal) => Promise<PreparedCell>;
	readonly suites: (pass: SuitesPass, send: (event: SuitesEvent) => void, signal: AbortSignal) => Promise<void>;
}

/** An error a stage throws with the lines that explain it (the compiler's first errors, a QEMU message). */
export class StageError extends Error {
	constructor(
		message: string,
		readonly evidence: readonly string[] = [],
	) {
		super(message);
	}
}

/**
 * The machine's own trouble, not the cell's (its disk is full): the cell ends cancelled, to run
 * again on resume, instead of failed, which would keep its missing tests missing for good.
 */
export class CellInterruptedError extends Error {
	override readonly name = "CellInterruptedError";
}
const interrupted = ({ event }: { event: { error?: unknown } }) => event.error instanceof CellInterruptedError;

const failureFrom = (stage: CellStage, error: unknown) => ({
	stage,
	reason: error instanceof Error ? error.message : String(error),
	evidence: error instanceof StageError ? error.evidence : [],
});

/**
 * A cell's life (DESIGN.md): queued → checkout → build → boot → running → done, with failed and
 * cancelled reachable from every stage. The stage work is in actors; a stage timeout is an
 * `after` transition, a retried boot is a guarded transition back into `vm`.
 */
export function createCellMachine(actors: CellActors) {
	return setup({
		types: {
			context: {} as CellContext,
			events: {} as CellEvent,
			input: {} as {
				cellId: string;
				buildTimeoutMs: number;
				maxBootAttempts: number;
				retries: number;
				/** A retry asked for later (from a view): these tests only, numbered from this attempt. */
				only?: readonly string[];
				skip?: readonly string[];
				firstAttempt?: number;
			},
		},
		actors: {
			checkout: fromPromise<void, { cellId: string }>(({ input, signal }) => actors.checkout(input.cellId, signal)),
			build: fromPromise<PreparedCell, { cellId: string }>(({ input, signal }) => actors.build(input.cellId, signal)),
			suites: fromCallback<CellEvent, SuitesPass>(({ input, sendBack }) => {
				const controller = new AbortController();
				actors.suites(input, sendBack, controller.signal).then(
					() => sendBack({ type: "SUITES_DONE", outcome: { ok: true } }),
					(error: unknown) =>
						sendBack(
							error instanceof CellInterruptedError
								? { type: "CANCEL" }
								: {
										type: "SUITES_DONE",
										outcome: {
											ok: false,
											reason: error instanceof Error ? error.message : String(error),
											infra: true,
											...(error instanceof KvmParamsError ? { final: true as const } : {}),
											...(error instanceof ConnectionLostError ? { resumable: true as const } : {}),
										},
									},
						),
				);
				return () => controller.abort();
			}),
		},
		guards: {
			suitesOk: ({ event }) => event.type === "SUITES_DONE" && event.outcome.ok,
			// Failing tests run again, alone, until they pass or the matrix's retries are spent.
			canRetryTests: ({ context, event }) =>
				event.type === "SUITES_DONE" &&
				event.outcome.ok &&
				context.attempt < context.maxAttempts &&
				failingInAttempt(context.results, context.attempt).length > 0,
			// A retry whose guest could not start leaves the first attempt's results standing.
			isRetry: ({ context }) => context.attempt > 1,
			// A boot that failed before any test ran (QEMU error, boot failure) is retried once.
			canRetryBoot: ({ context, event }) =>
				event.type === "SUITES_DONE" &&
				!event.outcome.ok &&
				event.outcome.final !== true &&
				context.results.length === 0 &&
				context.bootAttempts < context.maxBootAttempts,
		},
		delays: {
			buildTimeout: ({ context }) => context.buildTimeoutMs,
		},
	}).createMachine({
		id: "cell",
		context: ({ input }) => ({
			cellId: input.cellId,
			results: [],
			bootAttempts: 0,
			maxBootAttempts: input.maxBootAttempts,
			attempt: input.firstAttempt ?? 1,
			maxAttempts: (input.firstAttempt ?? 1) + input.retries,
			...(input.only === undefined ? {} : { only: input.only }),
			...(input.skip === undefined ? {} : { skip: input.skip }),
			buildTimeoutMs: input.buildTimeoutMs,
		}),
		initial: "queued",
		on: { CANCEL: ".cancelled" },
		states: {
			queued: { on: { START: "checkout" } },
			checkout: {
				invoke: {
					src: "checkout",
					input: ({ context }) => ({ cellId: context.cellId }),
					onDone: "build",
					onError: [
						{ guard: interrupted, target: "cancelled" },
						{ target: "failed", actions: assign({ failure: ({ event }) => failureFrom("checkout", event.error) }) },
					],
				},
			},
			build: {
				invoke: {
					src: "build",
					input: ({ context }) => ({ cellId: context.cellId }),
					onDone: { target: "vm", actions: assign({ prepared: ({ event }) => event.output }) },
					onError: [
						{ guard: interrupted, target: "cancelled" },
						{ target: "failed", actions: assign({ failure: ({ event }) => failureFrom("build", event.error) }) },
					],
				},
				after: {
					buildTimeout: {
						target: "failed",
						actions: assign({
							failure: ({ context }) => ({
								stage: "build" as const,
								reason: `build not finished after ${Math.round(context.buildTimeoutMs / 60_000)} min`,
								evidence: [],
							}),
						}),
					},
				},
			},
			vm: {
				entry: assign({ bootAttempts: ({ context }) => context.bootAttempts + 1 }),
				invoke: {
					src: "suites",
					input: ({ context }) => ({
						cellId: context.cellId,
						prepared: context.prepared ?? { kernel: { image: "" }, notes: [] },
						pass: context.bootAttempts,
						attempt: context.attempt,
						...(context.only === undefined ? {} : { only: context.only }),
						...(context.skip === undefined ? {} : { skip: context.skip }),
					}),
				},
				initial: "boot",
				states: {
					boot: { on: { RUNNING: "running" } },
					running: {},
				},
				on: {
					RESULT: { actions: assign({ results: ({ context, event }) => [...context.results, event.result] }) },
					SUITES_DONE: [
						{
							guard: "canRetryTests",
							target: "vm",
							reenter: true,
							actions: assign({
								only: ({ context }) => failingInAttempt(context.results, context.attempt),
								attempt: ({ context }) => context.attempt + 1,
							}),
						},
						{ guard: "suitesOk", target: "done" },
						{ guard: "canRetryBoot", target: "vm", reenter: true },
						{ guard: "isRetry", target: "done" },
						{
							target: "failed",
							actions: assign({
								failure: ({ event }) => ({
									stage: "boot" as const,
									reason: event.outcome.ok ? "" : event.outcome.reason,
									evidence: [],
									...(!event.outcome.ok && event.outcome.resumable === true ? { resumable: true as const } : {}),
								}),
							}),
						},
					],
				},
			},
			done: { type: "final" },
			failed: { type: "final" },
			cancelled: { type: "final" },
		},
	});
}

/** The view of a machine snapshot that events carry. */
export function cellStateOf(value: unknown, context: CellContext, lastStage: CellStage): CellState {
	if (value === "failed") {
		return {
			stage: "failed",
			failedIn: context.failure?.stage ?? lastStage,
			reason: context.failure?.reason ?? "failed",
		};
	}
	if (value === "cancelled") return { stage: "cancelled", cancelledIn: lastStage };
	if (typeof value === "object" && value !== null && "vm" in value) {
		return { stage: (value as { vm: string }).vm === "running" ? "running" : "boot" };
	}
	return { stage: value as CellStage };
}
