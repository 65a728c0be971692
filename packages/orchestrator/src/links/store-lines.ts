/**
 * The Link: index store's lines by number, without a string per line: a million lines as strings
 * of their own cost hundreds of megabytes, and the whole store as one string (two bytes a
 * character as soon as one subject is not ASCII) most of a large index's memory. A line is decoded
 * only when a query needs it; a commit's sha is read from bytes.
 */
import { closeSync, readSync } from "node:fs";

export interface StoreLines {
	readonly count: number;
	/** The whole line, decoded. */
	line(at: number): string;
	/** The line's commit, its first 40 characters. */
	sha(at: number): string;
	/** Whether the line's sha starts with `prefix` (lower-case hex), without decoding anything. */
	startsWith(at: number, prefix: string): boolean;
	/** The line's subject (its second field). */
	subject(at: number): string;
	/** The line's parents field (the seventh), undefined on a line of a store without one. */
	parents(at: number): string | undefined;
}

/** A line's fields: sha, subject, ids, bugs, citations, upstream, parents (see `storeLine`). */
const PARENTS_FIELD = 6;

function subjectOfLine(line: string): string {
	const tab = line.indexOf("\t", 41);
	return line.slice(41, tab === -1 ? undefined : tab);
}

function parentsOfLine(line: string): string | undefined {
	let tab = -1;
	for (let n = 0; n < PARENTS_FIELD; n++) {
		tab = line.indexOf("\t", tab + 1);
		if (tab === -1) return undefined;
	}
	return line.slice(tab + 1);
}

/** Lines of a store read whole into memory (a first build, or a test's text). */
export class BufferLines implements StoreLines {
	readonly #bytes: Buffer;
	readonly #starts: readonly number[];
	readonly #ends: readonly number[];

	constructor(bytes: Buffer, starts: readonly number[], ends: readonly number[]) {
		this.#bytes = bytes;
		this.#starts = starts;
		this.#ends = ends;
	}

	get count(): number {
		return this.#starts.length;
	}

	/** Byte offsets of each line's start and end in the store: what the index file keeps. */
	get offsets(): { readonly starts: readonly number[]; readonly ends: readonly number[] } {
		return { starts: this.#starts, ends: this.#ends };
	}

	line(at: number): string {
		return this.#bytes.toString("utf8", this.#starts[at], this.#ends[at]);
	}

	sha(at: number): string {
		const start = this.#starts[at] as number;
		return this.#bytes.toString("latin1", start, start + 40);
	}

	startsWith(at: number, prefix: string): boolean {
		const start = this.#starts[at] as number;
		if (prefix.length > 40) return false;
		for (let i = 0; i < prefix.length; i++) if (this.#bytes[start + i] !== prefix.charCodeAt(i)) return false;
		return true;
	}

	subject(at: number): string {
		const start = this.#starts[at] as number;
		const end = this.#ends[at] as number;
		const tab = this.#bytes.indexOf(9, start + 41);
		return this.#bytes.toString("utf8", start + 41, tab === -1 || tab > end ? end : tab);
	}

	parents(at: number): string | undefined {
		const end = this.#ends[at] as number;
		let tab = this.#starts[at] as number;
		for (let n = 0; n < PARENTS_FIELD; n++) {
			tab = this.#bytes.indexOf(9, tab + (n === 0 ? 0 : 1));
			if (tab === -1 || tab >= end) return undefined;
		}
		return this.#bytes.toString("latin1", tab + 1, end);
	}

	/** Every line's sha as 20 bytes, in line order. */
	packedShas(): Uint8Array {
		const out = new Uint8Array(this.count * 20);
		for (let at = 0; at < this.count; at++) {
			const start = this.#starts[at] as number;
			for (let i = 0; i < 20; i++)
				out[at * 20 + i] = (nibble(this.#bytes[start + 2 * i] ?? 0) << 4) | nibble(this.#bytes[start + 2 * i + 1] ?? 0);
		}
		return out;
	}
}

/**
 * Lines of a store left on disk: read by position through a descriptor held as long as the index
 * is (a rename or a rebuild of the store does not move what it reads), shas from the index file.
 */
export class FileLines implements StoreLines {
	readonly #fd: number;
	readonly #starts: Float64Array;
	readonly #lengths: Int32Array;
	readonly #shas: Uint8Array;

	constructor(fd: number, starts: Float64Array, lengths: Int32Array, shas: Uint8Array) {
		this.#fd = fd;
		this.#starts = starts;
		this.#lengths = lengths;
		this.#shas = shas;
	}

	/**
	 * Makes these lines the descriptor's owner: it is closed once they are collected. Said of the
	 * one set of lines an index keeps (another made on the way over the same descriptor and
	 * dropped must not close it under them, nor a later file that got its number).
	 */
	ownDescriptor(): void {
		descriptors.register(this, this.#fd);
	}

	get count(): number {
		return this.#starts.length;
	}

	/** What the index file keeps of the lines. */
	get arrays(): { readonly starts: Float64Array; readonly lengths: Int32Array; readonly shas: Uint8Array } {
		return { starts: this.#starts, lengths: this.#lengths, shas: this.#shas };
	}

	line(at: number): string {
		const start = this.#starts[at] as number;
		const length = this.#lengths[at] as number;
		const buffer = Buffer.allocUnsafe(length);
		let read = 0;
		while (read < length) {
			const n = readSync(this.#fd, buffer, read, length - read, start + read);
			if (n === 0) throw new StoreChangedError();
			read += n;
		}
		return buffer.toString("utf8");
	}

	subject(at: number): string {
		return subjectOfLine(this.line(at));
	}

	parents(at: number): string | undefined {
		return parentsOfLine(this.line(at));
	}

	sha(at: number): string {
		return Buffer.from(this.#shas.buffer, this.#shas.byteOffset + at * 20, 20).toString("hex");
	}

	startsWith(at: number, prefix: string): boolean {
		if (prefix.length > 40) return false;
		const base = at * 20;
		for (let i = 0; i < prefix.length; i++) {
			const byte = this.#shas[base + (i >> 1)] ?? 0;
			const digit = i % 2 === 0 ? byte >> 4 : byte & 15;
			if (HEX.charCodeAt(digit) !== prefix.charCodeAt(i)) return false;
		}
		return true;
	}
}

/** The store is shorter than the index file says: cut back by hand under a running kvm-matrix. */
export class StoreChangedError extends Error {
	constructor() {
		super("the Link: index store was cut short while it was being read; run again to rebuild it");
		this.name = "StoreChangedError";
	}
}

const HEX = "0123456789abcdef";
const nibble = (c: number) => (c <= 57 ? c - 48 : c - 87);

/** The descriptor goes when the index does; a command that loads one index holds one. */
const descriptors = new FinalizationRegistry<number>((fd) => {
	try {
		closeSync(fd);
	} catch {
		// Already closed at exit.
	}
});

/** Lines `first` then `more`, numbered on: saved lines and the lines appended to the store since. */
export class JoinedLines implements StoreLines {
	readonly #first: StoreLines;
	readonly #more: StoreLines;

	constructor(first: StoreLines, more: StoreLines) {
		this.#first = first;
		this.#more = more;
	}

	get count(): number {
		return this.#first.count + this.#more.count;
	}

	#at<T>(at: number, ask: (lines: StoreLines, n: number) => T): T {
		const n = this.#first.count;
		return at < n ? ask(this.#first, at) : ask(this.#more, at - n);
	}

	line(at: number): string {
		return this.#at(at, (l, n) => l.line(n));
	}

	sha(at: number): string {
		return this.#at(at, (l, n) => l.sha(n));
	}

	startsWith(at: number, prefix: string): boolean {
		return this.#at(at, (l, n) => l.startsWith(n, prefix));
	}

	subject(at: number): string {
		return this.#at(at, (l, n) => l.subject(n));
	}

	parents(at: number): string | undefined {
		return this.#at(at, (l, n) => l.parents(n));
	}
}
