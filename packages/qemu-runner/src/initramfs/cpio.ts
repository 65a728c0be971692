/**
 * The "newc" cpio format the kernel unpacks into its initramfs (Documentation/driver-api/
 * early-userspace/buffer-format.rst): a 110-byte ASCII header per entry, the name, then the
 * data, each padded to four bytes, and a `TRAILER!!!` entry at the end.
 */

export type CpioEntry =
	| { readonly kind: "dir"; readonly path: string; readonly mode?: number }
	| { readonly kind: "file"; readonly path: string; readonly data: Uint8Array; readonly mode?: number }
	| { readonly kind: "symlink"; readonly path: string; readonly target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

const hex8 = (n: number) => n.toString(16).padStart(8, "0");
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function header(ino: number, mode: number, nlink: number, size: number, nameSize: number): string {
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
	// mtime 0: the archive's bytes depend only on its contents, so it can be cached by hash.
	return `070701${[ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, nameSize, 0].map(hex8).join("")}`;
}

function record(ino: number, mode: number, nlink: number, name: string, data: Uint8Array): Uint8Array[] {
	const nameBytes = Buffer.from(`${name}\0`, "utf8");
	const head = Buffer.from(header(ino, mode, nlink, data.length, nameBytes.length), "ascii");
	return [head, nameBytes, Buffer.alloc(pad4(head.length + nameBytes.length)), data, Buffer.alloc(pad4(data.length))];
}

/** Encodes entries, in the order given, into one uncompressed newc archive (as chunks). */
export function encodeCpio(entries: readonly CpioEntry[]): Uint8Array[] {
	const chunks: Uint8Array[] = [];
	entries.forEach((entry, i) => {
		const name = entry.path.replace(/^\/+/, "");
		const ino = i + 1;
		if (entry.kind === "dir") chunks.push(...record(ino, S_IFDIR | (entry.mode ?? 0o755), 2, name, new Uint8Array()));
		else if (entry.kind === "file") chunks.push(...record(ino, S_IFREG | (entry.mode ?? 0o644), 1, name, entry.data));
		else chunks.push(...record(ino, S_IFLNK | 0o777, 1, name, Buffer.from(entry.target, "utf8")));
	});
	chunks.push(...record(0, 0, 1, "TRAILER!!!", new Uint8Array()));
	return chunks;
}

/** Every parent directory of the given guest paths, shortest first, so `cpio` order is valid. */
export function parentDirs(paths: readonly string[]): string[] {
	const dirs = new Set<string>();
	for (const p of paths) {
		const parts = p.replace(/^\/+/, "").split("/").slice(0, -1);
		for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
	}
	return [...dirs].sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b));
}
