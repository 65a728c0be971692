/**
 * A multi-map from 32-bit keys to non-negative ints, open addressing in two typed arrays: a
 * million commits cost 16 MB and no object each (a Map of them cost a heap number and an entry
 * each, and most of a large index's garbage collection). Keys are hashes; a caller checks each
 * value it gets against what it looked for.
 */
export class IntMultiTable {
	readonly #keys: Int32Array;
	readonly #vals: Int32Array;
	readonly #mask: number;

	/** Room for `capacity` entries at most half full; or the arrays `arrays` gave (a saved table). */
	constructor(capacity: number, saved?: { readonly keys: Int32Array; readonly vals: Int32Array }) {
		if (saved !== undefined) {
			const size = saved.keys.length;
			if (size < 16 || (size & (size - 1)) !== 0 || saved.vals.length !== size)
				throw new RangeError("a saved table's arrays are not a table's");
			this.#keys = saved.keys;
			this.#vals = saved.vals;
			this.#mask = size - 1;
			return;
		}
		let size = 16;
		while (size < capacity * 2) size *= 2;
		this.#keys = new Int32Array(size);
		this.#vals = new Int32Array(size).fill(-1);
		this.#mask = size - 1;
	}

	/** The table as two arrays, to be saved and given back to the constructor. */
	arrays(): { readonly keys: Int32Array; readonly vals: Int32Array } {
		return { keys: this.#keys, vals: this.#vals };
	}

	add(key: number, value: number): void {
		let at = mix(key) & this.#mask;
		while (this.#vals[at] !== -1) at = (at + 1) & this.#mask;
		this.#keys[at] = key | 0;
		this.#vals[at] = value;
	}

	/**
	 * Every entry, each key's values in the order they were added: from an empty slot round the
	 * whole table, so that no run of occupied slots (where one key's values lie, in order) is
	 * entered in its middle.
	 */
	each(visit: (key: number, value: number) => void): void {
		const size = this.#vals.length;
		let empty = 0;
		while (empty < size && this.#vals[empty] !== -1) empty++;
		for (let n = 1; n <= size; n++) {
			const at = (empty + n) & this.#mask;
			const value = this.#vals[at] as number;
			if (value !== -1) visit(this.#keys[at] as number, value);
		}
	}

	/** How many entries the table holds. */
	get count(): number {
		let n = 0;
		for (const v of this.#vals) if (v !== -1) n++;
		return n;
	}

	/**
	 * A table of this one's entries and then `more`'s with `offset` added to their values, each
	 * key's values still in the order they were added: how saved tables take appended lines.
	 */
	static joined(first: IntMultiTable, more: IntMultiTable, offset: number): IntMultiTable {
		const table = new IntMultiTable(first.count + more.count);
		first.each((k, v) => {
			table.add(k, v);
		});
		more.each((k, v) => {
			table.add(k, v + offset);
		});
		return table;
	}

	/** Calls `visit` with each value stored under `key`, in the order they were added, until it returns true. */
	find(key: number, visit: (value: number) => boolean | undefined): void {
		const k = key | 0;
		for (let at = mix(key) & this.#mask; this.#vals[at] !== -1; at = (at + 1) & this.#mask)
			if (this.#keys[at] === k && visit(this.#vals[at] as number) === true) return;
	}
}

/** Spreads keys whose low bits repeat (a subject hash is fine; a sha prefix too, but cheap to be sure). */
const mix = (key: number) => Math.imul(key ^ (key >>> 16), 0x45d9f3b) >>> 0;

/** The first 8 hex digits at `at` as a 32-bit number; -1 when they are not hex. */
export function hex32(text: string, at = 0): number {
	let n = 0;
	for (let i = at; i < at + 8; i++) {
		const c = text.charCodeAt(i);
		const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
		if (d === -1) return -1;
		n = n * 16 + d;
	}
	return n;
}

/** FNV-1a over the UTF-16 code units. */
export function hashText(text: string): number {
	let h = 0x811c9dc5;
	for (let i = 0; i < text.length; i++) {
		h ^= text.charCodeAt(i);
		h = Math.imul(h, 0x01000193);
	}
	return h >>> 0;
}
