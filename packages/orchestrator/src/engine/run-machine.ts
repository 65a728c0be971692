// The run's own life (DESIGN.md): running until every cell is final, then classifying, then
// finished; a CANCEL while running stops every cell and skips classification (a resume does it).
import { assign, createActor, fromPromise, setup } from "xstate";

export interface RunWork {
	/** Every cell to its end (and the retries asked for meanwhile). */
	readonly cells: () => Promise<void>;
	/** Verdicts for what the cells learnt. */
	readonly classify: () => Promise<void>;
	/** Stop every cell and clear the queues; `cells` then settles. */
	readonly cancel: () => void;
}

export type RunOutcome = "completed" | "cancelled";

export function createRunMachine(work: RunWork) {
	return setup({
		types: { context: {} as { outcome?: RunOutcome }, events: {} as { type: "CANCEL" } },
		actors: {
			cells: fromPromise<void>(() => work.cells()),
			classify: fromPromise<void>(() => work.classify()),
		},
	}).createMachine({
		id: "run",
		initial: "running",
		context: {},
		states: {
			running: {
				invoke: { src: "cells", onDone: "classifying", onError: "classifying" },
				on: { CANCEL: "cancelling" },
			},
			cancelling: {
				entry: () => work.cancel(),
				// `cells` is one promise: waiting on it again waits for the cancelled cells to settle.
				invoke: { src: "cells", onDone: "cancelled", onError: "cancelled" },
			},
			classifying: {
				invoke: { src: "classify", onDone: "completed", onError: "completed" },
				on: { CANCEL: "cancelled" },
			},
			completed: { type: "final", entry: assign({ outcome: "completed" }) },
			cancelled: { type: "final", entry: assign({ outcome: "cancelled" }) },
		},
	});
}

/** Runs the machine until it is final; `signal` aborting is its CANCEL. */
export function driveRun(work: RunWork, signal: AbortSignal): Promise<RunOutcome> {
	const actor = createActor(createRunMachine(work));
	return new Promise<RunOutcome>((resolve) => {
		const onAbort = () => actor.send({ type: "CANCEL" });
		actor.subscribe((s) => {
			if (s.status !== "done") return;
			signal.removeEventListener("abort", onAbort);
			resolve(s.context.outcome ?? "completed");
		});
		actor.start();
		signal.addEventListener("abort", onAbort, { once: true });
		if (signal.aborted) onAbort();
	});
}
