import { capture } from "../proc/run.js";
import { type IndexedCommit, parseLog } from "./index.js";

/** The commits of `ref` that touched any of `files`, newest first, with their references. */
export async function commitsTouching(repo: string, ref: string, files: readonly string[]): Promise<IndexedCommit[]> {
	const out = await capture("git", ["-C", repo, "log", "--format=%H%x00%s%x00%B%x1e", ref, "--", ...files]);
	return parseLog(out);
}

/** The commits of `ref` that added `[name]` to x86/unittests.cfg: a new entry maps to the commit that added it. */
export async function commitsAddingEntry(repo: string, ref: string, name: string): Promise<IndexedCommit[]> {
	const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
	const out = await capture("git", [
		"-C",
		repo,
		"log",
		"--format=%H%x00%s%x00%B%x1e",
		`-G^\\[${escaped}\\]$`,
		ref,
		"--",
		"x86/unittests.cfg",
	]);
	return parseLog(out);
}
