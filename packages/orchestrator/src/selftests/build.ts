import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sealOf } from "@kvm-matrix/qemu-runner";
import { BuildFailedError, type BuildInput, buildDeadline, firstErrors } from "../build/kernel.js";
import { checkTestName } from "../matrix/names.js";
import { syncFile, writeAtomically } from "../paths/atomic.js";
import type { CachePaths } from "../paths/cache.js";
import { withLock } from "../paths/lock.js";
import { CommandError, capture, runCommand } from "../proc/run.js";
import { requireCommitId } from "../sources/commit-id.js";

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

/** Parses `timeout=N` from a kselftest `settings` file. */
export function settingsTimeout(text: string | undefined): number {
	const m = /^timeout=(\d+)\s*$/m.exec(text ?? "");
	return m?.[1] === undefined ? DEFAULT_TIMEOUT_S : Number(m[1]);
}

const LIST_BEGIN = "kvm-matrix-tests-begin";
const LIST_END = "kvm-matrix-tests-end";

/**
 * The tests the tree defines, from its own make variables (the layout changes between versions).
 * make prints them itself (`$(info)`), never through a shell: a name is data, and a recipe such
 * as `echo $(TEST_GEN_PROGS)` would run whatever `$(...)` a name holds. A name that is not a safe
 * test name refuses the whole tree, in one line naming the Makefile line that defines it.
 */
async function listTests(kvmDir: string, outputDir: string, printMk: string): Promise<string[]> {
	await writeFile(
		printMk,
		`kvm-matrix-list-tests:\n\t@:$(info ${LIST_BEGIN})$(foreach t,$(TEST_GEN_PROGS),$(info $(t)))$(info ${LIST_END})\n`,
	);
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
	]).catch((error: unknown) => {
		if (error instanceof CommandError)
			throw new BuildFailedError(`listing the selftests failed: ${error.message}`, error.output.slice(-20));
		throw error;
	});
	// Only what our own rule printed: the tree's Makefile may print at parse time too.
	const lines = out.split("\n");
	const begin = lines.lastIndexOf(LIST_BEGIN);
	const end = lines.lastIndexOf(LIST_END);
	const words = begin === -1 || end < begin ? [] : lines.slice(begin + 1, end).filter((l) => l !== "");
	const ids: string[] = [];
	for (const word of words) {
		const id = word.startsWith(`${outputDir}/`) ? word.slice(outputDir.length + 1) : word;
		const checked = checkTestName(id, { slashes: true });
		if (!checked.ok) throw new BuildFailedError(`${await definedAt(kvmDir, id)}: ${checked.error}`, []);
		if (!ids.includes(id)) ids.push(id);
	}
	return ids;
}

/**
 * Where a test name is written in the tree's selftests Makefiles, as `FILE:LINE` from the tree's
 * top: the name as make printed it, spelled with `$$` for each `$`, or its last part (mainline
 * adds the arch directory in a `patsubst`). The variable when no line has it.
 */
async function definedAt(kvmDir: string, id: string): Promise<string> {
	const files = (await readdir(kvmDir).catch(() => [])).filter((f) => /^Makefile/.test(f)).sort();
	const last = id.split("/").at(-1) ?? id;
	// A function, not "$$": in a replacement string "$$" means one "$".
	const escaped = (text: string) => text.replaceAll("$", () => "$$");
	const spellings = [...new Set([id, escaped(id), last, escaped(last)])].filter((s) => s !== "");
	for (const spelling of spellings) {
		for (const file of files) {
			const text = await readFile(path.join(kvmDir, file), "utf8").catch(() => "");
			const index = text.split("\n").findIndex((line) => line.includes(spelling));
			if (index !== -1) return `${SELFTESTS_DIR}/${file}:${index + 1}`;
		}
	}
	return `${SELFTESTS_DIR}/Makefile (TEST_GEN_PROGS)`;
}

/** A finished build of this commit's selftests, if the cache has one. */
export async function cachedSelftests(
	cache: CachePaths,
	sha: string,
	/** `verify: false` when the binaries will not be run (their sources are what is wanted). */
	{ verify = true }: { readonly verify?: boolean } = {},
): Promise<SelftestsBuild | undefined> {
	const manifest = path.join(cache.selftests, sha, "manifest.json");
	if (!existsSync(manifest)) return undefined;
	// A manifest that does not parse (a disk that filled up, a hand edit) is no build: it is built again.
	const stored = await readFile(manifest, "utf8").then(
		(text) => JSON.parse(text) as Omit<SelftestsBuild, "cacheHit"> & { sealed?: Record<string, string> },
		() => undefined,
	);
	if (stored === undefined) return undefined;
	// Written by an older kvm-matrix that filtered names more loosely: build again, and let the
	// listing refuse what is unsafe.
	if (!stored.tests.every((t) => checkTestName(t.id, { slashes: true }).ok)) return undefined;
	const { sealed, ...build } = stored;
	if (!verify) return { ...build, cacheHit: true };
	const binaries = build.tests.flatMap((t) => (t.binary === undefined ? [] : [t.binary]));
	const now = new Map<string, string | undefined>();
	for (const binary of binaries)
		now.set(binary, await sealOf(path.join(build.outputDir, binary)).catch(() => undefined));
	if (sealed === undefined) {
		// Written before seals, by a kvm-matrix that synced nothing: taken as it stands when every
		// binary is there and not empty (rebuilding would pull it from under a run still using it).
		const sizes = await Promise.all(
			binaries.map((b) =>
				stat(path.join(build.outputDir, b)).then(
					(s) => s.size,
					() => 0,
				),
			),
		);
		const whole = sizes.every((size) => size > 0);
		if (!whole) return undefined;
		const adopted = Object.fromEntries(binaries.map((b) => [b, now.get(b) ?? ""]));
		await writeAtomically(manifest, JSON.stringify({ ...build, sealed: adopted }));
		return { ...build, cacheHit: true };
	}
	// Every binary as it was sealed.
	if (!binaries.every((b) => sealed[b] !== undefined && now.get(b) === sealed[b])) return undefined;
	return { ...build, cacheHit: true };
}

/**
 * Builds the KVM selftests of a worktree, statically (the guest has no libc), cached by commit:
 * `make headers` into a private directory, then `make -k` so one test that does not compile
 * costs only that test. Writes a manifest last, so a killed build is not taken for a cached one.
 */
export async function buildSelftests(options: BuildInput): Promise<SelftestsBuild> {
	const cached = await cachedSelftests(options.cache, options.sha);
	if (cached !== undefined) return cached;
	// One kvm-matrix at a time builds a commit's selftests; the next one waits, then finds them cached.
	return withLock(
		path.join(options.cache.selftests, options.sha),
		async (held) => {
			const deadline = buildDeadline("selftests build", {
				signal: held,
				timeoutMs: options.timeoutMs,
				onLine: options.onLine,
			});
			try {
				return await buildSelftestsHoldingLock({ ...options, signal: deadline.signal, onLine: deadline.onLine });
			} catch (error) {
				throw deadline.failure(error);
			} finally {
				deadline.dispose();
			}
		},
		{ signal: options.signal, onWait: options.onWait, what: `the selftests build of ${options.sha.slice(0, 12)}` },
	);
}

async function buildSelftestsHoldingLock(options: BuildInput): Promise<SelftestsBuild> {
	const root = path.join(options.cache.selftests, requireCommitId(options.sha, "a selftests build's commit"));
	const manifest = path.join(root, "manifest.json");
	// Built by the process this one waited for.
	const cached = await cachedSelftests(options.cache, options.sha);
	if (cached !== undefined) return cached;
	// With the lock held nobody else is building here, and nobody uses a build without a manifest:
	// what is there was left by a killed build.
	await rm(root, { recursive: true, force: true });
	const headers = path.join(root, "headers");
	const outputDir = path.join(root, "out");
	await mkdir(outputDir, { recursive: true });
	const common = { cwd: options.worktree, signal: options.signal, onLine: options.onLine };
	const kvmDir = path.join(options.worktree, SELFTESTS_DIR);
	if (!existsSync(kvmDir)) throw new BuildFailedError(`no ${SELFTESTS_DIR} in this tree`, []);
	// Listed before anything is built: a tree whose names are refused runs none of its build.
	const ids = await listTests(kvmDir, outputDir, path.join(root, "list-tests.mk"));
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
	const tests = ids.map((id): Selftest => (existsSync(path.join(outputDir, id)) ? { id, binary: id } : { id }));
	const settings = await readFile(path.join(kvmDir, "settings"), "utf8").catch(() => undefined);
	const result = { outputDir, tests, defaultTimeoutS: settingsTimeout(settings), errors };
	// The binaries' bytes on the disk, then their seals in the manifest, written last.
	const sealed: Record<string, string> = {};
	for (const t of tests) {
		if (t.binary === undefined) continue;
		const file = path.join(outputDir, t.binary);
		await syncFile(file);
		sealed[t.binary] = await sealOf(file);
	}
	await writeAtomically(manifest, JSON.stringify({ ...result, sealed }));
	return { ...result, cacheHit: false };
}
