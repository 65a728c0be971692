/**
 * A kernel tree's commit graph in memory, from the Link: index's store lines (each commit's
 * parents): whether a commit is in a kernel is then a walk over arrays, not a git process per
 * question. On a history of a million commits without git's commit-graph file, one `merge-base
 * --is-ancestor` took 16 s; a walk of the whole graph here takes milliseconds, once per kernel.
 *
 * The graph only says what it knows: a walk that meets a commit whose line is missing (a store cut
 * short, a shallow clone's boundary) answers "contained" only for what it reached, and "unknown"
 * otherwise, so that git is asked instead. A missing commit never reads as "not contained".
 */
import { hex32, IntMultiTable } from "./int-table.js";
import type { StoreLines } from "./store-lines.js";

/** A parent the graph has no line for. */
const MISSING = -1;

interface Reach {
	readonly seen: Uint8Array;
	/** Every commit the walk reached had all its parents in the graph. */
	readonly complete: boolean;
}

export class CommitGraph {
	readonly #lines: StoreLines;
	/** Each commit's line number; a commit's sha is its line's first 40 characters. */
	readonly #line: Int32Array;
	/** First 8 hex digits of a sha → the commits whose sha starts with them. */
	readonly #byKey: IntMultiTable;
	/** Commit i's parents are `#parents[#start[i]] ... #parents[#start[i + 1] - 1]`. */
	readonly #start: Int32Array;
	readonly #parents: Int32Array;
	/** Commits whose line names no parents field at all (a line of an older store format). */
	readonly #unknown: Uint8Array;
	readonly #reach = new Map<number, Reach>();

	private constructor(
		lines: StoreLines,
		line: Int32Array,
		byKey: IntMultiTable,
		start: Int32Array,
		parents: Int32Array,
		unknown: Uint8Array,
	) {
		this.#lines = lines;
		this.#line = line;
		this.#byKey = byKey;
		this.#start = start;
		this.#parents = parents;
		this.#unknown = unknown;
	}

	get size(): number {
		return this.#line.length;
	}

	#sha(i: number): string {
		return this.#lines.sha(this.#line[i] as number);
	}

	/** The first commit (in store order) whose sha starts with `prefix`, 8 hex digits or more. */
	#find(prefix: string): number | undefined {
		const key = hex32(prefix);
		if (key === -1) return undefined;
		let found: number | undefined;
		this.#byKey.find(key, (i) => {
			if (!this.#lines.startsWith(this.#line[i] as number, prefix)) return false;
			found = i;
			return true;
		});
		return found;
	}

	/** A commit's place in the graph, or undefined when the graph has no line for it. */
	indexOf(sha: string): number | undefined {
		return sha.length === 40 ? this.#find(sha) : undefined;
	}

	/**
	 * The store line of the commit whose sha starts with `prefix` (8 hex digits or more); undefined
	 * when none does, or when the prefix is shorter (the caller then looks the slow way).
	 */
	lineOfPrefix(prefix: string): number | undefined {
		if (prefix.length < 8) return undefined;
		const i = this.#find(prefix);
		return i === undefined ? undefined : this.#line[i];
	}

	/**
	 * Whether `sha` is in the history of `tip` (a commit is in its own): true or false when the
	 * graph can tell, undefined when it cannot (`tip` unknown, or the walk met a commit it lacks).
	 */
	isAncestor(sha: string, tip: string): boolean | undefined {
		if (sha === tip) return true;
		const t = this.indexOf(tip);
		if (t === undefined) return undefined;
		const reach = this.#reachOf(t);
		const s = this.indexOf(sha);
		if (s !== undefined && reach.seen[s] === 1) return true;
		return reach.complete ? false : undefined;
	}

	/**
	 * How many commits `to` has that `from` does not (`git rev-list --count from..to`), when the
	 * graph holds both whole histories; undefined otherwise.
	 */
	count(from: string, to: string): number | undefined {
		const both = this.#wholeReaches(from, to);
		if (both === undefined) return undefined;
		const [a, b] = both;
		let n = 0;
		for (let i = 0; i < b.seen.length; i++) if (b.seen[i] === 1 && a.seen[i] === 0) n++;
		return n;
	}

	/**
	 * Where two histories meet (`git merge-base a b`): the common commit no other common commit
	 * descends from; null when they share none. Undefined when the graph cannot tell, and when
	 * there are several such commits (a criss-cross merge), since git's pick among them is git's.
	 */
	mergeBase(a: string, b: string): string | null | undefined {
		const both = this.#wholeReaches(a, b);
		if (both === undefined) return undefined;
		const [ra, rb] = both;
		// A common commit that is a parent of another common commit is not the newest.
		const older = new Uint8Array(ra.seen.length);
		for (let c = 0; c < ra.seen.length; c++) {
			if (ra.seen[c] === 0 || rb.seen[c] === 0) continue;
			const end = this.#start[c + 1] as number;
			for (let i = this.#start[c] as number; i < end; i++) older[this.#parents[i] as number] = 1;
		}
		let best: number | undefined;
		for (let c = 0; c < ra.seen.length; c++) {
			if (ra.seen[c] === 0 || rb.seen[c] === 0 || older[c] === 1) continue;
			if (best !== undefined) return undefined;
			best = c;
		}
		return best === undefined ? null : this.#sha(best);
	}

	/** Both commits' reach sets, when the graph holds both whole histories. */
	#wholeReaches(a: string, b: string): readonly [Reach, Reach] | undefined {
		const x = this.indexOf(a);
		const y = this.indexOf(b);
		if (x === undefined || y === undefined) return undefined;
		const ra = this.#reachOf(x);
		const rb = this.#reachOf(y);
		return ra.complete && rb.complete ? [ra, rb] : undefined;
	}

	/** Every commit reachable from commit `t`, walked once per tip and kept for the run. */
	#reachOf(t: number): Reach {
		const found = this.#reach.get(t);
		if (found !== undefined) return found;
		const seen = new Uint8Array(this.size);
		const stack = new Int32Array(this.size);
		let top = 0;
		let complete = true;
		seen[t] = 1;
		stack[top++] = t;
		while (top > 0) {
			const c = stack[--top] as number;
			if (this.#unknown[c] === 1) complete = false;
			const end = this.#start[c + 1] as number;
			for (let i = this.#start[c] as number; i < end; i++) {
				const p = this.#parents[i] as number;
				if (p === MISSING) complete = false;
				else if (seen[p] === 0) {
					seen[p] = 1;
					stack[top++] = p;
				}
			}
		}
		const reach = { seen, complete };
		this.#reach.set(t, reach);
		return reach;
	}

	/** The graph's arrays, to be saved beside the store and given back to `fromTables`. */
	tables(): GraphTables {
		const { keys, vals } = this.#byKey.arrays();
		return { line: this.#line, keys, vals, start: this.#start, parents: this.#parents, unknown: this.#unknown };
	}

	/** A graph saved by `tables` over the same lines; undefined when the arrays do not fit together. */
	static fromTables(lines: StoreLines, t: GraphTables): CommitGraph | undefined {
		const n = t.line.length;
		if (t.start.length !== n + 1 || t.unknown.length !== n || t.start[n] !== t.parents.length) return undefined;
		for (let i = 0; i < n; i++) {
			const l = t.line[i] as number;
			if (l < 0 || l >= lines.count) return undefined;
		}
		for (const p of t.parents) if (p < MISSING || p >= n) return undefined;
		for (const v of t.vals) if (v < -1 || v >= n) return undefined;
		for (let i = 0; i < n; i++) if ((t.start[i] as number) > (t.start[i + 1] as number)) return undefined;
		return new CommitGraph(
			lines,
			t.line,
			new IntMultiTable(0, { keys: t.keys, vals: t.vals }),
			t.start,
			t.parents,
			t.unknown,
		);
	}

	/**
	 * The graph `old` (of `lines` up to `fromLine`) with the commits of the lines after it: a
	 * store's appended commits are the newest, their parents already placed or appended with them.
	 * Undefined when an old commit lacks a parent (a damaged store, whose later lines might supply
	 * it): the graph is then made again from every line.
	 */
	static extended(lines: StoreLines, old: GraphTables, fromLine: number): GraphTables | undefined {
		for (const p of old.parents) if (p === MISSING) return undefined;
		for (const u of old.unknown) if (u === 1) return undefined;
		const oldCount = old.line.length;
		const added = new IntMultiTable(lines.count - fromLine);
		const line: number[] = [];
		const byKeyOld = new IntMultiTable(0, { keys: old.keys, vals: old.vals });
		const lookup = (sha: string): number => {
			const key = hex32(sha);
			let found = MISSING;
			const check = (i: number) => {
				const at = i < oldCount ? (old.line[i] as number) : (line[i - oldCount] as number);
				if (!lines.startsWith(at, sha)) return false;
				found = i;
				return true;
			};
			byKeyOld.find(key, check);
			if (found === MISSING) added.find(key, check);
			return found;
		};
		for (let l = fromLine; l < lines.count; l++) {
			const sha = lines.sha(l);
			const key = hex32(sha);
			if (key === -1 || lookup(sha) !== MISSING) continue;
			added.add(key, oldCount + line.length);
			line.push(l);
		}
		const n = oldCount + line.length;
		const start = new Int32Array(n + 1);
		start.set(old.start.subarray(0, oldCount));
		const list: number[] = [];
		const unknown = new Uint8Array(n);
		unknown.set(old.unknown);
		const base = old.parents.length;
		for (let i = oldCount; i < n; i++) {
			start[i] = base + list.length;
			const text = lines.parents(line[i - oldCount] as number);
			if (text === undefined) {
				unknown[i] = 1;
				continue;
			}
			for (let at = 0; at < text.length; at += 41) list.push(lookup(text.slice(at, at + 40)));
		}
		start[n] = base + list.length;
		const parents = new Int32Array(base + list.length);
		parents.set(old.parents);
		parents.set(list, base);
		const allLines = new Int32Array(n);
		allLines.set(old.line);
		allLines.set(line, oldCount);
		const byKey = IntMultiTable.joined(byKeyOld, added, 0).arrays();
		return { line: allLines, keys: byKey.keys, vals: byKey.vals, start, parents, unknown };
	}

	/** The graph of store lines (`sha \t ... \t parents`, the parents in the seventh field). */
	static fromLines(store: StoreLines): CommitGraph {
		const count = store.count;
		const byKey = new IntMultiTable(count);
		const lines: number[] = [];
		/** The commit placed so far whose sha is `sha`. */
		const lookup = (sha: string): number => {
			let found = MISSING;
			byKey.find(hex32(sha), (i) => {
				if (!store.startsWith(lines[i] as number, sha)) return false;
				found = i;
				return true;
			});
			return found;
		};
		// First every commit placed, then each one's parents looked up: the parents' text is read
		// twice rather than kept, a string per commit being most of a first build's memory.
		for (let l = 0; l < count; l++) {
			const sha = store.sha(l);
			const key = hex32(sha);
			// Stored twice (two writers appended the same commit): the first line stands.
			if (key === -1 || lookup(sha) !== MISSING) continue;
			byKey.add(key, lines.length);
			lines.push(l);
		}
		const n = lines.length;
		const start = new Int32Array(n + 1);
		const list: number[] = [];
		const flags = new Uint8Array(n);
		for (let i = 0; i < n; i++) {
			start[i] = list.length;
			const text = store.parents(lines[i] as number);
			if (text === undefined) {
				flags[i] = 1;
				continue;
			}
			for (let at = 0; at < text.length; at += 41) list.push(lookup(text.slice(at, at + 40)));
		}
		start[n] = list.length;
		return new CommitGraph(store, Int32Array.from(lines), byKey, start, Int32Array.from(list), flags);
	}
}

/** A graph as plain arrays (see `CommitGraph.tables`). */
export interface GraphTables {
	readonly line: Int32Array;
	readonly keys: Int32Array;
	readonly vals: Int32Array;
	readonly start: Int32Array;
	readonly parents: Int32Array;
	readonly unknown: Uint8Array;
}
