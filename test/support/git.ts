import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";

/** A fixed identity, so tests commit the same way on any machine. */
export const GIT_ENV = {
	GIT_AUTHOR_NAME: "Dev",
	GIT_AUTHOR_EMAIL: "d@e.org",
	GIT_COMMITTER_NAME: "Dev",
	GIT_COMMITTER_EMAIL: "d@e.org",
};

/** `git ARGS` in `cwd`, its trimmed stdout. */
export const git = async (cwd: string, ...args: string[]) =>
	(await execa("git", args, { cwd, env: GIT_ENV })).stdout.trim();

/** Writes the files (paths relative to `dir`), commits everything, returns the new commit. */
export async function commitFiles(dir: string, files: Readonly<Record<string, string>>, message: string) {
	for (const [file, text] of Object.entries(files)) {
		mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
		writeFileSync(path.join(dir, file), text);
	}
	await git(dir, "add", "-A");
	await git(dir, "commit", "-q", "-m", message);
	return git(dir, "rev-parse", "HEAD");
}
