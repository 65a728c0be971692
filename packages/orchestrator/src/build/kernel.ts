import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { KernelConfig } from "../matrix/types.js";
import { copyAtomically } from "../paths/atomic.js";
import type { CachePaths } from "../paths/cache.js";
import { CommandError, capture, runCommand } from "../proc/run.js";
import { droppedOptions, hashText, makeConfig } from "./kconfig.js";
import { KVM_TEST_FRAGMENT } from "./kvm-test-fragment.js";

/** What every build step (kernel, selftests, KUT) works on: one commit's worktree, in the cache. */
export interface BuildInput {
	readonly worktree: string;
	readonly sha: string;
	readonly cache: CachePaths;
	/** make's -j; all CPUs by default. */
	readonly jobs?: number;
	readonly signal?: AbortSignal;
	readonly onLine?: (line: string) => void;
}

/** A build that failed: the first compiler error lines are the evidence for an `infra` result. */
export class BuildFailedError extends Error {
	override readonly name = "BuildFailedError";
	constructor(
		message: string,
		readonly errors: readonly string[],
	) {
		super(message);
	}
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
 */
export async function buildKernel(
	options: BuildInput & {
		readonly config: KernelConfig;
		readonly onProgress?: (done: number, total: number | undefined) => void;
	},
): Promise<KernelBuild> {
	const started = performance.now();
	const configId = hashText(JSON.stringify(options.config)).slice(0, 12);
	const out = path.join(options.cache.builds, "out", `${options.sha.slice(0, 12)}-${configId}`);
	await mkdir(out, { recursive: true });
	const common = { signal: options.signal, onLine: options.onLine };
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
	const known = await readFile(byInput, "utf8").then(
		(t) => JSON.parse(t) as { key: string; configHash: string; dropped: string[] },
		() => undefined,
	);
	if (known !== undefined && existsSync(path.join(options.cache.builds, known.key, "bzImage"))) {
		return {
			image: path.join(options.cache.builds, known.key, "bzImage"),
			cacheHit: true,
			key: known.key,
			configHash: known.configHash,
			durationMs: Math.round(performance.now() - started),
			dropped: known.dropped,
		};
	}
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
		await writeFile(byInput, JSON.stringify({ key, configHash, dropped }));
	};
	const stored = path.join(options.cache.builds, key);
	const image = path.join(stored, "bzImage");
	const ms = () => Math.round(performance.now() - started);
	if (existsSync(image)) {
		await remember();
		return { image, cacheHit: true, key, configHash, durationMs: ms(), dropped };
	}

	const statsFile = path.join(options.cache.buildStats, `${configHash.slice(0, 20)}.json`);
	const total = await readFile(statsFile, "utf8").then(
		(t) => (JSON.parse(t) as { objects: number }).objects,
		() => undefined,
	);
	let objects = 0;
	const make = ["make", `O=${out}`, `-j${options.jobs ?? os.availableParallelism()}`];
	if (await hasCcache()) make.push("CC=ccache gcc");
	try {
		await runCommand(make[0] ?? "make", [...make.slice(1), "bzImage"], {
			cwd: options.worktree,
			...(options.signal === undefined ? {} : { signal: options.signal }),
			onLine: (line) => {
				options.onLine?.(line);
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
	const built = path.join(out, "arch/x86/boot/bzImage");
	if (!existsSync(built)) throw new BuildFailedError("kernel build produced no arch/x86/boot/bzImage", []);
	await mkdir(stored, { recursive: true });
	await writeFile(path.join(stored, "config"), finalConfig);
	await copyAtomically(built, image);
	await mkdir(path.dirname(statsFile), { recursive: true });
	await writeFile(statsFile, JSON.stringify({ objects }));
	await remember();
	return { image, cacheHit: false, key, configHash, objects, durationMs: ms(), dropped };
}
