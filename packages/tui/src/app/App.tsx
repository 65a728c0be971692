import { Box, Text, useApp, useInput, useStdout } from "ink";
import { useEffect, useState } from "react";
import { extraHeaderLines, gridHeader, gridWidths, type ScreenLayout, screenLayout } from "./layout.js";
import { type CellRow, type FailureRow, type RunStore, type TestRow, VERDICTS, type VerdictName } from "./store.js";

/** What the TUI may ask of the engine: nothing else reaches it (DESIGN.md: engine → events → views). */
export interface RunControl {
	readonly cancel: () => void;
	/** Runs a cell's test (or its failing tests) again, when the engine can; returns what happened. */
	readonly retry?: (cellId: string, testKey?: string) => string;
}

export interface AppProps {
	readonly store: RunStore;
	readonly control: RunControl;
	/** Frames per second at most; the store is read only when a frame is drawn. */
	readonly fps?: number;
	readonly now?: () => number;
	/** The terminal's rows, when not the output stream's own (tests). */
	readonly rows?: number;
}

type Mode = "grid" | "detail" | "help" | "confirm";

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const VERDICT_COLOUR: Record<VerdictName, string> = {
	regression: "red",
	"new-failure": "magenta",
	infra: "yellow",
	"still-failing": "redBright",
	"pending-fix": "cyan",
	flaky: "yellow",
	known: "gray",
};
const STATUS_COLOUR: Record<TestRow["status"], string> = {
	pass: "green",
	fail: "red",
	timeout: "red",
	crash: "red",
	error: "yellow",
	skip: "gray",
};
const FILTERS: readonly (VerdictName | undefined)[] = [undefined, ...VERDICTS];

const clock = (ms: number) => {
	const s = Math.max(0, Math.floor(ms / 1000));
	return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
};
const fit = (text: string, width: number) =>
	text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);

function bar(done: number, total: number, width: number): string {
	const filled = Math.round((Math.min(done, total) / Math.max(1, total)) * width);
	return `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
}

/** One grid cell's text and colour: its stage, a progress bar, or its counts and worst verdict. */
function cellText(store: RunStore, cell: CellRow, frame: number): { text: string; colour?: string } {
	const { state } = cell;
	if (state.stage === "failed") return { text: `✗ failed in ${state.failedIn}`, colour: "red" };
	if (state.stage === "cancelled") return { text: `cancelled in ${state.cancelledIn}`, colour: "yellow" };
	const c = store.counts(cell);
	const failing = c.fail + c.timeout + c.crash;
	const counts = `✓${c.pass} ✗${failing} -${c.skip}${c.error > 0 ? ` !${c.error}` : ""}`;
	if (state.stage === "done" || state.stage === "classified") {
		const worst = store.worstVerdict(cell);
		return worst === undefined
			? { text: counts, colour: failing > 0 ? "red" : "green" }
			: { text: `${counts} ${worst}`, colour: VERDICT_COLOUR[worst] };
	}
	const spin = SPINNER[frame % SPINNER.length];
	const progress = store.cellProgress(cell);
	if (progress !== undefined && progress.total !== undefined)
		return {
			text: `${spin} ${progress.step} ${bar(progress.done, progress.total, 10)} ${progress.done}/${progress.total}`,
		};
	if (progress !== undefined) return { text: `${spin} ${progress.step} ${progress.done} ${progress.unit}` };
	if (state.stage === "running") return { text: `${spin} running ${counts}` };
	return { text: `${spin} ${state.stage}` };
}

function Header({ store, now }: { store: RunStore; now: number }) {
	const elapsed = (store.finishedAt ?? now) - (store.startedAt ?? now);
	return (
		<Box flexDirection="column">
			<Text>
				<Text bold>kvm-matrix</Text> · {store.matrix} · run {store.runId} · {clock(elapsed)}
				{store.accelerators() === "" ? "" : ` · accel ${store.accelerators()}`}
				{store.outcome === undefined ? "" : ` · ${store.outcome}`}
				{store.resumed === undefined ? "" : ` · resumed (${store.resumed.results} results kept)`}
			</Text>
			{store.warnings.map((w) => (
				<Text key={w} color="yellow">
					⚠ {w}
				</Text>
			))}
		</Box>
	);
}

function Grid({
	store,
	selected,
	frame,
	layout,
}: {
	store: RunStore;
	selected: [number, number];
	frame: number;
	layout: Pick<ScreenLayout, "kernels" | "shaLines"> & { readonly columns: number };
}) {
	const [first, end] = layout.kernels;
	const hidden = store.kernels.length - (end - first);
	const { label: labelWidth, cell: colWidth } = gridWidths(
		layout.columns,
		Math.max(0, ...store.kernels.map((k) => k.label.length)),
		store.targets.length,
	);
	const header = gridHeader(store.targets, colWidth);
	return (
		<Box flexDirection="column" marginTop={1}>
			<Text bold>
				{"".padEnd(labelWidth)}
				{header[0]}
			</Text>
			{header[1] === undefined ? null : (
				<Text>
					{"".padEnd(labelWidth)}
					{header[1]}
				</Text>
			)}
			{store.kernels.slice(first, end).map((k, i) => {
				const row = first + i;
				return (
					<Box key={k.id} flexDirection="column">
						<Box>
							<Text>{fit(k.label, labelWidth)}</Text>
							{store.targets.map((target, col) => {
								const cell = store.cells.get(`${k.id}/${target}`);
								const { text, colour } = cell === undefined ? { text: "·" } : cellText(store, cell, frame);
								const isSelected = row === selected[0] && col === selected[1];
								return (
									<Text key={target} {...(colour === undefined ? {} : { color: colour })} inverse={isSelected}>
										{fit(text, colWidth - 1)}{" "}
									</Text>
								);
							})}
						</Box>
						{layout.shaLines ? <Text dimColor>{`  ${k.sha?.slice(0, 12) ?? ""}`}</Text> : null}
					</Box>
				);
			})}
			{hidden > 0 ? <Text dimColor>{`  … ${hidden} more kernels (↑/↓)`}</Text> : null}
		</Box>
	);
}

function Failures({ rows, filter, max }: { rows: FailureRow[]; filter: VerdictName | undefined; max: number }) {
	const shown = rows.slice(0, max);
	return (
		<Box flexDirection="column" marginTop={1}>
			<Text bold>
				failures{filter === undefined ? "" : ` (${filter})`}: {rows.length}
			</Text>
			{shown.map(({ cell, test }) => (
				<Text key={`${cell} ${test.key}`} wrap="truncate-end">
					{"  "}
					{fit(test.testId, 28)} {fit(cell, 22)}{" "}
					<Text
						{...(test.verdict === undefined
							? { color: STATUS_COLOUR[test.status] }
							: { color: VERDICT_COLOUR[test.verdict] })}
					>
						{fit(test.verdict ?? test.status, 14)}
					</Text>{" "}
					{test.explanation?.replace(/^[a-z-]+: /, "") ?? test.detail ?? ""}
				</Text>
			))}
			{rows.length > shown.length ? <Text dimColor>{`  … ${rows.length - shown.length} more`}</Text> : null}
		</Box>
	);
}

function LogPane({ store, cell, lines }: { store: RunStore; cell: CellRow | undefined; lines: number }) {
	if (cell === undefined || lines === 0) return null;
	return (
		<Box flexDirection="column" marginTop={1}>
			<Text bold>log: {cell.id}</Text>
			{store.logOf(cell, lines).map((line, i) => (
				// biome-ignore lint/suspicious/noArrayIndexKey: a log tail has no identity but its place
				<Text key={i} dimColor wrap="truncate-end">
					{`  ${line}`}
				</Text>
			))}
		</Box>
	);
}

function Detail({ cell, selected, window }: { cell: CellRow; selected: number; window: readonly [number, number] }) {
	const tests = [...cell.tests.values()];
	const [first, end] = window;
	return (
		<Box flexDirection="column" marginTop={1}>
			<Text bold>
				{cell.id}: {tests.length} tests
				{end - first < tests.length ? ` (${first + 1}–${end} shown)` : ""}
			</Text>
			{tests.slice(first, end).map((t, i) => (
				<Text key={t.key} wrap="truncate-end" inverse={first + i === selected}>
					{"  "}
					<Text color={STATUS_COLOUR[t.status]}>{fit(t.status.toUpperCase(), 8)}</Text>
					{fit(t.testId, 32)} {`${(t.durationMs / 1000).toFixed(1)}s`.padStart(7)}
					{t.attempt > 1 ? ` (attempt ${t.attempt})` : ""}
					{t.verdict === undefined ? "" : `  ${t.explanation ?? t.verdict}`}
				</Text>
			))}
			{cell.notes.map((n) => (
				<Text key={n} dimColor>
					{`  note: ${n}`}
				</Text>
			))}
			<Text dimColor>↑/↓ select · r retry the selected test · esc: back</Text>
		</Box>
	);
}

const KEYS: readonly [string, string][] = [
	["arrows / h j k", "move between cells (l is the log pane: → moves right)"],
	["enter", "the selected cell's tests"],
	["l", "show or hide the log pane"],
	["f", "filter failures by verdict (cycles)"],
	["r", "retry the selected cell's failing tests (in its test list: the selected test)"],
	["q / ctrl-c", "cancel the run (asks first while work is running)"],
	["?", "this help; any key closes it"],
];

function Help() {
	return (
		<Box flexDirection="column" marginTop={1} borderStyle="round" paddingX={1}>
			<Text bold>keys</Text>
			{KEYS.map(([k, what]) => (
				<Text key={k}>{`${k.padEnd(18)} ${what}`}</Text>
			))}
		</Box>
	);
}

/** The summary's lines besides the slowest tests: margin, outcome, totals, "slowest", directory. */
const SUMMARY_LINES = 5;
const SLOWEST = 3;

/** The end of a run: what it found and where it is; the last frame stays in the scrollback. */
function Summary({ store, failures, slowest }: { store: RunStore; failures: FailureRow[]; slowest: FailureRow[] }) {
	const totals = new Map<string, number>();
	for (const { test } of failures) {
		const key = test.verdict ?? test.status;
		totals.set(key, (totals.get(key) ?? 0) + 1);
	}
	return (
		<Box flexDirection="column" marginTop={1}>
			<Text bold>
				run {store.outcome}: {[...store.cells.values()].reduce((n, c) => n + c.tests.size, 0)} tests in{" "}
				{store.cells.size} cells
			</Text>
			<Text>
				{"  "}
				{totals.size === 0 ? "nothing to explain" : [...totals].map(([k, n]) => `${n} ${k}`).join(", ")}
			</Text>
			<Text bold>slowest</Text>
			{slowest.map(({ cell, test }) => (
				<Text key={`${cell} ${test.key}`}>
					{"  "}
					{`${(test.durationMs / 1000).toFixed(1)}s`.padStart(7)} {test.testId} ({cell})
				</Text>
			))}
			<Text>run directory: {store.dir}</Text>
		</Box>
	);
}

/** The terminal's size, following resizes; Infinity for what the output stream does not know. */
function useTerminalSize(givenRows: number | undefined): { rows: number; columns: number } {
	const { stdout } = useStdout();
	const [size, setSize] = useState({ rows: stdout.rows, columns: stdout.columns });
	useEffect(() => {
		const resized = () => setSize({ rows: stdout.rows, columns: stdout.columns });
		stdout.on("resize", resized);
		return () => {
			stdout.off("resize", resized);
		};
	}, [stdout]);
	const known = (n: number) => (n > 0 ? n : Number.POSITIVE_INFINITY);
	return { rows: givenRows ?? known(size.rows), columns: known(size.columns) };
}

export function App({ store, control, fps = 10, now = Date.now, rows: givenRows }: AppProps) {
	const { exit } = useApp();
	const { rows, columns } = useTerminalSize(givenRows);
	const [frame, setFrame] = useState(0);
	const [mode, setMode] = useState<Mode>("grid");
	const [selected, setSelected] = useState<[number, number]>([0, 0]);
	const [showLog, setShowLog] = useState(true);
	const [filterIndex, setFilterIndex] = useState(0);
	const [message, setMessage] = useState<string | undefined>(undefined);
	const [detailIndex, setDetailIndex] = useState(0);

	// A frame when the run's state changed or the clock moved a second, at most `fps` a second;
	// log lines and progress counts alone (thousands a second during a build) refresh twice a second.
	// Drawing costs the same whatever the log volume.
	useEffect(() => {
		let seenState = store.stateVersion;
		let seenLog = store.version;
		let seenSecond = Math.floor(now() / 1000);
		let lastFrame = now();
		const id = setInterval(
			() => {
				const t = now();
				const second = Math.floor(t / 1000);
				const stateChanged = store.stateVersion !== seenState || second !== seenSecond;
				const logChanged = store.version !== seenLog && t - lastFrame >= 500;
				if (!stateChanged && !logChanged) return;
				seenState = store.stateVersion;
				seenLog = store.version;
				seenSecond = second;
				lastFrame = t;
				setFrame((f) => f + 1);
			},
			Math.max(1, Math.round(1000 / fps)),
		);
		return () => clearInterval(id);
	}, [store, fps, now]);

	const finished = store.outcome !== undefined;
	useEffect(() => {
		if (finished) exit();
	}, [finished, exit]);

	const selectedCell = store.cells.get(`${store.kernels[selected[0]]?.id}/${store.targets[selected[1]]}`);
	const filter = FILTERS[filterIndex % FILTERS.length];

	useInput((input, key) => {
		const quit = input === "q" || (key.ctrl && input === "c");
		if (mode === "confirm") {
			if (input === "y" || (key.ctrl && input === "c")) {
				control.cancel();
				setMessage("cancelling: stopping builds and guests, keeping the results");
			}
			setMode("grid");
			return;
		}
		if (mode === "help") {
			setMode("grid");
			return;
		}
		if (mode === "detail") {
			const count = selectedCell?.tests.size ?? 0;
			if (key.escape || key.return || input === "q") setMode("grid");
			else if (key.upArrow || input === "k") setDetailIndex((i) => Math.max(0, i - 1));
			else if (key.downArrow || input === "j") setDetailIndex((i) => Math.min(Math.max(0, count - 1), i + 1));
			else if (input === "r" && selectedCell !== undefined) {
				const test = [...selectedCell.tests.values()][detailIndex];
				setMessage(control.retry?.(selectedCell.id, test?.key) ?? "retry: this run cannot retry from here");
			}
			return;
		}
		if (quit) {
			if (finished) exit();
			else setMode("confirm");
			return;
		}
		const rows = store.kernels.length;
		const cols = store.targets.length;
		if (key.upArrow || input === "k") setSelected(([r, c]) => [Math.max(0, r - 1), c]);
		else if (key.downArrow || input === "j") setSelected(([r, c]) => [Math.min(rows - 1, r + 1), c]);
		else if (key.leftArrow || input === "h") setSelected(([r, c]) => [r, Math.max(0, c - 1)]);
		else if (key.rightArrow || input === "l") {
			if (key.rightArrow) setSelected(([r, c]) => [r, Math.min(cols - 1, c + 1)]);
			else setShowLog((v) => !v);
		} else if (key.return) {
			setDetailIndex(0);
			setMode("detail");
		} else if (input.length > 0 && [...input].every((ch) => ch === "f")) setFilterIndex((i) => i + input.length);
		else if (input === "?") setMode("help");
		else if (input === "r" && selectedCell !== undefined)
			setMessage(control.retry?.(selectedCell.id) ?? "retry: this run cannot retry from here");
	});

	const panes = finished || mode === "grid" || mode === "confirm";
	// Read once per frame: the layout sizes the panes by them and the panes show them.
	const failures = panes ? store.failures(finished ? undefined : filter) : [];
	const slowest = finished ? store.slowest(SLOWEST) : [];
	const layout = screenLayout({
		rows,
		// The header and its warnings, then the key line, a message, a prompt; at the end, the
		// summary instead, which must be whole: it is what stays in the scrollback.
		fixed:
			1 +
			extraHeaderLines(store.targets) +
			store.warnings.length +
			(finished ? SUMMARY_LINES + slowest.length : 1 + (message === undefined ? 0 : 1) + (mode === "confirm" ? 1 : 0)),
		kernels: store.kernels.length,
		selectedKernel: selected[0],
		failures: failures.length,
		log: !finished && showLog && panes,
		...(!finished && mode === "detail" && selectedCell !== undefined
			? { detail: { tests: selectedCell.tests.size, notes: selectedCell.notes.length, selected: detailIndex } }
			: {}),
	});
	if (finished)
		return (
			<Box flexDirection="column">
				<Header store={store} now={now()} />
				<Grid store={store} selected={[-1, -1]} frame={frame} layout={{ ...layout, columns }} />
				<Failures rows={failures} filter={undefined} max={layout.failureRows} />
				<Summary store={store} failures={failures} slowest={slowest} />
			</Box>
		);
	return (
		<Box flexDirection="column">
			<Header store={store} now={now()} />
			<Grid store={store} selected={selected} frame={frame} layout={{ ...layout, columns }} />
			{mode === "detail" && selectedCell !== undefined ? (
				<Detail cell={selectedCell} selected={detailIndex} window={layout.tests} />
			) : null}
			{mode === "help" ? <Help /> : null}
			{mode === "grid" || mode === "confirm" ? (
				<Failures rows={failures} filter={filter} max={layout.failureRows} />
			) : null}
			{mode === "grid" || mode === "confirm" ? (
				<LogPane store={store} cell={selectedCell} lines={layout.logLines} />
			) : null}
			{mode === "confirm" ? <Text color="yellow">Work is running. Cancel the run? (y/n)</Text> : null}
			{message === undefined ? null : <Text color="yellow">{message}</Text>}
			<Text dimColor>
				q quit · ? help · enter tests · l log · f filter{filter === undefined ? "" : ` (${filter})`} · r retry
			</Text>
		</Box>
	);
}
