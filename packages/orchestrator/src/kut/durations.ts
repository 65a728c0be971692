import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { writeAtomically } from "../paths/atomic.js";
import { withLock } from "../paths/lock.js";

/** KUT test name → how long it took last time, in milliseconds. */
export type KutDurations = Record<string, number>;

/** An empty record without a prototype: a test named `constructor` must not find a function. */
export const noDurations = (): KutDurations => Object.create(null) as KutDurations;

/**
 * The durations kept in `file`. Only a hint for ordering the tests, so it never fails a run: a
 * missing, truncated or hand-broken file is no durations, and an entry that is not a duration is
 * left out.
 */
export async function readKutDurations(file: string): Promise<KutDurations> {
	const text = await readFile(file, "utf8").catch(() => undefined);
	if (text === undefined) return noDurations();
	let parsed: unknown;
	try {
		parsed = JSON.parse(text);
	} catch {
		return noDurations();
	}
	if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return noDurations();
	const durations = noDurations();
	for (const [name, ms] of Object.entries(parsed)) {
		if (typeof ms === "number" && Number.isFinite(ms) && ms >= 0) durations[name] = ms;
	}
	return durations;
}

/**
 * Adds `measured` to the durations in `file`. Two runs recording at once both keep theirs: the
 * file is read and replaced under its lock, and replaced whole, so a reader never sees half of it.
 */
export async function recordKutDurations(
	file: string,
	measured: Readonly<KutDurations>,
	signal?: AbortSignal,
): Promise<void> {
	await mkdir(path.dirname(file), { recursive: true });
	await withLock(
		file,
		async () => {
			const merged = { ...(await readKutDurations(file)), ...measured };
			await writeAtomically(file, JSON.stringify(merged));
		},
		{ signal },
	);
}

/**
 * The order tests start in: those with no history first (a new test may be the longest of all),
 * then the longest last time first, so a test that timed out (90 s and more) never starts last
 * and holds the run's end. Ties keep the given order.
 */
export function longestFirst(tests: readonly string[], durations: Readonly<KutDurations>): string[] {
	const last = (name: string) =>
		(Object.hasOwn(durations, name) ? durations[name] : undefined) ?? Number.POSITIVE_INFINITY;
	return [...tests].sort((a, b) => last(b) - last(a));
}
