import { err, ok, type Result } from "../result.js";

const SHIFT = { K: 10, M: 20, G: 30, T: 40 } as const;
type Suffix = keyof typeof SHIFT;

// QEMU's own spelling (`-m 4G`) plus the IEC forms people also write (`4GiB`, `512MiB`).
const SIZE = /^(\d+)\s*([KMGT])(?:i?B)?$/i;

/** Parses a memory size such as `4G`, `512M` or `2GiB` into bytes. */
export function parseSize(text: string): Result<number> {
	const match = SIZE.exec(text.trim());
	if (!match) {
		if (/^\d+$/.test(text.trim())) {
			return err(`size "${text}" needs a unit, e.g. ${text.trim()}M or ${text.trim()}G`);
		}
		return err(`"${text}" is not a size (use e.g. 512M, 4G)`);
	}
	const [, digits = "0", suffix = "M"] = match;
	const bytes = Number(digits) * 2 ** SHIFT[suffix.toUpperCase() as Suffix];
	if (bytes === 0) {
		return err(`size "${text}" must be greater than zero`);
	}
	// Past 2^53 bytes the number is no longer exact (and QEMU's -m would read "Infinity").
	if (!Number.isSafeInteger(bytes)) {
		return err(`size "${text}" is too large`);
	}
	return ok(bytes);
}

/** Formats bytes the way QEMU's `-m` takes them, in the largest exact unit. */
export function formatSize(bytes: number): string {
	for (const suffix of ["T", "G", "M", "K"] as const) {
		const unit = 2 ** SHIFT[suffix];
		if (bytes % unit === 0) return `${bytes / unit}${suffix}`;
	}
	return `${bytes}`;
}
