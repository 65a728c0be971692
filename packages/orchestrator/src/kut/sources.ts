/**
 * Which files a kvm-unit-tests entry is built from, as KUT's own build says: an image
 * `x86/<image>.flat` links `x86/<image>.o` plus the objects its Makefile rules add
 * (`$(TEST_DIR)/vmx.$(bin): $(TEST_DIR)/vmx_tests.o`), and each object was compiled from the files
 * its dependency file `x86/.<obj>.d` lists (`-MMD -MP`), `#include`d `.c` files among them. Only
 * files under `x86/` count: `lib/` and the start-up code are linked into every image, so a commit
 * there says nothing about one test.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { normalizeSourcePath, parseDepFile, type TestSourceSet } from "../links/test-sources.js";
import { cachePaths } from "../paths/cache.js";
import { capture } from "../proc/run.js";
import { kutBuildMarker } from "./build.js";
import type { KutEntry } from "./unittests-cfg.js";

export { parseDepFile, type TestSourceSet } from "../links/test-sources.js";

const TEST_DIR = "x86";

/**
 * The x86 Makefiles that hold image rules, newest layout first; before 2014 they were
 * `config/config-x86-common.mak` and `config/config-x86_64.mak`.
 */
const MAKEFILES = [
	"x86/Makefile.common",
	"x86/Makefile.x86_64",
	"config/config-x86-common.mak",
	"config/config-x86_64.mak",
];

/** Image base name → the extra objects its link rules name, e.g. `vmx` → `x86/vmx_tests.o`, `x86/access.o`. */
export type ImageRules = ReadonlyMap<string, readonly string[]>;

/** `vmx.flat` (or `.efi`, `.elf`) → `vmx`. */
export const imageName = (file: string): string => path.posix.basename(file).replace(/\.(flat|efi|elf)$/, "");

const VAR = (name: string) => String.raw`\$[({]${name}[)}]`;
const IMAGE_TARGET = new RegExp(
	String.raw`^(?:${VAR("SRCDIR")}/)?(?:${VAR("TEST_DIR")}|${TEST_DIR})/([\w-]+)\.(?:${VAR("bin")}|${VAR("exe")}|elf|flat)$`,
);
// `x.o: CFLAGS += ...`, `%.elf: LDFLAGS += ...`: target-specific variables, not prerequisites.
const TARGET_VARIABLE = /^\s*(?:(?:override|export|private)\s+)*[^\s:=#]+\s*(?:\+|\?|!|::?)?=/;
// A rule's colon: not part of `:=`/`::=`, and with no `=` before it (that line is an assignment).
const RULE = /^([^:=#]*[^:=\s#])\s*::?(?!=)(.*)$/;

/** A prerequisite as a repository path, or undefined when it is not a literal object under `x86/`. */
function objectPath(word: string): string | undefined {
	const file = word.replace(new RegExp(`^${VAR("SRCDIR")}/`), "").replace(new RegExp(VAR("TEST_DIR"), "g"), TEST_DIR);
	// Anything still holding a variable (`$(cstart.o)`, `$(FLATLIBS)`) is shared by every image.
	if (file.includes("$") || !file.endsWith(".o")) return undefined;
	const normal = normalizeSourcePath(file);
	return normal.startsWith(`${TEST_DIR}/`) ? normal : undefined;
}

const isBlank = (c: string | undefined) => c === " " || c === "\t";

/**
 * `\` continuations joined as make does: a backslash-newline and the blanks around it become one
 * space. By hand: a pattern for "blanks, backslash, newline, blanks" takes time quadratic in a long
 * run of blanks.
 */
function joinContinuations(text: string): string {
	const pieces = text.split("\\\n");
	return pieces
		.map((piece, i) => {
			let start = 0;
			let end = piece.length;
			if (i > 0) while (start < end && isBlank(piece[start])) start++;
			if (i < pieces.length - 1) while (end > start && isBlank(piece[end - 1])) end--;
			return piece.slice(start, end);
		})
		.join(" ");
}

/** A Makefile line up to its first `#` that no backslash escapes. */
function withoutComment(line: string): string {
	for (let at = line.indexOf("#"); at !== -1; at = line.indexOf("#", at + 1))
		if (at === 0 || line[at - 1] !== "\\") return line.slice(0, at);
	return line;
}

/**
 * The objects each image links besides its own `<image>.o`, from the rules of KUT's x86 Makefiles
 * (all of them: a rule in `Makefile.common` and one in `Makefile.x86_64` add up). Pattern rules,
 * recipes and target-specific variables are skipped; `\` continuations are joined as make does.
 */
export function parseImageRules(makefileTexts: readonly string[]): ImageRules {
	const rules = new Map<string, string[]>();
	for (const text of makefileTexts) {
		const lines = joinContinuations(text.replace(/\r\n?/g, "\n")).split("\n");
		for (const raw of lines) {
			if (raw.startsWith("\t")) continue;
			const line = withoutComment(raw);
			const rule = RULE.exec(line);
			if (rule === null) continue;
			const images = (rule[1] ?? "")
				.trim()
				.split(/\s+/)
				.map((target) => IMAGE_TARGET.exec(target)?.[1])
				.filter((name): name is string => name !== undefined);
			const rest = (rule[2] ?? "").split(";")[0] ?? "";
			if (images.length === 0 || TARGET_VARIABLE.test(rest)) continue;
			// Order-only prerequisites (after `|`) are not linked.
			const objects = (rest.split("|")[0] ?? "")
				.trim()
				.split(/\s+/)
				.map(objectPath)
				.filter((o): o is string => o !== undefined);
			for (const image of images) {
				const own = `${TEST_DIR}/${image}.o`;
				const list = rules.get(image) ?? [];
				for (const object of objects) if (object !== own && !list.includes(object)) list.push(object);
				if (list.length > 0) rules.set(image, list);
			}
		}
	}
	return rules;
}

/** Every file in the list that is under `x86/`, repository-relative. */
const underTestDir = (files: readonly string[]) =>
	files
		.filter((f) => !path.posix.isAbsolute(f))
		.map(normalizeSourcePath)
		.filter((f) => f.startsWith(`${TEST_DIR}/`));

const sourceSet = (files: Iterable<string>, basis: TestSourceSet["basis"]): TestSourceSet => ({
	files: [...new Set(files)].sort(),
	basis,
});

/**
 * The files an entry's image is built from. With a dependency file for every object the answer is
 * the build's own (`build`); with the Makefile's rules (`rules` defined, even empty) but no build,
 * each object's `.c` (`makefile`); with neither, `x86/<image>.c` (`image-name`).
 * `deps(object)` gives the prerequisites of `x86/.<obj>.d`, or undefined when there is none.
 */
export function kutEntrySources(
	entry: Pick<KutEntry, "file">,
	rules: ImageRules | undefined,
	deps: (object: string) => readonly string[] | undefined,
): TestSourceSet {
	const image = imageName(entry.file);
	const objects = [`${TEST_DIR}/${image}.o`, ...(rules?.get(image) ?? [])];
	const compiled = objects.map((object) => ({ object, deps: deps(object) }));
	if (compiled.every((c) => c.deps !== undefined)) {
		return sourceSet(
			compiled.flatMap((c) => underTestDir(c.deps ?? [])),
			"build",
		);
	}
	if (rules === undefined) return sourceSet([`${TEST_DIR}/${image}.c`], "image-name");
	// Some objects built, others not (a killed build): what is known, and the rest by name.
	const files = compiled.flatMap((c) =>
		c.deps === undefined ? [c.object.replace(/\.o$/, ".c")] : underTestDir(c.deps),
	);
	return sourceSet(files, "makefile");
}

/** The entries (by name, in cfg order) whose image is built from any of `files`: the tests a commit touching them concerns. */
export function testsForFiles(
	files: readonly string[],
	entries: readonly Pick<KutEntry, "name" | "file">[],
	rules: ImageRules | undefined,
	deps: (object: string) => readonly string[] | undefined,
): string[] {
	const touched = new Set(files.map(normalizeSourcePath));
	const byImage = new Map<string, boolean>();
	return entries
		.filter((entry) => {
			const image = imageName(entry.file);
			let hit = byImage.get(image);
			if (hit === undefined) {
				hit = kutEntrySources(entry, rules, deps).files.some((f) => touched.has(f));
				byImage.set(image, hit);
			}
			return hit;
		})
		.map((entry) => entry.name);
}

/** Where KUT's build writes an object's dependency file: `x86/vmx_tests.o` → `x86/.vmx_tests.d`. */
export const depFileOf = (object: string): string =>
	path.posix.join(path.posix.dirname(object), `.${path.posix.basename(object, ".o")}.d`);

// Many entries share one commit: its Makefiles are read once per process.
const rulesCache = new Map<string, Promise<ImageRules | undefined>>();

/**
 * The image rules of `sha`'s Makefiles, or undefined when it has none of them (not KUT, or no x86).
 * A repository or commit that does not exist is an error, not a tree without Makefiles.
 */
export function kutImageRules(repo: string, sha: string): Promise<ImageRules | undefined> {
	const key = `${repo}\0${sha}`;
	let rules = rulesCache.get(key);
	if (rules === undefined) {
		rules = (async () => {
			const listed = await capture("git", ["-C", repo, "ls-tree", "--name-only", sha, "--", ...MAKEFILES]);
			const present = MAKEFILES.filter((file) => listed.split("\n").includes(file));
			if (present.length === 0) return undefined;
			return parseImageRules(
				await Promise.all(present.map((file) => capture("git", ["-C", repo, "show", `${sha}:${file}`]))),
			);
		})();
		rulesCache.set(key, rules);
		rules.catch(() => rulesCache.delete(key));
	}
	return rules;
}

/**
 * The dependency files of a built tree, as a lookup for `kutEntrySources`/`testsForFiles`: those of
 * `objects`, or every `x86/.*.d` when omitted. The compiler wrote sources relative to the build
 * directory and headers found through `-I $(SRCDIR)/lib` absolute (KUT's configure makes `SRCDIR`
 * absolute, in tree or out): both become repository-relative here.
 */
export async function readKutDepFiles(
	buildDir: string,
	objects?: readonly string[],
): Promise<(object: string) => readonly string[] | undefined> {
	const root = path.resolve(buildDir);
	const config = await readFile(path.join(root, "config.mak"), "utf8").catch(() => "");
	const srcdir = /^SRCDIR=(.+)$/m.exec(config)?.[1]?.trim();
	const roots = [...new Set([srcdir === undefined ? root : path.resolve(root, srcdir), root])];
	const relative = (file: string) => {
		if (!path.isAbsolute(file)) return file;
		const under = roots.find((r) => file.startsWith(`${r}/`));
		return under === undefined ? file : path.relative(under, file);
	};
	const wanted =
		objects ??
		(await readdir(path.join(root, TEST_DIR)).catch(() => []))
			.filter((name) => name.startsWith(".") && name.endsWith(".d"))
			.map((name) => `${TEST_DIR}/${name.slice(1, -2)}.o`);
	const found = new Map<string, readonly string[]>();
	await Promise.all(
		wanted.map(async (object) => {
			const text = await readFile(path.join(root, depFileOf(object)), "utf8").catch(() => undefined);
			if (text !== undefined) found.set(object, parseDepFile(text).map(relative));
		}),
	);
	return (object) => found.get(object);
}

/**
 * The files `entry` is built from at `sha` of the KUT repository `repo`: its Makefiles' rules from
 * git, and, when `buildDir` holds a build of that commit, its dependency files.
 */
export async function kutSources(options: {
	readonly repo: string;
	readonly sha: string;
	readonly entry: Pick<KutEntry, "file">;
	readonly buildDir?: string | undefined;
}): Promise<TestSourceSet> {
	const rules = await kutImageRules(options.repo, options.sha);
	const image = imageName(options.entry.file);
	const objects = [`${TEST_DIR}/${image}.o`, ...(rules?.get(image) ?? [])];
	const deps = options.buildDir === undefined ? () => undefined : await readKutDepFiles(options.buildDir, objects);
	return kutEntrySources(options.entry, rules, deps);
}

/**
 * The finished KUT build of `sha` in the cache, if there is one: its worktree, once `buildKut` has
 * written its marker and the tree is still configured (the same test `buildKut` trusts).
 */
export function kutBuildDir(cacheRoot: string, sha: string): string | undefined {
	const cache = cachePaths(cacheRoot);
	const marker = kutBuildMarker(cache, sha);
	const worktree = path.join(cache.worktrees, sha);
	return existsSync(marker) && existsSync(path.join(worktree, "config.mak")) ? worktree : undefined;
}
