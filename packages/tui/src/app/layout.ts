import { targetParts } from "@kvm-matrix/orchestrator";
/**
 * How many lines each part of the screen gets. A frame as tall as the terminal makes Ink clear the
 * whole screen (and in many terminals the scrollback) on every frame, and a taller one scrolls
 * away lines it can then never erase, so every frame is fitted to the terminal's rows. As rows run
 * short the kernels' sha lines go first, then log lines, then failure rows, and last the grid
 * shows a window of kernels around the selected one; a cell's test list scrolls with its selection.
 */
export interface ScreenInput {
	/** The terminal's rows; Infinity when unknown. */
	readonly rows: number;
	/** Lines outside the grid and the panes: header, warnings, prompts, the key line. */
	readonly fixed: number;
	readonly kernels: number;
	readonly selectedKernel: number;
	/** What the grid-mode panes would show. */
	readonly failures: number;
	readonly log: boolean;
	/** The test list of the cell shown by Enter, instead of the panes. */
	readonly detail?: { readonly tests: number; readonly notes: number; readonly selected: number };
}

export interface ScreenLayout {
	/** Whether each kernel's short sha gets its line under the kernel's row. */
	readonly shaLines: boolean;
	/** The kernel rows shown, [first, end). */
	readonly kernels: readonly [number, number];
	readonly failureRows: number;
	/** Lines of log; 0 hides the pane. */
	readonly logLines: number;
	/** The tests shown in the detail view, [first, end). */
	readonly tests: readonly [number, number];
}

export const PANE_ROWS = 8;
/** A pane's margin line and title. */
const PANE_HEAD = 2;

/** A window of `size` items out of `count` that keeps `selected` in view, roughly centred. */
export function windowAround(count: number, size: number, selected: number): [number, number] {
	const n = Math.max(0, Math.min(count, size));
	const first = Math.min(Math.max(0, selected - Math.floor(n / 2)), count - n);
	return [first, first + n];
}

export function screenLayout(input: ScreenInput): ScreenLayout {
	// Ink ends a frame with a newline: a frame of rows - 1 lines fills the screen without scrolling.
	let room = input.rows - 1 - input.fixed;
	const k = input.kernels;
	// What comes first, least important last: the grid's kernel rows, the failures (or a cell's
	// tests), the log, and the line under each kernel with its sha.
	const below =
		input.detail === undefined ? PANE_HEAD + Math.min(1, input.failures) : PANE_HEAD + 2 + input.detail.notes;
	let kernels: [number, number] = [0, k];
	if (PANE_HEAD + k + below <= room) room -= PANE_HEAD + k;
	else {
		// A window of kernel rows around the selected one, and a line saying more exist.
		kernels = windowAround(k, Math.max(1, room - PANE_HEAD - 1 - below), input.selectedKernel);
		const shown = kernels[1] - kernels[0];
		room -= PANE_HEAD + shown + (shown < k ? 1 : 0);
	}
	const shaLines = (rest: number) => kernels[1] - kernels[0] === k && rest >= k;
	if (input.detail !== undefined) {
		// Margin, title, the tests, the notes, the hint line.
		const { tests, notes, selected } = input.detail;
		const size = Math.max(1, room - PANE_HEAD - notes - 1);
		const window = windowAround(tests, size, selected);
		const rest = room - (PANE_HEAD + (window[1] - window[0]) + notes + 1);
		return { shaLines: shaLines(rest), kernels, failureRows: 0, logLines: 0, tests: window };
	}
	// Failures: margin, title, the rows, and a line counting the rest when some are not shown.
	let failureRows = Math.min(input.failures, PANE_ROWS, Math.max(0, room - PANE_HEAD));
	if (failureRows < input.failures) failureRows = Math.min(failureRows, Math.max(0, room - PANE_HEAD - 1));
	room -= PANE_HEAD + failureRows + (failureRows < input.failures ? 1 : 0);
	// The log takes what is left, if that is a line or more; the sha lines take what the log leaves.
	const logLines = input.log && room > PANE_HEAD ? Math.min(PANE_ROWS, room - PANE_HEAD) : 0;
	room -= logLines === 0 ? 0 : PANE_HEAD + logLines;
	return { shaLines: shaLines(room), kernels, failureRows, logLines, tests: [0, 0] };
}

/** Widths of the grid's kernel label and of each target's column, for a terminal `columns` wide. */
export function gridWidths(columns: number, longestLabel: number, targets: number): { label: number; cell: number } {
	const CELL = 34;
	const MIN_CELL = 14;
	const wanted = Math.max(8, longestLabel) + 2;
	// The label gives way first, down to a third of the screen; then the cells, down to MIN_CELL.
	const label = Math.max(Math.min(wanted, columns - targets * CELL), Math.min(wanted, Math.floor(columns / 3)));
	const cell = Math.max(MIN_CELL, Math.min(CELL, Math.floor((columns - label) / Math.max(1, targets))));
	return { label, cell };
}

/**
 * The grid's column headings. On the `params` axis a target's columns are its parameter sets
 * (`host/ept-off`): the target's name heads its group once, and each column gets its set's name
 * under it, so the sets of one target read side by side.
 */
export function gridHeader(targets: readonly string[], cell: number): string[] {
	const fitTo = (text: string, width: number) =>
		text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
	const split = targets.map((t) => {
		const { target, params } = targetParts(t);
		return { base: target, set: params };
	});
	if (split.every((s) => s.set === undefined)) return [targets.map((t) => fitTo(t, cell)).join("")];
	let groups = "";
	for (let i = 0; i < split.length; ) {
		let n = 1;
		while (i + n < split.length && split[i + n]?.base === split[i]?.base && split[i]?.set !== undefined) n++;
		groups += fitTo(split[i]?.base ?? "", cell * n);
		i += n;
	}
	return [groups, split.map((s) => fitTo(s.set ?? "", cell)).join("")];
}

/** The lines `gridHeader` takes beyond a plain grid's one: a second on the `params` axis. */
export const extraHeaderLines = (targets: readonly string[]) => (targets.some((t) => t.includes("/")) ? 1 : 0);
