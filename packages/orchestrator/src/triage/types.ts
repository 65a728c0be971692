// What triage works on: a bug report reduced to its texts, and the facts read from them. The
// report comes from bugzilla's REST API, a saved copy of it, a mail or mbox, or pasted text; the
// facts are what a maintainer looks for first (which tests fail and how, on which kernel).
import type { TestStatus } from "../events/types.js";

/** Bad input or an unreachable bugzilla: one line, for the user (the command exits 2). */
export class TriageError extends Error {
	override readonly name = "TriageError";
}

/** One text of a report, and where it came from, for the evidence: `comment 3`, `attachment 77 (kut.log)`. */
export interface ReportText {
	readonly where: string;
	readonly text: string;
}

export interface BugReport {
	readonly source: "bugzilla" | "mail" | "text";
	/** The bug's number on its bugzilla. */
	readonly id?: string;
	/** The bug's page (`https://bugzilla.kernel.org/show_bug.cgi?id=216812`). */
	readonly url?: string;
	/** Its summary (bugzilla) or subject (mail). */
	readonly title?: string;
	/** The description first, then comments and text attachments in order. */
	readonly texts: readonly ReportText[];
}

/** The tests a report can name: the KUT cfg entries and the selftests of the configured trees. */
export interface KnownTests {
	readonly kut: readonly { readonly name: string; readonly file: string; readonly testArgs?: string }[];
	/** `x86_64/cpuid_test` (or `x86/...` in newer trees). */
	readonly selftests: readonly string[];
}

export interface ReportedTest {
	readonly suite: "kut" | "selftests";
	/** A cfg entry's name, or a selftest's id as `known.selftests` has it. */
	readonly testId: string;
	/** What the report says it did, when a result line says it (`FAIL xapic (...)`); unknown from prose. */
	readonly status?: TestStatus;
	/** The report's words that named it, and where. */
	readonly evidence: ReportText;
	/** Lines that say how it failed (`FAIL: ...`, an assertion, `Want ... got ...`), at most 20. */
	readonly failureLines: readonly string[];
}

/** A hint of the kernel under test, as the report words it. */
export type KernelClue =
	| { readonly kind: "release"; readonly version: string; readonly text: string; readonly where: string }
	| {
			readonly kind: "describe";
			readonly tag: string;
			readonly sha: string;
			readonly text: string;
			readonly where: string;
	  }
	| { readonly kind: "sha"; readonly sha: string; readonly text: string; readonly where: string }
	| {
			readonly kind: "branch";
			readonly repo: string;
			readonly branch: string;
			readonly text: string;
			readonly where: string;
	  };

export interface ReportFacts {
	readonly tests: readonly ReportedTest[];
	/** Strongest first: a sha, a git describe, a tree and branch, a release. */
	readonly kernel: readonly KernelClue[];
	/** KUT's BUILD_HEAD (from a KUT log or SUMMARY), when given. */
	readonly kutCommit?: string;
	readonly qemu?: string;
	readonly cpu?: string;
	/** What could not be found, in words for the user (`no kernel version`, `no failing test`). */
	readonly missing: readonly string[];
}
