/**
 * Directories and files a user names (`--run-dir`, `--json`, `--out`): made or checked before any
 * work, each failure one line. Node's recursive mkdir never returns on a path under /proc (mkdir
 * there says ENOENT, so it makes the parent, which exists, and tries again for good, deaf to
 * signals); directories are made here one component at a time instead.
 */
import { closeSync, mkdirSync, openSync, statSync, unlinkSync } from "node:fs";
import path from "node:path";

/** A directory or file the user named that cannot be made or written: the message is the line to show. */
export class UserPathError extends Error {
	override readonly name = "UserPathError";
}

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? String(error);

/** Makes `dir` and its missing parents, as `mkdir -p` does, or says in one line why not. */
export function makeDirectory(dir: string): void {
	const full = path.resolve(dir);
	const parts = full.split(path.sep).filter((p) => p !== "");
	let at = path.parse(full).root;
	for (const part of parts) {
		at = path.join(at, part);
		try {
			mkdirSync(at);
		} catch (error) {
			if (codeOf(error) !== "EEXIST") throw new UserPathError(`${full}: cannot be made (${codeOf(error)} at ${at})`);
			let isDirectory = false;
			try {
				isDirectory = statSync(at).isDirectory();
			} catch (statError) {
				throw new UserPathError(`${full}: cannot be made (${codeOf(statError)} at ${at})`);
			}
			if (!isDirectory) throw new UserPathError(`${full}: cannot be made (${at} is not a directory)`);
		}
	}
}

/**
 * Checks, before any work, that `file` can be written where it is (its directory made, the file
 * opened for writing); a file that was not there is not left behind.
 */
export function checkWritableFile(file: string): void {
	const full = path.resolve(file);
	makeDirectory(path.dirname(full));
	let existed = true;
	try {
		statSync(full);
	} catch {
		existed = false;
	}
	try {
		closeSync(openSync(full, "a"));
	} catch (error) {
		throw new UserPathError(`${full}: cannot be written (${codeOf(error)})`);
	}
	if (!existed) unlinkSync(full);
}
