import { err, ok, type Result } from "../result.js";

// Names end up in cell ids, directory names and git worktree paths, so they are kept to a
// character set that is inert in a shell, a path and a URL.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Checks a tree, kernel, target or matrix name. */
export function checkName(text: string): Result<string> {
	if (!NAME.test(text) || text.includes("..")) {
		return err(`"${text}" is not a valid name (letters, digits, ".", "_" and "-"; no "..", "/" or spaces)`);
	}
	return ok(text);
}

// git check-ref-format, narrowed to characters real KVM branches and tags use: anything outside
// it ("$(", ";", spaces, "~^:?*[\") is far more likely an accident or an attack than a branch.
const REF_CHARS = /^[A-Za-z0-9._/+-]+$/;

/** Checks a branch, tag or commit name as it may be written in a matrix file. */
export function checkGitRef(text: string): Result<string> {
	const bad = (why: string) => err(`"${text}" is not a usable git ref: ${why}`);
	if (text.length === 0) return bad("it is empty");
	if (!REF_CHARS.test(text)) return bad('use letters, digits and "._/+-" only');
	if (text.startsWith("-")) return bad('it starts with "-"');
	if (text.includes("..")) return bad('it contains ".."');
	if (text.includes("//")) return bad('it contains "//"');
	if (text.startsWith("/") || text.endsWith("/")) return bad('it starts or ends with "/"');
	if (text.endsWith(".") || text.endsWith(".lock")) return bad('it ends with "." or ".lock"');
	if (text.split("/").some((part) => part.startsWith("."))) return bad('a component starts with "."');
	return ok(text);
}

/** True if `text` has a C0 control character or DEL: never legitimate in a name, path or argument. */
export function hasControlCharacter(text: string): boolean {
	for (const char of text) {
		const code = char.codePointAt(0) ?? 0;
		if (code < 0x20 || code === 0x7f) return true;
	}
	return false;
}

// A test name from a tree (a KUT cfg section, a selftest from the tree's Makefile) ends up in
// guest scripts, run_tests.sh arguments and host paths. Real names use this set (all 87 of KUT's
// x86 sections, every selftest of 6.1 and mainline); anything else is refused, never quoted.
const TEST_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

/**
 * Checks a test's name as a tree defines it; `slashes` allows `/`-separated parts (selftest ids
 * such as `x86_64/hyperv_cpuid`). The reason says what is wrong, for a one-line error.
 */
export function checkTestName(text: string, options: { readonly slashes?: boolean } = {}): Result<string> {
	const shown = JSON.stringify(text);
	const parts = options.slashes === true ? text.split("/") : [text];
	if (text.length === 0) return err("an empty test name");
	if (text.length > 200) return err(`a test name of ${text.length} characters`);
	if (parts.some((p) => !TEST_NAME.test(p) || p === "." || p === ".."))
		return err(
			`${shown} is not a safe test name (letters, digits and "_.+-"${options.slashes === true ? ', parts split by "/"' : ""}; no spaces, quotes, "$" or "..")`,
		);
	return ok(text);
}

/**
 * The rule for kernel module names and their parameters' names, in one place: both become
 * modprobe arguments run as root, where a leading `-` would be read as an option
 * (`--config=FILE`). A module is letters, digits, `_` and `-` (`kvm-intel` is how modprobe lets it
 * be written); a parameter is what the kernel names it, letters, digits and `_` (`enable_pmu`).
 */
const MODULE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
const MODULE_PARAM = /^[A-Za-z0-9_]+$/;

export const isModuleName = (text: string): boolean => MODULE_NAME.test(text);
export const isModuleParam = (text: string): boolean => MODULE_PARAM.test(text);
