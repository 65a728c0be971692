import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BuildFailedError, type BuildInput, firstErrors } from "../build/kernel.js";
import type { CachePaths } from "../paths/cache.js";
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

/**
 * `./configure --arch=x86_64 && make -j` in a worktree of the KUT commit, as KUT's README says,
 * cached by commit (a marker written last, checked against the tree still being configured).
 */
export async function buildKut(options: BuildInput): Promise<KutBuild> {
	const marker = kutBuildMarker(options.cache, options.sha);
	const cfgFile = path.join(options.worktree, "x86/unittests.cfg");
	const entries = async () => {
		if (!existsSync(cfgFile))
			throw new BuildFailedError(`no x86/unittests.cfg in ${options.worktree}: is this kvm-unit-tests?`, []);
		return parseUnittestsCfg(await readFile(cfgFile, "utf8")).entries;
	};
	if (existsSync(marker) && existsSync(path.join(options.worktree, "config.mak"))) {
		return { dir: options.worktree, entries: await entries(), cacheHit: true };
	}
	const common = { cwd: options.worktree, signal: options.signal, onLine: options.onLine };
	try {
		await runCommand("./configure", ["--arch=x86_64"], common);
		await runCommand("make", [`-j${options.jobs ?? os.availableParallelism()}`], common);
	} catch (error) {
		if (error instanceof CommandError)
			throw new BuildFailedError(`kvm-unit-tests build failed: ${error.message}`, firstErrors(error.output));
		throw error;
	}
	const result = await entries();
	await mkdir(path.dirname(marker), { recursive: true });
	await writeFile(marker, `${new Date().toISOString()}\n`);
	return { dir: options.worktree, entries: result, cacheHit: false };
}
