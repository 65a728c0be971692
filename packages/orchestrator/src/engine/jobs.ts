// The job runner: checkouts and builds shared between cells. Each job runs once per run and every
// cell that needs it awaits the same promise; builds go through the build queue, and each build's
// cache (keyed in build/, selftests/, kut/) makes a job that ran before, in any run, a cache hit.
import { buildKernel, type KernelBuild } from "../build/kernel.js";
import { buildKut, type KutBuild } from "../kut/build.js";
import type { Job } from "../plan/types.js";
import { buildSelftests, cachedSelftests, type SelftestsBuild } from "../selftests/build.js";
import { worktreeFor } from "../sources/git.js";
import type { RunContext } from "./context.js";

/** How long one build may take before its make is killed: a 4-hour build is a hung build. */
export const BUILD_TIMEOUT_MS = 4 * 3_600_000;

export interface JobRunner {
	readonly worktree: (id: string) => Promise<string>;
	readonly kernelBuild: (id: string) => Promise<KernelBuild>;
	readonly selftestsBuild: (id: string) => Promise<SelftestsBuild>;
	readonly kutBuild: (id: string) => Promise<KutBuild>;
}

export function createJobRunner(ctx: RunContext, buildTimeoutMs = BUILD_TIMEOUT_MS): JobRunner {
	const { bus, cache, signal } = ctx;
	const jobs = new Map(ctx.plan.jobs.map((j) => [j.id, j]));
	const running = new Map<string, Promise<unknown>>();
	const say = (job: Job, line: string) =>
		bus.emit({ type: "log-line", at: Date.now(), subject: { kind: "job", id: job.id }, stream: "engine", line });
	const buildLine = (id: string) => (line: string) =>
		bus.emit({ type: "log-line", at: Date.now(), subject: { kind: "job", id }, stream: "build", line });
	const run = <T>(id: string, work: (job: Job) => Promise<T>, done: (result: T) => string): Promise<T> => {
		let promise = running.get(id) as Promise<T> | undefined;
		if (promise === undefined) {
			const job = jobs.get(id);
			if (job === undefined) return Promise.reject(new Error(`no job ${id}`));
			const start = Date.now();
			promise = work(job).then(
				(result) => {
					const detail = done(result);
					ctx.runDir.append({ type: "job-finished", job: id, ok: true, detail, ms: Date.now() - start });
					say(job, detail);
					return result;
				},
				(error: unknown) => {
					if (!signal.aborted) {
						const detail = error instanceof Error ? error.message : String(error);
						ctx.runDir.append({ type: "job-finished", job: id, ok: false, detail, ms: Date.now() - start });
					}
					throw error;
				},
			);
			promise.catch(() => {});
			running.set(id, promise);
		}
		return promise;
	};
	const sha = (job: Job) => job.revision.sha ?? "";
	/** What every build of a job's worktree is given: its commit, the cache, the CPUs, the limits. */
	const buildInput = async (job: Job) => ({
		worktree: await worktree(job.needs[0] ?? ""),
		sha: sha(job),
		cache,
		jobs: ctx.cpus,
		signal,
		timeoutMs: buildTimeoutMs,
		onWait: (line: string) => say(job, line),
		onLine: buildLine(job.id),
	});

	const worktree = (id: string) =>
		run(
			id,
			async (job) =>
				worktreeFor(await ctx.repoOf(job.revision.tree), sha(job), cache.worktrees, signal, (line) => say(job, line)),
			(dir) => `worktree ${dir}`,
		);

	const kernelBuild = (id: string) =>
		run(
			id,
			(job) =>
				ctx.buildQueue.add(async (): Promise<KernelBuild> => {
					if (job.kind !== "kernel-build") throw new Error(`${id} is not a kernel build`);
					const input = await buildInput(job);
					say(job, `building ${job.revision.tree}@${job.revision.ref} (${sha(job).slice(0, 12)})`);
					return buildKernel({
						...input,
						config: job.config,
						onProgress: (done, total) =>
							bus.emit({
								type: "step-progress",
								at: Date.now(),
								subject: { kind: "job", id },
								step: "build",
								done,
								...(total === undefined ? {} : { total }),
								unit: "objects",
							}),
					});
				}) as Promise<KernelBuild>,
			(result) =>
				result.cacheHit
					? `cache hit: kernel ${result.key} (make skipped)`
					: `built kernel ${result.key} in ${Math.round(result.durationMs / 1000)} s`,
		);

	const selftestsBuild = (id: string) =>
		run(
			id,
			async (job): Promise<SelftestsBuild> => {
				// A cached build needs no CPU: it must not wait behind a kernel build in the queue.
				const cached = await cachedSelftests(cache, sha(job));
				if (cached !== undefined) return cached;
				return (await ctx.buildQueue.add(async () => buildSelftests(await buildInput(job)))) as SelftestsBuild;
			},
			(result) =>
				result.cacheHit
					? `cache hit: selftests of ${id}`
					: `built ${result.tests.filter((t) => t.binary).length} selftests`,
		);

	const kutBuild = (id: string) =>
		run(
			id,
			(job) => ctx.buildQueue.add(async (): Promise<KutBuild> => buildKut(await buildInput(job))) as Promise<KutBuild>,
			(result) =>
				result.cacheHit ? "cache hit: kvm-unit-tests" : `built kvm-unit-tests (${result.entries.length} tests)`,
		);

	return { worktree, kernelBuild, selftestsBuild, kutBuild };
}
