import { randomBytes } from "node:crypto";
import { copyFile, rename, rm, writeFile } from "node:fs/promises";

// A name no other writer (another job, another run) uses, so concurrent writers never trample
// each other's half-written file; the rename makes the whole file appear at once.
const privateName = (file: string) => `${file}.${process.pid}.${randomBytes(6).toString("hex")}.partial`;

/** Writes `data` to `file` so that readers see either the old file or the whole new one. */
export async function writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
	const partial = privateName(file);
	await writeFile(partial, data);
	await rename(partial, file);
}

/** Copies `from` to `to` the same way. */
export async function copyAtomically(from: string, to: string): Promise<void> {
	const partial = privateName(to);
	await copyFile(from, partial);
	await rename(partial, to);
}

/**
 * Makes `file` from `fill`, which writes a file of its own (as a stream, in pieces) at the path it
 * is given; readers see the old `file` or the whole new one, never a half-written one.
 */
export async function replaceAtomically(file: string, fill: (partial: string) => Promise<void>): Promise<void> {
	const partial = privateName(file);
	try {
		await fill(partial);
		await rename(partial, file);
	} catch (error) {
		await rm(partial, { force: true });
		throw error;
	}
}
