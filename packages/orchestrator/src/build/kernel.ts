import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isWhole, sealOf, sealPath } from "@kvm-matrix/qemu-runner";
import type { KernelConfig } from "../matrix/types.js";
import { copyAtomically, writeAtomically } from "../paths/atomic.js";
import type { CachePaths } from "../paths/cache.js";
import { withLock } from "../paths/lock.js";
import { CommandError, capture, runCommand } from "../proc/run.js";
import { droppedOptions, hashText, makeConfig } from "./kconfig.js";
import { KVM_TEST_FRAGMENT } from "./kvm-test-fragment.js";

/** What every build step (kernel, selftests, KUT) works on: one commit's worktree, in the cache. */

/** A cached image that reads back as its seal says (one from before seals is sealed as it stands). */
const whole = (image: string) => isWhole(image, (seal) => writeAtomically(sealPath(image), seal));

export interface BuildInput {
	readonly worktree: string;
	readonly sha: string;
	readonly cache: CachePaths;
	/** make's -j; all CPUs by default. */
	readonly jobs?: number;
	readonly signal?: AbortSignal;
	/**
	 * The longest this process may spend building (from when it holds the build's lock, so waiting
	 * for another kvm-matrix building the same thing does not count): make and everything it started
	 * is killed, and the build fails with `BuildTimeoutError`. No limit when omitted.
	 */
	readonly timeoutMs?: number | undefined;
	readonly onLine?: (line: string) => void;
	/** Called once when another kvm-matrix is building the same thing, with a line to show while this one waits. */
	readonly onWait?: ((line: string) => void) | undefined;
}

/** A build that failed: the first compiler error lines are the evidence for an `infra` result. */
export class BuildFailedError extends Error {
	override readonly name: string = "BuildFailedError";
	constructor(
		message: string,
		readonly errors: readonly string[],
	) {
		super(message);
	}
}

/**
 * A build that was still running at its time limit and was killed. A `BuildFailedError` (what
 * failed is the build), whose evidence is the last lines the build printed: what it was doing.
 */
export class BuildTimeoutError extends BuildFailedError {
	override readonly name: string = "BuildTimeoutError";
	constructor(
		/** `kernel build`, `selftests build`, `kvm-unit-tests build`. */
		readonly what: string,
		readonly timeoutMs: number,
		lastLines: readonly string[],
	) {
		super(`${what} exceeded its ${formatLimit(timeoutMs)} timeout`, lastLines);
	}
}

/** 4 h, 90 min, 2 s: a limit as a person would say it. */
export function formatLimit(ms: number): string {
	if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
	if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
	if (ms >= 1_000) return `${Math.round(ms / 100) / 10} s`;
	return `${ms} ms`;
}

/** A build's time limit while it runs (see `buildDeadline`). */
export interface BuildDeadline {
	/** For every command of the build: aborts at the deadline or with the caller's signal. */
	readonly signal: AbortSignal;
	/** The caller's onLine, keeping the last lines as a timeout's evidence. */
	readonly onLine: (line: string) => void;
	/** What the build throws for what its commands threw: a `BuildTimeoutError` when the deadline stopped them. */
	readonly failure: (error: unknown) => unknown;
	/** Stops the clock; call when the build ends, however it ends. */
	readonly dispose: () => void;
}

/**
 * A build's time limit, as a signal for the commands it runs: it aborts at the deadline or when
 * `signal` does. `failure` turns what those commands threw into what the build throws: a
 * `BuildTimeoutError` when the deadline, not the caller, stopped them.
 */
export function buildDeadline(
	what: string,
	options: {
		readonly signal: AbortSignal;
		readonly timeoutMs?: number | undefined;
		readonly onLine?: ((line: string) => void) | undefined;
	},
): BuildDeadline {
	const expired = new AbortController();
	const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => expired.abort(), options.timeoutMs);
	const tail: string[] = [];
	return {
		signal: AbortSignal.any([options.signal, expired.signal]),
		onLine: (line: string) => {
			options.onLine?.(line);
			if (line.trim() === "") return;
			tail.push(line);
			if (tail.length > 5) tail.shift();
		},
		failure: (error: unknown): unknown =>
			expired.signal.aborted && !options.signal.aborted && options.timeoutMs !== undefined
				? new BuildTimeoutError(what, options.timeoutMs, tail)
				: error,
		dispose: () => clearTimeout(timer),
	};
}

export interface KernelBuild {
	readonly image: string;
	readonly cacheHit: boolean;
	/** sha + final .config + compiler. */
	readonly key: string;
	readonly configHash: string;
	readonly objects?: number;
	readonly durationMs: number;
	/** Options kvm-matrix asked for that the tree's Kconfig dropped (absent in this version, or unmet dependencies). */
	readonly dropped: readonly string[];
}

const OBJECT_LINE = /^\s+(?:CC|AS|AR|LD|HOSTCC|OBJCOPY)\s/;

/** The lines that say why a build failed: compiler errors first, make's own summary last. */
export function firstErrors(lines: readonly string[], max = 8): string[] {
	const errors = lines.filter((l) => /\berror:|\bError:|undefined reference|No rule to make target|\*\*\*/.test(l));
	return (errors.length > 0 ? errors : lines.filter((l) => l.trim() !== "").slice(-max)).slice(0, max);
}

export const compilerId = async (): Promise<string> =>
	capture("gcc", ["--version"]).then(
		(out) => out.split("\n")[0] ?? "gcc",
		() => "unknown compiler",
	);

const hasCcache = async () =>
	capture("ccache", ["--version"]).then(
		() => true,
		() => false,
	);

/**
 * Builds a bzImage for (worktree at sha, config). The config is made first, so the cache key is
 * the final .config (after olddefconfig and the fragments) plus the commit and the compiler: a
 * hit skips make entirely. A miss builds out of tree (`O=`) and stores the image.
 *
 * Safe for several kvm-matrix processes on one cache: the output directory is used by one process
 * at a time (its lock), and so is each cache key, so the second process to want a build waits for
 * the first and then finds it in the cache. The output directory is never deleted: one left by a
 * killed build is built on, which kbuild supports (it rebuilds what its .cmd files do not vouch for).
 */
export async function buildKernel(
	options: BuildInput & {
		readonly config: KernelConfig;
		readonly onProgress?: (done: number, total: number | undefined) => void;
	},
): Promise<KernelBuild> {
	const started = performance.now();
	const ms = () => Math.round(performance.now() - started);
	const configId = hashText(JSON.stringify(options.config)).slice(0, 12);
	const outName = `${options.sha.slice(0, 12)}-${configId}`;
	const out = path.join(options.cache.builds, "out", outName);
	// The inputs that decide the final .config; if they were built before, skip even the config
	// steps (a few seconds of make each), which is what keeps a warm run near zero.
	const compiler = await compilerId();
	const inputFiles = [
		...(options.config.base.kind === "file" ? [options.config.base.path] : []),
		...options.config.fragments.flatMap((f) => (f.kind === "file" ? [f.path] : [])),
	];
	const inputs = await Promise.all(inputFiles.map((f) => readFile(f, "utf8").catch(() => "")));
	const inputKey = hashText(
		[options.sha, JSON.stringify(options.config), ...inputs, KVM_TEST_FRAGMENT, compiler].join("\n"),
	).slice(0, 24);
	const byInput = path.join(options.cache.builds, "by-input", inputKey);
	const knownBuild = async (): Promise<KernelBuild | undefined> => {
		const known = await readFile(byInput, "utf8").then(
			(t) => JSON.parse(t) as { key: string; configHash: string; dropped: string[] },
			() => undefined,
		);
		if (known === undefined || !(await whole(path.join(options.cache.builds, known.key, "bzImage")))) return undefined;
		return {
			image: path.join(options.cache.builds, known.key, "bzImage"),
			cacheHit: true,
			key: known.key,
			configHash: known.configHash,
			durationMs: ms(),
			dropped: known.dropped,
		};
	};
	// Without a lock first: a warm run's every kernel is a hit, and must not queue behind a build.
	const hit = await knownBuild();
	if (hit !== undefined) return hit;
	return withLock(
		out,
		async (held) => {
			// Another process may have built it while this one waited for the lock.
			const built = await knownBuild();
			if (built !== undefined) return built;
			const deadline = buildDeadline("kernel build", {
				signal: held,
				timeoutMs: options.timeoutMs,
				onLine: options.onLine,
			});
			try {
				return await configureAndMake(options, { out, compiler, byInput, ms, deadline });
			} catch (error) {
				throw deadline.failure(error);
			} finally {
				deadline.dispose();
			}
		},
		{ signal: options.signal, onWait: options.onWait, what: `kernel build ${outName}` },
	);
}

/** The part of a kernel build that needs the output directory's lock: config, make, store. */
async function configureAndMake(
	options: Parameters<typeof buildKernel>[0],
	context: {
		readonly out: string;
		readonly compiler: string;
		readonly byInput: string;
		readonly ms: () => number;
		readonly deadline: BuildDeadline;
	},
): Promise<KernelBuild> {
	const { out, compiler, byInput, ms, deadline } = context;
	await mkdir(out, { recursive: true });
	const common = { signal: deadline.signal, onLine: deadline.onLine };
	let finalConfig: string;
	try {
		finalConfig = await makeConfig({ worktree: options.worktree, out, config: options.config, ...common });
	} catch (error) {
		if (error instanceof CommandError)
			throw new BuildFailedError(`config failed: ${error.message}`, firstErrors(error.output));
		throw error;
	}
	const configHash = hashText(finalConfig);
	const dropped = droppedOptions(KVM_TEST_FRAGMENT, finalConfig);
	const key = hashText([options.sha, configHash, compiler].join("\n")).slice(0, 20);
	const remember = async () => {
		await mkdir(path.dirname(byInput), { recursive: true });
		await writeAtomically(byInput, JSON.stringify({ key, configHash, dropped }));
	};
	const stored = path.join(options.cache.builds, key);
	const statsFile = path.join(options.cache.buildStats, `${configHash.slice(0, 20)}.json`);
	const image = path.join(stored, "bzImage");
	const cached = async () => {
		if (!(await whole(image))) return undefined;
		await remember();
		return { image, cacheHit: true, key, configHash, durationMs: ms(), dropped } satisfies KernelBuild;
	};
	const hit = await cached();
	if (hit !== undefined) return hit;
	// Two configs that differ in how they are written can make the same final .config, so the
	// same key from two output directories: the key has a lock of its own, and the second waits
	// for the first's image instead of building it again.
	return withLock(
		stored,
		async (held) => {
			const built = await cached();
			if (built !== undefined) return built;
			// `held` ends with the deadline too: the lock was taken with its signal.
			const objects = await make(options, out, statsFile, { signal: held, onLine: deadline.onLine });
			const result = path.join(out, "arch/x86/boot/bzImage");
			if (!existsSync(result)) throw new BuildFailedError("kernel build produced no arch/x86/boot/bzImage", []);
			await mkdir(stored, { recursive: true });
			await writeAtomically(path.join(stored, "config"), finalConfig);
			// The image, then its seal: a sealed image that reads back whole is what says the build
			// is in the cache (a crash can leave an image of no bytes under its name).
			await copyAtomically(result, image);
			await writeAtomically(sealPath(image), await sealOf(image));
			await mkdir(path.dirname(statsFile), { recursive: true });
			await writeAtomically(statsFile, JSON.stringify({ objects }));
			await remember();
			return { image, cacheHit: false, key, configHash, objects, durationMs: ms(), dropped } satisfies KernelBuild;
		},
		{ signal: deadline.signal, onWait: options.onWait, what: `kernel ${key}` },
	);
}

/** `make bzImage` in `out`; returns how many objects it built, kept in `statsFile` for the next build's progress. */
async function make(
	options: Parameters<typeof buildKernel>[0],
	out: string,
	statsFile: string,
	run: { readonly signal: AbortSignal; readonly onLine: (line: string) => void },
): Promise<number> {
	const total = await readFile(statsFile, "utf8").then(
		(t) => (JSON.parse(t) as { objects: number }).objects,
		() => undefined,
	);
	let objects = 0;
	const args = [`O=${out}`, `-j${options.jobs ?? os.availableParallelism()}`];
	if (await hasCcache()) args.push("CC=ccache gcc");
	try {
		await runCommand("make", [...args, "bzImage"], {
			cwd: options.worktree,
			signal: run.signal,
			onLine: (line) => {
				run.onLine(line);
				if (!OBJECT_LINE.test(line)) return;
				objects++;
				options.onProgress?.(objects, total);
			},
		});
	} catch (error) {
		if (error instanceof CommandError) {
			throw new BuildFailedError(
				`kernel build failed: ${firstErrors(error.output)[0] ?? error.message}`,
				firstErrors(error.output),
			);
		}
		throw error;
	}
	return objects;
}
