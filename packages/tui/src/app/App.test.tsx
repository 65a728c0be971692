import type { EngineEvent, TestResult } from "@kvm-matrix/orchestrator";
import test from "ava";
import { render } from "ink-testing-library";
import { App } from "./App.js";
import { RunStore } from "./store.js";

const T0 = 1_700_000_000_000;
const started: EngineEvent = {
	type: "run-started",
	at: T0,
	runId: "20261125-120000-demo",
	matrix: "demo",
	cells: ["linux@demo/tcg", "debian/tcg"],
	jobs: ["checkout:linux@demo", "kernel:linux@demo+cfg", "selftests:linux@demo"],
	grid: {
		kernels: [
			{ id: "linux@demo", label: "linux@demo", sha: "c5c0a34847d3aaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
			{ id: "debian", label: "prebuilt vmlinuz-6.1.0-28-amd64" },
		],
		targets: ["tcg"],
		cells: [
			{
				id: "linux@demo/tcg",
				kernel: "linux@demo",
				target: "tcg",
				jobs: ["checkout:linux@demo", "kernel:linux@demo+cfg"],
			},
			{ id: "debian/tcg", kernel: "debian", target: "tcg", jobs: ["selftests:linux@demo"] },
		],
	},
	dir: "/tmp/runs/20261125-120000-demo",
};
const result = (testId: string, status: TestResult["status"], durationMs = 500): TestResult => ({
	suite: "selftests",
	testId,
	status,
	durationMs,
	attempt: 1,
});

function storeOf(events: EngineEvent[]): RunStore {
	const store = new RunStore();
	for (const e of events) store.apply(e);
	return store;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 60));
/** Ticks until `done` holds or two seconds pass: a loaded machine may take more than one. */
async function until(done: () => boolean): Promise<void> {
	for (let waited = 0; !done() && waited < 2_000; waited += 60) await tick();
}
const control = { cancel: () => {} };
const strip = (s: string | undefined) => (s ?? "").replace(/\s+$/gm, "");

test.serial("a running build shows its progress bar and object counts; the log pane tails the build", async (t) => {
	const store = storeOf([
		started,
		{ type: "cell-state", at: T0 + 1000, cellId: "linux@demo/tcg", state: { stage: "build" } },
		{
			type: "step-progress",
			at: T0 + 2000,
			subject: { kind: "job", id: "kernel:linux@demo+cfg" },
			step: "build",
			done: 813,
			total: 1626,
			unit: "objects",
		},
		{
			type: "log-line",
			at: T0 + 2000,
			subject: { kind: "job", id: "kernel:linux@demo+cfg" },
			stream: "build",
			line: "  CC      arch/x86/kvm/x86.o",
		},
		{
			type: "cell-accel",
			at: T0 + 3000,
			cellId: "debian/tcg",
			accel: "tcg",
			warning: "KVM cannot run this guest here (failed to set MSR 0x10a): using TCG",
		},
	]);
	const app = render(<App store={store} control={control} now={() => T0 + 75_000} />);
	t.teardown(() => app.unmount());
	const frame = strip(app.lastFrame());
	t.true(frame.includes("kvm-matrix · demo · run 20261125-120000-demo · 01:15 · accel tcg"), frame);
	t.true(frame.includes("⚠ KVM cannot run this guest here (failed to set MSR 0x10a): using TCG"), frame);
	t.regex(frame, /linux@demo +. build █████░░░░░ 813\/1626/);
	t.regex(frame, /c5c0a34847d3/);
	t.regex(frame, /prebuilt vmlinuz-6\.1\.0-28-amd64 +. queued/);
	t.regex(frame, /log: linux@demo\/tcg\n {4}CC {6}arch\/x86\/kvm\/x86\.o/);
});

const finishedCells: EngineEvent[] = [
	started,
	{ type: "cell-state", at: T0, cellId: "linux@demo/tcg", state: { stage: "running" } },
	{ type: "test-result", at: T0, cellId: "linux@demo/tcg", result: result("x86_64/cpuid_test", "fail", 900) },
	{ type: "test-result", at: T0, cellId: "linux@demo/tcg", result: result("x86_64/set_sregs_test", "pass") },
	{ type: "cell-state", at: T0, cellId: "linux@demo/tcg", state: { stage: "done" } },
	{ type: "cell-state", at: T0, cellId: "debian/tcg", state: { stage: "running" } },
	{ type: "test-result", at: T0, cellId: "debian/tcg", result: result("x86_64/cpuid_test", "pass") },
	{ type: "test-result", at: T0, cellId: "debian/tcg", result: result("x86_64/set_sregs_test", "fail", 700) },
	{ type: "cell-state", at: T0, cellId: "debian/tcg", state: { stage: "done" } },
	{
		type: "verdicts",
		at: T0,
		cellId: "linux@demo/tcg",
		verdicts: [
			{
				suite: "selftests",
				testId: "x86_64/cpuid_test",
				verdict: "regression",
				explanation: "regression: passed on debian (ea4069b619c3); commits ea4069b619c3..c5c0a34847d3",
			},
		],
	},
	{
		type: "verdicts",
		at: T0,
		cellId: "debian/tcg",
		verdicts: [
			{
				suite: "selftests",
				testId: "x86_64/set_sregs_test",
				verdict: "pending-fix",
				explanation: 'pending-fix: needs f60e5d6f371a ("KVM: x86: Reject reserved CR8"), in linux@demo',
			},
		],
	},
];

test.serial("cells with failures show their counts and worst verdict; the failures pane gives the evidence", (t) => {
	const app = render(<App store={storeOf(finishedCells)} control={control} now={() => T0} />);
	t.teardown(() => app.unmount());
	const frame = strip(app.lastFrame());
	t.regex(frame, /linux@demo +✓1 ✗1 -0 regression/);
	t.regex(frame, /prebuilt vmlinuz-6\.1\.0-28-amd64 +✓1 ✗1 -0 pending-fix/);
	t.regex(frame, /failures: 2/);
	t.regex(frame, /x86_64\/cpuid_test +linux@demo\/tcg +regression +passed on debian \(ea4069b619c3/);
	t.regex(frame, /x86_64\/set_sregs_test +debian\/tcg +pending-fix +needs f60e5d6f371a/);
});

test.serial("f filters the failures by verdict, one verdict after another", async (t) => {
	const app = render(<App store={storeOf(finishedCells)} control={control} now={() => T0} />);
	t.teardown(() => app.unmount());
	app.stdin.write("f"); // regression
	await tick();
	let frame = strip(app.lastFrame());
	t.regex(frame, /failures \(regression\): 1/);
	t.regex(frame, /x86_64\/cpuid_test/);
	t.false(frame.includes("x86_64/set_sregs_test  "), frame);
	// Keys typed faster than a frame arrive together; each counts.
	app.stdin.write("ffff"); // new-failure, infra, still-failing, pending-fix
	await tick();
	frame = strip(app.lastFrame());
	t.regex(frame, /failures \(pending-fix\): 1/);
	t.regex(frame, /x86_64\/set_sregs_test +debian\/tcg +pending-fix/);
});

test.serial("? opens the help overlay and any key closes it; enter shows the cell's tests", async (t) => {
	const app = render(<App store={storeOf(finishedCells)} control={control} now={() => T0} />);
	t.teardown(() => app.unmount());
	app.stdin.write("?");
	await tick();
	t.regex(strip(app.lastFrame()), /keys[\s\S]*enter +the selected cell's tests/);
	app.stdin.write("x");
	await tick();
	t.false(strip(app.lastFrame()).includes("keys"));
	app.stdin.write("\r");
	await tick();
	const detail = strip(app.lastFrame());
	t.regex(detail, /linux@demo\/tcg: 2 tests/);
	t.regex(detail, /FAIL +x86_64\/cpuid_test +0\.9s +regression: passed on debian/);
	t.regex(detail, /PASS +x86_64\/set_sregs_test +0\.5s/);
});

test.serial("q while work runs asks first; y cancels through the engine's command", async (t) => {
	let cancelled = 0;
	const store = storeOf([started, { type: "cell-state", at: T0, cellId: "debian/tcg", state: { stage: "boot" } }]);
	const app = render(<App store={store} control={{ cancel: () => cancelled++ }} now={() => T0} />);
	t.teardown(() => app.unmount());
	app.stdin.write("q");
	await until(() => /Cancel the run\?/.test(strip(app.lastFrame())));
	t.regex(strip(app.lastFrame()), /Cancel the run\? \(y\/n\)/);
	app.stdin.write("n");
	await tick();
	t.is(cancelled, 0);
	app.stdin.write("q");
	await until(() => /Cancel the run\?/.test(strip(app.lastFrame())));
	app.stdin.write("y");
	await until(() => cancelled > 0 && /cancelling/.test(strip(app.lastFrame())));
	t.is(cancelled, 1);
	t.regex(strip(app.lastFrame()), /cancelling: stopping builds and guests, keeping the results/);
});

test.serial("the summary names totals by verdict, the slowest tests and where the results are", async (t) => {
	const store = storeOf([
		...finishedCells,
		{ type: "run-finished", at: T0 + 61_000, runId: "20261125-120000-demo", outcome: "completed" },
	]);
	const app = render(<App store={store} control={control} now={() => T0} />);
	t.teardown(() => app.unmount());
	await tick();
	// The app exits on its last frame; under CI=… Ink's exit writes an empty frame after it (Ink
	// renders differently there; the CLI does not use the app in CI), so read the last one drawn.
	const frame = strip(app.frames.findLast((f) => f.trim() !== ""));
	t.regex(frame, /run completed: 4 tests in 2 cells\n {2}1 regression, 1 pending-fix/);
	t.regex(frame, /slowest\n +0\.9s x86_64\/cpuid_test \(linux@demo\/tcg\)/);
	t.regex(frame, /run directory: \/tmp\/runs\/20261125-120000-demo/);
});

test.serial(
	"r asks the engine to retry: the cell's failing tests from the grid, the selected test from its list",
	async (t) => {
		const asked: [string, string | undefined][] = [];
		const retry = (cellId: string, testKey?: string) => {
			asked.push([cellId, testKey]);
			return `retry: running ${testKey ?? "the failing tests"} of ${cellId} again (attempt 2)`;
		};
		const app = render(<App store={storeOf(finishedCells)} control={{ cancel: () => {}, retry }} now={() => T0} />);
		t.teardown(() => app.unmount());
		app.stdin.write("r");
		await tick();
		t.regex(strip(app.lastFrame()), /retry: running the failing tests of linux@demo\/tcg again \(attempt 2\)/);
		app.stdin.write("\r");
		await tick();
		app.stdin.write("j");
		await tick();
		app.stdin.write("r");
		await tick();
		t.deepEqual(asked, [
			["linux@demo/tcg", undefined],
			["linux@demo/tcg", "selftests:x86_64/set_sregs_test"],
		]);
	},
);

/** Lines of a frame as drawn (strip() joins blank ones). */
const lines = (frame: string) => frame.split("\n").length;

/** A running cell with `failing` failed tests, `passing` passed ones and a console log. */
function busyStore(failing: number, passing: number): RunStore {
	const events: EngineEvent[] = [
		started,
		{ type: "cell-state", at: T0, cellId: "debian/tcg", state: { stage: "running" } },
	];
	for (let i = 0; i < failing; i++)
		events.push({ type: "test-result", at: T0, cellId: "debian/tcg", result: result(`x86_64/broken_${i}`, "fail") });
	for (let i = 0; i < passing; i++)
		events.push({ type: "test-result", at: T0, cellId: "debian/tcg", result: result(`x86_64/fine_${i}`, "pass") });
	return storeOf(events);
}

test.serial("a short terminal gets a frame that fits: sha lines and log go, failures say how many more", async (t) => {
	const store = busyStore(12, 0);
	const app = render(<App store={store} control={control} now={() => T0} rows={16} />);
	t.teardown(() => app.unmount());
	await tick();
	const frame = strip(app.lastFrame());
	t.is(lines(app.lastFrame() ?? ""), 15, frame);
	t.false(frame.includes("c5c0a34847d3"));
	t.false(frame.includes("log: "));
	t.regex(frame, /failures: 12\n( {2}x86_64\/broken_\d+ .*\n){6}\s+… 6 more/);
	t.regex(frame, /q quit · \? help/);
});

test.serial("a long test list scrolls with the selection, and a resize refits the frame", async (t) => {
	const store = busyStore(0, 40);
	const app = render(<App store={store} control={control} now={() => T0} />);
	t.teardown(() => app.unmount());
	Object.assign(app.stdout, { rows: 20 });
	app.stdout.emit("resize");
	await tick();
	app.stdin.write("j"); // the second kernel row: debian/tcg
	await tick();
	app.stdin.write("\r");
	await tick();
	for (let i = 0; i < 30; i++) app.stdin.write("j");
	await tick();
	let frame = strip(app.lastFrame());
	t.true(lines(app.lastFrame() ?? "") <= 19, frame);
	t.regex(frame, /debian\/tcg: 40 tests \(\d+–\d+ shown\)/);
	t.regex(frame, /PASS +x86_64\/fine_30 /);
	t.false(frame.includes("x86_64/fine_0 "));
	Object.assign(app.stdout, { rows: 60 });
	app.stdout.emit("resize");
	await tick();
	frame = strip(app.lastFrame());
	t.regex(frame, /debian\/tcg: 40 tests\n/);
	t.regex(frame, /x86_64\/fine_0 /);
});

test.serial("a resumed run is one run: the header says what was kept, and the kept results are in the grid", (t) => {
	const resumedStart: EngineEvent = { ...started, resumed: { results: 2, cellsDone: 1 } } as EngineEvent;
	const app = render(
		<App store={storeOf([resumedStart, ...finishedCells.slice(1, 5)])} control={control} now={() => T0} />,
	);
	t.teardown(() => app.unmount());
	const frame = strip(app.lastFrame());
	t.true(frame.includes("run 20261125-120000-demo · 00:00 · resumed (2 results kept)"), frame);
	t.regex(frame, /linux@demo +✓1 ✗1 -0/);
	t.regex(frame, /prebuilt vmlinuz-6\.1\.0-28-amd64 +. queued/);
});

test.serial("on the params axis the grid heads each target once, with its parameter sets under it", async (t) => {
	const targets = ["tcg/default", "tcg/nested-off"];
	const store = storeOf([
		{
			...started,
			cells: targets.map((x) => `debian/${x}`),
			grid: {
				kernels: [{ id: "debian", label: "debian" }],
				targets,
				cells: targets.map((x) => ({ id: `debian/${x}`, kernel: "debian", target: x, jobs: [] })),
			},
		},
		{ type: "cell-state", at: T0 + 1000, cellId: "debian/tcg/nested-off", state: { stage: "boot" } },
	]);
	const app = render(<App store={store} control={control} now={() => T0 + 5_000} />);
	t.teardown(() => app.unmount());
	const lines = strip(app.lastFrame()).split("\n");
	const head = lines.findIndex((l) => /^\s+tcg$/.test(l));
	t.true(head >= 0, lines.join("\n"));
	t.regex(lines[head + 1] ?? "", /^\s+default\s+nested-off$/);
	t.regex(lines[head + 2] ?? "", /^debian\s+. queued\s+. boot/);
});

test.serial("a guest's escape sequences reach the log pane as text, not as commands to the terminal", async (t) => {
	const store = storeOf([
		started,
		{ type: "cell-state", at: T0 + 1000, cellId: "linux@demo/tcg", state: { stage: "running" } },
		{
			type: "log-line",
			at: T0 + 2000,
			subject: { kind: "cell", id: "linux@demo/tcg" },
			stream: "console",
			line: "\u001b]0;owned\u0007\u001b[2J\u001b[Hhostile\rok 1 selftests: kvm: fake",
		},
	]);
	const app = render(<App store={store} control={control} now={() => T0 + 75_000} />);
	t.teardown(() => app.unmount());
	const frame = app.lastFrame() ?? "";
	t.true(frame.includes("hostileok 1 selftests: kvm: fake"), frame);
	t.false(frame.includes("\u001b]"), frame);
	t.false(frame.includes("\u001b[2J"), frame);
	t.false(frame.includes("\r"), frame);
});
