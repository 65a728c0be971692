import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BuildFailedError, type BuildInput, buildDeadline, firstErrors } from "../build/kernel.js";
import { writeAtomically } from "../paths/atomic.js";
import type { CachePaths } from "../paths/cache.js";
import { withLock } from "../paths/lock.js";
import { CommandError, runCommand } from "../proc/run.js";
import { type KutEntry, parseUnittestsCfg } from "./unittests-cfg.js";

export interface KutBuild {
	/** The KUT tree, configured and built in place (its own worktree for this commit). */
	readonly dir: string;
	readonly entries: readonly KutEntry[];
	readonly cacheHit: boolean;
}

/** Written last by a finished build of `sha`: what `buildKut` and the verdicts trust. */
export const kutBuildMarker = (cache: CachePaths, sha: string) => path.join(cache.root, "kut", `${sha}.built`);

/** Written before a build of `sha` starts and removed when it finishes: a build that was killed leaves it. */
const unfinishedMarker = (cache: CachePaths, sha: string) => path.join(cache.root, "kut", `${sha}.building`);

/**
 * `./configure --arch=x86_64 && make -j` in a worktree of the KUT commit, as KUT's README says,
 * cached by commit (a marker written last, checked against the tree still being configured).
 * One kvm-matrix at a time builds a commit (the next waits, then finds it built); a tree whose
 * last build was killed (a truncated object would pass for built) is cleaned first.
 */
export async function buildKut(options: BuildInput): Promise<KutBuild> {
	const marker = kutBuildMarker(options.cache, options.sha);
	const cfgFile = path.join(options.worktree, "x86/unittests.cfg");
	const entries = async () => {
		if (!existsSync(cfgFile))
			throw new BuildFailedError(`no x86/unittests.cfg in ${options.worktree}: is this kvm-unit-tests?`, []);
		return parseUnittestsCfg(await readFile(cfgFile, "utf8")).entries;
	};
	const built = () => existsSync(marker) && existsSync(path.join(options.worktree, "config.mak"));
	if (built()) return { dir: options.worktree, entries: await entries(), cacheHit: true };
	return withLock(
		path.join(options.cache.root, "kut", options.sha),
		async (held) => {
			if (built()) return { dir: options.worktree, entries: await entries(), cacheHit: true };
			const deadline = buildDeadline("kvm-unit-tests build", {
				signal: held,
				timeoutMs: options.timeoutMs,
				onLine: options.onLine,
			});
			const common = { cwd: options.worktree, signal: deadline.signal, onLine: deadline.onLine };
			const unfinished = unfinishedMarker(options.cache, options.sha);
			try {
				// Only with the lock held: no other process is building in this tree, and none runs
				// tests from it (it has no finished build).
				if (existsSync(unfinished)) await runCommand("git", ["-C", options.worktree, "clean", "-fdxq"], common);
				await mkdir(path.dirname(unfinished), { recursive: true });
				await writeAtomically(unfinished, `${process.pid}\n`);
				await runCommand("./configure", ["--arch=x86_64"], common);
				await runCommand("make", [`-j${options.jobs ?? os.availableParallelism()}`], common);
			} catch (error) {
				if (error instanceof CommandError)
					throw new BuildFailedError(`kvm-unit-tests build failed: ${error.message}`, firstErrors(error.output));
				throw deadline.failure(error);
			} finally {
				deadline.dispose();
			}
			const result = await entries();
			await writeAtomically(marker, `${new Date().toISOString()}\n`);
			await rm(unfinished, { force: true });
			return { dir: options.worktree, entries: result, cacheHit: false };
		},
		{ signal: options.signal, onWait: options.onWait, what: `the kvm-unit-tests build of ${options.sha.slice(0, 12)}` },
	);
}
