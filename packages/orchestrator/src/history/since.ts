// `--since 30d`: a window back from now, or a date. Pure: the caller gives the clock.

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** The ISO time `--since` stands for, or why it is not one, in one line. */
export function parseSince(
	text: string,
	now: Date,
): { readonly ok: true; readonly since: string } | { readonly ok: false; readonly error: string } {
	const span = /^(\d{1,5})([hdw])$/.exec(text.trim());
	if (span !== null) {
		const ms = Number(span[1]) * (UNIT_MS[span[2] as string] as number);
		return { ok: true, since: new Date(now.getTime() - ms).toISOString() };
	}
	if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?$/.test(text.trim())) {
		const at = new Date(text.trim());
		if (!Number.isNaN(at.getTime())) return { ok: true, since: at.toISOString() };
	}
	return { ok: false, error: `--since ${text}: expected a span (30d, 12h, 2w) or a date (2026-11-01)` };
}
