import { err, ok, type Result } from "../result.js";

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
type Unit = keyof typeof UNIT_MS;

// Whole-string shape first, so "90" or "1.5m" get a precise message instead of a partial match.
const DURATION = /^(?:\d+(?:ms|s|m|h))+$/;
const PART = /(?<!\d)(\d+)(ms|s|m|h)/g;
const MAX_MS = 14 * 24 * UNIT_MS.h;

/** Parses `90s`, `2m`, `1h30m`, `500ms` into milliseconds; at most two weeks. */
export function parseDuration(text: string): Result<number> {
	const trimmed = text.trim();
	if (/^\d+$/.test(trimmed)) {
		return err(`duration "${text}" needs a unit, e.g. ${trimmed}s`);
	}
	if (!DURATION.test(trimmed)) {
		return err(`"${text}" is not a duration (use e.g. 90s, 2m, 1h30m, 500ms)`);
	}
	let total = 0;
	for (const [, digits, unit] of trimmed.matchAll(PART)) {
		total += Number(digits) * UNIT_MS[unit as Unit];
	}
	if (total === 0) {
		return err(`duration "${text}" must be greater than zero`);
	}
	// A timeout ends up in timers, which fire at once past 2^31 ms (24.8 days): two weeks is more
	// than any one test needs and leaves room for the margins runners add.
	if (total > MAX_MS) {
		return err(`duration "${text}" is too long (at most ${formatDuration(MAX_MS)})`);
	}
	return ok(total);
}

/** Formats milliseconds the way a user would write them in a matrix file. */
export function formatDuration(ms: number): string {
	if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
	if (ms % 60_000 === 0) return `${ms / 60_000}m`;
	if (ms % 1_000 === 0) return `${ms / 1_000}s`;
	return `${ms}ms`;
}
