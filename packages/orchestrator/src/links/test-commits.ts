import type { KutEntry } from "../kut/unittests-cfg.js";
import { capture } from "../proc/run.js";
import { type IndexedCommit, parseLog } from "./index.js";

/**
 * The source files a test is built from, relative to its repository: a KUT entry's image
 * `vmx_tests.flat` comes from `x86/vmx_tests.c`; a selftest `x86_64/cpuid_test` from
 * `tools/testing/selftests/kvm/x86_64/cpuid_test.c`.
 */
export function testSources(
	test: { readonly suite: "kut"; readonly entry: KutEntry } | { readonly suite: "selftests"; readonly id: string },
): string[] {
	if (test.suite === "selftests") return [`tools/testing/selftests/kvm/${test.id}.c`];
	return [`x86/${test.entry.file.replace(/\.flat$/, "")}.c`];
}

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
