/**
 * Cache names for what a cache entry describes, never for what a matrix happens to call it: every
 * matrix names its kernel tree `linux`, and two of them on one cache may mean two repositories.
 * A mirror is named by its URL, a Link: index (and other per-repository caches) by the repository
 * it was read from.
 */
import { createHash } from "node:crypto";
import { realpath } from "node:fs/promises";
import path from "node:path";
import { capture } from "../proc/run.js";
import { trimTrailing } from "../text/trim.js";

const digest = (text: string, length: number) => createHash("sha256").update(text).digest("hex").slice(0, length);

/** `[a-z0-9._-]` only, so the name is safe on any file system and in any shell. */
const slug = (words: readonly string[]) =>
	words
		.join("-")
		.replace(/[^A-Za-z0-9._-]+/g, "_")
		.replace(/^[._-]+/, "")
		.slice(0, 48) || "repo";

/** A URL as git would fetch the same repository: no trailing `/`, no `.git`. */
export function normaliseUrl(url: string): string {
	return trimTrailing(url.trim(), "/").replace(/\.git$/, "");
}

/**
 * The mirror directory's name for a URL: its last two path words, for people, and a digest of the
 * whole URL, for uniqueness (`kvm-kvm-3f9c0a1b2c4d`, `kvm-x86-linux-8e2d...`, `torvalds-linux-...`).
 */
export function mirrorName(url: string): string {
	const normal = normaliseUrl(url);
	const words = normal
		.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "")
		.split(/[/:]/)
		.filter((w) => w !== "");
	return `${slug(words.slice(-2))}-${digest(normal, 12)}`;
}

/**
 * The name of a repository's caches: its git directory's real path, digested, after its name.
 * Two clones of one project are two repositories (each has the commits it has); one repository
 * reached through two matrices, or a symlink, is one.
 */
export async function repositoryKey(repo: string): Promise<string> {
	const gitDir = await capture("git", ["-C", repo, "rev-parse", "--path-format=absolute", "--git-common-dir"]);
	const real = await realpath(gitDir).catch(() => gitDir);
	const base = path.basename(real) === ".git" ? path.basename(path.dirname(real)) : path.basename(real);
	return `${slug([base.replace(/\.git$/, "")])}-${digest(real, 16)}`;
}
