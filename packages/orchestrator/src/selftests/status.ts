import type { TestStatus } from "../events/types.js";

/** A TAP subtest line's result, as `kselftest_harness.h` prints them. */
export interface Subtest {
	readonly name: string;
	readonly status: "pass" | "fail" | "skip";
}

/**
 * A selftest's status from its exit code (kselftest.h: 0 pass, 1 fail, 2 xfail, 3 xpass,
 * 4 skip; 254 is a TEST_ASSERT failure). `timedOut` is decided by the runner's clock, since a
 * killed test's exit code (137) looks like any other SIGKILL.
 */
export function selftestStatus(exitCode: number, timedOut: boolean): { status: TestStatus; detail?: string } {
	if (timedOut) return { status: "timeout" };
	switch (exitCode) {
		case 0:
			return { status: "pass" };
		case 2:
			return { status: "pass", detail: "expected failure (KSFT_XFAIL)" };
		case 3:
			return { status: "fail", detail: "unexpected pass (KSFT_XPASS)" };
		case 4:
			return { status: "skip" };
		case 254:
			return { status: "fail", detail: "assertion failed" };
		case 126:
		case 127:
			return {
				status: "error",
				detail: exitCode === 127 ? "test binary not found" : "test binary not executable",
			};
		default:
			return exitCode > 128
				? { status: "fail", detail: `killed by signal ${exitCode - 128}` }
				: { status: "fail", detail: `exit status ${exitCode}` };
	}
}

const TAP_LINE = /^\s*(not ok|ok)\s+\d+\s*(?:-\s*)?/;
// What `.` in a pattern would not match: a result holding one is not a one-line result.
const LINE_BREAK = /[\n\r\u2028\u2029]/;

/**
 * TAP subtests from a test's output (`ok 1 name`, `not ok 2 name`, `ok 3 name # SKIP why`).
 * Only top-level results count; `# ` diagnostics and the plan are ignored.
 */
export function parseTapSubtests(lines: readonly string[]): Subtest[] {
	const subtests: Subtest[] = [];
	for (const line of lines) {
		const match = TAP_LINE.exec(line);
		// The rest is trimmed by hand: /(.*?)\s*$/ takes time quadratic in a run of blanks.
		const rest = match === null ? "" : line.slice(match[0].length).trimEnd();
		if (match === null || LINE_BREAK.test(rest)) continue;
		const verdict = match[1];
		const hash = rest.indexOf(" # ");
		const directive = hash === -1 ? "" : rest.slice(hash + 3);
		const name = (hash === -1 ? rest : rest.slice(0, hash)).trim();
		const skip = /^skip\b/i.test(directive);
		const todo = /^todo\b/i.test(directive);
		subtests.push({ name, status: skip ? "skip" : verdict === "ok" || todo ? "pass" : "fail" });
	}
	return subtests;
}

/** The summary line of the kselftest harness's SKIP plan: `1..0 # SKIP - Requirement not met: ...`. */
export function skipReason(lines: readonly string[]): string | undefined {
	for (const line of lines) {
		const m = /^1\.\.0\s+#\s*SKIP(.*)$/i.exec(line.trim());
		// The dash and blanks after SKIP are dropped apart: `\s*-?\s*(.*)` backtracks quadratically.
		if (m) return (m[1] ?? "").replace(/^\s*-?\s*/, "");
	}
	return undefined;
}
