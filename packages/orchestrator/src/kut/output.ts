import type { TestStatus } from "../events/types.js";

/** The counts of a `SUMMARY:` line (or the same text in a status line's parentheses). */
export interface KutSummary {
	readonly tests: number;
	readonly unexpectedFailures: number;
	readonly knownFailures: number;
	readonly expectedFailures: number;
	readonly skipped: number;
}

export type KutCheckStatus = "pass" | "fail" | "skip" | "xfail" | "xpass" | "kfail";

export interface KutCheck {
	readonly status: KutCheckStatus;
	readonly text: string;
}

/** One line of `run_tests.sh` output, as `print_result` writes it. */
export interface KutStatusLine {
	readonly status: "PASS" | "FAIL" | "SKIP";
	readonly name: string;
	/** The parenthesised text: counts, a skip reason, `timeout; duration=90s`, `terminated on SIGKILL`. */
	readonly detail?: string;
	readonly summary?: KutSummary;
}

// eslint-style ANSI colour sequences around the status word: \e[32mPASS\e[0m.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
export const stripAnsi = (text: string): string => text.replace(ANSI, "");

/** `12 tests, 2 unexpected failures, 1 skipped` → counts; undefined if it is not such a text. */
export function parseSummary(text: string): KutSummary | undefined {
	const m = /^(\d+) tests?((?:, \d+ [a-z ]+)*)$/.exec(text.trim());
	if (m === null) return undefined;
	const part = (label: RegExp) => Number(new RegExp(`, (\\d+) ${label.source}`).exec(m[2] ?? "")?.[1] ?? 0);
	return {
		tests: Number(m[1]),
		unexpectedFailures: part(/unexpected failures?/),
		knownFailures: part(/known failures?/),
		expectedFailures: part(/expected failures?/),
		skipped: part(/skipped/),
	};
}

/**
 * A `run_tests.sh` status line: `PASS name (N tests)`, `FAIL name (timeout; duration=90s)`,
 * `SKIP name (reason)`, or a bare `FAIL name ` when the test died before its SUMMARY.
 */
export function parseStatusLine(line: string): KutStatusLine | undefined {
	const m = /^(PASS|FAIL|SKIP) (\S+)(?: \((.*)\))?\s*$/.exec(stripAnsi(line).replace(/\r$/, ""));
	if (m === null) return undefined;
	const [, status, name = "", detail] = m;
	const summary = detail === undefined ? undefined : parseSummary(detail);
	return {
		status: status as KutStatusLine["status"],
		name,
		...(detail === undefined ? {} : { detail }),
		...(summary === undefined ? {} : { summary }),
	};
}

const CHECK = /^(PASS|FAIL|SKIP|XFAIL|XPASS|KFAIL): (.*)$/;

/** The check lines of a test's log (`PASS: apic: x2apic mode`), kept as subtests. */
export function parseChecks(lines: readonly string[]): KutCheck[] {
	return lines.flatMap((raw) => {
		const m = CHECK.exec(stripAnsi(raw).replace(/\r$/, ""));
		return m === null ? [] : [{ status: (m[1] ?? "").toLowerCase() as KutCheckStatus, text: m[2] ?? "" }];
	});
}

/** The `SUMMARY:` line among the last lines of a log, as KUT's extract_summary finds it. */
export function findSummary(lines: readonly string[]): KutSummary | undefined {
	for (const line of lines.slice(-5).reverse()) {
		const m = /^SUMMARY: (.*?)\r?$/.exec(stripAnsi(line));
		if (m) return parseSummary(m[1] ?? "");
	}
	return undefined;
}

const SIGNALS: Readonly<Record<number, string>> = { 1: "HUP", 2: "INT", 6: "ABRT", 9: "KILL", 11: "SEGV", 15: "TERM" };

/** A test's status from its exit code, as runtime.bash maps it: 0 pass, 77 skip, 124 timeout, >127 signal. */
export function kutStatus(exitCode: number): { status: TestStatus; detail?: string } {
	if (exitCode === 0) return { status: "pass" };
	if (exitCode === 77) return { status: "skip" };
	if (exitCode === 124) return { status: "timeout" };
	if (exitCode > 127)
		return { status: "fail", detail: `terminated on SIG${SIGNALS[exitCode - 128] ?? exitCode - 128}` };
	return { status: "fail" };
}
