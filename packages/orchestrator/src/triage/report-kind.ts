// What a report is about, beyond which tests it names: a failure, a test that skips, a failure
// that comes and goes, or a kernel crash (a WARNING, an oops) with no test result at all. Each
// changes the answer: a skip gets its reason instead of a verdict, an intermittent failure more
// runs, a crash the kernel it happened on. Pure: lines in, words out.

import type { ReportKind } from "./types.js";

export type { ReportKind };

/** Words that say a failure is not every time, and where they were. */
export interface Said {
	readonly text: string;
	readonly where: string;
}

// "about 60% of failure chance", "fails 3 out of 10 times", "sometimes", "intermittently",
// "not always", "occasionally", "sporadic", "flaky", "randomly", "once in a while".
// Several patterns, not one alternation: each small enough that recheck's automaton checker
// proves it linear, where the whole alternation left it to fuzzing, whose answer varied with the
// machine's load (test/linear-regex.test.ts). Only whether a line matches is used, so parts that
// cannot change that (a leading "about", a trailing "chance") are left out.
const INTERMITTENT: readonly RegExp[] = [
	/\b\d{1,2}\s*%\s*(?:of\s+)?(?:the\s+)?(?:(?:failure|fail(?:ing|s)?|hit)\b|reproduc)/i,
	/\b\d+\s+(?:out\s+)?of\s+\d+\s+(?:runs?|times|tries|attempts)\b/i,
	/\bsometimes\b|\bintermittent(?:ly)?\b|\bnot\s+always\b|\boccasional(?:ly)?\b|\bsporadic(?:ally)?\b|\bflaky\b|\bflakiness\b/i,
	/\brandom(?:ly)?\s+(?:fail|hang|time)|\bonce\s+in\s+a\s+while\b|\bnot\s+(?:100%|reliably|always)\s+reproduc/i,
];

/** The first words of the report that say the failure comes and goes. */
export function intermittentWords(
	texts: readonly { readonly where: string; readonly lines: readonly string[] }[],
): Said | undefined {
	for (const t of texts)
		for (const line of t.lines) {
			// "passes sometimes" and "fails sometimes" both say it; a quoted reply says it too.
			if (INTERMITTENT.some((re) => re.test(line))) return { text: line.trim().slice(0, 200), where: t.where };
		}
	return undefined;
}

// The first line of a kernel splat: what syzbot titles a report with, and what a log shows.
// `[\s\S]` where `.` would do: the lines hold no line terminator (extract's cleanLine), and `.*`
// twice before a `$` that fails backtracks quadratically.
const SPLAT =
	/^(?:\[\s*\d+\.\d+\]\s*)?((?:WARNING: CPU: \d+ PID: \d+ at|WARNING: [\s\S]* at|BUG: |kernel BUG at|general protection fault|Oops: |Kernel panic - not syncing|UBSAN: |KASAN: |watchdog: BUG: soft lockup)[\s\S]*)$/;
const SYZBOT = /\bsyzbot found the following (?:issue|crash)\b/i;
// `CPU: 0 PID: 884 Comm: hyperv_clock Not tainted ...`: the task that was running.
const COMM = /\bComm: (\S+)/;

export interface Splat {
	readonly text: string;
	readonly where: string;
	/** The task the kernel named (`Comm: hyperv_clock`): a test binary when a test hit it. */
	readonly comm?: string;
	/** The line of its text it starts at, to find the test that was running. */
	readonly line: number;
}

/** The report's first kernel splat, if it shows one, and whether a bot found it by fuzzing. */
export function firstSplat(texts: readonly { readonly where: string; readonly lines: readonly string[] }[]): {
	readonly splat?: Splat;
	readonly fuzzed: boolean;
} {
	const fuzzed = texts.some((t) => t.lines.some((l) => SYZBOT.test(l)));
	let first: Splat | undefined;
	for (const t of texts)
		for (const [i, line] of t.lines.entries()) {
			const m = SPLAT.exec(line);
			if (m === null) continue;
			// The task follows within a few lines of a splat in a log (a subject that quotes it has none).
			const comm = t.lines
				.slice(i, i + 12)
				.map((l) => COMM.exec(l)?.[1])
				.find((c) => c !== undefined);
			const splat = { text: (m[1] ?? line).trim().slice(0, 200), where: t.where, line: i };
			if (comm !== undefined) return { splat: { ...splat, comm }, fuzzed };
			first ??= splat;
		}
	return first === undefined ? { fuzzed } : { splat: first, fuzzed };
}
