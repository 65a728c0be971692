import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync } from "node:fs";
import { copyFile, open, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";

// A name no other writer (another job, another run) uses, so concurrent writers never trample
// each other's half-written file; the rename makes the whole file appear at once.
const privateName = (file: string) => `${file}.${process.pid}.${randomBytes(6).toString("hex")}.partial`;

// Durable, not only atomic: after a host crash, ext4 can show a renamed file at its final name
// with no data (the rename reached the disk, the bytes did not), and a cache entry of zero bytes
// would be a hit for good. So the bytes are synced before the rename, and the directory after it.

/** Syncs `file`'s bytes to the disk. */
export async function syncFile(file: string): Promise<void> {
	const handle = await open(file, "r");
	try {
		await handle.sync();
	} finally {
		await handle.close();
	}
}

/** Syncs the directory that holds `file`, so that its name (a rename, a new file) is on the disk. */
export function syncDirectoryOf(file: string): void {
	const fd = openSync(path.dirname(file), "r");
	try {
		fsyncSync(fd);
	} finally {
		closeSync(fd);
	}
}

/** Writes `data` to `file` so that readers see either the old file or the whole new one, after a crash too. */
export async function writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
	await replaceAtomically(file, (partial) => writeFile(partial, data));
}

/** Copies `from` to `to` the same way. */
export async function copyAtomically(from: string, to: string): Promise<void> {
	await replaceAtomically(to, (partial) => copyFile(from, partial));
}

/**
 * Makes `file` from `fill`, which writes a file of its own (as a stream, in pieces) at the path it
 * is given; readers see the old `file` or the whole new one, never a half-written one, and a
 * crash leaves one of the two as well.
 */
export async function replaceAtomically(file: string, fill: (partial: string) => Promise<void>): Promise<void> {
	const partial = privateName(file);
	try {
		await fill(partial);
		await syncFile(partial);
		await rename(partial, file);
		syncDirectoryOf(file);
	} catch (error) {
		await rm(partial, { force: true });
		throw error;
	}
}
