/**
 * What a test is built from, in the terms both suites share: the set of repository files a commit
 * must touch to concern the test, how that set was found, and the dependency files (`-MD`,
 * `-MMD -MP`) that the compiler writes in KUT's and the newer kernels' selftests builds.
 */
import path from "node:path";

export interface TestSourceSet {
	/** Repository-relative, deduplicated, sorted. */
	readonly files: readonly string[];
	/**
	 * `build`: the compiler's dependency files of a finished build (every file really compiled in,
	 * `#include`d `.c` files too); `makefile`: each object the tree's link rules name, as its own
	 * `.c`; `image-name`: the test's name alone, when neither is available.
	 */
	readonly basis: "build" | "makefile" | "image-name";
}

/**
 * Splits a make word list on unescaped blanks, undoing the escapes gcc writes (`\ `, `\#`, `$$`).
 * A backslash before anything else is a path character, as make reads it.
 */
function makeWords(text: string): string[] {
	const words: string[] = [];
	let word = "";
	for (let i = 0; i < text.length; i++) {
		const c = text[i] ?? "";
		const next = text[i + 1];
		if (c === "\\" && (next === " " || next === "\t" || next === "#")) {
			word += next;
			i++;
		} else if (c === "$" && next === "$") {
			word += "$";
			i++;
		} else if (c === " " || c === "\t") {
			if (word !== "") words.push(word);
			word = "";
		} else word += c;
	}
	if (word !== "") words.push(word);
	return words;
}

/**
 * The prerequisites of the first rule of a compiler dependency file: the source and every header
 * (or `#include`d `.c`) it read. The empty rules `-MP` adds after it, one per header, so that
 * make survives a deleted header, are not the object's rule and are ignored.
 */
export function parseDepFile(text: string): readonly string[] {
	const joined = text.replace(/\r\n?/g, "\n").replace(/\\\n/g, " ");
	for (const line of joined.split("\n")) {
		if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
		// The target ends at the first colon followed by a blank or the end: paths may hold colons.
		const colon = /:(?=\s|$)/.exec(line);
		if (colon === null) continue;
		return [...new Set(makeWords(line.slice(colon.index + 1)))];
	}
	return [];
}

/** A dependency-file path as a repository-relative one: `./x86/a.h` and `x86/../x86/a.h` are `x86/a.h`. */
export function normalizeSourcePath(file: string): string {
	return path.posix.normalize(file).replace(/^(\.\/)+/, "");
}
