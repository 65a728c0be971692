import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BuildFailedError, type BuildInput, firstErrors } from "../build/kernel.js";
import { writeAtomically } from "../paths/atomic.js";
import type { CachePaths } from "../paths/cache.js";
import { CommandError, capture, runCommand } from "../proc/run.js";

export const SELFTESTS_DIR = "tools/testing/selftests/kvm";
const DEFAULT_TIMEOUT_S = 120;

export interface Selftest {
	/** As the tree's Makefile names it: `x86_64/cpuid_test` (6.1), `x86/cpuid_test` (mainline). */
	readonly id: string;
	/** Relative to the build's output directory; absent when this test failed to build. */
	readonly binary?: string;
}

export interface SelftestsBuild {
	readonly outputDir: string;
	readonly tests: readonly Selftest[];
	/** From the tree's `settings` file (`timeout=120`), else 120 s. */
	readonly defaultTimeoutS: number;
	readonly cacheHit: boolean;
	/** The build's first error lines when some tests did not build. */
	readonly errors: readonly string[];
}

const SAFE_ID = /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/;

/** Parses `timeout=N` from a kselftest `settings` file. */
export function settingsTimeout(text: string | undefined): number {
	const m = /^timeout=(\d+)\s*$/m.exec(text ?? "");
	return m?.[1] === undefined ? DEFAULT_TIMEOUT_S : Number(m[1]);
}

/** The tests the tree defines, from its own make variables (the layout changes between versions). */
async function listTests(kvmDir: string, outputDir: string, printMk: string): Promise<string[]> {
	const out = await capture("make", [
		"-s",
		"--no-print-directory",
		"-C",
		kvmDir,
		"-f",
		"Makefile",
		"-f",
		printMk,
		`OUTPUT=${outputDir}`,
		"kvm-matrix-list-tests",
	]);
	return out
		.split(/\s+/)
		.filter(Boolean)
		.map((p) => (p.startsWith(`${outputDir}/`) ? p.slice(outputDir.length + 1) : p))
		.filter((id) => SAFE_ID.test(id) && !id.includes(".."));
}

/** A finished build of this commit's selftests, if the cache has one. */
export async function cachedSelftests(cache: CachePaths, sha: string): Promise<SelftestsBuild | undefined> {
	const manifest = path.join(cache.selftests, sha, "manifest.json");
	if (!existsSync(manifest)) return undefined;
	return { ...(JSON.parse(await readFile(manifest, "utf8")) as Omit<SelftestsBuild, "cacheHit">), cacheHit: true };
}

/**
 * Builds the KVM selftests of a worktree, statically (the guest has no libc), cached by commit:
 * `make headers` into a private directory, then `make -k` so one test that does not compile
 * costs only that test. Writes a manifest last, so a killed build is not taken for a cached one.
 */
export async function buildSelftests(options: BuildInput): Promise<SelftestsBuild> {
	const root = path.join(options.cache.selftests, options.sha);
	const manifest = path.join(root, "manifest.json");
	const cached = await cachedSelftests(options.cache, options.sha);
	if (cached !== undefined) return cached;
	await rm(root, { recursive: true, force: true });
	const headers = path.join(root, "headers");
	const outputDir = path.join(root, "out");
	await mkdir(outputDir, { recursive: true });
	const common = { cwd: options.worktree, signal: options.signal, onLine: options.onLine };
	const kvmDir = path.join(options.worktree, SELFTESTS_DIR);
	if (!existsSync(kvmDir)) throw new BuildFailedError(`no ${SELFTESTS_DIR} in this tree`, []);
	try {
		// Headers go to their own O= directory: the worktree stays clean for kernel builds.
		await runCommand("make", [`O=${headers}`, "headers"], common);
	} catch (error) {
		if (error instanceof CommandError)
			throw new BuildFailedError(`make headers failed: ${error.message}`, firstErrors(error.output));
		throw error;
	}
	let errors: string[] = [];
	try {
		await runCommand(
			"make",
			[
				"-k",
				`-j${options.jobs ?? os.availableParallelism()}`,
				"-C",
				kvmDir,
				`OUTPUT=${outputDir}`,
				`KHDR_INCLUDES=-isystem ${headers}/usr/include`,
				"EXTRA_CFLAGS=-static",
				"LDFLAGS=-static",
			],
			common,
		);
	} catch (error) {
		// -k: what could be built was; the tests that are missing become results of their own.
		if (!(error instanceof CommandError)) throw error;
		errors = firstErrors(error.output);
	}
	const printMk = path.join(root, "list-tests.mk");
	await writeFile(printMk, "kvm-matrix-list-tests:\n\t@echo $(TEST_GEN_PROGS)\n");
	const ids = await listTests(kvmDir, outputDir, printMk);
	const tests = ids.map((id): Selftest => (existsSync(path.join(outputDir, id)) ? { id, binary: id } : { id }));
	const settings = await readFile(path.join(kvmDir, "settings"), "utf8").catch(() => undefined);
	const result = { outputDir, tests, defaultTimeoutS: settingsTimeout(settings), errors };
	await writeAtomically(manifest, JSON.stringify(result));
	return { ...result, cacheHit: false };
}
