// A cached file is trusted by its seal, not by its name: after a host crash a file can stand at
// its final name with no bytes (or some), and a cache that takes a name for a whole file keeps
// serving it. The seal (size and SHA-256) is written, durably, after the file's own bytes are on
// the disk; a hit reads the file back against it.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { access, readFile, stat } from "node:fs/promises";

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

/** `sealed`: the file reads back as its seal says; `unsealed`: it has none; `broken`: anything else. */
export async function checkSeal(file: string): Promise<"sealed" | "unsealed" | "broken"> {
	let text: string;
	try {
		text = await readFile(sealPath(file), "utf8");
	} catch {
		return (await access(file).then(
			() => true,
			() => false,
		))
			? "unsealed"
			: "broken";
	}
	let seal: unknown;
	try {
		seal = JSON.parse(text);
	} catch {
		return "broken";
	}
	if (typeof seal !== "object" || seal === null) return "broken";
	const { size, sha256 } = seal as { size?: unknown; sha256?: unknown };
	if (typeof size !== "number" || typeof sha256 !== "string") return "broken";
	// The size first: a file cut short is told without reading it.
	const actual = await stat(file).then(
		(s) => s.size,
		() => -1,
	);
	if (actual !== size) return "broken";
	return (await sealOf(file).catch(() => "")) === sealText(size, sha256) ? "sealed" : "broken";
}

/** Whether `file` is whole: a seal is there and its size and hash are the file's. */
export const isSealed = async (file: string): Promise<boolean> => (await checkSeal(file)) === "sealed";

/**
 * Whether `file` can be used: sealed, or without a seal and not empty, which is then sealed as it
 * stands (`writeSeal`, durably). A file without a seal was written before seals were, or by a
 * publisher killed between its synced file and the seal; rebuilding it would pull it from under
 * a run still using it. A seal that does not match is never overruled.
 */
export async function isWhole(file: string, writeSeal: (seal: string) => Promise<void>): Promise<boolean> {
	const check = await checkSeal(file);
	if (check !== "unsealed") return check === "sealed";
	const size = await stat(file).then(
		(s) => s.size,
		() => 0,
	);
	if (size === 0) return false;
	await writeSeal(await sealOf(file));
	return true;
}
