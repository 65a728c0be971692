// A cached file is trusted by its seal, not by its name: after a host crash a file can stand at
// its final name with no bytes (or some), and a cache that takes a name for a whole file keeps
// serving it. The seal (size and SHA-256) is written, durably, after the file's own bytes are on
// the disk; a hit reads the file back against it. A file without one is rebuilt.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";

/** Where `file`'s seal is kept. */
export const sealPath = (file: string): string => `${file}.sealed`;

/** The seal's text for `file` as it is now: its size and the SHA-256 of its bytes. */
export async function sealOf(file: string): Promise<string> {
	const hash = createHash("sha256");
	let size = 0;
	for await (const chunk of createReadStream(file)) {
		const bytes = chunk as Buffer;
		hash.update(bytes);
		size += bytes.length;
	}
	return sealText(size, hash.digest("hex"));
}

const sealText = (size: number, sha256: string) => JSON.stringify({ size, sha256 });

/** Whether `file` is whole: a seal is there and its size and hash are the file's. */
export async function isSealed(file: string): Promise<boolean> {
	let seal: unknown;
	try {
		seal = JSON.parse(await readFile(sealPath(file), "utf8"));
	} catch {
		return false;
	}
	if (typeof seal !== "object" || seal === null) return false;
	const { size, sha256 } = seal as { size?: unknown; sha256?: unknown };
	if (typeof size !== "number" || typeof sha256 !== "string") return false;
	// The size first: a file cut short is told without reading it.
	const actual = await stat(file).then(
		(s) => s.size,
		() => -1,
	);
	if (actual !== size) return false;
	return (await sealOf(file).catch(() => "")) === sealText(size, sha256);
}
