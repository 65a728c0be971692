// The facts a maintainer reads first in a bug report: which tests fail and how, on which kernel,
// KUT commit, QEMU and CPU. Reports are written by people: result lines are pasted amid prose,
// quoted, coloured; so each fact has a few shapes, and a name is only ever one the trees know.
import { isFailingStatus } from "../events/attempts.js";
import type { TestStatus } from "../events/types.js";
import { parseStatusLine, stripAnsi } from "../kut/output.js";
import { parseForeignResults } from "../results/foreign.js";
import { trimTrailing } from "../text/trim.js";
import { envBlocks } from "./blocks.js";
import { firstSplat, intermittentWords } from "./report-kind.js";
import type { BugReport, KernelClue, KnownTests, ReportedTest, ReportFacts, ReportKind, ReportText } from "./types.js";

const MAX_FAILURE_LINES = 20;

/** What a report says about its tests and environment; names come only from `known`. */
export function extractFacts(report: BugReport, known: KnownTests): ReportFacts {
	const texts = textsOf(report);
	const names = indexNames(known);
	const { splat, fuzzed } = firstSplat(texts);
	const mentions = texts.flatMap((t) => mentionsIn(t, names));
	// A kernel splat while a test ran (`Comm: hyperv_clock`) is that test's crash, whatever it printed after.
	const crashed = splat?.comm === undefined ? undefined : testOfTask(splat.comm, names);
	const tests = chooseTests(
		texts,
		crashed === undefined
			? mentions
			: [
					...mentions.filter((m) => !(m.suite === "selftests" && m.testId === crashed)),
					{
						suite: "selftests",
						testId: crashed,
						status: "crash",
						text: texts.findIndex((t) => t.where === splat?.where),
						line: splat?.line ?? 0,
						where: splat?.where ?? "",
						words: splat?.text ?? "",
						isResult: true,
					},
				],
	);
	const kernel = kernelClues(texts);
	const kutBlock = texts
		.flatMap((t) => envBlocks(t.lines, t.where))
		.find((b) => b.owner === "kut" && b.commit !== undefined)?.commit;
	const kutCommit = firstMatch(texts, [/\bBUILD_HEAD=([0-9a-f]{7,40})\b/]) ?? kutBlock;
	const qemu = firstMatch(texts, QEMU_VERSION);
	const cpu = firstMatch(texts, CPU_MODEL);
	const intermittent = intermittentWords(texts);
	const kind = reportKind(tests, { crash: splat !== undefined, fuzzed, intermittent: intermittent !== undefined });
	const about = testsAbout({ tests, kind });
	const missing = [
		...(about.length > 0
			? []
			: [kind === "crash" ? "no kvm-unit-tests or selftest: a kernel crash report" : "no failing test named"]),
		...(kernel.length === 0 ? ["no kernel version"] : []),
	];
	return {
		tests,
		kind,
		...(kind === "intermittent" && intermittent !== undefined ? { intermittent } : {}),
		...(splat === undefined ? {} : { crash: { text: splat.text, where: splat.where } }),
		kernel,
		...(kutCommit === undefined ? {} : { kutCommit }),
		...(qemu === undefined ? {} : { qemu }),
		...(cpu === undefined ? {} : { cpu }),
		missing,
	};
}

/**
 * The selftest a task name is: the kernel keeps 15 characters of it (TASK_COMM_LEN), so a longer
 * name is known by a prefix only one test has.
 */
function testOfTask(comm: string, names: Names): string | undefined {
	const exact = names.selftests.get(comm);
	if (exact !== undefined || comm.length < 15) return exact;
	const ids = new Set(
		[...names.selftests].filter(([name]) => !name.includes("/") && name.startsWith(comm)).map(([, id]) => id),
	);
	return ids.size === 1 ? [...ids][0] : undefined;
}

const failingOrSaid = (t: Pick<ReportedTest, "status">) => t.status === undefined || isFailingStatus(t.status);

/**
 * What a report is about: a test that failed (some of the time: intermittent), else a test that
 * skipped, else a kernel splat with no test result (a fuzzer's, or one seen in a log).
 */
function reportKind(
	tests: readonly ReportedTest[],
	seen: { readonly crash: boolean; readonly fuzzed: boolean; readonly intermittent: boolean },
): ReportKind {
	if (tests.some((t) => t.status === "crash")) return "crash";
	if (tests.some(failingOrSaid)) return seen.intermittent ? "intermittent" : "fail";
	if (tests.some((t) => t.status === "skip")) return "skip";
	return seen.crash || seen.fuzzed ? "crash" : "fail";
}

/** The tests a report is about: those it says fail, else those it says skip. */
export function testsAbout(facts: Pick<ReportFacts, "tests" | "kind">): ReportedTest[] {
	const failing = facts.tests.filter(failingOrSaid);
	// A test robot's report is about its headline result; other failures in its paste are context.
	const headline = failing.filter((t) => t.headline === true);
	if (headline.length > 0) return headline;
	if (failing.length > 0) return failing;
	return facts.kind === "skip" ? facts.tests.filter((t) => t.status === "skip") : [];
}

interface Text extends ReportText {
	readonly index: number;
	readonly lines: readonly string[];
}

// Pasted output arrives quoted (`> ` in mail), indented (Markdown), coloured and with CRs; the
// same cleaning parseForeignResults applies, so a line found here is one it also reads.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

const cleanLine = (line: string): string =>
	stripAnsi(line)
		// lkp's mails spell ESC as `^[`: `^[[32mPASS^[[0m vmx`.
		.replace(/\^\[\[[0-9;]*m/g, "")
		// Other control sequences (a title, a clear-screen) are not text a report says anything with.
		.replace(CONTROLS, "")
		// Lines end only at \n: the other line terminators would stop a pattern's `.`.
		.replace(/[\u2028\u2029]/g, " ")
		.replace(/\r$/, "")
		.replace(/^[\s>]+/, "")
		.trimEnd();

// ---- tests ------------------------------------------------------------------------------------

interface Mention {
	readonly suite: "kut" | "selftests";
	readonly testId: string;
	readonly status?: TestStatus;
	readonly text: number;
	readonly line: number;
	readonly where: string;
	readonly words: string;
	/** From a result line, which says what happened; prose and command lines only say which test. */
	readonly isResult: boolean;
	/** A test robot's headline result (`kvm-unit-tests.vmx.fail`): what the report is about. */
	readonly headline?: true;
}

const mentionsIn = (text: Text, known: Names): Mention[] => [
	...resultMentions(text, known),
	...robotMentions(text, known),
	...commandMentions(text, known),
	...standaloneMentions(text, known),
	...proseMentions(text, known),
];

const basename = (id: string) => id.slice(id.lastIndexOf("/") + 1);

/** The names a report may use for known tests, looked up once: reports can be long. */
interface Names {
	readonly kut: KnownTests["kut"];
	readonly kutNames: ReadonlySet<string>;
	/** A selftest's id or basename → its id. */
	readonly selftests: ReadonlyMap<string, string>;
}

/**
 * kselftest prints a test's basename (`cpuid_test`), the trees list it by path
 * (`x86_64/cpuid_test`). The same test in the old and the new x86 layout is one test, so the
 * first x86 one stands; a name several arches share cannot be told apart and names nothing.
 */
function indexNames(known: KnownTests): Names {
	const selftests = new Map<string, string>();
	const byBase = new Map<string, string[]>();
	for (const id of known.selftests) {
		selftests.set(id, id);
		byBase.set(basename(id), [...(byBase.get(basename(id)) ?? []), id]);
	}
	for (const [base, ids] of byBase) {
		const id = ids.length === 1 ? ids[0] : ids.find((i) => /^x86(_64)?\//.test(i));
		if (id !== undefined && !selftests.has(base)) selftests.set(base, id);
	}
	return { kut: known.kut, kutNames: new Set(known.kut.map((e) => e.name)), selftests };
}

function resultMentions(text: Text, known: Names): Mention[] {
	const read = parseForeignResults(text.text);
	const results = "results" in read ? read.results : [];
	// A text that mixes kselftest TAP with run_tests.sh lines is read as TAP alone: its KUT status
	// lines are read again on their own so that neither suite is lost.
	const statusLines = text.lines.filter((l) => parseStatusLine(l) !== undefined);
	const extra =
		"format" in read && read.format === "kut-status" ? undefined : parseForeignResults(statusLines.join("\n"));
	const all = [...results, ...(extra !== undefined && "results" in extra ? extra.results : [])];
	return all.flatMap((r): Mention[] => {
		const testId =
			r.suite === "kut" ? (known.kutNames.has(r.testId) ? r.testId : undefined) : known.selftests.get(r.testId);
		if (testId === undefined) return [];
		const line = resultLine(text.lines, r.suite, r.testId, r.status);
		return [
			{
				suite: r.suite,
				testId,
				status: r.status,
				text: text.index,
				line,
				where: text.where,
				words: text.lines[line] ?? "",
				isResult: true,
			},
		];
	});
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The line a result was read from: the status or TAP line naming it, a failing one first. */
function resultLine(lines: readonly string[], suite: "kut" | "selftests", name: string, status: TestStatus): number {
	const n = escapeRegExp(name);
	const shapes =
		suite === "kut"
			? [new RegExp(`^not ok \\d+ - ${n}(?::|\\s|$)`), new RegExp(`^ok \\d+ - ${n}(?::|\\s|$)`)]
			: [new RegExp(`^(?:not )?ok \\d+ selftests: \\S+: ${n}(?:\\s|$)`), new RegExp(`^# selftests: \\S+: ${n}\\s*$`)];
	const statusLine = lines.findIndex((l) => parseStatusLine(l)?.name === name);
	if (suite === "kut" && statusLine !== -1) return statusLine;
	const ordered = suite === "kut" && status === "pass" ? [...shapes].reverse() : shapes;
	for (const shape of ordered) {
		const i = lines.findIndex((l) => shape.test(l));
		if (i !== -1) return i;
	}
	return Math.max(
		0,
		lines.findIndex((l) => l !== ""),
	);
}

// The kernel test robot names a result in its subject and first lines:
// `kvm-unit-tests-qemu.vmx.fail`, `kernel-selftests.kvm.x86_64/cpuid_test.fail`.
const ROBOT_KUT = /\bkvm-unit-tests(?:-qemu)?\.([\w-]+)\.(fail|pass|skip|timeout)\b/g;
const ROBOT_SELFTEST = /\bkernel-selftests\.kvm\.([\w/-]+)\.(fail|pass|skip|timeout)\b/g;

function robotMentions(text: Text, known: Names): Mention[] {
	return text.lines.flatMap((line, i) => {
		const found: Mention[] = [];
		for (const [re, suite] of [
			[ROBOT_KUT, "kut"],
			[ROBOT_SELFTEST, "selftests"],
		] as const)
			for (const m of line.matchAll(re)) {
				const name = m[1] ?? "";
				const testId = suite === "kut" ? (known.kutNames.has(name) ? name : undefined) : known.selftests.get(name);
				if (testId === undefined) continue;
				found.push({
					suite,
					testId,
					status: m[2] as TestStatus,
					text: text.index,
					line: i,
					where: text.where,
					words: line,
					isResult: true,
					headline: true,
				});
			}
		return found;
	});
}

// `make standalone` writes one script per test into tests/: `cd tests; ./vmx -cpu host`,
// `7. cd tests; ./vmx_posted_intr_test`, `tests/vmx`.
const STANDALONE = /(?:^|[;&|]\s*|^(?:[$#]|\d+\.)\s+)(?:\.\/|(?:[\w.-]+\/)*tests\/)([\w-]+)(?=\s|$)/g;

function standaloneMentions(text: Text, known: Names): Mention[] {
	return text.lines.flatMap((line, i) =>
		// A command is a short line; a long one (a log on one line) is not read as one.
		(line.length > 300 ? [] : [...line.matchAll(STANDALONE)]).flatMap((m): Mention[] => {
			const name = m[1] ?? "";
			if (!known.kutNames.has(name)) return [];
			return [
				{ suite: "kut", testId: name, text: text.index, line: i, where: text.where, words: line, isResult: false },
			];
		}),
	);
}

// `./x86/run x86/vmx.flat -smp 1 ...`, `qemu-system-x86_64 ... -kernel x86/vmx.flat ...`.
const FLAT_IMAGE = /(?:^|[\s'"=])(?:[^\s'"=]*\/)?([\w.-]+\.flat)(?=$|[\s'"])/;
const RUNS_IMAGE = /(?:^|[\s/])(?:x86\/run|run)\s|qemu|-kernel\s/i;

/**
 * What `-append` passes: a quoted string, or the rest of the line up to a shell comment. Found by
 * position: as one pattern, `(.*?)\s*(?:\s#.*)?$` retried its tail at every character (cubic).
 */
function appendArgs(line: string): { readonly args: string; readonly quoted: boolean } | undefined {
	const start = /\s-append\s+/.exec(line);
	if (start === null) return undefined;
	const rest = line.slice(start.index + start[0].length);
	const quote = rest[0];
	if (quote === '"' || quote === "'") {
		const end = rest.indexOf(quote, 1);
		if (end !== -1) return { args: rest.slice(1, end), quoted: true };
	}
	const comment = rest.search(/\s#/);
	return { args: (comment === -1 ? rest : rest.slice(0, comment)).trimEnd(), quoted: false };
}

const words = (args: string | undefined) => (args ?? "").replace(/["']/g, " ").split(/\s+/).filter(Boolean);

/**
 * Several cfg entries may share an image (`vmx.flat` serves `vmx`, `ept`, `vmx_pf_*`...): the one
 * whose test_args the command line passes, else the one named after the image, else the first.
 * KUT logs print the command unquoted, so there the cfg's args need only start the rest of the line.
 */
function commandMentions(text: Text, known: Names): Mention[] {
	return text.lines.flatMap((line, i): Mention[] => {
		const image = FLAT_IMAGE.exec(line)?.[1];
		if (image === undefined || !RUNS_IMAGE.test(line)) return [];
		const candidates = known.kut.filter((e) => basename(e.file) === image);
		if (candidates.length === 0) return [];
		const append = appendArgs(line);
		const quoted = append?.quoted === true;
		const given = words(append?.args);
		const argsMatch = (args: string | undefined) => {
			const want = words(args);
			if (want.length === 0) return given.length === 0;
			if (quoted && want.length !== given.length) return false;
			return want.every((w, k) => given[k] === w);
		};
		const stem = image.replace(/\.flat$/, "");
		const matching = candidates.filter((e) => argsMatch(e.testArgs));
		const pool = matching.length > 0 ? matching : candidates;
		const entry = pool.find((e) => e.name === stem) ?? pool[0];
		if (entry === undefined) return [];
		return [
			{
				suite: "kut",
				testId: entry.name,
				text: text.index,
				line: i,
				where: text.where,
				words: line,
				isResult: false,
			},
		];
	});
}

// Prose names tests only where it speaks of test suites: else "memory", "debug", "access" and
// "pmu" in an ordinary sentence would be read as KUT tests.
const SUITE_WORDS = /kvm[- ]unit[- ]tests?|\bKUT\b|unittests|run_tests|selftest/i;
// `_ - . /` belong to a name (`vmx_pf_exception_test`, `x86_64/cpuid_test`, `vmx.flat` is not
// `vmx`); quotes, backticks, brackets and `:` (`selftests: kvm: foo`) do not.
const TOKEN_SPLIT = /[\s`'"(),;:!?<>[\]{}=*]+/;

// And only in a line that says something went wrong: "QEMU emulator version 7.2.0" or "the
// access test passes now" name KUT tests without saying they fail.
const SAYS_FAILED =
	/\b(fail(s|ed|ing|ure|ures)?|broken|breaks?|hang(s|ing)?|hung|times? out|timed out|timeouts?|crash(es|ed|ing)?|panic(s|ked)?|regress(ion|ions|ed|es)?|oops|splat|#GP|#UD)(?![\w-])/i;

// A clause that says it works ("the access test passes now", "no errors with debug") names a
// test that does not fail, whatever the rest of the line says.
const SAYS_FINE = /\b(pass(es|ed|ing)?|works?|working|fine|no (errors?|failures?)|not (fail|broken)|succeed(s|ed)?)\b/i;

// A test the report says is skipped ("kvm-unit-test pmu_pebs is skipped on SPR").
const SAYS_SKIPPED = /\bskip(?:s|ped|ping)?\b/i;

/**
 * The clauses of a line (split at `;`, a full stop, "but", "while") that say something failed,
 * or was skipped, and not that it works.
 */
function sayingClauses(line: string): { clause: string; status?: TestStatus }[] {
	return line.split(/;|\.(?:\s|$)|\b(?:but|while|whereas|although)\b/i).flatMap((clause) => {
		if (SAYS_FINE.test(clause)) return [];
		if (SAYS_FAILED.test(clause)) return [{ clause }];
		return SAYS_SKIPPED.test(clause) ? [{ clause, status: "skip" as const }] : [];
	});
}

function proseMentions(text: Text, known: Names): Mention[] {
	if (!SUITE_WORDS.test(text.text)) return [];
	const seen = new Set<string>();
	return text.lines.flatMap((line, i) =>
		sayingClauses(line)
			.flatMap(({ clause, status }) => clause.split(TOKEN_SPLIT).map((raw) => ({ raw, status })))
			.flatMap(({ raw, status }): Mention[] => {
				// A sentence's full stop is not part of the name before it.
				const token = trimTrailing(raw, ".");
				const selftest = known.selftests.get(token.replace(/^\.\//, "").replace(/^.*\/kvm\//, ""));
				const found: Pick<Mention, "suite" | "testId"> | undefined =
					token.length >= 3 && known.kutNames.has(token)
						? { suite: "kut", testId: token }
						: selftest === undefined
							? undefined
							: { suite: "selftests", testId: selftest };
				if (found === undefined || seen.has(`${found.suite}:${found.testId}`)) return [];
				seen.add(`${found.suite}:${found.testId}`);
				return [
					{
						...found,
						...(status === undefined ? {} : { status }),
						text: text.index,
						line: i,
						where: text.where,
						words: line,
						isResult: false,
					},
				];
			}),
	);
}

const before = (a: Mention, b: Mention) => a.text < b.text || (a.text === b.text && a.line < b.line);

interface TestEntry {
	first: Mention;
	best: Mention;
	readonly all: Mention[];
}

/**
 * One entry per test, in the order the report first names them. Its evidence is the first result
 * line when there is one (it says what happened), else the first mention.
 */
function groupMentions(mentions: readonly Mention[]): TestEntry[] {
	const byTest = new Map<string, TestEntry>();
	for (const m of mentions) {
		const entry = byTest.get(keyOf(m));
		if (entry === undefined) {
			byTest.set(keyOf(m), { first: m, best: m, all: [m] });
			continue;
		}
		entry.all.push(m);
		if (before(m, entry.first)) entry.first = m;
		if ((m.isResult && !entry.best.isResult) || (m.isResult === entry.best.isResult && before(m, entry.best)))
			entry.best = m;
	}
	return [...byTest.values()].sort((a, b) => (before(a.first, b.first) ? -1 : before(b.first, a.first) ? 1 : 0));
}

const keyOf = (m: Pick<Mention, "suite" | "testId">) => `${m.suite}:${m.testId}`;

function chooseTests(texts: readonly Text[], mentions: readonly Mention[]): ReportedTest[] {
	const entries = groupMentions(mentions);
	const failing = entries.filter((e) => e.best.status === undefined || isFailingStatus(e.best.status));
	const lines = assignFailureLines(texts, failing);
	return entries.map(({ best, all }) => {
		const skipReason = best.status === "skip" ? skipReasonOf(best, texts) : undefined;
		return {
			...(all.some((m) => m.headline === true) ? { headline: true as const } : {}),
			suite: best.suite,
			testId: best.testId,
			...(best.status === undefined ? {} : { status: best.status }),
			evidence: { where: best.where, text: best.words },
			failureLines: lines.get(keyOf(best)) ?? [],
			...(skipReason === undefined ? {} : { skipReason }),
		};
	});
}

/**
 * Why a test skipped, as the report shows it: the reason KUT's status line gives
 * (`SKIP cet (QEMU Aborted)`), else the first `SKIP:` check line of the same text
 * (`SKIP: PEBS unsupported`), else the sentence that said so.
 */
function skipReasonOf(m: Mention, texts: readonly Text[]): string | undefined {
	const detail = parseStatusLine(m.words)?.detail;
	// `(1 tests, 1 skipped)` counts; it is no reason.
	if (detail !== undefined && !/^\d+ tests?\b/.test(detail)) return detail;
	const text = texts[m.text];
	const check = text?.lines.find((l) => /^SKIP: \S/.test(body(l)));
	if (check !== undefined) return body(check);
	return m.isResult ? undefined : m.words.slice(0, 200);
}

// ---- failure lines --------------------------------------------------------------------------

const CHECK_FAILED = /^(?:FAIL|XPASS): \S/;
const KUT_TAP_FAILED = /^not ok \d+ - \S+: \S/;
const ASSERTION = /^==== Test Assertion Failure ====/;
const ASSERTION_WHERE = /^[\w./-]+\.[ch]:\d+:/;
// "got" alone is too common in prose ("I got this"): it counts after a comma, before a value, or
// after a "want".
const FAILURE_WORDS = /\b(?:un)?expected\b|,\s*got\b|\bgot\s*[:=]|\bgot\s+['"]?[-#\d]/i;
// `want ... got` in two searches: one pattern retries every `want` to the line's end.
const wantThenGot = (line: string): boolean => {
	const want = line.search(/\bwant\b/i);
	return want !== -1 && /\bgot\b/i.test(line.slice(want + 4));
};
// Lines that report a result or a passing check are evidence of which test, not of how it failed.
// Section headings of the QA template and bugzilla's Summary field are not failure lines either.
const NOT_FAILURE =
	/^(?:PASS|SKIP|XFAIL|KFAIL): |^SUMMARY: |^Summary: |^(?:not )?ok \d+ |(?<!\d)\d+ unexpected failures?\b|^(?:expected|actual) results?(?:\s*:)?\s*$/i;

/** A selftest's output is TAP-commented (`# `); its words are what follow. */
const body = (line: string) => line.replace(/^#\s?/, "").trim();

function failureLinesOf(lines: readonly string[]): { readonly line: number; readonly text: string }[] {
	const found: { line: number; text: string }[] = [];
	lines.forEach((line, i) => {
		const b = body(line);
		if (ASSERTION.test(b)) {
			found.push({ line: i, text: b });
			// The assertion's `file:line: condition` follows within a few lines, before a blank one.
			for (let j = i + 1; j < lines.length && j <= i + 8 && body(lines[j] ?? "") !== ""; j++) {
				const next = body(lines[j] ?? "");
				if (ASSERTION_WHERE.test(next)) found.push({ line: j, text: next });
			}
		} else if (CHECK_FAILED.test(b) || KUT_TAP_FAILED.test(b)) found.push({ line: i, text: b });
		else if (!NOT_FAILURE.test(b) && parseStatusLine(b) === undefined && (FAILURE_WORDS.test(b) || wantThenGot(b)))
			found.push({ line: i, text: b });
	});
	return found;
}

/**
 * Each failure line goes to the failing test named nearest to it in its text (the earlier on a
 * tie: a KUT log names its test before its checks). A text naming one failing test gives it all
 * its lines; a text naming none gives them to the report's only failing test, if it has one.
 */
function assignFailureLines(texts: readonly Text[], failing: readonly TestEntry[]): Map<string, string[]> {
	const out = new Map<string, string[]>();
	for (const text of texts) {
		const named = failing.flatMap((f) =>
			f.all.filter((m) => m.text === text.index).map((m) => ({ key: keyOf(m), line: m.line })),
		);
		const fallback = failing.length === 1 && failing[0] !== undefined ? keyOf(failing[0].best) : undefined;
		for (const { line, text: words } of failureLinesOf(text.lines)) {
			const nearest = named.reduce<{ key: string; distance: number } | undefined>((best, m) => {
				const distance = Math.abs(m.line - line);
				return best === undefined || distance < best.distance || (distance === best.distance && m.line < line)
					? { key: m.key, distance }
					: best;
			}, undefined);
			const key = named.length === 0 ? fallback : nearest?.key;
			if (key === undefined) continue;
			const list = out.get(key) ?? [];
			out.set(key, list);
			if (list.length < MAX_FAILURE_LINES && !list.includes(words)) list.push(words);
		}
	}
	return out;
}

// ---- kernel, KUT, QEMU, CPU ----------------------------------------------------------------------

const QEMU_VERSION: readonly RegExp[] = [
	/QEMU emulator version (\d+\.\d+(?:\.\d+)?)/i,
	// Not inside a longer name: each `qemu-system-` in one long token would rescan it to its end.
	/(?<![\w-])qemu(?:-system-[\w-]+|-kvm)?(?:\s+version)?\s+v?(\d+\.\d+(?:\.\d+)?)(?!\w|\.\d)/i,
];
const CPU_MODEL: readonly RegExp[] = [
	// /proc/cpuinfo and lscpu.
	/^model name\s*:\s*(\S.*)$/i,
	// `CPU: AMD EPYC 7B13`, and the kernel's `smpboot: CPU0: <model> (family: ...)`; an oops's
	// `CPU: 3 PID: 1234` is not a model.
	// The model runs up to ` (family: `, looked for one character at a time (`.*?` before an
	// optional tail and `$` retries the tail at every character: quadratic).
	/(?:^|\s)CPU\d*\s*:\s*((?!\d)\S(?:(?!\s\(family: )[\s\S])*)/,
];

/** The first capture of the first pattern that matches anywhere, patterns in order of trust. */
function firstMatch(texts: readonly Text[], patterns: readonly RegExp[]): string | undefined {
	for (const pattern of patterns)
		for (const text of texts)
			for (const line of text.lines) {
				const value = pattern.exec(line)?.[1]?.trim();
				if (value) return value;
			}
	return undefined;
}

// Trailers name other commits (the culprit, the fix), not the kernel that was run.
const TRAILER = /^(?:Fixes|Link|Closes|Message-I[dD]|In-Reply-To|References|[\w-]+-by|Cc):/i;
// Hex and versions inside a URL or a message-id are not about the kernel.
// Each starts only where a token (or a scheme) can, so a long token costs linear time.
const ADDRESSES = [
	/(?<![\w+.-])[a-z][\w+.-]*:\/\/\S+/gi,
	/(?<!\S)\S*@\S*/g,
	/(?<!\S)\S*\.(?:org|com|net|io|dev|link)\/\S*/gi,
];

// Versions are everywhere (QEMU, gcc, binutils, Debian's packages): the nearest product word
// before one says whose version it is.
const PRODUCT =
	/\b(linux|kernel|uname|vmlinuz|tainted|qemu|gcc|clang|llvm|binutils|glibc|libvirt|python\d*|perl|bash|busybox|seabios|ovmf|edk2|debian|ubuntu|fedora|rhel|centos|git version|kvm-unit-tests|kut|virtme-ng)\b/gi;
const KERNEL_PRODUCT = /^(?:linux|kernel|uname|vmlinuz|tainted)$/i;

// `6.1 kernel`, `6.1 release kernel`: a kernel word right after a version claims it whatever came before.
const KERNEL_AFTER = /^\s+(?:(?:release|stable|host|guest|upstream|mainline)\s+)?(?:linux|kernel)\b/i;

function productOf(line: string, at: number, length: number): "kernel" | "other" | undefined {
	if (KERNEL_AFTER.test(line.slice(at + length))) return "kernel";
	const window = line.slice(Math.max(0, at - 40), at);
	const last = [...window.matchAll(PRODUCT)].at(-1)?.[1];
	return last === undefined ? undefined : KERNEL_PRODUCT.test(last) ? "kernel" : "other";
}

// A release (`6.1`, `v6.1-rc4`, `6.1.0-28-amd64`, `6.2.0-rc1+`), not part of a path, a package
// version (`1:7.2+dfsg-7`), a longer number or a word.
const RELEASE = /(?<![\w./:+~-])(v?)([2-9])\.(\d{1,2})(?:\.(\d{1,3}))?(-rc\d+)?((?:[-+~][\w.+~-]*)?)(?![\w/])/g;
// `uname -r` of a kernel built with LOCALVERSION_AUTO: `6.1.0-rc4-00123-gabcdef012345`.
const UNAME_DESCRIBE =
	/(?<![\w./:+~-])([2-9])\.(\d{1,2})(?:\.(\d{1,3}))?(-rc\d+)?(?:-\d+)?-g([0-9a-f]{12,40})(?![\w])/g;
// `git describe`: `v6.1-rc4-123-gabcdef012345`, `kvm-x86-next-2023.01.10-5-g1234567abcd`.
const GIT_DESCRIBE = /(?<![\w./:+~-])((?:v\d|[A-Za-z])[\w.+-]*?)-(\d+)-g([0-9a-f]{7,40})(?![\w])/g;
// Module and image paths carry the release of the kernel they belong to.
const RELEASE_PATH = /(?:\/lib\/modules\/|vmlinuz-)(([2-9])\.(\d{1,2})(?:\.(\d{1,3}))?(-rc\d+)?[\w.+~-]*)/g;
// A sha only where the words say it is one, or alone on its line.
const SHA_CONTEXT =
	/(?:\bcommit\s+|\bat\s+|\bHEAD\s+is\s+|\bsha1?(?:\s*[:=])?\s*|\bhead\s*[:=]\s*)([0-9a-fA-F]{12,40})(?![\w/@-]|\.\w)/gi;
const SHA_ALONE = /^\s*([0-9a-f]{12,40})\s*$/g;

const BRANCHES: readonly { readonly pattern: RegExp; readonly repo: string; readonly branch?: string }[] = [
	{ pattern: /(?<![\w./-])kvm\.git(?:'s)?[\s/]+(?:branch\s+)?(next|queue|master|fixes)\b/gi, repo: "kvm" },
	{ pattern: /(?<![\w./-])kvm\/(next|queue|master|fixes)\b(?![\w/-])/gi, repo: "kvm" },
	// kvm-x86 has topic branches (`kvm-x86/mmu`) besides next and fixes; `kvm-x86/linux` is the repository.
	{ pattern: /(?<![\w./-])kvm-x86\/(?!linux\b)([a-z][\w.-]*\w)/gi, repo: "kvm-x86" },
	{ pattern: /(?<![\w./-])kvm-x86(?:\.git)?\s+(next|fixes)\b/gi, repo: "kvm-x86" },
	{ pattern: /(?<![\w./-])(next-\d{8})\b/g, repo: "linux-next" },
	{ pattern: /(?<![\w./-])linux-next\b(?![\w/-])/gi, repo: "linux-next", branch: "master" },
	{ pattern: /\b(?:mainline|torvalds)\b/gi, repo: "linux", branch: "master" },
];

// A labelled field that names the kernel that ran: bugzilla's `Kernel Version:`, the QA
// template's `Host kernel:`, a `uname -r:` or `kernel:` line.
const KERNEL_FIELD = /^\s*(?:host\s+)?(?:kernel(?:\s+version)?|uname(?:\s+-r)?)\s*:/i;

const NOT_THE_KERNEL =
	/kvm[- ]unit[- ]tests?|\bKUT\b|unittests|\bbisect(ed|s|ing)?\b|\brevert(ed|s|ing)?\b|\bFixes:|\bintroduced\b|\bculprit\b|\bfirst bad\b|\bfix(ed|es)? (by|in)\b|\b(good|bad|parent|base)( commit)?\b/i;

const hasDigitAndLetter = (hex: string) => /\d/.test(hex) && /[a-f]/.test(hex);

const releaseVersion = (major: string, minor: string, patch: string | undefined, rc: string | undefined) =>
	`${major}.${minor}${patch === undefined || patch === "0" ? "" : `.${patch}`}${rc ?? ""}`;

type Clue = KernelClue extends infer C ? (C extends KernelClue ? Omit<C, "where"> : never) : never;

/** The kernel clues of one line, strongest shapes first, each span read once. */
function kernelCluesInLine(raw: string, previous: string): Clue[] {
	if (TRAILER.test(raw) || /BUILD_HEAD=/.test(raw)) return [];
	// Bugzilla's `Tree:` field is a category picked from a list, not the tree that was tested.
	const field = /^\s*Tree:\s*(\S.*)$/.exec(raw);
	if (field !== null)
		return /^mainline$/i.test((field[1] ?? "").trimEnd())
			? [{ kind: "branch", repo: "linux", branch: "master", text: raw.trim(), weak: true }]
			: [];
	let line = ADDRESSES.reduce((l, re) => l.replace(re, (m) => " ".repeat(m.length)), raw);
	const clues: Clue[] = [];
	const take = (re: RegExp, read: (m: RegExpExecArray) => Clue | undefined) => {
		for (const m of [...line.matchAll(re)]) {
			const clue = read(m);
			if (clue === undefined) continue;
			clues.push(clue);
			const at = m.index ?? 0;
			line = line.slice(0, at) + " ".repeat(m[0].length) + line.slice(at + m[0].length);
		}
	};
	take(UNAME_DESCRIBE, (m) =>
		productOf(line, m.index ?? 0, m[0].length) === "other"
			? undefined
			: {
					kind: "describe",
					tag: `v${releaseVersion(m[1] ?? "", m[2] ?? "", m[3], m[4])}`,
					sha: m[5] ?? "",
					text: m[0],
				},
	);
	take(GIT_DESCRIBE, (m) =>
		productOf(line, m.index ?? 0, m[0].length) === "other"
			? undefined
			: { kind: "describe", tag: m[1] ?? "", sha: m[3] ?? "", text: m[0] },
	);
	for (const { pattern, repo, branch } of BRANCHES)
		take(pattern, (m) => ({ kind: "branch", repo, branch: branch ?? (m[1] ?? "").toLowerCase(), text: m[0] }));
	take(RELEASE_PATH, (m) => ({
		kind: "release",
		version: releaseVersion(m[2] ?? "", m[3] ?? "", m[4], m[5]),
		text: m[1] ?? "",
	}));
	// A commit of kvm-unit-tests, or one a bisection or a revert points at, is not the kernel the
	// reporter ran: taking it for that kernel would judge every fix against the wrong history. The
	// words that say so come just before the sha ("kvm-unit-tests is at commit X", "bisected to X").
	const notTheKernel = (m: RegExpExecArray) =>
		NOT_THE_KERNEL.test(raw.slice(Math.max(0, (m.index ?? 0) - 40), (m.index ?? 0) + m[0].length));
	take(SHA_CONTEXT, (m) => {
		const sha = m[1] ?? "";
		return !notTheKernel(m) && sha === sha.toLowerCase() && hasDigitAndLetter(sha)
			? { kind: "sha", sha, text: sha }
			: undefined;
	});
	take(SHA_ALONE, (m) =>
		!notTheKernel(m) && hasDigitAndLetter(m[1] ?? "") ? { kind: "sha", sha: m[1] ?? "", text: m[1] ?? "" } : undefined,
	);
	const kernelWords = /\b(?:linux|kernel|uname|vmlinuz|tainted)\b/i;
	take(RELEASE, (m) => {
		const [, v, major = "", minor = "", patch, rc, suffix = ""] = m;
		const text = trimTrailing(m[0], ".");
		const product = productOf(line, m.index ?? 0, m[0].length);
		if (product === "other") return undefined;
		// A bare `6.1` could be any version: it needs the words around it, or to be `uname -r`'s output.
		const shaped = v !== "" || rc !== undefined || suffix !== "";
		const said = product === "kernel" || kernelWords.test(line) || /\buname\b/.test(previous) || text === raw.trim();
		if (!shaped && !said) return undefined;
		const field = KERNEL_FIELD.test(raw) || /\buname\b/.test(previous);
		return {
			kind: "release",
			version: releaseVersion(major, minor, patch, rc),
			text,
			...(field ? { field: true } : {}),
		};
	});
	return clues;
}

/**
 * How strongly each clue names the kernel that was run: its labelled block, a commit, a describe,
 * an exact release (a tag), tree and branch words, a release with local changes (`6.1.0-rc4+`,
 * `6.1.0-28-amd64`: near a tag, not it), and last bugzilla's `Tree:` field.
 */
function rank(c: Clue): number {
	switch (c.kind) {
		case "block":
			return 0;
		case "sha":
			return 1;
		case "describe":
			return 2;
		case "release":
			return isExactRelease(c.text) ? 3 : 5;
		case "branch":
			return c.weak === true ? 6 : 4;
	}
}

const fieldFirst = (c: Clue) => (c.kind === "release" && c.field === true ? 0 : 1);

/** `6.1`, `v6.1`, `6.1.0`, `v6.6-rc6`, `6.1.12`: a release as its tag names it, without local changes. */
export const isExactRelease = (text: string) => /^v?\d+\.\d+(?:\.\d+)?(?:-rc\d+)?$/i.test(text.trim());

const clueKey = (c: Clue) =>
	c.kind === "sha"
		? c.sha
		: c.kind === "describe"
			? `${c.tag}-g${c.sha}`
			: c.kind === "branch"
				? `${c.repo}/${c.branch}`
				: c.kind === "release"
					? c.version
					: c.text;

const textsOf = (report: BugReport): Text[] =>
	[...(report.title === undefined ? [] : [{ where: "title", text: report.title }]), ...report.texts].map(
		(t, index) => ({ ...t, index, lines: t.text.split("\n").map(cleanLine) }),
	);

/** The report's kernel clues alone (the kernel is looked for before the tests its tree has). */
export function reportKernelClues(report: BugReport): KernelClue[] {
	return kernelClues(textsOf(report));
}

/** Every kernel clue of the report, strongest kind first, in report order within a kind. */
function kernelClues(texts: readonly Text[]): KernelClue[] {
	const blocks = texts.flatMap((t) =>
		envBlocks(t.lines, t.where)
			.filter((b) => b.owner === "kernel")
			.map(({ owner: _owner, ...b }): KernelClue => ({ kind: "block", ...b })),
	);
	const lines = texts.flatMap((t) =>
		t.lines.flatMap((line, i) =>
			kernelCluesInLine(line, t.lines[i - 1] ?? "").map((c): KernelClue => ({ ...c, where: t.where })),
		),
	);
	const seen = new Set<string>();
	return (
		[...blocks, ...lines]
			.map((c, order) => ({ c, order }))
			// A release read from a kernel field stands before the same release read from prose.
			.sort((a, b) => rank(a.c) - rank(b.c) || fieldFirst(a.c) - fieldFirst(b.c) || a.order - b.order)
			.map(({ c }) => c)
			.filter((c) => {
				const key = `${c.kind}:${clueKey(c)}`;
				if (seen.has(key)) return false;
				seen.add(key);
				return true;
			})
	);
}
