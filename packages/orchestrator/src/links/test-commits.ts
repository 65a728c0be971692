import { capture } from "../proc/run.js";
import { type IndexedCommit, parseLog } from "./index.js";

/**
 * The commits of `ref` that touched any of `files`, newest first, with their references. A merge
 * is not one: what it brings is in the commits it merges, and its own message (a pull request's)
 * names no test's fix. Every commit that changed them counts (`--full-history`), as in
 * `test-history.ts`.
 */
export async function commitsTouching(repo: string, ref: string, files: readonly string[]): Promise<IndexedCommit[]> {
	const out = await capture("git", [
		"-C",
		repo,
		"log",
		"--no-merges",
		"--full-history",
		"--format=%H%x00%s%x00%B%x1e",
		ref,
		"--",
		...files,
	]);
	return parseLog(out);
}
