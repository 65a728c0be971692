// Triage accuracy on real KVM bug reports: every report in bench/triage/reports (a mail, an mbox
// thread or pasted text, as a user saves it) goes through the real CLI (`kvm-matrix triage --from
// FILE --matrix FILE --json`) against trees shaped like the real ones and reached by their real
// URLs, and what the answer is about is compared with the report's label: the tests, the kernel,
// the kind of failure. One line per report, then the summary; exit 0 when all are read right.
// Run: pnpm build && pnpm bench:triage   (BENCH_TRIAGE_DIR=DIR keeps the trees and mirrors in DIR)
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { type ReportedTest, type ReportKind, testsAbout } from "@kvm-matrix/orchestrator";
import { execa } from "execa";
import { parse } from "yaml";
import { prepareTriageWork, type TriageWork } from "./triage/trees.js";

const CLI = fileURLToPath(new URL("../packages/tui/bin/kvm-matrix.js", import.meta.url));
const REPO = fileURLToPath(new URL("../", import.meta.url));
export const REPORTS = fileURLToPath(new URL("./triage/reports/", import.meta.url));

const KINDS = ["fail", "skip", "intermittent", "crash"] as const;
export type Kind = (typeof KINDS)[number];

/** What a report is about, from its `.yaml`. */
export interface Label {
	/** `suite:testId`, as `kut:vmx` or `selftests:x86_64/cpuid_test`. */
	readonly tests: readonly string[];
	readonly kind: Kind;
	/** `tree@ref`, or `none` when the report does not say which kernel. */
	readonly kernel: string;
}

export interface Report {
	/** `01-vmx-vmxon-cr0-bit5` */
	readonly name: string;
	/** The `.txt` the CLI reads. */
	readonly file: string;
	/** The label's `shape`: what the report looks like, in one line. */
	readonly shape: string;
	readonly label: Label;
}

/** Every report with its label, in name order; a label that does not read stops everything. */
export function loadReports(dir = REPORTS): Report[] {
	return readdirSync(dir)
		.filter((f) => f.endsWith(".yaml"))
		.sort()
		.map((f) => {
			const name = f.slice(0, -".yaml".length);
			const raw = parse(readFileSync(path.join(dir, f), "utf8")) as Record<string, unknown> | null;
			const bad = (what: string) => new Error(`${f}: ${what}`);
			const tests = raw?.tests;
			if (!Array.isArray(tests) || !tests.every((t) => typeof t === "string" && /^(kut|selftests):\S+$/.test(t)))
				throw bad("tests must be a list of suite:name (kut:vmx, selftests:x86_64/cpuid_test)");
			const kind = raw?.kind;
			if (!KINDS.includes(kind as Kind)) throw bad(`kind must be one of ${KINDS.join(", ")}`);
			const kernel = raw?.expect_kernel;
			if (typeof kernel !== "string" || !(kernel === "none" || /^[\w.-]+@\S+$/.test(kernel)))
				throw bad("expect_kernel must be tree@ref or none");
			return {
				name,
				file: path.join(dir, `${name}.txt`),
				shape: typeof raw?.shape === "string" ? raw.shape : "",
				label: { tests, kind: kind as Kind, kernel },
			};
		});
}

/** What the CLI's answer is about, read from its output; `error` when there was no JSON to read. */
export type Answer =
	| { readonly ok: true; readonly tests: readonly string[]; readonly kernel: string; readonly kind: string }
	| { readonly ok: false; readonly error: string };

interface JsonTest {
	readonly suite?: unknown;
	readonly testId?: unknown;
	readonly status?: unknown;
}
interface JsonAnswer {
	readonly error?: unknown;
	readonly tests?: unknown;
	readonly facts?: { readonly kind?: unknown; readonly tests?: unknown };
	readonly kernel?: { readonly tree?: unknown; readonly ref?: unknown };
}

const firstLine = (text: string) =>
	text
		.split("\n")
		.map((l) => l.trim())
		.find((l) => l !== "") ?? "";

const testIds = (list: unknown, keep: (t: JsonTest) => boolean) =>
	(Array.isArray(list) ? (list as JsonTest[]) : []).filter(keep).map((t) => `${String(t.suite)}:${String(t.testId)}`);

/**
 * The answer of `triage --json` (pure): an answer's `tests` (exit 0), or the tests a refusal
 * would have answered about (exit 2, `{ error, facts, kernel? }`: `testsAbout` of its facts);
 * `none` for a kernel or kind it does not give.
 */
export function readAnswer(exitCode: number | undefined, stdout: string, stderr: string): Answer {
	const why = firstLine(stderr) || firstLine(stdout) || "(no output)";
	let json: JsonAnswer;
	try {
		json = JSON.parse(stdout) as JsonAnswer;
	} catch {
		return { ok: false, error: `exit ${exitCode ?? "none"}, no JSON: ${why}` };
	}
	if (typeof json !== "object" || json === null) return { ok: false, error: `exit ${exitCode}, not an answer: ${why}` };
	const refused = exitCode === 2 && typeof json.error === "string";
	if (exitCode !== 0 && !refused) return { ok: false, error: `exit ${exitCode ?? "none"}: ${why}` };
	// A refusal is judged on the tests it would have answered about, by the CLI's own rule.
	const facts = json.facts;
	const tests = refused
		? testIds(
				Array.isArray(facts?.tests) && typeof facts.kind === "string"
					? testsAbout({ tests: facts.tests as ReportedTest[], kind: facts.kind as ReportKind })
					: [],
				() => true,
			)
		: testIds(json.tests, () => true);
	const k = json.kernel;
	const kernel = typeof k?.tree === "string" && typeof k.ref === "string" ? `${k.tree}@${k.ref}` : "none";
	const kind = typeof json.facts?.kind === "string" ? json.facts.kind : "none";
	return { ok: true, tests: [...new Set(tests)].sort(), kernel, kind };
}

/** One report's label against what the CLI said. */
export interface Check {
	readonly report: string;
	readonly label: Label;
	readonly answer: Answer;
	readonly test: boolean;
	readonly kernel: boolean;
	readonly kind: boolean;
	readonly ok: boolean;
}

const sameSet = (a: readonly string[], b: readonly string[]) => {
	const sa = new Set(a);
	const sb = new Set(b);
	return sa.size === sb.size && [...sa].every((x) => sb.has(x));
};

/** A label against the CLI's answer (pure): the tests as a set, the kernel as `tree@ref` (or none), the kind. */
export function judge(report: string, label: Label, answer: Answer): Check {
	if (!answer.ok) return { report, label, answer, test: false, kernel: false, kind: false, ok: false };
	const test = sameSet(answer.tests, label.tests);
	const kernel = answer.kernel === label.kernel;
	const kind = answer.kind === label.kind;
	return { report, label, answer, test, kernel, kind, ok: test && kernel && kind };
}

const testList = (tests: readonly string[]) => (tests.length === 0 ? "none" : [...tests].sort().join(","));

/** `ok|WRONG  <report>  test <got> (want ...), kernel <got> (want ...), kind <got> (want ...)`: a "want" only where wrong. */
export function checkLine(c: Check): string {
	const want = `${testList(c.label.tests)}, kernel ${c.label.kernel}, kind ${c.label.kind}`;
	if (!c.answer.ok) return `WRONG  ${c.report}  ${c.answer.error} (want test ${want})`;
	const part = (name: string, got: string, right: boolean, wanted: string) =>
		`${name} ${got}${right ? "" : ` (want ${wanted})`}`;
	const parts = [
		part("test", testList(c.answer.tests), c.test, testList(c.label.tests)),
		part("kernel", c.answer.kernel, c.kernel, c.label.kernel),
		part("kind", c.answer.kind, c.kind, c.label.kind),
	];
	return `${c.ok ? "ok" : "WRONG"}  ${c.report}  ${parts.join(", ")}`;
}

/** `N/M reports read right (test, kernel, kind)`, and when some are wrong, each part's count. */
export function summaryLines(checks: readonly Check[]): string[] {
	const m = checks.length;
	const count = (right: (c: Check) => boolean) => `${checks.filter(right).length}/${m}`;
	const lines = [`${count((c) => c.ok)} reports read right (test, kernel, kind)`];
	if (checks.some((c) => !c.ok))
		lines.push(`test: ${count((c) => c.test)}, kernel: ${count((c) => c.kernel)}, kind: ${count((c) => c.kind)}`);
	return lines;
}

/** Runs the built CLI on one report against the work's matrix, and judges its answer. */
export async function runReport(report: Report, work: TriageWork, show?: (text: string) => void): Promise<Check> {
	const run = await execa("node", [CLI, "triage", "--from", report.file, "--matrix", work.matrix, "--json"], {
		cwd: REPO,
		reject: false,
		env: work.env,
		timeout: 300_000,
	});
	show?.(`== ${report.name}: exit ${run.exitCode}\n${run.stderr}\n${run.stdout}`);
	return judge(report.name, report.label, readAnswer(run.exitCode, run.stdout, run.stderr));
}

/**
 * A runner of reports, at most `parallel` CLIs at once; the first report runs alone, so its CLI
 * makes the mirrors of the trees in the work's cache and every later one finds them there.
 */
export function reportRunner(
	work: TriageWork,
	parallel = os.availableParallelism(),
	show?: (text: string) => void,
): (report: Report) => Promise<Check> {
	let first: Promise<unknown> | undefined;
	let running = 0;
	const waiting: (() => void)[] = [];
	return async (report) => {
		if (first === undefined) {
			const run = runReport(report, work, show);
			first = run.catch(() => undefined);
			return run;
		}
		await first;
		if (running >= parallel) await new Promise<void>((resolve) => waiting.push(resolve));
		running++;
		try {
			return await runReport(report, work, show);
		} finally {
			running--;
			waiting.shift()?.();
		}
	};
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** `pnpm bench:triage [-v] [NAME...]`: every report, or those whose names start with a NAME; `-v` shows each answer. */
async function main() {
	const args = process.argv.slice(2);
	const verbose = args.includes("-v");
	const only = args.filter((a) => a !== "-v");
	const reports = loadReports().filter((r) => only.length === 0 || only.some((o) => r.name.startsWith(o)));
	const kept = process.env.BENCH_TRIAGE_DIR;
	const dir = kept === undefined || kept === "" ? mkdtempSync(path.join(os.tmpdir(), "bench-triage-")) : kept;
	try {
		const t0 = performance.now();
		const work = await prepareTriageWork(dir);
		const t1 = performance.now();
		const run = reportRunner(work, os.availableParallelism(), verbose ? (text) => console.error(text) : undefined);
		const checks = await Promise.all(reports.map(run));
		for (const c of checks) console.log(checkLine(c));
		for (const line of summaryLines(checks)) console.log(line);
		const built = work.builtMs === undefined ? "reused" : `built in ${seconds(work.builtMs)}`;
		console.error(
			`trees ${built} (${work.dir}); ${reports.length} CLI runs in ${seconds(performance.now() - t1)}, ${os.availableParallelism()} at a time; ${seconds(performance.now() - t0)} in all`,
		);
		process.exitCode = checks.every((c) => c.ok) ? 0 : 1;
	} finally {
		if (kept === undefined || kept === "") {
			if (process.env.KEEP_TREES === undefined) rmSync(dir, { recursive: true, force: true });
			else console.error(`trees kept in ${dir}`);
		}
	}
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	main().catch((error: unknown) => {
		console.error(`bench:triage: ${error instanceof Error ? error.message : String(error)}`);
		process.exit(2);
	});
}
