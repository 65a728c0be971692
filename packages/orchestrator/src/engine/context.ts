// What every stage of one run shares: the matrix and its cells, the cache, the queues, the bus
// and the run directory, and the two things stages tell about a cell (notes and accelerators),
// which go to the views and into the journal at once.
import os from "node:os";
import PQueue from "p-queue";
import type { EventBus } from "../events/bus.js";
import type { EngineEvent } from "../events/types.js";
import type { Matrix } from "../matrix/types.js";
import type { CachePaths } from "../paths/cache.js";
import type { Plan, PlannedCell } from "../plan/types.js";
import { guestSlots } from "./guests.js";
import type { PrebuiltFiles } from "./prebuilt.js";
import type { RepoOf } from "./refs.js";
import type { RunDirectory } from "./run-dir.js";

export interface RunContext extends Omit<ContextInput, "cpus" | "memoryBytes" | "knownNotes"> {
	readonly cell: (id: string) => PlannedCell;
	readonly cpus: number;
	/** One `make -j<cpus>` at a time. */
	readonly buildQueue: PQueue;
	/** Guests at once, sized by CPUs and memory. */
	readonly vmQueue: PQueue;
	/** KUT tests run on the host at once, sized by their own `smp` when they are known. */
	readonly hostQueue: PQueue;
	/** Commands at once on each remote machine (by `user@host:port`), whichever cells use it. */
	readonly remoteQueues: Map<string, PQueue>;
	readonly vmSlots: number;
	readonly note: (cellId: string, text: string) => void;
	readonly accelUsed: (cellId: string, accel: "kvm" | "tcg", warning: string | undefined) => void;
}

export interface ContextInput {
	/** The run's id (plan.json's `runId`): names what the run leaves elsewhere, such as a remote directory. */
	readonly runId: string;
	readonly matrix: Matrix;
	/** The whole plan: its jobs are shared by the cells this run drives. */
	readonly plan: Plan;
	/** The cells this run drives (after --only). */
	readonly cells: readonly PlannedCell[];
	readonly resolutions: ReadonlyMap<string, string>;
	readonly prebuilt: ReadonlyMap<string, PrebuiltFiles>;
	readonly cache: CachePaths;
	readonly repoOf: RepoOf;
	readonly bus: EventBus<EngineEvent>;
	readonly signal: AbortSignal;
	readonly runDir: RunDirectory;
	readonly cpus?: number;
	readonly memoryBytes?: number;
	/** How many times this run was resumed: a resumed pass logs beside, not over, the killed one. */
	readonly resumes: number;
	/** Notes already journaled (a resumed run): not told twice. */
	readonly knownNotes?: ReadonlyMap<string, readonly string[]>;
}

export function createRunContext(input: ContextInput): RunContext {
	const { bus, runDir } = input;
	const cpus = input.cpus ?? os.availableParallelism();
	const memory = input.memoryBytes ?? os.totalmem();
	// A host target boots no guest: its KUT tests are sized by their own cfg entries (hostQueue).
	const vmSlots = guestSlots(
		cpus,
		memory,
		input.cells.filter((c) => !c.target.host).map((c) => c.target.qemu),
	);
	const byId = new Map(input.cells.map((c) => [c.id, c]));
	const notes = new Map<string, string[]>([...(input.knownNotes ?? [])].map(([k, v]) => [k, [...v]]));
	const accels = new Map<string, string>();
	const note = (cellId: string, text: string) => {
		if (notes.get(cellId)?.includes(text)) return;
		notes.set(cellId, [...(notes.get(cellId) ?? []), text]);
		runDir.append({ type: "cell-note", cell: cellId, text });
		bus.emit({ type: "cell-note", at: Date.now(), cellId, text });
	};
	return {
		...input,
		cell: (id) => {
			const c = byId.get(id);
			if (c === undefined) throw new Error(`no cell ${id} in this run`);
			return c;
		},
		cpus,
		buildQueue: new PQueue({ concurrency: 1 }),
		vmQueue: new PQueue({ concurrency: vmSlots }),
		hostQueue: new PQueue({ concurrency: 1 }),
		remoteQueues: new Map(),
		vmSlots,
		note,
		accelUsed: (cellId, accel, warning) => {
			if (accels.get(cellId) === accel) return;
			accels.set(cellId, accel);
			runDir.append({ type: "cell-accel", cell: cellId, accel, ...(warning === undefined ? {} : { warning }) });
			bus.emit({ type: "cell-accel", at: Date.now(), cellId, accel, ...(warning === undefined ? {} : { warning }) });
			if (warning !== undefined) note(cellId, warning);
		},
	};
}
