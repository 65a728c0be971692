import { createWriteStream } from "node:fs";
import { mkdir, open, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { replaceAtomically, writeAtomically } from "../paths/atomic.js";
import { withLock } from "../paths/lock.js";
import { capture, streamRecords } from "../proc/run.js";
import { CommitGraph } from "./graph.js";
import { normalisePatchSubject } from "./posting.js";
import { citationsOf, referencesOf, seriesOf, upstreamOf } from "./trailers.js";

/** What one commit says about itself and others. */
export interface IndexedCommit {
	readonly sha: string;
	readonly subject: string;
	/** Message-ids from Link:/Message-Id: trailers, normalised. */
	readonly messageIds: readonly string[];
	readonly bugs: readonly string[];
	/** Kernel commits cited in the body: `commit f402ecd7a8b6 ("subject")`. */
	readonly citations: readonly { readonly sha: string; readonly subject: string }[];
	/** The commits a backport says it copies (`cherry picked from commit X`, `commit X upstream.`). */
	readonly upstream: readonly string[];
}

/**
 * A tree's history reduced to its references: commit → message-ids, bugs, citations, and back
 * (message-id, series stem, subject → commits). Built once from `git log`, then updated from the
 * tips it was built at; stored in the cache as one line per commit, appended to as history grows.
 */
export class LinkIndex {
	/** Every commit as its store line; parsed only when a query needs it. */
	readonly #lines: string[] = [];
	/** sha → line, for the commits that carry references (the only ones `commitsFor` returns). */
	readonly #referencing = new Map<string, number>();
	readonly #byMessageId = new Map<string, string[]>();
	readonly #bySeries = new Map<string, string[]>();
	/** Upstream sha → the backports that copy it. */
	readonly #byUpstream = new Map<string, string[]>();
	/** Built on the first subject query (a fix link's backports are looked for by subject). */
	#bySubject: SubjectChains | undefined;
	#byPatchSubject: SubjectChains | undefined;
	#tips: readonly string[] = [];
	#skipped = 0;
	#graph: CommitGraph | undefined;

	get tips(): readonly string[] {
		return this.#tips;
	}

	/** Lines of the store that did not parse: a damaged store, which `updateLinkIndex` rebuilds. */
	get skippedLines(): number {
		return this.#skipped;
	}

	get size(): number {
		return this.#lines.length;
	}

	/**
	 * One store line. Only its message-ids are looked at now; a line without any (most of a
	 * kernel's history) costs an array slot. A commit stored twice (two runs appending at once)
	 * is indexed once when it carries references; a duplicate of one without is harmless.
	 */
	#addLine(line: string): void {
		const sha = line.slice(0, 40);
		const afterSubject = line.indexOf(SEP, line.indexOf(SEP) + 1);
		const idsEnd = afterSubject === -1 ? -1 : line.indexOf(SEP, afterSubject + 1);
		const ids = afterSubject === -1 ? "" : line.slice(afterSubject + 1, idsEnd === -1 ? undefined : idsEnd);
		// Bugs, citations and upstream commits; then (format 2) the parents, which are no reference.
		const fields = idsEnd === -1 ? [] : line.slice(idsEnd + 1).split(SEP);
		const references = ids !== "" || fields.slice(0, 3).some((f) => f !== "");
		if (references && this.#referencing.has(sha)) return;
		const at = this.#lines.push(line) - 1;
		this.#graph = undefined;
		this.#bySubject = undefined;
		this.#byPatchSubject = undefined;
		if (!references) return;
		this.#referencing.set(sha, at);
		// The upstream commits of a backport, when the line has them.
		const picked = fields.length >= 3 ? (fields[2] ?? "") : "";
		if (picked !== "") for (const up of picked.split(LIST)) push(this.#byUpstream, up, sha);
		if (ids === "") return;
		for (const id of ids.split(LIST)) {
			push(this.#byMessageId, id, sha);
			const series = seriesOf(id);
			if (series !== undefined) push(this.#bySeries, series.stem, sha);
		}
	}

	commit(sha: string): IndexedCommit | undefined {
		const at = this.#referencing.get(sha);
		if (at !== undefined) return parseCommitLine(this.#lines[at] ?? "");
		return this.commitByPrefix(sha);
	}

	/** Commits that carry this message-id, or (for a cover letter or another patch) one of its series. */
	commitsFor(messageId: string): { readonly exact: readonly string[]; readonly series: readonly string[] } {
		const exact = this.#byMessageId.get(messageId) ?? [];
		const stem = seriesOf(messageId)?.stem;
		const series = stem === undefined ? [] : (this.#bySeries.get(stem) ?? []).filter((sha) => !exact.includes(sha));
		return { exact, series };
	}

	/** The backports of `sha` this tree holds: commits that say they copy it. */
	commitsPickedFrom(sha: string): readonly string[] {
		return this.#byUpstream.get(sha) ?? [];
	}

	/** Commits with exactly this subject: how a rebased or re-posted fix is still found. */
	commitsWithSubject(subject: string): readonly string[] {
		this.#bySubject ??= this.#subjectChains((s) => s);
		return this.#withSubject(this.#bySubject, subject, (s) => s);
	}

	/** Commits whose subject is this one once tags and spacing are normalised (`normalisePatchSubject`). */
	commitsWithPatchSubject(subject: string): readonly string[] {
		this.#byPatchSubject ??= this.#subjectChains(normalisePatchSubject);
		return this.#withSubject(this.#byPatchSubject, normalisePatchSubject(subject), normalisePatchSubject);
	}

	#subjectOf(at: number): string {
		const line = this.#lines[at] ?? "";
		const tab = line.indexOf(SEP, 41);
		return line.slice(41, tab === -1 ? undefined : tab);
	}

	/**
	 * Every line chained under the hash of its (keyed) subject: a kernel's million subjects cost a
	 * number each, not a string and a list each; a lookup compares the few lines of its chain.
	 */
	#subjectChains(key: (subject: string) => string): SubjectChains {
		const first = new Map<number, number>();
		const next = new Int32Array(this.#lines.length);
		for (let at = 0; at < this.#lines.length; at++) {
			const h = hashText(key(this.#subjectOf(at)));
			next[at] = first.get(h) ?? -1;
			first.set(h, at);
		}
		return { first, next };
	}

	#withSubject(chains: SubjectChains, wanted: string, key: (subject: string) => string): string[] {
		const found: number[] = [];
		for (let at = chains.first.get(hashText(wanted)) ?? -1; at !== -1; at = chains.next[at] ?? -1)
			if (key(this.#subjectOf(at)) === wanted) found.push(at);
		// In store order, each commit once (a commit stored twice is one).
		return [...new Set(found.reverse().map((at) => (this.#lines[at] ?? "").slice(0, 40)))];
	}

	/**
	 * A commit by sha prefix (a body citation uses 12 characters): through the commit graph's keys,
	 * a scan of every line only for a shorter prefix.
	 */
	commitByPrefix(prefix: string): IndexedCommit | undefined {
		const p = prefix.toLowerCase();
		if (p.length >= 12) {
			const at = this.graph.lineOfPrefix(p);
			return at === undefined ? undefined : parseCommitLine(this.#lines[at] ?? "");
		}
		for (const line of this.#lines) if (line.startsWith(p)) return parseCommitLine(line);
		return undefined;
	}

	/**
	 * The history's commit graph, read from the same lines (their parents) on first use: ancestry
	 * questions answered in memory instead of one git process each.
	 */
	get graph(): CommitGraph {
		this.#graph ??= CommitGraph.fromLines(this.#lines);
		return this.#graph;
	}

	setTips(tips: readonly string[]): void {
		this.#tips = [...tips];
	}

	/** An index from a store's lines (see `commitLine`); a line that does not parse is skipped. */
	static fromLines(text: string, tips: readonly string[]): LinkIndex {
		const index = new LinkIndex();
		let start = 0;
		while (start < text.length) {
			let end = text.indexOf("\n", start);
			if (end === -1) end = text.length;
			if (end - start > 41 && text.charCodeAt(start + 40) === 9 && SHA40.test(text.slice(start, start + 40)))
				index.#addLine(text.slice(start, end));
			else if (end > start) index.#skipped++;
			start = end + 1;
		}
		index.setTips(tips);
		return index;
	}
}

interface SubjectChains {
	/** Subject hash → the last line with it; `next[line]` → the line before it with the same hash. */
	readonly first: Map<number, number>;
	readonly next: Int32Array;
}

/** FNV-1a over the UTF-16 code units: a subject's chain. */
function hashText(text: string): number {
	let h = 0x811c9dc5;
	for (let i = 0; i < text.length; i++) {
		h ^= text.charCodeAt(i);
		h = Math.imul(h, 0x01000193);
	}
	return h >>> 0;
}

function push(map: Map<string, string[]>, key: string, sha: string): void {
	const list = map.get(key);
	if (list === undefined) map.set(key, [sha]);
	else list.push(sha);
}

const SEP = "\t";
const SHA40 = /^[0-9a-f]{40}$/;
const LIST = "\u001f";

/**
 * One commit as one line of the store: sha, subject, message-ids, bugs, citations, upstream, and
 * (in the store's format 2) its parents, space-separated (tab-separated fields).
 */
export function storeLine(c: IndexedCommit, parents: readonly string[]): string {
	return `${commitLine(c)}${SEP}${parents.join(" ")}`;
}

/** One commit as the store's first six fields. */
export function commitLine(c: IndexedCommit): string {
	const clean = (s: string) =>
		s.includes(SEP) || s.includes("\n") || s.includes(LIST)
			? s.replaceAll(SEP, " ").replaceAll("\n", " ").replaceAll(LIST, " ")
			: s;
	return [
		c.sha,
		clean(c.subject),
		c.messageIds.map(clean).join(LIST),
		c.bugs.map(clean).join(LIST),
		c.citations.map((x) => `${x.sha} ${clean(x.subject)}`).join(LIST),
		c.upstream.join(LIST),
	].join(SEP);
}

export function parseCommitLine(line: string): IndexedCommit | undefined {
	const [sha = "", subject = "", ids = "", bugs = "", citations = "", upstream = ""] = line.split(SEP);
	if (!SHA40.test(sha)) return undefined;
	const list = (s: string) => (s === "" ? [] : s.split(LIST));
	return {
		sha,
		subject,
		messageIds: list(ids),
		bugs: list(bugs),
		citations: list(citations).map((x) => {
			const space = x.indexOf(" ");
			return { sha: x.slice(0, space), subject: x.slice(space + 1) };
		}),
		upstream: list(upstream).filter((u) => SHA40.test(u)),
	};
}

const FIELD = "\u0000";
const RECORD = "\u001e";

/** The store's git log: each commit's sha and parents (`%H %P`), subject and body. */
const LOG_FORMAT = "--format=%H %P%x00%s%x00%B%x1e";

/** A store record: `sha parent...`, then what `parseRecord` reads. */
function parseStoreRecord(text: string): string {
	const head = text.indexOf("\0");
	const ids = (head === -1 ? text : text.slice(0, head)).split(" ");
	const [sha = "", ...parents] = ids;
	return storeLine(
		parseRecord(sha + (head === -1 ? "" : text.slice(head))),
		parents.filter((p) => p !== ""),
	);
}

/** One `git log --format=%H%x00%s%x00%B%x1e` record (pure). */
export function parseRecord(record: string): IndexedCommit {
	// Runs once per commit of a tree's history: indexOf and slice, no intermediate arrays.
	const first = record.indexOf(FIELD);
	const second = first === -1 ? -1 : record.indexOf(FIELD, first + 1);
	const sha = first === -1 ? record : record.slice(0, first);
	const subject = first === -1 ? "" : record.slice(first + 1, second === -1 ? undefined : second);
	const body = second === -1 ? "" : record.slice(second + 1);
	const messageIds: string[] = [];
	const bugs: string[] = [];
	for (const r of referencesOf(body)) {
		if (r.kind === "message-id") messageIds.push(r.id);
		else if (r.kind === "bug") bugs.push(`${r.tracker}#${r.id}`);
	}
	return { sha, subject, messageIds, bugs, citations: citationsOf(body), upstream: upstreamOf(body) };
}

/** Parses `git log --format=%H%x00%s%x00%B%x1e` output (pure). */
export function parseLog(text: string): IndexedCommit[] {
	return text
		.split(RECORD)
		.map((r) => r.replace(/^\n+/, ""))
		.filter((r) => r.length > 0)
		.map(parseRecord);
}

/** Where a tree's index lives: its commit lines, and the tips they cover. */
const storeFiles = (store: string) => ({ lines: `${store}.links`, tips: `${store}.tips` });

export interface LinkStoreOptions {
	/** Ends a wait for another kvm-matrix updating the same store. */
	readonly signal?: AbortSignal | undefined;
	/** Called once when another kvm-matrix is updating the store, with a line to show. */
	readonly onWait?: ((line: string) => void) | undefined;
}

/**
 * Brings the store at `store` up to `refs`: only commits not reachable from the tips indexed
 * last time are read (`git log NEW --not OLD`), parsed as git streams them, and appended; the
 * index is never read for this. Returns how many commits were added.
 *
 * One kvm-matrix at a time updates a store (its lock; the next one waits and then usually finds
 * nothing to add). Readers take no lock: the tips file is replaced whole and only after the lines
 * it vouches for are on disk, a first build is written aside and renamed into place, and a line
 * cut short by a killed writer is cut off before the next append.
 */
export async function updateLinkStore(
	repo: string,
	refs: readonly string[],
	store: string,
	options: LinkStoreOptions = {},
): Promise<number> {
	return withLock(store, () => updateHoldingLock(repo, refs, store, { rebuild: false }), {
		...options,
		what: `the Link: index ${path.basename(store)}`,
	});
}

async function updateHoldingLock(
	repo: string,
	refs: readonly string[],
	store: string,
	how: { readonly rebuild: boolean },
): Promise<number> {
	const files = storeFiles(store);
	const size = how.rebuild
		? undefined
		: await stat(files.lines).then(
				(st) => st.size,
				() => undefined,
			);
	const record = size === undefined ? undefined : await readTips(files.tips);
	// Lines the tips vouch for that are gone (a store cut short, deleted by hand): what is left
	// cannot be trusted to be whole, so the index starts again.
	// A store of an older format (no parents) is read again whole, once.
	const whole =
		record !== undefined &&
		record.format === STORE_FORMAT &&
		size !== undefined &&
		(record.length === undefined || size >= record.length);
	const vouched = whole ? record.tips : [];
	const tips = await Promise.all(
		refs.map((ref) => capture("git", ["-C", repo, "rev-parse", "--verify", `${ref}^{commit}`])),
	);
	if (whole && tips.every((t) => vouched.includes(t))) return 0;
	// Tips the repository no longer has: a branch force-pushed and garbage-collected (linux-next
	// every day), whose old commits' lines stay and are dropped where they are used
	// (`dependenciesOf`); or, when none is left, another repository cloned where this one was,
	// and the index starts again.
	const present = await Promise.all(vouched.map((t) => isObject(repo, t)));
	const known = vouched.filter((_, i) => present[i]);
	const log = ["-C", repo, "log", LOG_FORMAT, ...tips, ...(known.length > 0 ? ["--not", ...known] : [])];
	await mkdir(path.dirname(files.lines), { recursive: true });
	let added = 0;
	if (known.length > 0) {
		// What a writer killed mid-append left after the lines the tips vouch for goes; its commits
		// are past the old tips, so they are read again.
		await cutAfter(files.lines, record?.length);
		added = await appendLog(files.lines, log);
	} else {
		// A first index (or one rebuilt): readers see the old store or the whole new one.
		await replaceAtomically(files.lines, async (partial) => {
			added = await appendLog(partial, log);
		});
	}
	const length = (await stat(files.lines)).size;
	await writeAtomically(
		files.tips,
		[...new Set([...known, ...tips]), `${FORMAT_LINE} ${STORE_FORMAT}`, `${LENGTH} ${length}`].join("\n"),
	);
	return added;
}

/**
 * Appends `git log`'s commits to `file` as git streams them, in batches: memory stays flat however
 * long the history. On disk before it returns, so that the tips written next never vouch for lines
 * a crash lost.
 */
async function appendLog(file: string, log: readonly string[]): Promise<number> {
	const out = createWriteStream(file, { flags: "a" });
	let batch: string[] = [];
	const flush = () => {
		if (batch.length > 0) out.write(`${batch.join("\n")}\n`);
		batch = [];
	};
	let added = 0;
	try {
		await streamRecords("git", log, RECORD, (raw) => {
			// Each record after the first starts with the newline that ended the one before.
			const text = raw.charCodeAt(0) === 10 ? raw.slice(1) : raw;
			if (text.length === 0) return;
			batch.push(parseStoreRecord(text));
			added++;
			if (batch.length >= 10_000) flush();
		});
		flush();
	} finally {
		await new Promise<void>((resolve, reject) =>
			out.end((error?: Error | null) => (error ? reject(error) : resolve())),
		);
	}
	const handle = await open(file, "r");
	try {
		await handle.sync();
	} finally {
		await handle.close();
	}
	return added;
}

/**
 * Cuts `file` back to `length` bytes; without a length (a store of an older kvm-matrix), cuts off
 * a last line without its newline.
 */
async function cutAfter(file: string, length: number | undefined): Promise<void> {
	const handle = await open(file, "r+");
	try {
		const { size } = await handle.stat();
		let end = length ?? size;
		if (length === undefined) {
			const chunk = Buffer.alloc(64 * 1024);
			while (end > 0) {
				const start = Math.max(0, end - chunk.length);
				const { bytesRead } = await handle.read(chunk, 0, end - start, start);
				const newline = chunk.subarray(0, bytesRead).lastIndexOf(10);
				if (newline !== -1) {
					end = start + newline + 1;
					break;
				}
				end = start;
			}
		}
		if (end < size) await handle.truncate(end);
	} finally {
		await handle.close();
	}
}

/** The tips file's last line: how long the lines file was when the tips were written. */
const LENGTH = "# length";
/** The store's format: 2 adds each commit's parents (the commit graph). */
const FORMAT_LINE = "# format";
const STORE_FORMAT = 2;

/**
 * The tips a store covers, and the length of the lines they vouch for. What is neither (a damaged
 * file) is dropped, which only means more history is read.
 */
async function readTips(
	file: string,
): Promise<{ readonly tips: string[]; readonly length: number | undefined; readonly format: number }> {
	const lines = (await readFile(file, "utf8").catch(() => "")).split("\n");
	const length = lines.find((line) => line.startsWith(`${LENGTH} `))?.slice(LENGTH.length + 1);
	const format = lines.find((line) => line.startsWith(`${FORMAT_LINE} `))?.slice(FORMAT_LINE.length + 1);
	return {
		tips: lines.filter((line) => /^[0-9a-f]{40}$/.test(line)),
		length: length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined,
		format: format !== undefined && /^\d+$/.test(format) ? Number(format) : 1,
	};
}

/**
 * The index the store at `store` holds (empty when there is none yet). Tolerant: a last line a
 * writer has not finished is left out, a line that does not parse is skipped and counted
 * (`skippedLines`), and no damage is thrown.
 */
export async function loadLinkIndex(store: string): Promise<LinkIndex> {
	const files = storeFiles(store);
	const { tips } = await readTips(files.tips);
	const text = await readFile(files.lines, "utf8").catch(() => "");
	const complete = text.endsWith("\n") ? text : text.slice(0, text.lastIndexOf("\n") + 1);
	return LinkIndex.fromLines(complete, tips);
}

/**
 * The index of `repo` covering `refs`, updated in the cache first. A store found damaged (lines
 * that do not parse: a full disk, a crash of an older kvm-matrix) is rebuilt from history.
 */
export async function updateLinkIndex(
	repo: string,
	refs: readonly string[],
	store: string,
	options: LinkStoreOptions = {},
): Promise<LinkIndex> {
	await updateLinkStore(repo, refs, store, options);
	const index = await loadLinkIndex(store);
	if (index.skippedLines === 0) return index;
	await withLock(store, () => updateHoldingLock(repo, refs, store, { rebuild: true }), {
		...options,
		what: `the Link: index ${path.basename(store)}`,
	});
	return loadLinkIndex(store);
}

const isObject = (repo: string, sha: string) =>
	capture("git", ["-C", repo, "cat-file", "-e", `${sha}^{commit}`]).then(
		() => true,
		() => false,
	);

export { isAncestor } from "./ancestry.js";
