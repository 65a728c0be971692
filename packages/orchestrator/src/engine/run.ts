import { existsSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import PQueue from "p-queue";
import picomatch from "picomatch";
import { type Actor, assign, createActor, fromPromise, setup } from "xstate";
import { BuildFailedError, buildKernel, type KernelBuild } from "../build/kernel.js";
import { collapseAttempts, type FinalResult, isFailing } from "../events/attempts.js";
import type { EventBus } from "../events/bus.js";
import type { CellStage, EngineEvent, SuiteName, TestResult } from "../events/types.js";
import { buildKut, type KutBuild } from "../kut/build.js";
import { runKutInGuest } from "../kut/run-guest.js";
import { runKutOnHost, runTestsArgs } from "../kut/run-host.js";
import { timeoutSeconds } from "../kut/unittests-cfg.js";
import type { Matrix, PrebuiltKernel, TreeRef } from "../matrix/types.js";
import { cachePaths } from "../paths/cache.js";
import { planToJson } from "../plan/json.js";
import { planRun, refKey } from "../plan/plan.js";
import type { Job, Plan, PlannedCell } from "../plan/types.js";
import { CancelledError } from "../proc/run.js";
import { buildSelftests, cachedSelftests, type SelftestsBuild } from "../selftests/build.js";
import { selectTests } from "../selftests/guest-script.js";
import { runSelftests } from "../selftests/run.js";
import { resolveRef, syncTree, worktreeFor } from "../sources/git.js";
import { baselineFor, earlierRun } from "../verdicts/baseline.js";
import { describeVerdict, type KnownIssue, testKey, type Verdict } from "../verdicts/classify.js";
import { loadKnownIssuesOf } from "../verdicts/known-issues.js";
import { loreFor, optional, verdictsFromPlan } from "../verdicts/reclassify.js";
import { type CellContext, cellStateOf, createCellMachine, type PreparedCell, StageError } from "./cell-machine.js";
import { claimRunDirectory, RunDirectory, runDirectoryInUse, timestamp } from "./run-dir.js";

export interface RunOptions {
	readonly cacheRoot: string;
	readonly runDir?: string;
	readonly cwd: string;
	/** Only cells whose id matches this glob. */
	readonly only?: string;
	readonly bus: EventBus<EngineEvent>;
	readonly signal?: AbortSignal;
	/** CPUs for builds and VMs; defaults to this machine's. */
	readonly cpus?: number;
	readonly memoryBytes?: number;
	/** Commands a view may send while the run goes on (retry a cell or a test). */
	readonly commands?: RunCommands;
	/** A lore (public-inbox) base URL for links no configured tree has; overrides the matrix's `lore`. */
	readonly lore?: string;
}

/**
 * The engine's side of a view's commands (DESIGN.md: views never call in otherwise). A view
 * calls `retry`; the run that was given this object answers with what it did, in words.
 */
export class RunCommands {
	#handler: ((cellId: string, testKey?: string) => string) | undefined;

	retry(cellId: string, testKey?: string): string {
		return this.#handler?.(cellId, testKey) ?? "retry: the run is not running";
	}

	/** For the engine: answer commands until the returned function is called. */
	serve(handler: (cellId: string, testKey?: string) => string): () => void {
		this.#handler = handler;
		return () => {
			this.#handler = undefined;
		};
	}
}

export interface CellSummary {
	readonly id: string;
	readonly kernel: {
		readonly id: string;
		readonly sha?: string;
		readonly build?: { readonly key: string; readonly cacheHit: boolean };
	};
	readonly target: string;
	readonly state: "done" | "failed" | "cancelled";
	readonly failure?: { readonly stage: CellStage; readonly reason: string; readonly evidence: readonly string[] };
	readonly counts: Readonly<Record<TestResult["status"], number>>;
	/** Every result; non-passing ones carry their verdict and its one-line explanation. */
	readonly results: readonly (FinalResult & { readonly verdict?: Verdict; readonly explanation?: string })[];
	readonly verdicts: Readonly<Partial<Record<Verdict["verdict"], number>>>;
	readonly notes: readonly string[];
}

export interface RunSummary {
	readonly runId: string;
	readonly dir: string;
	readonly outcome: "completed" | "cancelled";
	readonly cells: readonly CellSummary[];
	readonly resultsFile: string;
}

/** A problem found before anything started: an unknown ref, an unreachable tree, no kernel image. */
export class RunSetupError extends Error {
	override readonly name = "RunSetupError";
}

const emptyCounts = (): Record<TestResult["status"], number> => ({
	pass: 0,
	fail: 0,
	skip: 0,
	timeout: 0,
	crash: 0,
	error: 0,
});

function newestMatch(pattern: string): string | undefined {
	if (!/[*?[]/.test(pattern)) return existsSync(pattern) ? pattern : undefined;
	const dir = path.dirname(pattern);
	const match = picomatch(path.basename(pattern));
	const names = existsSync(dir) ? readdirSync(dir).filter((n) => match(n)) : [];
	const newest = names.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).at(-1);
	return newest === undefined ? undefined : path.join(dir, newest);
}

/** A prebuilt kernel's image (globs pick the newest) and its modules directory for that release. */
function prebuiltFiles(kernel: PrebuiltKernel): { image: string; modulesDir?: string } {
	const image = newestMatch(kernel.image);
	if (image === undefined) throw new RunSetupError(`kernel ${kernel.id}: no kernel image matches ${kernel.image}`);
	if (kernel.modules === undefined) return { image };
	const release = path.basename(image).replace(/^vmlinuz-/, "");
	const candidates = [kernel.modules, path.join(kernel.modules, release)];
	const modulesDir = candidates.find((dir) => existsSync(path.join(dir, "modules.dep")));
	return modulesDir === undefined ? { image } : { image, modulesDir };
}

/** Every tree@ref the matrix names, so all are resolved before anything starts. */
function refsOf(matrix: Matrix): TreeRef[] {
	const refs: TreeRef[] = [];
	for (const k of matrix.kernels) {
		if (k.kind === "source") refs.push({ tree: k.tree, ref: k.ref });
		else if (k.source !== undefined) refs.push(k.source);
	}
	const st = matrix.suites.selftests?.source;
	if (st?.kind === "tree") refs.push({ tree: st.tree, ref: st.ref });
	const kut = matrix.suites.kut;
	if (kut !== undefined) refs.push({ tree: kut.tree, ref: kut.ref });
	const unique = new Map(refs.map((r) => [refKey(r), r]));
	return [...unique.values()];
}

/**
 * Runs a matrix: resolves every ref to a commit, plans with those commits (so equal commits
 * share jobs), then drives one cell machine per cell. Builds go through a build queue (one
 * `make -j<cpus>` at a time), boots through a VM queue sized by CPUs and memory. Everything the
 * views need is an event on `bus`; everything worth keeping is in the run directory.
 */
export async function executeRun(matrix: Matrix, options: RunOptions): Promise<RunSummary> {
	const cache = cachePaths(options.cacheRoot);
	const started = new Date();
	const bus = options.bus;
	const inUse = options.runDir === undefined ? undefined : runDirectoryInUse(options.runDir);
	if (inUse !== undefined) throw new RunSetupError(inUse);
	const now = () => Date.now();
	const signal = options.signal ?? new AbortController().signal;
	const cancelled = () => signal.aborted;

	// Resolve refs first: a typo in a branch name should cost seconds, not a build.
	const repos = new Map<string, Promise<string>>();
	const repoOf = (tree: string) => {
		const source = matrix.trees.get(tree);
		if (source === undefined) throw new RunSetupError(`unknown tree ${tree}`);
		let repo = repos.get(tree);
		if (repo === undefined) {
			bus.emit({
				type: "log-line",
				at: now(),
				subject: { kind: "job", id: `checkout:${tree}` },
				stream: "engine",
				line: `fetching ${tree}`,
			});
			repo = syncTree(source, cache.mirrors, signal);
			repos.set(tree, repo);
		}
		return repo;
	};
	const resolutions = new Map<string, string>();
	try {
		for (const ref of refsOf(matrix)) {
			resolutions.set(refKey(ref), await resolveRef(await repoOf(ref.tree), ref.tree, ref.ref));
		}
	} catch (error) {
		if (cancelled()) throw new CancelledError();
		throw new RunSetupError(error instanceof Error ? error.message : String(error));
	}
	const fullPlan = planRun(matrix, resolutions);
	const onlyMatch = options.only === undefined ? () => true : picomatch(options.only, { bash: true, dot: true });
	const cells = fullPlan.cells.filter((c) => onlyMatch(c.id));
	if (cells.length === 0)
		throw new RunSetupError(
			`--only ${options.only}: matches no cell (cells: ${fullPlan.cells.map((c) => c.id).join(", ")})`,
		);
	const plan: Plan = { ...fullPlan, cells };
	const prebuilt = new Map(
		cells.flatMap((c) => (c.kernel.kind === "prebuilt" ? [[c.kernel.id, prebuiltFiles(c.kernel)] as const] : [])),
	);
	let knownIssues: KnownIssue[] = [];
	try {
		knownIssues = await loadKnownIssuesOf(matrix);
	} catch (error) {
		throw new RunSetupError(error instanceof Error ? error.message : String(error));
	}
	// Created only now: a run refused before it started leaves nothing behind.
	const named = `${timestamp(started)}-${matrix.name}`;
	const runDir = new RunDirectory(options.runDir ?? claimRunDirectory(path.join(options.cwd, "runs"), named));
	// The directory's name when kvm-matrix chose it (it may carry a -2), else the time and matrix.
	const runId = options.runDir === undefined ? path.basename(runDir.dir) : named;
	const planFile = { runId, matrix: matrix.file, resolved: Object.fromEntries(resolutions), ...planToJson(plan) };
	runDir.write("plan.json", planFile);

	const cpus = options.cpus ?? os.availableParallelism();
	const memory = options.memoryBytes ?? os.totalmem();
	const buildQueue = new PQueue({ concurrency: 1 });
	const widest = Math.max(...cells.map((c) => c.target.qemu.smp));
	const largest = Math.max(...cells.map((c) => c.target.qemu.memoryBytes));
	const vmSlots = Math.max(1, Math.min(Math.floor(cpus / widest), Math.floor((memory * 0.75) / largest)));
	const vmQueue = new PQueue({ concurrency: vmSlots });

	// Jobs are shared between cells: each runs once, and every cell that needs it awaits the same promise.
	const jobs = new Map(fullPlan.jobs.map((j) => [j.id, j]));
	const running = new Map<string, Promise<unknown>>();
	const jobEvent = (job: Job, line: string) =>
		bus.emit({ type: "log-line", at: now(), subject: { kind: "job", id: job.id }, stream: "engine", line });
	const runJob = <T>(id: string, work: (job: Job) => Promise<T>): Promise<T> => {
		let promise = running.get(id) as Promise<T> | undefined;
		if (promise === undefined) {
			const job = jobs.get(id);
			if (job === undefined) return Promise.reject(new Error(`no job ${id}`));
			promise = work(job);
			promise.catch(() => {});
			running.set(id, promise);
		}
		return promise;
	};
	const worktree = (id: string) =>
		runJob(id, async (job) => {
			const sha = job.revision.sha ?? "";
			const dir = await worktreeFor(await repoOf(job.revision.tree), sha, cache.worktrees, signal);
			jobEvent(job, `worktree ${dir}`);
			return dir;
		});
	const kernelBuild = (id: string) =>
		runJob(
			id,
			(job) =>
				buildQueue.add(async (): Promise<KernelBuild> => {
					if (job.kind !== "kernel-build") throw new Error(`${id} is not a kernel build`);
					const dir = await worktree(job.needs[0] ?? "");
					jobEvent(job, `building ${job.revision.tree}@${job.revision.ref} (${job.revision.sha?.slice(0, 12)})`);
					const result = await buildKernel({
						worktree: dir,
						sha: job.revision.sha ?? "",
						config: job.config,
						cache,
						jobs: cpus,
						signal,
						onLine: (line) =>
							bus.emit({ type: "log-line", at: now(), subject: { kind: "job", id }, stream: "build", line }),
						onProgress: (done, total) =>
							bus.emit({
								type: "step-progress",
								at: now(),
								subject: { kind: "job", id },
								step: "build",
								done,
								...(total === undefined ? {} : { total }),
								unit: "objects",
							}),
					});
					jobEvent(
						job,
						result.cacheHit
							? `cache hit: kernel ${result.key} (make skipped)`
							: `built kernel ${result.key} in ${Math.round(result.durationMs / 1000)} s`,
					);
					return result;
				}) as Promise<KernelBuild>,
		);
	const selftestsBuild = (id: string) =>
		runJob(id, async (job): Promise<SelftestsBuild> => {
			// A cached build needs no CPU: it must not wait behind a kernel build in the queue.
			const sha = job.revision.sha ?? "";
			const cached = await cachedSelftests(cache, sha);
			if (cached !== undefined) {
				jobEvent(job, `cache hit: selftests of ${sha.slice(0, 12)}`);
				return cached;
			}
			return (await buildQueue.add(async () => {
				const dir = await worktree(job.needs[0] ?? "");
				const result = await buildSelftests({
					worktree: dir,
					sha,
					cache,
					jobs: cpus,
					signal,
					onLine: (line) =>
						bus.emit({ type: "log-line", at: now(), subject: { kind: "job", id }, stream: "build", line }),
				});
				jobEvent(job, `built ${result.tests.filter((t) => t.binary).length} selftests`);
				return result;
			})) as SelftestsBuild;
		});

	const kutBuild = (id: string) =>
		runJob(
			id,
			(job) =>
				buildQueue.add(async (): Promise<KutBuild> => {
					const dir = await worktree(job.needs[0] ?? "");
					const result = await buildKut({
						worktree: dir,
						sha: job.revision.sha ?? "",
						cache,
						jobs: cpus,
						signal,
						onLine: (line) =>
							bus.emit({ type: "log-line", at: now(), subject: { kind: "job", id }, stream: "build", line }),
					});
					jobEvent(
						job,
						result.cacheHit ? "cache hit: kvm-unit-tests" : `built kvm-unit-tests (${result.entries.length} tests)`,
					);
					return result;
				}) as Promise<KutBuild>,
		);

	/** The KUT tests the suite's include/exclude globs and groups select, by name. */
	const kutSelection = (built: KutBuild): string[] => {
		const kut = matrix.suites.kut;
		if (kut === undefined) return [];
		const include = picomatch([...kut.include], { bash: true });
		const exclude = kut.exclude.length === 0 ? () => false : picomatch([...kut.exclude], { bash: true });
		return built.entries
			.filter((e) => include(e.name) && !exclude(e.name))
			.filter((e) => kut.groups.length === 0 || e.groups.some((g) => kut.groups.includes(g)))
			.map((e) => e.name);
	};

	/** run_tests.sh's arguments for each test: the matrix's groups and `all`, in KUT's own terms. */
	const kutArgs = (built: KutBuild) => {
		const groups = new Map(built.entries.map((e) => [e.name, e.groups]));
		const selection = { groups: matrix.suites.kut?.groups ?? [], all: matrix.suites.kut?.all ?? false };
		return (name: string) => runTestsArgs(name, groups.get(name) ?? [], selection);
	};
	/** KUT's per-test timeout: the entry's own, else the suite's, else KUT's 90 s. */
	const kutTimeouts = (built: KutBuild) => {
		const suite = matrix.suites.kut?.timeoutMs;
		const own = new Map(built.entries.map((e) => [e.name, e.timeout]));
		return (name: string) =>
			timeoutSeconds(own.get(name), suite === undefined ? undefined : `${Math.ceil(suite / 1000)}s`);
	};

	const byId = new Map(cells.map((c) => [c.id, c]));
	const builds = new Map<string, KernelBuild>();
	const notes = new Map<string, string[]>();
	const note = (cellId: string, text: string) => {
		if (notes.get(cellId)?.includes(text)) return;
		notes.set(cellId, [...(notes.get(cellId) ?? []), text]);
		bus.emit({ type: "cell-note", at: now(), cellId, text });
	};
	const cell = (id: string): PlannedCell => byId.get(id) as PlannedCell;
	/** Which accelerator a cell's guests got, once per cell, with the fallback's reason if any. */
	const accels = new Map<string, string>();
	const accelUsed = (cellId: string, accel: "kvm" | "tcg", warning: string | undefined) => {
		if (accels.get(cellId) === accel) return;
		accels.set(cellId, accel);
		bus.emit({ type: "cell-accel", at: now(), cellId, accel, ...(warning === undefined ? {} : { warning }) });
		if (warning !== undefined) note(cellId, warning);
	};
	const asStageError = (error: unknown) =>
		error instanceof BuildFailedError ? new StageError(error.message, error.errors) : error;

	const machine = createCellMachine({
		checkout: async (cellId) => {
			await Promise.all(
				cell(cellId)
					.needs.filter((id) => jobs.get(id)?.kind === "checkout")
					.map(worktree),
			);
		},
		build: async (cellId) => {
			const c = cell(cellId);
			if (c.target.host) {
				// Nothing to build or boot: the suites run against this machine's own kernel.
				note(
					cellId,
					`host target: ran on this machine's kernel ${os.release()}; ${c.kernel.id} was not built or booted`,
				);
				if (c.jobs.kut !== undefined) {
					try {
						await kutBuild(c.jobs.kut);
					} catch (error) {
						throw asStageError(error);
					}
				}
				return { kernel: { image: "" }, notes: [] } satisfies PreparedCell;
			}
			try {
				const [kernel] = await Promise.all([
					c.jobs.kernel === undefined ? undefined : kernelBuild(c.jobs.kernel),
					c.jobs.selftests === undefined ? undefined : selftestsBuild(c.jobs.selftests),
					c.jobs.kut === undefined ? undefined : kutBuild(c.jobs.kut),
				]);
				if (kernel !== undefined) {
					builds.set(cellId, kernel);
					if (kernel.cacheHit) note(cellId, `kernel build cache hit (${kernel.key}): make skipped`);
					if (kernel.dropped.length > 0) note(cellId, `config: not in the final .config: ${kernel.dropped.join(" ")}`);
					return { kernel: { image: kernel.image }, notes: [] } satisfies PreparedCell;
				}
				const files = prebuilt.get(c.kernel.id);
				if (files === undefined) throw new StageError(`kernel ${c.kernel.id}: no image`);
				return { kernel: files, notes: [] } satisfies PreparedCell;
			} catch (error) {
				throw asStageError(error);
			}
		},
		suites: async ({ cellId, prepared, pass, attempt, only }, send, cellSignal) => {
			const c = cell(cellId);
			const report = (raw: TestResult) => {
				const result = { ...raw, attempt };
				runDir.append({ type: "test-result", cell: cellId, result });
				bus.emit({ type: "test-result", at: now(), cellId, result });
				send({ type: "RESULT", result });
			};
			// A retry runs only the tests that failed; its logs go next to the first attempt's.
			const wanted = only === undefined ? () => true : (key: string) => only.includes(key);
			const attemptDir = (suite: string) =>
				path.join(
					runDir.cellDir(cellId),
					suite,
					pass > 1 ? `attempt-${attempt}${pass > attempt ? `-boot-${pass}` : ""}` : "",
				);
			if (c.target.host) {
				send({ type: "RUNNING" });
				const kut = matrix.suites.kut;
				if (matrix.suites.selftests !== undefined) note(cellId, "selftests on a host target are not run yet");
				if (kut === undefined || c.jobs.kut === undefined) return;
				const built = await kutBuild(c.jobs.kut);
				const names = kutSelection(built).filter((n) => wanted(`kut:${n}`));
				await runKutOnHost({
					dir: built.dir,
					tests: names,
					argsFor: kutArgs(built),
					timeoutSFor: kutTimeouts(built),
					...(kut.accel === "auto" ? {} : { accel: kut.accel }),
					logRoot: attemptDir("kut"),
					parallel: vmSlots,
					queue: vmQueue,
					durationsFile: path.join(cache.root, "kut-durations", `${kut.tree}.json`),
					signal: AbortSignal.any([signal, cellSignal]),
					onResult: report,
				});
				return;
			}
			const both = AbortSignal.any([signal, cellSignal]);
			const kut = matrix.suites.kut;
			const kutInGuest = async () => {
				if (kut === undefined || c.jobs.kut === undefined) return;
				const built = await kutBuild(c.jobs.kut);
				const names = kutSelection(built).filter((n) => wanted(`kut:${n}`));
				if (names.length === 0) return;
				await vmQueue.add(
					async () => {
						const run = await runKutInGuest({
							kernel: prepared.kernel,
							target: c.target,
							dir: built.dir,
							tests: names,
							argsFor: kutArgs(built),
							...(kut.accel === "auto" ? {} : { accel: kut.accel }),
							timeoutSFor: kutTimeouts(built),
							logDir: attemptDir("kut"),
							cacheDir: path.join(cache.root, "qemu"),
							signal: both,
							onResult: report,
						});
						accelUsed(cellId, run.boot.accel, run.boot.accelWarning);
						if (run.boot.kind !== "completed")
							note(cellId, `kvm-unit-tests guest: ${run.boot.kind}: ${run.boot.summary}`);
					},
					{ signal: both },
				);
			};
			const suite = matrix.suites.selftests;
			const built =
				suite === undefined || c.jobs.selftests === undefined ? undefined : await selftestsBuild(c.jobs.selftests);
			const ids =
				suite === undefined || built === undefined
					? []
					: selectTests(
							built.tests.map((t) => t.id),
							suite.include,
							suite.exclude,
						).filter((id) => wanted(`selftests:${id}`));
			if (suite === undefined || built === undefined || ids.length === 0) {
				send({ type: "RUNNING" });
				await kutInGuest();
				return;
			}
			const timeoutS = suite.timeoutMs === undefined ? built.defaultTimeoutS : Math.ceil(suite.timeoutMs / 1000);
			// `parallel: N` runs the tests N at a time, each share in its own guest on the VM queue
			// (one guest's tests stay sequential, so each test's log is its own).
			const groups = Array.from({ length: Math.max(1, Math.min(suite.parallel, ids.length)) }, (_, g) =>
				ids.filter((_, i) => i % Math.max(1, Math.min(suite.parallel, ids.length)) === g),
			);
			await Promise.all(
				groups.map((group, g) =>
					vmQueue.add(
						async () => {
							const run = await runSelftests({
								kernel: prepared.kernel,
								target: c.target,
								build: built,
								tests: group.map((id) => ({ id, timeoutS })),
								logDir: attemptDir("selftests"),
								...(groups.length > 1 ? { bootPrefix: `group-${g + 1}-` } : {}),
								cacheDir: path.join(cache.root, "qemu"),
								signal: both,
								onBoot: (phase) => {
									if (phase === "running") send({ type: "RUNNING" });
								},
								onConsoleLine: (line) =>
									bus.emit({
										type: "log-line",
										at: now(),
										subject: { kind: "cell", id: cellId },
										stream: "console",
										line,
									}),
								onResult: report,
							});
							const first = run.boots[0];
							if (first !== undefined) accelUsed(cellId, first.accel, first.accelWarning);
							const nothingRan = run.results.length === 0 || run.results.every((r) => r.status === "error");
							if (nothingRan && first !== undefined && first.kind !== "completed" && group.length > 0) {
								throw new Error(`${first.kind}: ${first.summary}`);
							}
						},
						{ signal: both },
					),
				),
			);
			await kutInGuest();
		},
	});

	bus.emit({
		type: "run-started",
		at: now(),
		runId,
		matrix: matrix.name,
		cells: cells.map((c) => c.id),
		jobs: plan.jobs.map((j) => j.id),
		grid: {
			kernels: [...new Map(cells.map((c) => [c.kernel.id, c.kernel])).values()].map((k) => {
				const sha = k.kind === "source" ? resolutions.get(refKey(k)) : undefined;
				const label =
					k.kind === "source"
						? `${k.tree}@${k.ref}`
						: `prebuilt ${path.basename(prebuilt.get(k.id)?.image ?? k.image)}`;
				return { id: k.id, label, ...(sha === undefined ? {} : { sha }) };
			}),
			targets: [...new Set(cells.map((c) => c.target.name))],
			cells: cells.map((c) => ({ id: c.id, kernel: c.kernel.id, target: c.target.name, jobs: c.needs })),
		},
		dir: runDir.dir,
	});
	runDir.append({ type: "run-started", runId, at: started.toISOString(), cells: cells.map((c) => c.id) });

	// The run's own life: running until every cell is final, cancelling on abort.
	const runMachine = setup({
		types: { context: {} as { outcome?: "completed" | "cancelled" }, events: {} as { type: "CANCEL" } },
		actors: {
			cells: fromPromise<void>(() => runCells()),
		},
	}).createMachine({
		id: "run",
		initial: "running",
		context: {},
		states: {
			running: {
				invoke: { src: "cells", onDone: { target: "finished", actions: assign({ outcome: "completed" }) } },
				on: { CANCEL: "cancelling" },
			},
			cancelling: {
				entry: () => {
					for (const actor of actors.values()) actor.send({ type: "CANCEL" });
					buildQueue.clear();
					vmQueue.clear();
				},
				invoke: { src: "cells", onDone: { target: "finished", actions: assign({ outcome: "cancelled" }) } },
			},
			finished: { type: "final" },
		},
	});

	type CellActor = Actor<ReturnType<typeof createCellMachine>>;
	const actors = new Map<string, CellActor>();
	const finals = new Map<string, { value: unknown; context: CellContext; lastStage: CellStage }>();
	const cellPromises = new Map<string, Promise<void>>();
	const retries = new Set<Promise<void>>();
	const queuedRetries = new Map<string, string | undefined>();
	const lastStages = new Map<string, CellStage>();
	/** Drives one cell machine (the cell's own, or a retry asked for later) and records its end. */
	const launch = (cellId: string, extra: { only?: readonly string[]; firstAttempt?: number } = {}) => {
		const isRetry = extra.firstAttempt !== undefined;
		const actor = createActor(machine, {
			input: {
				cellId,
				buildTimeoutMs: 4 * 3_600_000,
				maxBootAttempts: 2,
				retries: isRetry ? 0 : matrix.retries,
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
					bus.emit({ type: "cell-state", at: now(), cellId, state });
					runDir.append({ type: "cell-state", cell: cellId, state });
				}
				if (snapshot.status !== "done") return;
				lastStages.set(cellId, lastStage);
				const before = finals.get(cellId);
				if (before === undefined) finals.set(cellId, { value: snapshot.value, context: snapshot.context, lastStage });
				else {
					// A retry adds its attempts; the cell stays done even if the retry's guest did not start.
					const results = [...before.context.results, ...snapshot.context.results];
					finals.set(cellId, { ...before, context: { ...before.context, results } });
					if (snapshot.value !== "done")
						note(cellId, `a retry asked for from the view ended ${String(snapshot.value)}`);
				}
				resolve();
				const queued = queuedRetries.get(cellId);
				if (queuedRetries.has(cellId)) {
					queuedRetries.delete(cellId);
					retry(cellId, queued);
				}
			});
			actor.start();
			actor.send({ type: "START" });
		});
	};
	/** A view's retry: the cell's failing tests (or one test), as the next attempt, in this run. */
	const retry = (cellId: string, test?: string): string => {
		if (!byId.has(cellId)) return `retry: no cell ${cellId}`;
		if (signal.aborted) return "retry: the run is being cancelled";
		const final = finals.get(cellId);
		if (final === undefined || actors.get(cellId)?.getSnapshot().status !== "done") {
			queuedRetries.set(cellId, test);
			return `retry: ${cellId} is still running; its ${test ?? "failing tests"} will run again when it ends`;
		}
		if (final.value !== "done") return `retry: ${cellId} ${String(final.value)} before its tests ran; nothing to retry`;
		const results = collapseAttempts(final.context.results);
		const only = test === undefined ? results.filter(isFailing).map(testKey) : [test];
		if (only.length === 0) return `retry: nothing failed in ${cellId}`;
		const firstAttempt = Math.max(0, ...final.context.results.map((r) => r.attempt)) + 1;
		const done = launch(cellId, { only, firstAttempt });
		retries.add(done);
		void done.then(() => retries.delete(done));
		return `retry: running ${only.length === 1 ? only[0] : `${only.length} tests`} of ${cellId} again (attempt ${firstAttempt})`;
	};
	// Once: the run machine waits on it while running and again while cancelling.
	let cellsDone: Promise<void> | undefined;
	const runCells = () => {
		cellsDone ??= (async () => {
			const stopServing = options.commands?.serve(retry);
			for (const c of cells) cellPromises.set(c.id, launch(c.id));
			await Promise.all(cellPromises.values());
			// Retries asked for while the run went on are part of it.
			while (retries.size > 0) await Promise.all([...retries]);
			stopServing?.();
		})();
		return cellsDone;
	};
	const run = createActor(runMachine);
	const finished = new Promise<"completed" | "cancelled">((resolve) =>
		run.subscribe((s) => {
			if (s.status === "done") resolve(s.context.outcome ?? "completed");
		}),
	);
	run.start();
	const onAbort = () => run.send({ type: "CANCEL" });
	signal.addEventListener("abort", onAbort, { once: true });
	if (signal.aborted) onAbort();
	const outcome = await finished;
	signal.removeEventListener("abort", onAbort);

	// Verdicts: which failures a missing fix explains, which are regressions (DESIGN.md).
	let verdicts = new Map<string, Map<string, Verdict>>();
	if (outcome === "completed") {
		try {
			// Read once: the baseline of `previous-run`, and evidence across kernels either way.
			const earlier = earlierRun(matrix, runDir.dir, started.toISOString());
			verdicts = await verdictsFromPlan({
				matrix,
				plan: planFile,
				results: new Map(cells.map((c) => [c.id, collapseAttempts(finals.get(c.id)?.context.results ?? [])])),
				baseline: baselineFor(matrix, earlier),
				...optional("earlier", earlier),
				...optional("lore", loreFor(options.lore ?? matrix.lore, cache.root)),
				knownIssues,
				repoOf,
				cacheRoot: cache.root,
			});
		} catch (error) {
			for (const c of cells)
				note(c.id, `verdicts could not be computed: ${error instanceof Error ? error.message : String(error)}`);
		}
	}

	for (const [cellId, perTest] of verdicts) {
		bus.emit({
			type: "verdicts",
			at: now(),
			cellId,
			verdicts: [...perTest].map(([key, v]) => {
				const colon = key.indexOf(":");
				return {
					suite: key.slice(0, colon) as SuiteName,
					testId: key.slice(colon + 1),
					verdict: v.verdict,
					explanation: describeVerdict(v),
				};
			}),
		});
	}

	const summaries: CellSummary[] = cells.map((c) => {
		const final = finals.get(c.id);
		const context = final?.context;
		const results = collapseAttempts(context?.results ?? []);
		const counts = emptyCounts();
		for (const r of results) counts[r.status]++;
		const kernelBuild = builds.get(c.id);
		const sha = c.kernel.kind === "source" ? resolutions.get(refKey(c.kernel)) : undefined;
		const state = final?.value === "done" ? "done" : final?.value === "failed" ? "failed" : "cancelled";
		return {
			id: c.id,
			kernel: {
				id: c.kernel.id,
				...(sha === undefined ? {} : { sha }),
				...(kernelBuild === undefined ? {} : { build: { key: kernelBuild.key, cacheHit: kernelBuild.cacheHit } }),
			},
			target: c.target.name,
			state,
			...(context?.failure === undefined ? {} : { failure: context.failure }),
			counts,
			results: results.map((r) => {
				const verdict = verdicts.get(c.id)?.get(testKey(r));
				return verdict === undefined ? r : { ...r, verdict, explanation: describeVerdict(verdict) };
			}),
			verdicts: countVerdicts(verdicts.get(c.id)),
			notes: notes.get(c.id) ?? [],
		};
	});
	const resultsFile = runDir.write("results.json", {
		runId,
		matrix: matrix.name,
		outcome,
		started: started.toISOString(),
		finished: new Date().toISOString(),
		cells: summaries,
	});
	runDir.append({ type: "run-finished", outcome });
	bus.emit({ type: "run-finished", at: now(), runId, outcome });
	return { runId, dir: runDir.dir, outcome, cells: summaries, resultsFile };
}

function countVerdicts(perTest: ReadonlyMap<string, Verdict> | undefined): Partial<Record<Verdict["verdict"], number>> {
	const counts: Partial<Record<Verdict["verdict"], number>> = {};
	for (const v of perTest?.values() ?? []) counts[v.verdict] = (counts[v.verdict] ?? 0) + 1;
	return counts;
}
