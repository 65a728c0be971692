/**
 * Which files a KVM selftest is built from: `x86_64/cpuid_test` from
 * `tools/testing/selftests/kvm/x86_64/cpuid_test.c`, and, when the build wrote a dependency file
 * for it, the other files of the test's own directory it compiled in. Kernels since 6.4 build
 * selftests with `-MD` (later `-MD -MP`), writing `$(OUTPUT)/<id>.d` beside `<id>.o`; 6.1 writes
 * none. The shared `lib/` and `include/` are built into every test, so they are left out.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { normalizeSourcePath, parseDepFile, type TestSourceSet } from "../links/test-sources.js";
import { SELFTESTS_DIR } from "./build.js";

const SHARED = new Set(["lib", "include"]);

/**
 * A dependency-file path as a repository path. make runs in the selftests directory, so relative
 * paths are relative to it; absolute ones (out-of-tree builds, `$(top_srcdir)/...`) are cut at the
 * selftests directory, and anything outside it (system and tools headers) is not a test source.
 */
function repoPath(file: string): string | undefined {
	if (path.posix.isAbsolute(file)) {
		const normal = path.posix.normalize(file);
		const at = normal.lastIndexOf(`/${SELFTESTS_DIR}/`);
		return at === -1 ? undefined : normal.slice(at + 1);
	}
	return normalizeSourcePath(path.posix.join(SELFTESTS_DIR, file));
}

/**
 * The files of a selftest: its `.c`, and with `depFile` (the text of `<id>.d`) every file it lists
 * in the test's own directory that is not the shared library or headers.
 */
export function selftestEntrySources(id: string, depFile: string | undefined): TestSourceSet {
	const main = `${SELFTESTS_DIR}/${id}.c`;
	if (depFile === undefined) return { files: [main], basis: "image-name" };
	const ownDir = path.posix.dirname(main);
	const ownFile = (f: string | undefined): f is string =>
		f?.startsWith(`${ownDir}/`) === true && !SHARED.has(f.slice(SELFTESTS_DIR.length + 1).split("/")[0] ?? "");
	const files = parseDepFile(depFile).map(repoPath).filter(ownFile);
	return { files: [...new Set([main, ...files])].sort(), basis: "build" };
}

/**
 * The files selftest `id` is built from at `sha` of `repo`; `outputDir` is a selftests build's
 * output directory (`SelftestsBuild.outputDir`), read for `<id>.d` when given.
 */
export async function selftestSources(options: {
	readonly repo: string;
	readonly sha: string;
	readonly id: string;
	readonly outputDir?: string | undefined;
}): Promise<TestSourceSet> {
	const depFile =
		options.outputDir === undefined
			? undefined
			: await readFile(path.join(options.outputDir, `${options.id}.d`), "utf8").catch(() => undefined);
	return selftestEntrySources(options.id, depFile);
}
