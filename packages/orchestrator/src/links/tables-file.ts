/**
 * Typed arrays saved as one file, for the Link: index's tables: a store of a million commits takes
 * seconds to read and index, its tables tens of milliseconds to read back. The file names what it
 * was made from (the stamp) and carries a digest of its arrays; a file whose digest does not match
 * is not used, and its reader checks the stamp, so a stale, torn or altered file never answers.
 */
import { createHash } from "node:crypto";

const MAGIC = "kvm-matrix tables 1\n";

type Kind = "i32" | "f64" | "u8";
export type TableArray = Int32Array | Float64Array | Uint8Array;
export type Sections = Readonly<Record<string, TableArray>>;

const kindOf = (a: TableArray): Kind => (a instanceof Int32Array ? "i32" : a instanceof Float64Array ? "f64" : "u8");
const WIDTH: Record<Kind, number> = { i32: 4, f64: 8, u8: 1 };
const pad8 = (n: number) => (n + 7) & ~7;

interface Header {
	readonly stamp: string;
	readonly sections: readonly (readonly [string, Kind, number])[];
	readonly digest: string;
}

/** The file's bytes: magic, header length, header (JSON), then each array at an 8-byte boundary. */
export function encodeTables(stamp: string, sections: Sections): Buffer[] {
	const entries = Object.entries(sections);
	const hash = createHash("sha256");
	const bodies: Buffer[] = [];
	for (const [, a] of entries) {
		const bytes = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
		hash.update(bytes);
		bodies.push(bytes, Buffer.alloc(pad8(bytes.length) - bytes.length));
	}
	const header: Header = {
		stamp,
		sections: entries.map(([name, a]) => [name, kindOf(a), a.length] as const),
		digest: hash.digest("hex"),
	};
	const json = Buffer.from(JSON.stringify(header));
	const head = Buffer.alloc(pad8(MAGIC.length + 4 + json.length));
	head.write(MAGIC, 0, "latin1");
	head.writeUInt32LE(json.length, MAGIC.length);
	json.copy(head, MAGIC.length + 4);
	return [head, ...bodies];
}

/**
 * The stamp and the arrays a file made by `encodeTables` holds, the arrays as views on `file` (no
 * copy), when it is whole; undefined otherwise. Whether the stamp fits is the caller's to say.
 */
export function decodeTables(file: Buffer): { readonly stamp: string; readonly sections: Sections } | undefined {
	if (file.length < MAGIC.length + 4 || file.toString("latin1", 0, MAGIC.length) !== MAGIC) return undefined;
	const jsonLength = file.readUInt32LE(MAGIC.length);
	const headEnd = MAGIC.length + 4 + jsonLength;
	if (headEnd > file.length) return undefined;
	const header = parseHeader(file.toString("utf8", MAGIC.length + 4, headEnd));
	if (header === undefined) return undefined;
	// Views need their element width's alignment in the underlying memory.
	const bytes = file.byteOffset % 8 === 0 ? file : Buffer.from(file);
	const hash = createHash("sha256");
	const out: Record<string, TableArray> = {};
	let at = pad8(headEnd);
	for (const [name, kind, length] of header.sections) {
		const size = length * WIDTH[kind];
		if (at + size > bytes.length) return undefined;
		const offset = bytes.byteOffset + at;
		out[name] =
			kind === "i32"
				? new Int32Array(bytes.buffer, offset, length)
				: kind === "f64"
					? new Float64Array(bytes.buffer, offset, length)
					: new Uint8Array(bytes.buffer, offset, length);
		hash.update(bytes.subarray(at, at + size));
		at += pad8(size);
	}
	return hash.digest("hex") === header.digest ? { stamp: header.stamp, sections: out } : undefined;
}

function parseHeader(text: string): Header | undefined {
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		return undefined;
	}
	if (typeof value !== "object" || value === null) return undefined;
	const { stamp, sections, digest } = value as Record<string, unknown>;
	if (typeof stamp !== "string" || typeof digest !== "string" || !Array.isArray(sections)) return undefined;
	const parsed: [string, Kind, number][] = [];
	for (const s of sections) {
		if (!Array.isArray(s) || s.length !== 3) return undefined;
		const [name, kind, length] = s as unknown[];
		if (typeof name !== "string" || (kind !== "i32" && kind !== "f64" && kind !== "u8")) return undefined;
		if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) return undefined;
		parsed.push([name, kind, length]);
	}
	return { stamp, sections: parsed, digest };
}
