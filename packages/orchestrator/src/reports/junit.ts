// JUnit XML as GitLab's junit report and the GitHub JUnit actions read it (FACTS.md, "Report
// formats"): one testsuite per cell, classname+name unique across the file (GitLab drops
// duplicates), the verdict and its evidence as the failure message. Written with xmlbuilder2 so
// escaping is the library's job, not a template's.
import { create } from "xmlbuilder2";
import type { XMLBuilder } from "xmlbuilder2/lib/interfaces.js";
import type { CellSummary } from "../engine/summary.js";
import { targetParts } from "../plan/cells.js";
import { type RunView, tailKey } from "./run-view.js";

/** What XML 1.0 cannot carry (control characters, terminal escapes) is replaced, never dropped silently. */
export function xmlSafe(text: string): string {
	return (
		text
			// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal colour codes in guest logs
			.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "")
			// biome-ignore lint/suspicious/noControlCharactersInRegex: characters XML 1.0 forbids
			.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "\ufffd")
			.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd")
	);
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

type Result = CellSummary["results"][number];

/**
 * Verdicts that say the failure is explained and not the kernel's fault: a CI test tab shows them
 * as skipped, so it agrees with an exit code they leave green (`--junit-strict` keeps failures).
 */
const EXPLAINED: ReadonlySet<string> = new Set(["pending-fix", "known"]);

export interface JunitOptions {
	/** Every failing test a `<failure>`, explained or not (the format before `<skipped>` for them). */
	readonly strict?: boolean;
}

type Outcome = { tag: "failure" | "error" | "skipped"; message: string; type?: string };

/** The testcase's outcome element: a failure with its verdict, an error, a skip, or nothing. */
function outcome(r: Result, explainedAsSkipped: (verdict: string) => boolean): Outcome | undefined {
	if (r.status === "pass") return undefined;
	if (r.status === "skip") return { tag: "skipped", message: r.detail ?? "skipped" };
	const why = r.explanation ?? `${r.status}${r.detail === undefined ? "" : `: ${r.detail}`} (not classified)`;
	if (r.verdict !== undefined && explainedAsSkipped(r.verdict.verdict))
		return { tag: "skipped", message: why, type: r.verdict.verdict };
	// A test the harness could not run is an error of the run, not a failure of the kernel.
	if (r.status === "error" || r.verdict?.verdict === "infra")
		return { tag: "error", message: why, type: r.verdict?.verdict ?? r.status };
	return { tag: "failure", message: why, type: r.verdict?.verdict ?? "unclassified" };
}

function suiteCounts(cell: CellSummary, results: readonly Result[], outcomeOf: (r: Result) => Outcome | undefined) {
	// A kernel that stopped building or booting is the kernel's failure; any other stop, the harness's.
	let failures = cell.cellVerdict !== undefined ? 1 : 0;
	let errors = cell.state === "failed" && cell.cellVerdict === undefined ? 1 : 0;
	let skipped = 0;
	for (const r of results) {
		const o = outcomeOf(r);
		if (o?.tag === "failure") failures++;
		else if (o?.tag === "error") errors++;
		else if (o?.tag === "skipped") skipped++;
	}
	return { failures, errors, skipped };
}

/** The run as JUnit XML. */
export function junitXml(view: RunView, options: JunitOptions = {}): string {
	// A verdict the run's exit policy made red (`--fail-on pending-fix`) stays a failure.
	const skippedVerdict = (verdict: string) =>
		options.strict !== true &&
		EXPLAINED.has(verdict) &&
		!(view.decision.failing as readonly string[]).includes(verdict);
	const outcomeOf = (r: Result) => outcome(r, skippedVerdict);
	const doc = create({ version: "1.0", encoding: "UTF-8" });
	const totals = { tests: 0, failures: 0, errors: 0, skipped: 0, ms: 0 };
	const seen = new Set<string>();
	const unique = (classname: string, name: string) => {
		let candidate = name;
		for (let n = 2; seen.has(`${classname}\u0000${candidate}`); n++) candidate = `${name} #${n}`;
		seen.add(`${classname}\u0000${candidate}`);
		return candidate;
	};
	const root = doc.ele("testsuites", { name: `kvm-matrix ${view.matrix} ${view.runId}` });
	for (const cell of view.cells) {
		const counts = suiteCounts(cell, cell.results, outcomeOf);
		const ms = cell.results.reduce((sum, r) => sum + r.durationMs, 0);
		const tests = cell.results.length + (cell.state === "failed" ? 1 : 0);
		const suite = root.ele("testsuite", {
			name: cell.id,
			tests: String(tests),
			failures: String(counts.failures),
			errors: String(counts.errors),
			skipped: String(counts.skipped),
			time: seconds(ms),
			...(view.started === undefined ? {} : { timestamp: view.started.replace(/\.\d+Z$/, "") }),
		});
		properties(suite, cell);
		if (cell.state === "failed" && cell.failure !== undefined) {
			// A cell that never ran its tests still shows up, as the error that stopped it.
			const failure = cell.failure;
			const testcase = suite.ele("testcase", {
				classname: cell.id,
				name: unique(cell.id, `${failure.stage}`),
				time: "0",
			});
			const own = cell.cellVerdict;
			(own === undefined
				? testcase.ele("error", { message: xmlSafe(`${failure.stage} failed: ${failure.reason}`), type: "infra" })
				: testcase.ele("failure", { message: xmlSafe(own.explanation), type: own.verdict.verdict })
			).txt(xmlSafe(failure.evidence.join("\n")));
		}
		for (const r of cell.results) {
			const classname = `${cell.id}.${r.suite}`;
			const testcase = suite.ele("testcase", {
				classname,
				name: unique(classname, r.testId),
				time: seconds(r.durationMs),
			});
			const o = outcomeOf(r);
			if (o !== undefined) {
				const el = testcase.ele(o.tag, {
					message: xmlSafe(o.message),
					...(o.type === undefined || o.tag === "skipped" ? {} : { type: o.type }),
				});
				if ((o.tag !== "skipped" || o.type !== undefined) && r.detail !== undefined) el.txt(xmlSafe(r.detail));
			}
			const tail = view.logTails.get(tailKey(cell.id, r));
			if (tail !== undefined) testcase.ele("system-out").txt(xmlSafe(tail));
		}
		totals.tests += tests;
		totals.failures += counts.failures;
		totals.errors += counts.errors;
		totals.skipped += counts.skipped;
		totals.ms += ms;
	}
	root.att({
		tests: String(totals.tests),
		failures: String(totals.failures),
		errors: String(totals.errors),
		skipped: String(totals.skipped),
		time: seconds(totals.ms),
	});
	return doc.end({ prettyPrint: true });
}

function properties(suite: XMLBuilder, cell: CellSummary): void {
	const props = suite.ele("properties");
	const add = (name: string, value: string) => props.ele("property", { name, value: xmlSafe(value) });
	add("kernel", cell.kernel.id);
	if (cell.kernel.sha !== undefined) add("kernel.sha", cell.kernel.sha);
	add("target", cell.target);
	const { params } = targetParts(cell.target);
	if (params !== undefined) add("params", params);
	add("state", cell.state);
	if (cell.carried !== undefined) add("carried-from", cell.carried.run);
}
