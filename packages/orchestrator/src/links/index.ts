import { createHash, type Hash } from "node:crypto";
import { closeSync, createWriteStream, fstatSync, openSync, readSync } from "node:fs";
import { mkdir, open, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { replaceAtomically, writeAtomically } from "../paths/atomic.js";
import { withLock } from "../paths/lock.js";
import { BOUNDED_PACK_MEMORY, capture, streamRecords } from "../proc/run.js";
import { CommitGraph } from "./graph.js";
import { hashText, hex32, IntMultiTable } from "./int-table.js";
import { normalisePatchSubject } from "./posting.js";
import { BufferLines, FileLines, JoinedLines, type StoreLines } from "./store-lines.js";
import { decodeTables, encodeTables, type Sections } from "./tables-file.js";
import { citationsOf, referencesOf, seriesOf, upstreamOf } from "./trailers.js";

/** Where an index's tables came from (see `LinkIndex.tablesFrom`). */
export type TablesSource = "saved" | "joined" | "store";

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
 * Its lookup tables and commit graph are saved beside the store (`saveTables`) and read back while
 * the store is unchanged: a warm run of a million-commit tree reads arrays, not the store.
 */
export class LinkIndex {
	/** The store's lines, decoded only when a query needs one (see `store-lines.ts`). */
	readonly #lines: StoreLines;
	/** The lines that carry references (the only ones `commitsFor` returns). */
	readonly #referencing: Int32Array;
	/** Built on the first query from the referencing lines: hash → line, checked on lookup. */
	#byMessageId: IntMultiTable | undefined;
	#bySeries: IntMultiTable | undefined;
	/** Upstream sha → the backports that copy it. */
	#byUpstream: IntMultiTable | undefined;
	/** Built on the first subject query (a fix link's backports are looked for by subject). */
	#byPatchSubject: IntMultiTable | undefined;
	#tips: readonly string[] = [];
	readonly #skipped: number;
	#graph: CommitGraph | undefined;
	#tablesFrom: TablesSource = "store";

	private constructor(lines: StoreLines, referencing: Int32Array, skipped: number) {
		this.#lines = lines;
		this.#referencing = referencing;
		this.#skipped = skipped;
	}

	get tips(): readonly string[] {
		return this.#tips;
	}

	/** Lines of the store that did not parse: a damaged store, which `updateLinkIndex` rebuilds. */
	get skippedLines(): number {
		return this.#skipped;
	}

	get size(): number {
		return this.#lines.count;
	}

	/**
	 * Where the index's tables came from: saved by an earlier run for this very store, those
	 * joined with the lines appended to the store since, or made from the whole store.
	 */
	get tablesFrom(): TablesSource {
		return this.#tablesFrom;
	}

	/** Whether the index is the tables an earlier run saved beside the store (not the store read again). */
	get fromSavedTables(): boolean {
		return this.#tablesFrom === "saved";
	}

	/** A referencing line's message-ids and upstream commits. */
	#refFields(at: number): { readonly ids: readonly string[]; readonly upstream: readonly string[] } {
		const fields = this.#lines.line(at).split(SEP);
		const list = (f: string | undefined) => (f === undefined || f === "" ? [] : f.split(LIST));
		return { ids: list(fields[2]), upstream: list(fields[5]) };
	}

	#idTables(): { readonly ids: IntMultiTable; readonly series: IntMultiTable } {
		if (this.#byMessageId === undefined || this.#bySeries === undefined) {
			const ids = new Pairs();
			const series = new Pairs();
			for (const at of this.#referencing)
				for (const id of this.#refFields(at).ids) {
					ids.push(hashText(id), at);
					const stem = seriesOf(id)?.stem;
					if (stem !== undefined) series.push(hashText(stem), at);
				}
			this.#byMessageId = ids.table();
			this.#bySeries = series.table();
		}
		return { ids: this.#byMessageId, series: this.#bySeries };
	}

	#upstreamTable(): IntMultiTable {
		if (this.#byUpstream === undefined) {
			const pairs = new Pairs();
			for (const at of this.#referencing) for (const up of this.#refFields(at).upstream) pairs.push(hex32(up), at);
			this.#byUpstream = pairs.table();
		}
		return this.#byUpstream;
	}

	/** The shas of the lines under `key` that `keep` accepts, in store order, each once. */
	#shasUnder(table: IntMultiTable, key: number, keep: (at: number) => boolean): string[] {
		const found: string[] = [];
		table.find(key, (at) => {
			if (keep(at)) {
				const sha = this.#lines.sha(at);
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
		const key = hex32(sha);
		return key === -1
			? []
			: this.#shasUnder(this.#upstreamTable(), key, (at) => this.#refFields(at).upstream.includes(sha));
	}

	/** Commits with exactly this subject: how a rebased or re-posted fix is still found. */
	commitsWithSubject(subject: string): readonly string[] {
		// Equal subjects normalise equally: one table (by normalised subject) answers both questions.
		return this.#withSubject(normalisePatchSubject(subject), (at) => this.#subjectOf(at) === subject);
	}

	/** Commits whose subject is this one once tags and spacing are normalised (`normalisePatchSubject`). */
	commitsWithPatchSubject(subject: string): readonly string[] {
		const wanted = normalisePatchSubject(subject);
		return this.#withSubject(wanted, (at) => normalisePatchSubject(this.#subjectOf(at)) === wanted);
	}

	#subjectOf(at: number): string {
		return this.#lines.subject(at);
	}

	/**
	 * Every line chained under the hash of its normalised subject: a kernel's million subjects cost
	 * a number each, not a string and a list each; a lookup compares the few lines of its chain.
	 */
	#subjectTable(): IntMultiTable {
		if (this.#byPatchSubject === undefined) {
			const table = new IntMultiTable(this.size);
			for (let at = 0; at < this.size; at++) table.add(hashText(normalisePatchSubject(this.#subjectOf(at))), at);
			this.#byPatchSubject = table;
		}
		return this.#byPatchSubject;
	}

	/** The lines under `normalised`'s hash that `keep` accepts, in store order, each commit once. */
	#withSubject(normalised: string, keep: (at: number) => boolean): string[] {
		return this.#shasUnder(this.#subjectTable(), hashText(normalised), keep);
	}

	/**
	 * A commit by sha prefix (a body citation uses 12 characters): through the commit graph's keys,
	 * a scan of every line only for a shorter prefix.
	 */
	commitByPrefix(prefix: string): IndexedCommit | undefined {
		const p = prefix.toLowerCase();
		if (p.length >= 8) {
			const at = this.graph.lineOfPrefix(p);
			return at === undefined ? undefined : parseCommitLine(this.#lines.line(at));
		}
		for (let at = 0; at < this.size; at++)
			if (this.#lines.startsWith(at, p)) return parseCommitLine(this.#lines.line(at));
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

	/** Said by `loadLinkIndex` of the index it returns over the store on disk: see `FileLines.ownDescriptor`. */
	ownDescriptor(): void {
		if (this.#lines instanceof FileLines) this.#lines.ownDescriptor();
	}

	/** Said by `loadLinkIndex` of an index whose tables it read from the file saved beside the store. */
	markTables(from: TablesSource): void {
		this.#tablesFrom = from;
	}

	setTips(tips: readonly string[]): void {
		this.#tips = [...tips];
	}

	/**
	 * Every table built (a first build pays for them once) and laid out as arrays, for
	 * `fromTables` to take back over the same store.
	 */
	tables(): Sections {
		if (!(this.#lines instanceof BufferLines)) throw new Error("only an index read from its store saves its tables");
		const { starts, ends } = this.#lines.offsets;
		const named = (prefix: string, table: IntMultiTable) => {
			const { keys, vals } = table.arrays();
			return { [`${prefix}.keys`]: keys, [`${prefix}.vals`]: vals };
		};
		const ids = this.#idTables();
		const graph = this.graph.tables();
		return {
			skipped: Float64Array.of(this.#skipped),
			starts: Float64Array.from(starts),
			lengths: Int32Array.from(starts, (start, at) => (ends[at] as number) - start),
			shas: this.#lines.packedShas(),
			referencing: this.#referencing,
			...named("ids", ids.ids),
			...named("series", ids.series),
			...named("upstream", this.#upstreamTable()),
			...named("subject", this.#subjectTable()),
			"graph.line": graph.line,
			"graph.keys": graph.keys,
			"graph.vals": graph.vals,
			"graph.start": graph.start,
			"graph.parents": graph.parents,
			"graph.unknown": graph.unknown,
		};
	}

	/**
	 * The index over a store on disk (read through `fd`) from the tables `tables` saved; undefined
	 * when they are not a whole set or do not fit together.
	 */
	static fromTables(fd: number, t: Sections, storeLength: number): LinkIndex | undefined {
		const f64 = (name: string) => (t[name] instanceof Float64Array ? t[name] : undefined);
		const i32 = (name: string) => (t[name] instanceof Int32Array ? t[name] : undefined);
		const u8 = (name: string) => (t[name] instanceof Uint8Array ? t[name] : undefined);
		const [skipped, starts, lengths, shas] = [f64("skipped"), f64("starts"), i32("lengths"), u8("shas")];
		const referencing = i32("referencing");
		if (skipped === undefined || starts === undefined || lengths === undefined || shas === undefined) return undefined;
		if (referencing === undefined || lengths.length !== starts.length || shas.length !== starts.length * 20)
			return undefined;
		const count = starts.length;
		for (let at = 0; at < count; at++) {
			const s = starts[at] as number;
			const l = lengths[at] as number;
			if (!(s >= 0 && l > 41 && s + l <= storeLength)) return undefined;
		}
		for (const at of referencing) if (at < 0 || at >= count) return undefined;
		const table = (prefix: string): IntMultiTable | undefined => {
			const keys = i32(`${prefix}.keys`);
			const vals = i32(`${prefix}.vals`);
			if (keys === undefined || vals === undefined) return undefined;
			for (const v of vals) if (v < -1 || v >= count) return undefined;
			try {
				return new IntMultiTable(0, { keys, vals });
			} catch {
				return undefined;
			}
		};
		const lines = new FileLines(fd, starts, lengths, shas);
		const [ids, series, upstream, subject] = ["ids", "series", "upstream", "subject"].map(table);
		const line = i32("graph.line");
		const keys = i32("graph.keys");
		const vals = i32("graph.vals");
		const start = i32("graph.start");
		const parents = i32("graph.parents");
		const unknown = u8("graph.unknown");
		if (line === undefined || keys === undefined || vals === undefined || start === undefined) return undefined;
		if (parents === undefined || unknown === undefined) return undefined;
		const graph = CommitGraph.fromTables(lines, { line, keys, vals, start, parents, unknown });
		if (graph === undefined || ids === undefined || series === undefined || upstream === undefined) return undefined;
		if (subject === undefined) return undefined;
		const index = new LinkIndex(lines, referencing, skipped[0] ?? 0);
		index.#byMessageId = ids;
		index.#bySeries = series;
		index.#byUpstream = upstream;
		index.#byPatchSubject = subject;
		index.#graph = graph;
		return index;
	}

	/**
	 * The tables of `saved` (an index of the store's first `base` bytes, read from its saved
	 * tables) with the lines of `appended` (the store's complete lines from `base` on) added: a
	 * nightly's store grows by hundreds of commits, and its tables are not made again from a
	 * million. Undefined when they cannot be joined (see `CommitGraph.extended`).
	 */
	static joinedTables(saved: LinkIndex, appended: Buffer, base: number): Sections | undefined {
		const old = saved.#lines;
		if (!(old instanceof FileLines)) return undefined;
		const more = LinkIndex.fromBytes(appended, []);
		const added = more.#lines;
		if (!(added instanceof BufferLines)) return undefined;
		const oldGraph = saved.graph.tables();
		const graph = CommitGraph.extended(new JoinedLines(old, added), oldGraph, old.count);
		if (graph === undefined) return undefined;
		const n = old.count;
		const { starts, lengths, shas } = old.arrays;
		const offsets = added.offsets;
		const join = <T extends Float64Array | Int32Array | Uint8Array>(a: T, b: T): T => {
			const out = new (a.constructor as new (length: number) => T)(a.length + b.length);
			out.set(a);
			out.set(b, a.length);
			return out;
		};
		const joined = (prefix: string, a: IntMultiTable, b: IntMultiTable) => {
			const { keys, vals } = IntMultiTable.joined(a, b, n).arrays();
			return { [`${prefix}.keys`]: keys, [`${prefix}.vals`]: vals };
		};
		const oldIds = saved.#idTables();
		const newIds = more.#idTables();
		return {
			skipped: Float64Array.of(saved.#skipped + more.#skipped),
			starts: join(
				starts,
				Float64Array.from(offsets.starts, (s) => s + base),
			),
			lengths: join(
				lengths,
				Int32Array.from(offsets.starts, (s, at) => (offsets.ends[at] as number) - s),
			),
			shas: join(shas, added.packedShas()),
			referencing: join(
				saved.#referencing,
				more.#referencing.map((at) => at + n),
			),
			...joined("ids", oldIds.ids, newIds.ids),
			...joined("series", oldIds.series, newIds.series),
			...joined("upstream", saved.#upstreamTable(), more.#upstreamTable()),
			...joined("subject", saved.#subjectTable(), more.#subjectTable()),
			"graph.line": graph.line,
			"graph.keys": graph.keys,
			"graph.vals": graph.vals,
			"graph.start": graph.start,
			"graph.parents": graph.parents,
			"graph.unknown": graph.unknown,
		};
	}

	/** An index from a store's lines (see `commitLine`); a line that does not parse is skipped. */
	static fromLines(text: string, tips: readonly string[]): LinkIndex {
		return LinkIndex.fromBytes(Buffer.from(text), tips);
	}

	/**
	 * An index from a store's bytes. Only whether a line carries references is looked at now, and
	 * the line is not decoded; the tables are built from the lines on the first query. A commit
	 * stored twice (two runs appending at once) is harmless: every lookup gives each sha once.
	 */
	static fromBytes(bytes: Buffer, tips: readonly string[]): LinkIndex {
		const starts: number[] = [];
		const ends: number[] = [];
		const referencing: number[] = [];
		let skipped = 0;
		let start = 0;
		while (start < bytes.length) {
			let end = bytes.indexOf(10, start);
			if (end === -1) end = bytes.length;
			if (end - start > 41 && bytes[start + 40] === 9 && isShaAt(bytes, start)) {
				if (!isBare(bytes, start, end)) referencing.push(starts.length);
				starts.push(start);
				ends.push(end);
			} else if (end > start) skipped++;
			start = end + 1;
		}
		const index = new LinkIndex(new BufferLines(bytes, starts, ends), Int32Array.from(referencing), skipped);
		index.setTips(tips);
		return index;
	}
}

/** Key and value pairs gathered first, so that a table is made the size it needs. */
class Pairs {
	#keys = new Int32Array(1024);
	#vals = new Int32Array(1024);
	#n = 0;

	push(key: number, value: number): void {
		if (this.#n === this.#keys.length) {
			const keys = new Int32Array(this.#n * 2);
			const vals = new Int32Array(this.#n * 2);
			keys.set(this.#keys);
			vals.set(this.#vals);
			this.#keys = keys;
			this.#vals = vals;
		}
		this.#keys[this.#n] = key;
		this.#vals[this.#n++] = value;
	}

	table(): IntMultiTable {
		const table = new IntMultiTable(this.#n);
		for (let i = 0; i < this.#n; i++) table.add(this.#keys[i] as number, this.#vals[i] as number);
		return table;
	}
}

/**
 * Whether a line carries no reference: empty ids, bugs, citations and upstream fields, four tabs
 * after the subject's, then the parents' tab (format 2) or the line's end.
 */
function isBare(bytes: Buffer, start: number, end: number): boolean {
	const afterSubject = bytes.indexOf(9, start + 41);
	if (afterSubject === -1 || afterSubject + 4 > end) return false;
	for (let i = 0; i < 4; i++) if (bytes[afterSubject + i] !== 9) return false;
	return afterSubject + 4 === end || bytes[afterSubject + 4] === 9;
}

/** Whether the 40 bytes at `at` are lower-case hex. */
function isShaAt(bytes: Buffer, at: number): boolean {
	for (let i = at; i < at + 40; i++) {
		const c = bytes[i] ?? 0;
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
const storeFiles = (store: string) => ({ lines: `${store}.links`, tips: `${store}.tips`, tables: `${store}.tables` });

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
	const log = [
		"-C",
		repo,
		...BOUNDED_PACK_MEMORY,
		"log",
		LOG_FORMAT,
		...tips,
		...(known.length > 0 ? ["--not", ...known] : []),
	];
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
/** The saved tables' layout (`LinkIndex.tables`): a file of another layout is made again. */
const TABLES_FORMAT = 1;

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
 * writer has not finished, and lines past the length the tips vouch for (a writer still
 * appending), are left out; a line that does not parse is skipped and counted (`skippedLines`),
 * and no damage is thrown.
 *
 * The tables made from the store are saved beside it, stamped with the store's identity and the
 * bytes they cover; while those are unchanged the index is those tables, and the store is read
 * only for the lines a query needs.
 */
export async function loadLinkIndex(store: string): Promise<LinkIndex> {
	const files = storeFiles(store);
	const { tips, length } = await readTips(files.tips);
	let fd: number;
	try {
		fd = openSync(files.lines, "r");
	} catch {
		return LinkIndex.fromLines("", tips);
	}
	let keep = false;
	try {
		const st = fstatSync(fd);
		const covered = length !== undefined && length <= st.size ? length : st.size;
		const key = JSON.stringify([STORE_FORMAT, TABLES_FORMAT, st.dev, st.ino, st.size, st.mtimeMs, covered]);
		const file = await readFile(files.tables).then(decodeTables, () => undefined);
		const stamp = file === undefined ? undefined : parseStamp(file.stamp);
		const saved = (end: number) => (file === undefined ? undefined : LinkIndex.fromTables(fd, file.sections, end));
		if (stamp !== undefined && stamp.key === key) {
			const index = saved(stamp.linesEnd);
			if (index !== undefined) {
				index.setTips(tips);
				index.markTables("saved");
				index.ownDescriptor();
				keep = true;
				return index;
			}
		}
		// The store grew since the tables were saved (a nightly's new commits): the tables take
		// the lines appended, when the bytes they were made from are still the store's.
		let tables: Sections | undefined;
		let from: TablesSource = "store";
		let linesEnd = 0;
		let digest = "";
		if (stamp !== undefined && stamp.dev === st.dev && stamp.ino === st.ino && stamp.linesEnd <= covered) {
			const old = saved(stamp.linesEnd);
			const prefix = old === undefined ? undefined : hashOfBytes(fd, stamp.linesEnd);
			if (prefix !== undefined && prefix.copy().digest("hex") === stamp.digest) {
				const appended = completeLines(readRange(fd, stamp.linesEnd, covered));
				tables = old === undefined ? undefined : LinkIndex.joinedTables(old, appended, stamp.linesEnd);
				linesEnd = stamp.linesEnd + appended.length;
				digest = prefix.update(appended).digest("hex");
				from = "joined";
			}
		}
		let built: LinkIndex | undefined;
		const fromStore = () => {
			const complete = completeLines(readRange(fd, 0, covered));
			built = LinkIndex.fromBytes(complete, tips);
			tables = built.tables();
			linesEnd = complete.length;
			digest = createHash("sha256").update(complete).digest("hex");
			from = "store";
			return tables;
		};
		let index = LinkIndex.fromTables(fd, tables ?? fromStore(), linesEnd);
		// Joined tables that do not fit together: made from the whole store instead.
		if (index === undefined && from === "joined") index = LinkIndex.fromTables(fd, fromStore(), linesEnd);
		if (index === undefined) return built ?? LinkIndex.fromBytes(completeLines(readRange(fd, 0, covered)), tips);
		if (tables !== undefined)
			await saveTables(files.tables, JSON.stringify({ key, dev: st.dev, ino: st.ino, linesEnd, digest }), tables);
		// The tables over the store on disk: the store's bytes are not kept for the run.
		index.setTips(tips);
		index.markTables(from);
		index.ownDescriptor();
		keep = true;
		return index;
	} finally {
		if (!keep) closeSync(fd);
	}
}

interface Stamp {
	/** The store's identity and length the tables were made at: equal, they are used as they are. */
	readonly key: string;
	readonly dev: number;
	readonly ino: number;
	/** The end of the last line the tables hold. */
	readonly linesEnd: number;
	/**
	 * sha256 of the store's bytes up to `linesEnd`: the tables are joined with what was appended
	 * only while the store still starts with what they were made from (not a store edited in
	 * place, whatever its length and name).
	 */
	readonly digest: string;
}

function parseStamp(text: string): Stamp | undefined {
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		return undefined;
	}
	if (typeof value !== "object" || value === null) return undefined;
	const { key, dev, ino, linesEnd, digest } = value as Record<string, unknown>;
	if (typeof key !== "string" || typeof dev !== "number" || typeof ino !== "number") return undefined;
	if (typeof linesEnd !== "number" || !Number.isSafeInteger(linesEnd) || linesEnd < 0) return undefined;
	if (typeof digest !== "string" || !/^[0-9a-f]{64}$/.test(digest)) return undefined;
	return { key, dev, ino, linesEnd, digest };
}

/** sha256 of the store's first `end` bytes, read in pieces; undefined when it is shorter. */
function hashOfBytes(fd: number, end: number): Hash | undefined {
	const hash = createHash("sha256");
	const chunk = Buffer.allocUnsafe(4 << 20);
	for (let at = 0; at < end; ) {
		const n = readSync(fd, chunk, 0, Math.min(chunk.length, end - at), at);
		if (n === 0) return undefined;
		hash.update(chunk.subarray(0, n));
		at += n;
	}
	return hash;
}

/** The lines of `bytes` that end in a newline. */
const completeLines = (bytes: Buffer) => bytes.subarray(0, bytes.lastIndexOf(10) + 1);

/** The store's bytes from `start` to `end`, or to where it ends. */
function readRange(fd: number, start: number, end: number): Buffer {
	const bytes = Buffer.allocUnsafe(Math.max(0, end - start));
	let read = 0;
	while (read < bytes.length) {
		const n = readSync(fd, bytes, read, bytes.length - read, start + read);
		if (n === 0) break;
		read += n;
	}
	return bytes.subarray(0, read);
}

/**
 * Saves the index's tables for the next run, on disk before they are trusted. Only an aid: a full
 * disk or a read-only cache leaves the next run to read the store again.
 */
async function saveTables(file: string, stamp: string, tables: Sections): Promise<void> {
	await replaceAtomically(file, async (partial) => {
		const handle = await open(partial, "w");
		try {
			for (const part of encodeTables(stamp, tables))
				for (let at = 0; at < part.length; ) at += (await handle.write(part, at, part.length - at)).bytesWritten;
			await handle.sync();
		} finally {
			await handle.close();
		}
	}).catch(() => undefined);
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
