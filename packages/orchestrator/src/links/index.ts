import { createWriteStream } from "node:fs";
import { mkdir, open, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { replaceAtomically, writeAtomically } from "../paths/atomic.js";
import { withLock } from "../paths/lock.js";
import { capture, streamRecords } from "../proc/run.js";
import { CommitGraph, type StoreLines } from "./graph.js";
import { hashText, hex32, IntMultiTable } from "./int-table.js";
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
	/**
	 * The store's text, kept whole, and where each commit's line starts and ends in it: a line is
	 * sliced, and parsed, only when a query needs it (a million lines as strings of their own cost
	 * hundreds of megabytes and most of a large index's garbage collection).
	 */
	#text = "";
	readonly #starts: number[] = [];
	readonly #ends: number[] = [];
	/** sha → line, for the commits that carry references (the only ones `commitsFor` returns). */
	readonly #referencing: number[] = [];
	/** Built on the first query from the referencing lines: hash → line, checked on lookup. */
	#byMessageId: IntMultiTable | undefined;
	#bySeries: IntMultiTable | undefined;
	/** Upstream sha → the backports that copy it. */
	#byUpstream: IntMultiTable | undefined;
	/** Built on the first subject query (a fix link's backports are looked for by subject). */
	#bySubject: IntMultiTable | undefined;
	#byPatchSubject: IntMultiTable | undefined;
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
		return this.#starts.length;
	}

	#line(at: number): string {
		return this.#text.slice(this.#starts[at], this.#ends[at]);
	}

	/** The lines as the commit graph reads them. */
	#storeLines(): StoreLines {
		const text = this.#text;
		const starts = this.#starts;
		return {
			count: starts.length,
			line: (at) => this.#line(at),
			startsWith: (at, prefix) => text.startsWith(prefix, starts[at]),
		};
	}

	/**
	 * The line of `text` from `start` to `end`: only whether it carries references is looked at
	 * now, and the line is not sliced; the tables of references are built from the lines that do
	 * on the first query. A commit stored twice (two runs appending at once) is harmless: every
	 * lookup gives each sha once.
	 */
	#addLine(text: string, start: number, end: number): void {
		const afterSubject = text.indexOf(SEP, start + 41);
		// Empty ids, bugs, citations and upstream fields: four tabs after the subject's, then the
		// parents' tab (format 2) or the line's end.
		const bare =
			afterSubject !== -1 &&
			afterSubject + 4 <= end &&
			text.startsWith(BARE, afterSubject) &&
			(afterSubject + 4 === end || text.charCodeAt(afterSubject + 4) === 9);
		if (bare) {
			this.#starts.push(start);
			this.#ends.push(end);
			return;
		}
		this.#referencing.push(this.#starts.push(start) - 1);
		this.#ends.push(end);
	}

	/** A referencing line's message-ids and upstream commits. */
	#refFields(at: number): { readonly ids: readonly string[]; readonly upstream: readonly string[] } {
		const fields = this.#line(at).split(SEP);
		const list = (f: string | undefined) => (f === undefined || f === "" ? [] : f.split(LIST));
		return { ids: list(fields[2]), upstream: list(fields[5]) };
	}

	#idTables(): { readonly ids: IntMultiTable; readonly series: IntMultiTable } {
		if (this.#byMessageId === undefined || this.#bySeries === undefined) {
			const ids = new IntMultiTable(this.#referencing.length * 2);
			const series = new IntMultiTable(this.#referencing.length * 2);
			for (const at of this.#referencing)
				for (const id of this.#refFields(at).ids) {
					ids.add(hashText(id), at);
					const stem = seriesOf(id)?.stem;
					if (stem !== undefined) series.add(hashText(stem), at);
				}
			this.#byMessageId = ids;
			this.#bySeries = series;
		}
		return { ids: this.#byMessageId, series: this.#bySeries };
	}

	/** The shas of the lines under `key` that `keep` accepts, in store order, each once. */
	#shasUnder(table: IntMultiTable, key: number, keep: (at: number) => boolean): string[] {
		const found: string[] = [];
		table.find(key, (at) => {
			if (keep(at)) {
				const sha = this.#text.slice(this.#starts[at], (this.#starts[at] as number) + 40);
				if (!found.includes(sha)) found.push(sha);
			}
			return false;
		});
		return found;
	}

	commit(sha: string): IndexedCommit | undefined {
		return this.commitByPrefix(sha);
	}

	/** Commits that carry this message-id, or (for a cover letter or another patch) one of its series. */
	commitsFor(messageId: string): { readonly exact: readonly string[]; readonly series: readonly string[] } {
		const tables = this.#idTables();
		const exact = this.#shasUnder(tables.ids, hashText(messageId), (at) => this.#refFields(at).ids.includes(messageId));
		const stem = seriesOf(messageId)?.stem;
		const series =
			stem === undefined
				? []
				: this.#shasUnder(tables.series, hashText(stem), (at) =>
						this.#refFields(at).ids.some((id) => seriesOf(id)?.stem === stem),
					).filter((sha) => !exact.includes(sha));
		return { exact, series };
	}

	/** The backports of `sha` this tree holds: commits that say they copy it. */
	commitsPickedFrom(sha: string): readonly string[] {
		if (this.#byUpstream === undefined) {
			const table = new IntMultiTable(this.#referencing.length);
			for (const at of this.#referencing) for (const up of this.#refFields(at).upstream) table.add(hex32(up), at);
			this.#byUpstream = table;
		}
		const key = hex32(sha);
		return key === -1 ? [] : this.#shasUnder(this.#byUpstream, key, (at) => this.#refFields(at).upstream.includes(sha));
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
		const start = this.#starts[at] as number;
		const end = this.#ends[at] as number;
		const tab = this.#text.indexOf(SEP, start + 41);
		return this.#text.slice(start + 41, tab === -1 || tab > end ? end : tab);
	}

	/**
	 * Every line chained under the hash of its (keyed) subject: a kernel's million subjects cost a
	 * number each, not a string and a list each; a lookup compares the few lines of its chain.
	 */
	#subjectChains(key: (subject: string) => string): IntMultiTable {
		const table = new IntMultiTable(this.size);
		for (let at = 0; at < this.size; at++) table.add(hashText(key(this.#subjectOf(at))), at);
		return table;
	}

	#withSubject(table: IntMultiTable, wanted: string, key: (subject: string) => string): string[] {
		const found: string[] = [];
		// In store order (the order the table keeps), each commit once (a commit stored twice is one).
		table.find(hashText(wanted), (at) => {
			if (key(this.#subjectOf(at)) === wanted) {
				const sha = this.#text.slice(this.#starts[at], (this.#starts[at] as number) + 40);
				if (!found.includes(sha)) found.push(sha);
			}
			return false;
		});
		return found;
	}

	/**
	 * A commit by sha prefix (a body citation uses 12 characters): through the commit graph's keys,
	 * a scan of every line only for a shorter prefix.
	 */
	commitByPrefix(prefix: string): IndexedCommit | undefined {
		const p = prefix.toLowerCase();
		if (p.length >= 8) {
			const at = this.graph.lineOfPrefix(p);
			return at === undefined ? undefined : parseCommitLine(this.#line(at));
		}
		for (let at = 0; at < this.size; at++)
			if (this.#text.startsWith(p, this.#starts[at])) return parseCommitLine(this.#line(at));
		return undefined;
	}

	/**
	 * The history's commit graph, read from the same lines (their parents) on first use: ancestry
	 * questions answered in memory instead of one git process each.
	 */
	get graph(): CommitGraph {
		this.#graph ??= CommitGraph.fromLines(this.#storeLines());
		return this.#graph;
	}

	setTips(tips: readonly string[]): void {
		this.#tips = [...tips];
	}

	/** An index from a store's lines (see `commitLine`); a line that does not parse is skipped. */
	static fromLines(text: string, tips: readonly string[]): LinkIndex {
		const index = new LinkIndex();
		index.#text = text;
		let start = 0;
		while (start < text.length) {
			let end = text.indexOf("\n", start);
			if (end === -1) end = text.length;
			if (end - start > 41 && text.charCodeAt(start + 40) === 9 && hex32(text, start) !== -1 && isSha(text, start))
				index.#addLine(text, start, end);
			else if (end > start) index.#skipped++;
			start = end + 1;
		}
		index.setTips(tips);
		return index;
	}
}

/** The fields after the subject when a line carries no reference: ids, bugs, citations, upstream. */
const BARE = "\t\t\t\t";

/** Whether the 40 characters at `at` are lower-case hex, without slicing them. */
function isSha(text: string, at: number): boolean {
	for (let i = at; i < at + 40; i++) {
		const c = text.charCodeAt(i);
		if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
	}
	return true;
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
