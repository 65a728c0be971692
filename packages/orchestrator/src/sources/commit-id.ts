/**
 * Commit ids read back from files (plan.json, the journal, a `--plan` file) become directory names
 * under the cache and arguments to git. Only what git itself prints is one: a commit id that is
 * `../../victim` once made a checkout remove a directory outside the cache.
 */
import { z } from "zod";

/** 40 hex digits, as git prints a commit (64 in a SHA-256 repository). */
export const COMMIT_ID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

export const isCommitId = (text: string): boolean => COMMIT_ID.test(text);

/** For the schemas of files that carry commit ids. */
export const commitIdSchema = z.string().regex(COMMIT_ID, "not a commit id (40 hex digits)");

/** A commit id that is not one where a path or a git argument is made of it. */
export class NotACommitIdError extends Error {
	override readonly name = "NotACommitIdError";
	constructor(what: string, text: string) {
		super(`${what}: ${JSON.stringify(text.slice(0, 80))} is not a commit id (40 hex digits)`);
	}
}

/**
 * `text`, when it is a commit id; refused otherwise. Called where a path or a command is made of
 * one, whatever checked it before.
 */
export function requireCommitId(text: string, what: string): string {
	if (!isCommitId(text)) throw new NotACommitIdError(what, text);
	return text;
}
