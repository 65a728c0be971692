// What triage works on: a bug report reduced to its texts, and the facts read from them. The
// report comes from bugzilla's REST API, a saved copy of it, a mail or mbox, or pasted text; the
// facts are what a maintainer looks for first (which tests fail and how, on which kernel).
import type { TestStatus } from "../events/types.js";

/** Bad input or an unreachable bugzilla: one line, for the user (the command exits 2). */
export class TriageError extends Error {
	override readonly name = "TriageError";
	constructor(
		message: string,
		/** What was read before the refusal (`--json` prints it beside the error): never a guess. */
		readonly partial?: TriagePartial,
	) {
		super(message);
	}
}

/** A report triage read but could not answer: what it found in it, and the kernel if it found one. */
export interface TriagePartial {
	readonly report: Omit<BugReport, "texts">;
	readonly facts: ReportFacts;
	readonly kernel?: {
		readonly tree: string;
		readonly ref: string;
		readonly sha: string;
		readonly how: string;
		readonly approximate: boolean;
	};
	/** Why each kernel clue could not be used. */
	readonly tried?: readonly string[];
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
	/** For a skip: why, as the report gives it (`SKIP: PEBS unsupported`, the status line's reason). */
	readonly skipReason?: string;
	/** The report names it as its subject: a test robot's `kvm-unit-tests.vmx.fail`. */
	readonly headline?: true;
}

/** What an environment block of a report says about one piece of software's source. */
export interface EnvFields {
	/** A repository URL, or a word a report uses for one (`upstream`, `linux-next`, `kvm`). */
	readonly repo?: string;
	readonly branch?: string;
	/** Hex as written: often 8 characters. */
	readonly commit?: string;
	readonly tag?: string;
	/** `git describe` output. */
	readonly describe?: string;
	/** A release as the block gives it (`5.2.3-rc1`). */
	readonly version?: string;
	/** The lines it was read from, for the evidence. */
	readonly text: string;
	/** Which text of the report (`description`, `comment 2`). */
	readonly where: string;
}

/**
 * A hint of the kernel under test, as the report words it. A `block` is labelled fields that name
 * the kernel's repository, branch, commit, tag or version (a QA template's, lkp's, syzbot's, LKFT's);
 * a `branch` with `weak` is bugzilla's `Tree:` field, a category the reporter picked from a list.
 */
export type KernelClue =
	| ({ readonly kind: "block" } & EnvFields)
	| {
			readonly kind: "release";
			readonly version: string;
			/** As the report gives it: `6.1`, `v6.1-rc4`, `6.1.0-28-amd64`, `6.1.0-rc4+`. */
			readonly text: string;
			readonly where: string;
			/** Read from a field that names the kernel (`Kernel Version:`, `Host kernel:`, `uname -r`), not from prose. */
			readonly field?: true;
	  }
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
			readonly weak?: true;
	  };

/** What a report is about: a failure, a skip, a failure that comes and goes, or a kernel crash. */
export type ReportKind = "fail" | "skip" | "intermittent" | "crash";

export interface ReportFacts {
	/** Every test the report names, with what it says each did. */
	readonly tests: readonly ReportedTest[];
	readonly kind: ReportKind;
	/** The words that say the failure comes and goes (`about 60% of failure chance`). */
	readonly intermittent?: { readonly text: string; readonly where: string };
	/** The first kernel splat the report shows (`WARNING: CPU: 0 PID: 12623 at ...`). */
	readonly crash?: { readonly text: string; readonly where: string };
	/** Strongest first: the kernel's block, a sha, a git describe, a release, tree and branch words, `Tree:`. */
	readonly kernel: readonly KernelClue[];
	/** KUT's BUILD_HEAD (from a KUT log or SUMMARY), when given. */
	readonly kutCommit?: string;
	readonly qemu?: string;
	readonly cpu?: string;
	/** What could not be found, in words for the user (`no kernel version`, `no failing test`). */
	readonly missing: readonly string[];
}
