import type { EngineEvent, EventSource } from "@kvm-matrix/orchestrator";
import type { Palette } from "./palette.js";

const STATUS_COLOUR = {
	pass: "green",
	fail: "red",
	crash: "red",
	timeout: "red",
	error: "yellow",
	skip: "dim",
} as const;

/**
 * The plain reporter: one line per thing that happened, for logs, CI and terminals that are not
 * interactive. Build progress is printed at most every `progressEveryMs` per job.
 */
export function attachLineReporter(
	events: EventSource<EngineEvent>,
	write: (line: string) => void,
	colours: Palette,
	options: { readonly verbose?: boolean; readonly progressEveryMs?: number } = {},
): () => void {
	let start: number | undefined;
	const lastProgress = new Map<string, number>();
	const every = options.progressEveryMs ?? 15_000;
	const clock = (at: number) => {
		const s = Math.max(0, Math.round((at - (start ?? at)) / 1000));
		return colours.dim(`[${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}]`);
	};
	return events.subscribe((event) => {
		switch (event.type) {
			case "run-started":
				start = event.at;
				write(`${colours.bold(`run ${event.runId}`)}: ${event.cells.length} cells, ${event.jobs.length} jobs`);
				if (event.resumed !== undefined)
					write(
						`resuming: ${event.resumed.results} results and ${event.resumed.cellsDone} finished cells kept from before (shown first), the rest runs now`,
					);
				if (event.changedSince !== undefined)
					for (const line of changedSinceLines(event.changedSince, event.cells.length)) write(line);
				break;
			case "cell-state": {
				const { state } = event;
				const text =
					state.stage === "failed"
						? colours.red(`failed in ${state.failedIn}: ${state.reason}`)
						: state.stage === "cancelled"
							? colours.yellow(`cancelled in ${state.cancelledIn}`)
							: state.stage;
				write(`${clock(event.at)} ${event.cellId}: ${text}`);
				break;
			}
			case "step-progress": {
				const key = `${event.subject.id}:${event.step}`;
				const last = lastProgress.get(key) ?? 0;
				if (event.at - last < every) break;
				lastProgress.set(key, event.at);
				const total = event.total === undefined ? "" : `/${event.total}`;
				write(`${clock(event.at)} ${event.subject.id}: ${event.step} ${event.done}${total} ${event.unit}`);
				break;
			}
			case "log-line":
				if (event.stream === "engine" || options.verbose)
					write(`${clock(event.at)} ${event.subject.id}: ${event.line}`);
				break;
			case "test-result": {
				const { result } = event;
				const status = colours[STATUS_COLOUR[result.status]](result.status.toUpperCase().padEnd(7));
				const detail = result.detail === undefined ? "" : colours.dim(` (${result.detail})`);
				const secs = `${(result.durationMs / 1000).toFixed(1)}s`;
				write(`${clock(event.at)} ${event.cellId}: ${status} ${result.testId} ${colours.dim(secs)}${detail}`);
				break;
			}
			case "run-finished":
				write(`${clock(event.at)} run ${event.outcome}`);
				break;
		}
	});
}

/** What `--changed-since` found: the tips that moved, and what carries and what runs. */
export function changedSinceLines(
	changed: NonNullable<Extract<EngineEvent, { type: "run-started" }>["changedSince"]>,
	cells: number,
): string[] {
	const short = (sha: string | undefined) => (sha === undefined ? "(new)" : sha.slice(0, 12));
	const moved =
		changed.moved.length === 0
			? "no tree tip moved"
			: `moved: ${changed.moved.map((m) => `${m.ref} ${short(m.from)}..${short(m.to)}`).join(", ")}`;
	return [
		`changed since ${changed.runId}: ${moved}`,
		`${changed.carried.length} of ${cells} cells unchanged, carried from ${changed.runId}; ${cells - changed.carried.length} run now`,
	];
}
