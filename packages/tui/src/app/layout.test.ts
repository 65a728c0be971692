import test from "ava";
import { extraHeaderLines, gridHeader, gridWidths, type ScreenInput, screenLayout, windowAround } from "./layout.js";

const base: ScreenInput = { rows: 40, fixed: 2, kernels: 2, selectedKernel: 0, failures: 3, log: true };

/** The lines a frame takes with this layout, counted the way App draws them. */
function height(input: ScreenInput): number {
	const l = screenLayout(input);
	const shown = l.kernels[1] - l.kernels[0];
	const grid = 2 + shown * (l.shaLines ? 2 : 1) + (shown < input.kernels ? 1 : 0);
	if (input.detail !== undefined) return input.fixed + grid + 2 + (l.tests[1] - l.tests[0]) + input.detail.notes + 1;
	const failures = 2 + l.failureRows + (l.failureRows < input.failures ? 1 : 0);
	const log = l.logLines === 0 ? 0 : 2 + l.logLines;
	return input.fixed + grid + failures + log;
}

test("a roomy terminal shows everything: sha lines, all failures, eight lines of log", (t) => {
	t.deepEqual(screenLayout(base), { shaLines: true, kernels: [0, 2], failureRows: 3, logLines: 8, tests: [0, 0] });
});

test("an unknown height (Infinity) limits nothing but the panes' own eight rows", (t) => {
	const l = screenLayout({ ...base, rows: Number.POSITIVE_INFINITY, kernels: 30, failures: 50 });
	t.deepEqual(l, { shaLines: true, kernels: [0, 30], failureRows: 8, logLines: 8, tests: [0, 0] });
});

test("as the terminal shrinks sha lines go first, then the log, then failure rows, then kernel rows", (t) => {
	const input = { ...base, kernels: 6, failures: 12 };
	const at = (rows: number) => screenLayout({ ...input, rows });
	for (let rows = 60; rows >= 11; rows--) {
		t.true(height({ ...input, rows }) <= rows - 1, `fits ${rows} rows`);
		// Fewer rows never give anything more lines.
		const [a, b] = [at(rows), at(rows - 1)];
		t.true(b.logLines <= a.logLines && b.failureRows <= a.failureRows, `${rows}`);
		t.true(b.kernels[1] - b.kernels[0] <= a.kernels[1] - a.kernels[0]);
		t.true(a.shaLines || !b.shaLines);
	}
	// 2 fixed + grid 2+6+6 + failures 2+8+1 + log 2+8 = 37 lines: 38 rows hold it all.
	t.deepEqual(at(38), { shaLines: true, kernels: [0, 6], failureRows: 8, logLines: 8, tests: [0, 0] });
	t.deepEqual(at(37), { shaLines: false, kernels: [0, 6], failureRows: 8, logLines: 8, tests: [0, 0] });
	t.deepEqual(at(25), { shaLines: false, kernels: [0, 6], failureRows: 8, logLines: 1, tests: [0, 0] });
	t.deepEqual(at(24), { shaLines: false, kernels: [0, 6], failureRows: 8, logLines: 0, tests: [0, 0] });
	t.deepEqual(at(20), { shaLines: false, kernels: [0, 6], failureRows: 6, logLines: 0, tests: [0, 0] });
	t.deepEqual(screenLayout({ ...input, rows: 12, selectedKernel: 5 }).kernels, [3, 6]);
});

test("a long test list scrolls with its selection and fits the screen", (t) => {
	const input = { ...base, rows: 30, detail: { tests: 87, notes: 1, selected: 0 } };
	t.deepEqual(screenLayout(input).tests, [0, 19]);
	t.is(height(input), 29);
	t.deepEqual(screenLayout({ ...input, detail: { tests: 87, notes: 1, selected: 50 } }).tests, [41, 60]);
	t.deepEqual(screenLayout({ ...input, detail: { tests: 87, notes: 1, selected: 86 } }).tests, [68, 87]);
	t.deepEqual(screenLayout({ ...input, detail: { tests: 5, notes: 0, selected: 4 } }).tests, [0, 5]);
});

test("windowAround keeps the selection in view at both ends", (t) => {
	t.deepEqual(windowAround(10, 4, 0), [0, 4]);
	t.deepEqual(windowAround(10, 4, 5), [3, 7]);
	t.deepEqual(windowAround(10, 4, 9), [6, 10]);
	t.deepEqual(windowAround(3, 4, 2), [0, 3]);
	t.deepEqual(windowAround(0, 4, 0), [0, 0]);
});

test("the grid fits the terminal's width: labels give way first, then the columns", (t) => {
	// Two targets and a 31-character label fit 120 columns as they are.
	t.deepEqual(gridWidths(120, 31, 2), { label: 33, cell: 34 });
	t.deepEqual(gridWidths(Number.POSITIVE_INFINITY, 31, 4), { label: 33, cell: 34 });
	// One target on 60 columns: the label shrinks to what the column leaves.
	t.deepEqual(gridWidths(60, 31, 1), { label: 26, cell: 34 });
	// Four targets on 100 columns: the label keeps a third, the columns share the rest.
	t.deepEqual(gridWidths(100, 31, 4), { label: 33, cell: 16 });
	// Short labels are not padded beyond what they need.
	t.deepEqual(gridWidths(100, 10, 4), { label: 12, cell: 22 });
	for (const columns of [40, 80, 100, 120, 200])
		for (const targets of [1, 2, 3, 4, 5]) {
			const { label, cell } = gridWidths(columns, 31, targets);
			t.true(label + cell * targets <= columns || cell === 14, `${columns} columns, ${targets} targets`);
		}
});

test("gridHeader: a target's parameter sets are grouped under its name, one set name per column", (t) => {
	t.deepEqual(gridHeader(["tcg", "host"], 8), ["tcg     host    "]);
	t.deepEqual(gridHeader(["tcg/default", "tcg/ept-off", "tcg/npt-off", "host/default"], 10), [
		"tcg                           host      ",
		"default   ept-off   npt-off   default   ",
	]);
	t.deepEqual(gridHeader(["tcg/a-very-long-set-name"], 8), ["tcg     ", "a-very-…"]);
	t.is(extraHeaderLines(["tcg", "host"]), 0);
	t.is(extraHeaderLines(["tcg/default"]), 1);
});
