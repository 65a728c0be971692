// Results that kvm-matrix did not produce: a KUT run_tests.sh transcript (plain or -t), a KUT
// log directory, kselftest TAP, or another run's results.json. Parsing is pure; only
// readForeignResults touches the file system.
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import * as z from "zod";
import type { FinalResult } from "../events/attempts.js";
import type { TestResult, TestStatus } from "../events/types.js";
import { kutStatus, parseChecks, parseStatusLine, parseSummary, stripAnsi } from "../kut/output.js";
// kutResult is pure; reusing it keeps one mapping from a status line to a result for our own
// runs and for foreign ones.
import { kutResult } from "../kut/run-host.js";
import { parseTapSubtests, selftestStatus, skipReason } from "../selftests/status.js";

/** What a file turned out to be. `kut-log-dir` comes only from `readForeignResults` on a directory. */
export type ForeignFormat = "kut-status" | "kut-tap" | "kselftest-tap" | "kvm-matrix-json" | "kut-log-dir";

/**
 * One test's result. `cell` is set for results read from a results.json (its cell id, such as
 * `next/host`), since such a file may hold several kernels and targets; elsewhere it is absent.
 * A results.json result keeps its `earlier` attempts; its verdict is dropped (it is recomputed).
 */
export type ForeignResult = FinalResult & { readonly cell?: string };

export interface ForeignResults {
	readonly format: ForeignFormat;
	readonly results: ForeignResult[];
	/** For results.json: its cell ids in file order, so a caller can pick one (`r.cell === id`) or take all. */
	readonly cells?: readonly string[];
}

export type ForeignRead = ForeignResults | { readonly error: string };

const NOTHING_FOUND = "no test results found (expected run_tests.sh output, TAP, a KUT log directory or results.json)";

// An error is one line: text quoted from the input (V8 quotes JSON it cannot parse) has its
// control characters escaped, so a newline or a terminal escape in a file stays inert.
const printable = (text: string): string =>
	// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes
	text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/**
 * Results from text another tool printed, its format detected from the content: kvm-matrix's
 * results.json; kselftest TAP (`ok 1 selftests: kvm: cpuid_test`, KVM tests only); KUT status lines
 * (`PASS apic (54 tests)`, colour codes or not, amid other text); KUT `-t` TAP at check level
 * (`ok 3 - apic: x2apic mode`). `hint.name` (the file) starts error messages.
 */
export function parseForeignResults(text: string, hint?: { readonly name?: string }): ForeignRead {
	const name = hint?.name ?? "input";
	const body = text.replace(/^\uFEFF/, "");
	if (body.trimStart().startsWith("{")) return parseResultsJson(body, name);
	const lines = body.split(/\r?\n/).map(cleanLine);
	if (lines.some((l) => kselftestResult(l) !== null || KSELFTEST_HEADER.test(l))) return parseKselftestTap(lines, name);
	// A transcript that has both status lines and TAP keeps the status lines: they carry the
	// check counts and the timeout that test-level TAP lines lack.
	const status = lines.flatMap((l) => kutStatusResult(l) ?? []);
	if (status.length > 0) return { format: "kut-status", results: status };
	const tap = parseKutTap(lines);
	if (tap.length > 0) return { format: "kut-tap", results: tap };
	return { error: `${name}: ${NOTHING_FOUND}` };
}

// Pasted output arrives quoted (`> ` in mail), indented (Markdown), with colour codes and CRs.
const cleanLine = (line: string): string =>
	stripAnsi(line)
		.replace(/\r$/, "")
		.replace(/^[\s>]+/, "");

function kutStatusResult(line: string, logLines: readonly string[] = [], logPath?: string): TestResult | undefined {
	const result = kutResult(line, logLines, 0, logPath ?? "");
	if (result === undefined || logPath !== undefined) return result;
	const { logPath: _none, ...rest } = result;
	return rest;
}

// ---- KUT run_tests.sh -t ------------------------------------------------------------------

// `ok N - <test>: <check>`, `not ok N - <test>: <check>`, `ok N - <test>: <check> # skip`.
const KUT_TAP = /^(not ok|ok) \d+ - (.*)$/;
// Lines run_tests.sh adds after a test's checks when it did not end by itself.
const KUT_TAP_END: readonly [RegExp, TestStatus][] = [
	[/^timeout; duration=\S*$/, "timeout"],
	[/^terminated on SIG\w+$/, "fail"],
	[/^aborted$/, "fail"],
];

interface TapGroup {
	readonly name: string;
	readonly checks: { name: string; status: "pass" | "fail" | "skip" }[];
	end?: { status: TestStatus; detail?: string };
}

/**
 * One result per test from check-level TAP. Status follows KUT's own rule (report_summary): a
 * failed check fails the test, a test whose every check skipped is skipped. What TAP cannot tell:
 * XFAIL/XPASS/KFAIL checks are not printed, a test that fails by exit code alone looks passed,
 * and tests KUT skips before running them print nothing, so they are absent; no `checks` counts.
 * A line without `<test>: ` is a test-level result, as older runners and fixtures print them.
 */
function parseKutTap(lines: readonly string[]): TestResult[] {
	const groups = new Map<string, TapGroup>();
	for (const line of lines) {
		const m = KUT_TAP.exec(line);
		if (m === null) continue;
		const failed = m[1] === "not ok";
		const directive = / # skip\b/i.exec(m[2] ?? "");
		const rest = directive === null ? (m[2] ?? "") : (m[2] ?? "").slice(0, directive.index);
		const skipped = directive === null ? undefined : (m[2] ?? "").slice(directive.index + directive[0].length);
		const colon = rest.indexOf(": ");
		const name = (colon === -1 ? rest : rest.slice(0, colon)).trim();
		if (name === "" || /\s/.test(name)) continue;
		const group = groups.get(name) ?? { name, checks: [] };
		groups.set(name, group);
		const status = directive !== null ? "skip" : failed ? "fail" : "pass";
		if (colon === -1) {
			const reason = skipped?.trimStart().replace(/^\((.*)\)$/, "$1");
			group.end = { status, ...(reason ? { detail: reason } : {}) };
			continue;
		}
		const check = rest.slice(colon + 2);
		const end = failed ? KUT_TAP_END.find(([re]) => re.test(check)) : undefined;
		if (end !== undefined) group.end = { status: end[1], detail: check };
		else group.checks.push({ name: check, status });
	}
	return [...groups.values()].map((g) => {
		const status =
			g.end?.status ??
			(g.checks.some((c) => c.status === "fail")
				? "fail"
				: g.checks.length > 0 && g.checks.every((c) => c.status === "skip")
					? "skip"
					: "pass");
		return {
			suite: "kut",
			testId: g.name,
			status,
			durationMs: 0,
			attempt: 1,
			...(g.end?.detail === undefined ? {} : { detail: g.end.detail }),
			...(g.checks.length > 0 ? { subtests: g.checks } : {}),
		};
	});
}

// ---- kselftest TAP --------------------------------------------------------------------------

const KSELFTEST_HEADER = /^# selftests: (\S+): (\S+)\s*$/;
// The directive is captured whole and trimmed in `kselftestResult`: /#\s*(.*?)\s*$/ would take time
// quadratic in a run of blanks.
const KSELFTEST_RESULT = /^(not ok|ok) \d+ selftests: (\S+): (\S+)(?:\s+#([\s\S]*)|\s*)$/;

/** A kselftest result line's parts, the directive trimmed; null if it is not one (or spans lines). */
function kselftestResult(
	line: string,
): [verdict: string, collection: string, testId: string, directive: string] | null {
	const m = KSELFTEST_RESULT.exec(line);
	const directive = (m?.[4] ?? "").trim();
	if (m === null || /[\n\r\u2028\u2029]/.test(directive)) return null;
	return [m[1] ?? "", m[2] ?? "", m[3] ?? "", directive];
}
const isKvm = (collection: string) => collection === "kvm" || collection.endsWith("/kvm");

/** A test's result line and directive, as kselftest's runner.sh prints them, to a status. */
function kselftestStatus(
	ok: boolean,
	directive: string,
	output: readonly string[],
): Omit<TestResult, "suite" | "testId" | "durationMs" | "attempt"> {
	if (/^skip\b/i.test(directive)) {
		const reason = skipReason(output);
		return { status: "skip", ...(reason ? { detail: reason } : {}) };
	}
	if (/^timeout\b/i.test(directive)) return { status: "timeout", detail: directive };
	if (/^xfail\b/i.test(directive)) return { status: "pass", detail: "expected failure (KSFT_XFAIL)" };
	const exit = /^exit=(\d+)/.exec(directive);
	if (exit !== null) {
		const code = Number(exit[1]);
		// selftestStatus words 126/127 for our guests; here the runner itself could not start it.
		if (code === 126 || code === 127) return { status: "error", detail: `exit status ${code}` };
		const { status, detail } = selftestStatus(code, false);
		return { status, ...(detail === undefined ? {} : { detail }) };
	}
	if (ok) return { status: "pass" };
	const warning = output.find((l) => /^Warning: file .* is (missing|not executable)/.test(l));
	return warning === undefined ? { status: "fail" } : { status: "error", detail: warning.replace(/^Warning: /, "") };
}

/**
 * KVM selftests' results from kselftest TAP (`run_kselftest.sh`, `make ... run_tests`): the
 * runner's `ok N selftests: kvm: <test>[ # SKIP| # TIMEOUT 45 seconds| # exit=254]` lines, with
 * each test's `# `-prefixed output between its header and result giving the subtests and a skip
 * reason. Other collections are left out. A test whose header is not followed by a result was
 * running when the output ended (the machine died, or the paste is cut): it is reported as a crash.
 */
function parseKselftestTap(lines: readonly string[], name: string): ForeignRead {
	const results: TestResult[] = [];
	const others = new Set<string>();
	let current: { testId: string; output: string[] } | undefined;
	const unfinished = () => {
		if (current === undefined) return;
		results.push({
			suite: "selftests",
			testId: current.testId,
			status: "crash",
			durationMs: 0,
			attempt: 1,
			detail: "the output ends while this test runs (no result line)",
		});
	};
	for (const line of lines) {
		const header = KSELFTEST_HEADER.exec(line);
		if (header !== null) {
			unfinished();
			current = isKvm(header[1] ?? "") ? { testId: header[2] ?? "", output: [] } : undefined;
			continue;
		}
		const result = kselftestResult(line);
		if (result !== null) {
			const [verdict, collection, testId, directive] = result;
			const output = current?.testId === testId ? current.output : [];
			current = undefined;
			if (!isKvm(collection)) {
				others.add(collection);
				continue;
			}
			const subtests = parseTapSubtests(output);
			results.push({
				suite: "selftests",
				testId,
				durationMs: 0,
				attempt: 1,
				...kselftestStatus(verdict === "ok", directive, output),
				...(subtests.length > 0 ? { subtests } : {}),
			});
			continue;
		}
		if (current !== undefined && line.startsWith("#")) current.output.push(line.replace(/^# ?/, ""));
	}
	unfinished();
	if (results.length === 0)
		return {
			error: `${name}: kselftest TAP without KVM selftests (collections: ${printable([...others].join(", "))})`,
		};
	return { format: "kselftest-tap", results };
}

// ---- KUT log directory ----------------------------------------------------------------------

/** A KUT log directory's contents: `SUMMARY` and each `<test>.log`, keyed by test name. */
export interface KutLogDir {
	readonly dir: string;
	readonly summary?: string;
	readonly logs: ReadonlyMap<string, string>;
}

const SIGNAL_IN_LOG = /terminating on signal (\d+)(?: from pid \d+(?: \(([^)]*)\))?)?/;

/**
 * A test's result from its log alone, for tests the SUMMARY file does not list (KUT's own SUMMARY
 * holds only `BUILD_HEAD=`): an `EXIT: STATUS=` line decides where the arch prints one, else the
 * `SUMMARY:` line by KUT's rule; without either, the last words QEMU or the scripts left.
 */
function resultFromLog(name: string, text: string, logPath: string): TestResult {
	const lines = text.split(/\r?\n/).map((l) => stripAnsi(l));
	const checks = parseChecks(lines);
	const summaryText = lines
		.slice(-6)
		.reverse()
		.map((l) => /^SUMMARY: (.*)$/.exec(l)?.[1])
		.find((s) => s !== undefined);
	const summary = summaryText === undefined ? undefined : parseSummary(summaryText);
	const exit = lines.map((l) => /^EXIT: STATUS=(\d+)/.exec(l)?.[1]).find((s) => s !== undefined);
	const signal = lines.map((l) => SIGNAL_IN_LOG.exec(l) ?? undefined).find((m) => m !== undefined);
	const decided: { status: TestStatus; detail?: string } =
		exit !== undefined
			? kutStatus(Number(exit) >> 1)
			: summary !== undefined
				? { status: summary.unexpectedFailures > 0 ? "fail" : summary.tests === summary.skipped ? "skip" : "pass" }
				: signal !== undefined
					? signal[2] === "timeout"
						? { status: "timeout", detail: "QEMU stopped by timeout(1)" }
						: kutStatus(128 + Number(signal[1]))
					: lines.includes("QEMU Aborted")
						? { status: "error", detail: "QEMU Aborted" }
						: lines.some((l) => l.startsWith("ABORT: "))
							? { status: "fail", detail: "aborted" }
							: { status: "fail", detail: "no SUMMARY line in the log" };
	const detail = decided.detail ?? summaryText;
	return {
		suite: "kut",
		testId: name,
		status: decided.status,
		durationMs: 0,
		attempt: 1,
		logPath,
		...(detail === undefined ? {} : { detail }),
		...(checks.length > 0
			? {
					subtests: checks.map((c) => ({
						name: c.text,
						status: c.status === "skip" ? "skip" : c.status === "fail" || c.status === "xpass" ? "fail" : "pass",
					})),
				}
			: {}),
		...(summary === undefined ? {} : { checks: summary }),
	};
}

/**
 * Results from a KUT log directory: SUMMARY's status lines where it has them (kvm-matrix's KUT
 * fixture and older layouts write them), each with its log's checks; every other `<test>.log`
 * judged from the log itself. Tests KUT skipped before running leave no log and are absent.
 */
export function parseKutLogDir(input: KutLogDir): ForeignRead {
	const results: TestResult[] = [];
	const listed = new Set<string>();
	for (const line of (input.summary ?? "").split(/\r?\n/)) {
		const parsed = parseStatusLine(cleanLine(line));
		if (parsed === undefined) continue;
		const log = input.logs.get(parsed.name);
		const logPath = log === undefined ? undefined : path.join(input.dir, `${parsed.name}.log`);
		const result = kutStatusResult(cleanLine(line), log?.split(/\r?\n/) ?? [], logPath);
		if (result === undefined) continue;
		results.push(result);
		listed.add(parsed.name);
	}
	const unlisted = [...input.logs.keys()].filter((n) => !listed.has(n)).sort();
	for (const name of unlisted)
		results.push(resultFromLog(name, input.logs.get(name) ?? "", path.join(input.dir, `${name}.log`)));
	if (results.length === 0) return { error: `${input.dir}: ${NOTHING_FOUND}` };
	return { format: "kut-log-dir", results };
}

// ---- kvm-matrix results.json -----------------------------------------------------------------

const count = z.number().int().nonnegative();
const testResultSchema = z.object({
	suite: z.enum(["selftests", "kut"]),
	testId: z.string().min(1),
	status: z.enum(["pass", "fail", "skip", "timeout", "crash", "error"]),
	durationMs: z.number().nonnegative(),
	attempt: z.number().int().positive(),
	logPath: z.string().exactOptional(),
	detail: z.string().exactOptional(),
	subtests: z.array(z.object({ name: z.string(), status: z.enum(["pass", "fail", "skip"]) })).exactOptional(),
	checks: z
		.object({ tests: count, unexpectedFailures: count, knownFailures: count, expectedFailures: count, skipped: count })
		.exactOptional(),
});
// Unknown keys (a cell's verdict and explanation) are dropped: the caller classifies afresh.
const resultsFileSchema = z.object({
	cells: z.array(
		z.object({
			id: z.string().min(1),
			results: z.array(testResultSchema.extend({ earlier: z.array(testResultSchema).exactOptional() })),
		}),
	),
});

const issuePath = (p: readonly PropertyKey[]) =>
	p.map((k, i) => (typeof k === "number" ? `[${k}]` : `${i === 0 ? "" : "."}${String(k)}`)).join("");

function parseResultsJson(text: string, name: string): ForeignRead {
	let data: unknown;
	try {
		data = JSON.parse(text);
	} catch (error) {
		return { error: `${name}: not valid JSON (${printable(error instanceof Error ? error.message : String(error))})` };
	}
	if (typeof data !== "object" || data === null || !("cells" in data))
		return { error: `${name}: JSON without "cells", not a kvm-matrix results.json` };
	const parsed = resultsFileSchema.safeParse(data);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		return { error: `${name}: not a kvm-matrix results.json: ${issuePath(issue?.path ?? [])}: ${issue?.message}` };
	}
	const cells = parsed.data.cells;
	const results: ForeignResult[] = cells.flatMap((c) => c.results.map((r) => ({ ...r, cell: c.id })));
	if (results.length === 0) return { error: `${name}: no test results in results.json (${cells.length} cells)` };
	return { format: "kvm-matrix-json", results, cells: cells.map((c) => c.id) };
}

// ---- the file system ---------------------------------------------------------------------------

const errorCode = (error: unknown) =>
	typeof error === "object" && error !== null && "code" in error ? String(error.code) : String(error);

async function readLogDir(dir: string, summaryFile: string | undefined): Promise<ForeignRead> {
	const names = (await readdir(dir)).filter((n) => n.endsWith(".log")).sort();
	const logs = new Map<string, string>();
	for (const n of names) logs.set(n.slice(0, -".log".length), await readFile(path.join(dir, n), "utf8"));
	const summary = summaryFile === undefined ? undefined : await readFile(summaryFile, "utf8");
	return parseKutLogDir({ dir, ...(summary === undefined ? {} : { summary }), logs });
}

const isFile = async (file: string) => (await stat(file).catch(() => undefined))?.isFile() === true;

/**
 * Results from a file (any format `parseForeignResults` reads) or a directory: a KUT log
 * directory (SUMMARY and `<test>.log`; also a KUT tree holding `logs/`, or the SUMMARY file
 * itself), or a kvm-matrix run directory holding results.json. Errors are one line naming `file`.
 */
export async function readForeignResults(file: string): Promise<ForeignRead> {
	try {
		const info = await stat(file).catch((error: unknown) => {
			if (errorCode(error) === "ENOENT") return undefined;
			throw error;
		});
		if (info === undefined) return { error: `${file}: no such file` };
		if (info.isDirectory()) {
			for (const dir of [file, path.join(file, "logs")]) {
				if (await isFile(path.join(dir, "SUMMARY"))) return await readLogDir(dir, path.join(dir, "SUMMARY"));
			}
			const json = path.join(file, "results.json");
			if (await isFile(json)) return parseForeignResults(await readFile(json, "utf8"), { name: json });
			if ((await readdir(file)).some((n) => n.endsWith(".log"))) return await readLogDir(file, undefined);
			return { error: `${file}: ${NOTHING_FOUND}` };
		}
		if (path.basename(file) === "SUMMARY") return await readLogDir(path.dirname(file), file);
		return parseForeignResults(await readFile(file, "utf8"), { name: file });
	} catch (error) {
		return { error: `${file}: cannot read (${errorCode(error)})` };
	}
}
