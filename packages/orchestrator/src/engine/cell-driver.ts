// Drives the cell machines of one run: one per cell (skipping what a resumed run already has),
// plus the retries a view asks for while the run goes on. Every state change goes to the journal
// first and then to the views.
import { type Actor, createActor } from "xstate";
import { type FinalResult, isFailing, testKey } from "../events/attempts.js";
import type { CellStage } from "../events/types.js";
import { type CellContext, cellStateOf, type createCellMachine } from "./cell-machine.js";
import type { RunContext } from "./context.js";
import { BUILD_TIMEOUT_MS } from "./jobs.js";
import { cellSettled, finalResults, type RunRecord } from "./run-record.js";

type CellMachine = ReturnType<typeof createCellMachine>;

export interface CellDriver {
	/** Runs every cell that is not settled yet, then every retry asked for meanwhile. */
	readonly runAll: () => Promise<void>;
	/** Cancels every cell machine that still runs. */
	readonly cancelAll: () => void;
	/** A view's retry: the cell's failing tests (or one test), as the next attempt, in this run. */
	readonly retry: (cellId: string, test?: string) => string;
}

export function createCellDriver(
	ctx: RunContext,
	machine: CellMachine,
	/** What the journal knew when this run (or this resume) began. */
	before: RunRecord,
	/** Everything journaled so far, read again when a retry needs the results. */
	current: () => RunRecord,
): CellDriver {
	const actors = new Map<string, Actor<CellMachine>>();
	const ends = new Map<string, CellContext & { value: unknown }>();
	const retries = new Set<Promise<void>>();
	const queuedRetries = new Map<string, string | undefined>();
	const lastStages = new Map<string, CellStage>();

	const launch = (
		cellId: string,
		extra: { only?: readonly string[]; skip?: readonly string[]; firstAttempt?: number; retries?: number } = {},
	) => {
		const isRetry = extra.firstAttempt !== undefined && extra.only !== undefined;
		const actor = createActor(machine, {
			input: {
				cellId,
				// The build job kills make at its own timeout; this is the machine's backstop.
				buildTimeoutMs: BUILD_TIMEOUT_MS + 60_000,
				maxBootAttempts: 2,
				retries: isRetry ? 0 : ctx.matrix.retries,
				...extra,
			},
		});
		actors.set(cellId, actor);
		let lastStage: CellStage = lastStages.get(cellId) ?? "queued";
		let lastKey = "";
		return new Promise<void>((resolve) => {
			actor.subscribe((snapshot) => {
				const state = cellStateOf(snapshot.value, snapshot.context, lastStage);
				const key = JSON.stringify(state);
				if (key !== lastKey) {
					lastKey = key;
					if (state.stage !== "failed" && state.stage !== "cancelled") lastStage = state.stage;
					const at = Date.now();
					ctx.runDir.append({
						type: "cell-state",
						cell: cellId,
						state,
						// When: what a cell takes is what `ci plan` balances shards by.
						at,
						...(state.stage === "failed" && snapshot.context.failure !== undefined
							? { failure: snapshot.context.failure }
							: {}),
						...(isRetry ? { retry: true as const } : {}),
					});
					ctx.bus.emit({ type: "cell-state", at, cellId, state });
				}
				if (snapshot.status !== "done") return;
				lastStages.set(cellId, lastStage);
				if (!isRetry) ends.set(cellId, { ...snapshot.context, value: snapshot.value });
				else if (snapshot.value !== "done")
					// A retry adds its attempts; the cell stays done even if the retry's guest did not start.
					ctx.note(cellId, `a retry asked for from the view ended ${String(snapshot.value)}`);
				resolve();
				if (queuedRetries.has(cellId)) {
					const queued = queuedRetries.get(cellId);
					queuedRetries.delete(cellId);
					retry(cellId, queued);
				}
			});
			actor.start();
			actor.send({ type: "START" });
		});
	};

	const endOf = (cellId: string) => ends.get(cellId)?.value ?? before.byCell.get(cellId)?.end?.state;

	const retry = (cellId: string, test?: string): string => {
		if (!ctx.cells.some((c) => c.id === cellId)) return `retry: no cell ${cellId}`;
		if (ctx.signal.aborted) return "retry: the run is being cancelled";
		const end = endOf(cellId);
		const actor = actors.get(cellId);
		if (end === undefined || (actor !== undefined && actor.getSnapshot().status !== "done")) {
			queuedRetries.set(cellId, test);
			return `retry: ${cellId} is still running; its ${test ?? "failing tests"} will run again when it ends`;
		}
		if (end !== "done") return `retry: ${cellId} ${String(end)} before its tests ran; nothing to retry`;
		// The journal has every attempt, this run's and a killed run's before it.
		const known = current().byCell.get(cellId);
		const attempts = known?.attempts ?? [];
		const only = test === undefined ? finalResults(known).filter(isFailing).map(testKey) : [test];
		if (only.length === 0) return `retry: nothing failed in ${cellId}`;
		const firstAttempt = Math.max(0, ...attempts.map((r) => r.attempt)) + 1;
		const done = launch(cellId, { only, firstAttempt });
		retries.add(done);
		void done.then(() => retries.delete(done));
		return `retry: running ${only.length === 1 ? only[0] : `${only.length} tests`} of ${cellId} again (attempt ${firstAttempt})`;
	};

	/**
	 * Failing tests a killed run had not retried yet get the retries they had left, numbered after
	 * their last attempt, as the uninterrupted run would have run them.
	 */
	const retryKept = async (cellId: string, kept: readonly FinalResult[]) => {
		const total = 1 + ctx.matrix.retries;
		const owed = kept.filter((r) => isFailing(r) && r.attempt < total && r.noRetry !== true);
		if (owed.length === 0) return;
		const firstAttempt = Math.max(...owed.map((r) => r.attempt)) + 1;
		await launch(cellId, { only: owed.map(testKey), firstAttempt, retries: total - firstAttempt });
	};

	let all: Promise<void> | undefined;
	const runAll = () => {
		all ??= (async () => {
			const launched: Promise<void>[] = [];
			for (const c of ctx.cells) {
				const known = before.byCell.get(c.id);
				if (cellSettled(known)) continue;
				const kept = finalResults(known);
				const skip = kept.map(testKey);
				launched.push(
					(async () => {
						await launch(c.id, skip.length === 0 ? {} : { skip });
						if (ends.get(c.id)?.value === "done") await retryKept(c.id, kept);
					})(),
				);
			}
			await Promise.all(launched);
			// Retries asked for while the run went on are part of it.
			while (retries.size > 0) await Promise.all([...retries]);
		})();
		return all;
	};

	return {
		runAll,
		cancelAll: () => {
			for (const actor of actors.values()) actor.send({ type: "CANCEL" });
		},
		retry,
	};
}
