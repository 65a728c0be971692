import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { writeAtomically } from "../paths/atomic.js";
import { capture, runCommand } from "../proc/run.js";
import { citationsOf, referencesOf, seriesOf } from "./trailers.js";

/** What one commit says about itself and others. */
export interface IndexedCommit {
	readonly sha: string;
	readonly subject: string;
	/** Message-ids from Link:/Message-Id: trailers, normalised. */
	readonly messageIds: readonly string[];
	readonly bugs: readonly string[];
	/** Kernel commits cited in the body: `commit f402ecd7a8b6 ("subject")`. */
	readonly citations: readonly { readonly sha: string; readonly subject: string }[];
}

interface Stored {
	readonly version: 1;
	readonly tips: readonly string[];
	readonly commits: readonly IndexedCommit[];
}

/**
 * A tree's history reduced to its references: commit → message-ids, bugs, citations, and back
 * (message-id, series stem, subject → commits). Built once from `git log`, then updated from the
 * tips it was built at; stored as JSON in the cache.
 */
export class LinkIndex {
	readonly #commits = new Map<string, IndexedCommit>();
	readonly #byMessageId = new Map<string, string[]>();
	readonly #bySeries = new Map<string, string[]>();
	readonly #bySubject = new Map<string, string[]>();
	#tips: readonly string[] = [];

	get tips(): readonly string[] {
		return this.#tips;
	}

	get size(): number {
		return this.#commits.size;
	}

	add(commit: IndexedCommit): void {
		if (this.#commits.has(commit.sha)) return;
		this.#commits.set(commit.sha, commit);
		const push = (map: Map<string, string[]>, key: string) => {
			const list = map.get(key);
			if (list === undefined) map.set(key, [commit.sha]);
			else list.push(commit.sha);
		};
		for (const id of commit.messageIds) {
			push(this.#byMessageId, id);
			const series = seriesOf(id);
			if (series !== undefined) push(this.#bySeries, series.stem);
		}
		push(this.#bySubject, commit.subject);
	}

	commit(sha: string): IndexedCommit | undefined {
		return this.#commits.get(sha);
	}

	/** Commits that carry this message-id, or (for a cover letter or another patch) one of its series. */
	commitsFor(messageId: string): { readonly exact: readonly string[]; readonly series: readonly string[] } {
		const exact = this.#byMessageId.get(messageId) ?? [];
		const stem = seriesOf(messageId)?.stem;
		const series = stem === undefined ? [] : (this.#bySeries.get(stem) ?? []).filter((sha) => !exact.includes(sha));
		return { exact, series };
	}

	/** Commits with exactly this subject: how a rebased or re-posted fix is still found. */
	commitsWithSubject(subject: string): readonly string[] {
		return this.#bySubject.get(subject) ?? [];
	}

	/** A commit by sha prefix (a body citation uses 12 characters). */
	commitByPrefix(prefix: string): IndexedCommit | undefined {
		if (prefix.length >= 40) return this.#commits.get(prefix);
		for (const [sha, commit] of this.#commits) if (sha.startsWith(prefix)) return commit;
		return undefined;
	}

	setTips(tips: readonly string[]): void {
		this.#tips = [...tips];
	}

	toJSON(): Stored {
		return { version: 1, tips: this.#tips, commits: [...this.#commits.values()] };
	}

	static fromJSON(stored: Stored): LinkIndex {
		const index = new LinkIndex();
		for (const c of stored.commits) index.add(c);
		index.setTips(stored.tips);
		return index;
	}
}

const FIELD = "\u0000";
const RECORD = "\u001e";

/** Parses `git log --format=%H%x00%s%x00%B%x1e` output (pure). */
export function parseLog(text: string): IndexedCommit[] {
	return text
		.split(RECORD)
		.map((r) => r.replace(/^\n+/, ""))
		.filter((r) => r.length > 0)
		.map((record) => {
			const [sha = "", subject = "", body = ""] = record.split(FIELD);
			const refs = referencesOf(body);
			return {
				sha,
				subject,
				messageIds: refs.flatMap((r) => (r.kind === "message-id" ? [r.id] : [])),
				bugs: refs.flatMap((r) => (r.kind === "bug" ? [`${r.tracker}#${r.id}`] : [])),
				citations: citationsOf(body),
			};
		});
}

/**
 * The index of `repo` covering `refs`, from the cache when it has one: only commits not reachable
 * from the tips indexed last time are read (`git log NEW --not OLD`).
 */
export async function updateLinkIndex(repo: string, refs: readonly string[], cacheFile: string): Promise<LinkIndex> {
	const index = existsSync(cacheFile)
		? LinkIndex.fromJSON(JSON.parse(await readFile(cacheFile, "utf8")) as Stored)
		: new LinkIndex();
	const tips = await Promise.all(
		refs.map((ref) => capture("git", ["-C", repo, "rev-parse", "--verify", `${ref}^{commit}`])),
	);
	const unchanged = tips.every((t) => index.tips.includes(t));
	if (!unchanged) {
		// Old tips that a force-push removed are no longer objects git can exclude.
		const old = (await Promise.all(index.tips.map(async (t) => ((await isObject(repo, t)) ? [t] : [])))).flat();
		const lines = await runCommand(
			"git",
			["-C", repo, "log", "--format=%H%x00%s%x00%B%x1e", ...tips, ...(old.length > 0 ? ["--not", ...old] : [])],
			{ keepLines: Number.MAX_SAFE_INTEGER },
		);
		for (const commit of parseLog(lines.join("\n"))) index.add(commit);
		index.setTips([...new Set([...index.tips, ...tips])]);
		await mkdir(path.dirname(cacheFile), { recursive: true });
		// Two runs may update the same tree's index at once.
		await writeAtomically(cacheFile, JSON.stringify(index));
	}
	return index;
}

/** Whether `sha` is in the history of `ref` (git's own ancestry test). */
export async function isAncestor(repo: string, sha: string, ref: string): Promise<boolean> {
	try {
		await capture("git", ["-C", repo, "merge-base", "--is-ancestor", sha, ref]);
		return true;
	} catch {
		return false;
	}
}

const isObject = (repo: string, sha: string) =>
	capture("git", ["-C", repo, "cat-file", "-e", `${sha}^{commit}`]).then(
		() => true,
		() => false,
	);
