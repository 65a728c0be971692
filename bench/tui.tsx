// What the interactive view costs: one event stream (a kernel build's log at 5,000 lines/s while
// a matrix's cells boot and report tests) replayed through the Ink app and through the headless
// line reporter, each in its own process, printing CPU time and the Ink frame rate.
// Run: pnpm build && pnpm bench:tui [seconds] [repeats]
// Target (issue 7): TUI CPU ≤ 1.05 × headless; ≤ 10 frames/s.
import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import { createEventBus, type EngineEvent } from "@kvm-matrix/orchestrator";
import { execa } from "execa";
import { render } from "ink";
import { App } from "../packages/tui/dist/app/App.js";
import { RunStore } from "../packages/tui/dist/app/store.js";
import { attachLineReporter } from "../packages/tui/dist/render/line-reporter.js";
import { palette } from "../packages/tui/dist/render/palette.js";

const LINES_PER_SECOND = 5_000;
const TICK_MS = 10;
const KERNELS = ["kvm-x86@next", "kvm@next", "kvm@queue", "kvm@master"];
const TARGETS = ["default", "ept-off"];

/** The stream: deterministic, so both modes see exactly the same events. */
function* events(seconds: number): Generator<EngineEvent[]> {
	const t0 = 1_700_000_000_000;
	const cells = KERNELS.flatMap((k) =>
		TARGETS.map((t) => ({ id: `${k}/${t}`, kernel: k, target: t, jobs: [`kernel:${k}`] })),
	);
	yield [
		{
			type: "run-started",
			at: t0,
			runId: "bench",
			matrix: "bench",
			cells: cells.map((c) => c.id),
			jobs: KERNELS.map((k) => `kernel:${k}`),
			grid: { kernels: KERNELS.map((k) => ({ id: k, label: k, sha: "0".repeat(40) })), targets: TARGETS, cells },
			dir: "/tmp/bench",
		},
		...cells.map((c): EngineEvent => ({ type: "cell-state", at: t0, cellId: c.id, state: { stage: "build" } })),
	];
	const ticks = (seconds * 1000) / TICK_MS;
	const perTick = (LINES_PER_SECOND * TICK_MS) / 1000;
	for (let tick = 0; tick < ticks; tick++) {
		const at = t0 + tick * TICK_MS;
		const batch: EngineEvent[] = [];
		for (let i = 0; i < perTick; i++) {
			const k = KERNELS[(tick + i) % KERNELS.length] ?? "";
			batch.push({
				type: "log-line",
				at,
				subject: { kind: "job", id: `kernel:${k}` },
				stream: "build",
				line: `  CC      arch/x86/kvm/file${tick * perTick + i}.o`,
			});
		}
		if (tick % 10 === 0)
			for (const k of KERNELS)
				batch.push({
					type: "step-progress",
					at,
					subject: { kind: "job", id: `kernel:${k}` },
					step: "build",
					done: tick,
					total: ticks,
					unit: "objects",
				});
		if (tick % 50 === 0) {
			const c = cells[(tick / 50) % cells.length];
			if (c !== undefined)
				batch.push({
					type: "test-result",
					at,
					cellId: c.id,
					result: {
						suite: "selftests",
						testId: `x86_64/test_${tick}`,
						status: tick % 150 === 0 ? "fail" : "pass",
						durationMs: 900,
						attempt: 1,
					},
				});
		}
		yield batch;
	}
	yield [{ type: "run-finished", at: t0 + seconds * 1000, runId: "bench", outcome: "completed" }];
}

/** A terminal that throws its output away, as fast as a real one would let it. */
function nullTerminal() {
	const stdout = Object.assign(
		new Writable({
			write(_chunk, _enc, done) {
				done();
			},
		}),
		{ columns: 120, rows: 40, isTTY: true },
	) as unknown as NodeJS.WriteStream;
	const stdin = Object.assign(new EventEmitter(), {
		isTTY: true,
		setRawMode: () => {},
		setEncoding: () => {},
		resume: () => {},
		pause: () => {},
		ref: () => {},
		unref: () => {},
		read: () => null,
	}) as unknown as NodeJS.ReadStream;
	return { stdout, stdin };
}

async function replay(mode: "store" | "tui" | "headless" | "headless-verbose", seconds: number) {
	const bus = createEventBus<EngineEvent>();
	let frames = 0;
	let drawMs = 0;
	let finish: () => Promise<unknown> = async () => {};
	if (mode === "store" || mode === "tui") {
		// `store` follows the events as the TUI does but never draws: what drawing adds is the rest.
		const store = new RunStore();
		bus.subscribe((e) => store.apply(e));
		if (mode === "tui") {
			const { stdout, stdin } = nullTerminal();
			const app = render(<App store={store} control={{ cancel: () => {} }} />, {
				stdout,
				stdin,
				exitOnCtrlC: false,
				patchConsole: false,
				maxFps: 10,
				onRender: ({ renderTime }) => {
					frames++;
					drawMs += renderTime;
				},
			});
			finish = () => app.waitUntilExit();
		}
	} else {
		const sink = new Writable({
			write(_c, _e, done) {
				done();
			},
		});
		attachLineReporter(bus, (line) => sink.write(`${line}\n`), palette(false), {
			verbose: mode === "headless-verbose",
		});
	}
	// Module loading (a TypeScript loader thread, Ink's lazy imports) is not what is measured: the
	// first batch and two seconds of idle go before the clock starts.
	const stream = events(seconds);
	for (const e of stream.next().value ?? []) bus.emit(e);
	await new Promise((resolve) => setTimeout(resolve, 2000));
	frames = 0;
	drawMs = 0;
	const cpu = process.cpuUsage();
	const started = performance.now();
	let tick = 0;
	for (const batch of stream) {
		for (const e of batch) bus.emit(e);
		// Real time: the stream arrives at its rate, as a build's output would.
		const due = started + tick++ * TICK_MS;
		const wait = due - performance.now();
		if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
	}
	await finish();
	const used = process.cpuUsage(cpu);
	const wall = (performance.now() - started) / 1000;
	return { cpuMs: (used.user + used.system) / 1000, wall, frames, drawMs };
}

async function main() {
	const [mode, arg] = process.argv.slice(2);
	if (mode === "store" || mode === "tui" || mode === "headless" || mode === "headless-verbose") {
		console.log(JSON.stringify(await replay(mode, Number(arg ?? 10))));
		return;
	}
	const seconds = Number(mode ?? 10);
	const repeats = Number(arg ?? 3);
	type Figures = Awaited<ReturnType<typeof replay>>;
	// This shared machine's CPU figures vary by ±15 % run to run: each mode runs `repeats` times,
	// interleaved, and the median counts.
	const runs = new Map<string, Figures[]>();
	for (let i = 0; i < repeats; i++)
		for (const m of ["headless", "headless-verbose", "store", "tui"]) {
			// React's production build, as the installed command runs it.
			const out = await execa("node", ["--import", "tsx", process.argv[1] ?? "", m, String(seconds)], {
				env: { NODE_ENV: "production" },
			});
			const figures = JSON.parse(out.stdout.trim().split("\n").at(-1) ?? "{}") as Figures;
			runs.set(m, [...(runs.get(m) ?? []), figures]);
		}
	const median = (m: string) => {
		const sorted = [...(runs.get(m) ?? [])].sort((a, b) => a.cpuMs - b.cpuMs);
		const mid = sorted[Math.floor(sorted.length / 2)];
		if (mid === undefined) throw new Error(`no figures for ${m}`);
		return mid;
	};
	const all = (m: string) => (runs.get(m) ?? []).map((f) => f.cpuMs.toFixed(0)).join(", ");
	const headless = median("headless");
	const verbose = median("headless-verbose");
	const store = median("store");
	const tui = median("tui");
	const perFrame = (tui.cpuMs - store.cpuMs) / Math.max(1, tui.frames);
	console.log(
		`${seconds} s of events, ${LINES_PER_SECOND} log lines/s, ${KERNELS.length * TARGETS.length} cells; medians of ${repeats} runs`,
	);
	console.log(`headless (default):  ${headless.cpuMs.toFixed(0)} ms CPU  [${all("headless")}]`);
	console.log(
		`headless --verbose:  ${verbose.cpuMs.toFixed(0)} ms CPU  [${all("headless-verbose")}] (prints every log line)`,
	);
	console.log(
		`TUI's store alone:   ${store.cpuMs.toFixed(0)} ms CPU  [${all("store")}] (follows the events, never draws)`,
	);
	console.log(
		`TUI:                 ${tui.cpuMs.toFixed(0)} ms CPU  [${all("tui")}], ${tui.frames} frames in ${tui.wall.toFixed(1)} s = ${(tui.frames / tui.wall).toFixed(1)} frames/s`,
	);
	console.log(
		`per frame:           ${perFrame.toFixed(1)} ms CPU in all, ${(tui.drawMs / Math.max(1, tui.frames)).toFixed(1)} ms of it in Ink's layout and output`,
	);
	console.log(`TUI / headless:      ${(tui.cpuMs / headless.cpuMs).toFixed(2)} (target ≤ 1.05)`);
	console.log(`store / headless:    ${(store.cpuMs / headless.cpuMs).toFixed(2)} (the floor with no frame drawn)`);
	console.log(`TUI / headless -v:   ${(tui.cpuMs / verbose.cpuMs).toFixed(2)}`);
}

main().catch((error: unknown) => {
	console.error(`bench:tui: ${error instanceof Error ? error.message : String(error)}`);
	process.exit(1);
});
