// The triage answer as Markdown to paste into the bug: what was read from the report, on which
// kernel, the verdict with its evidence, and how to check it. Pure: the answer in, text out.
import type { CommitInfo } from "../bisect/bisect.js";
import type { Verdict } from "../verdicts/classify.js";
import { evidenceDetails } from "../verdicts/details.js";
import type { ForeignClassified } from "../verdicts/foreign.js";
import type { ReproducedTest, Reproduction } from "./reproduce-run.js";
import type { TriageAnswer } from "./triage.js";

const MAX_QUOTED = 8;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
const CONTROLS = /[\u0000-\u001f\u007f]+/g;

/** Report text as a code span: no control characters (they would reach a terminal), no backtick. */
const code = (text: string) => `\`${text.replace(CONTROLS, " ").replaceAll("`", "'")}\``;

/** The verdict in words a bug's reader knows, before the evidence. */
const VERDICT_WORDS: Readonly<Record<string, string>> = {
	"pending-fix": "fix not yet merged",
	regression: "real regression",
	"still-failing": "still failing",
	"new-failure": "new failure: needs a human",
	known: "known issue",
	flaky: "flaky",
	infra: "infrastructure",
};

export function triageMarkdown(answer: TriageAnswer, command: string): string {
	const { report, facts, kernel, tests, verdicts } = answer;
	const title = report.id === undefined ? "the report" : `bug ${report.id}`;
	const skipped = tests.filter((t) => t.status === "skip");
	const failing = tests.filter((t) => t.status !== "skip");
	const lines: string[] = [
		`### kvm-matrix triage of ${report.url === undefined ? title : `[${title}](${report.url})`}${report.title === undefined ? "" : `: ${md(report.title)}`}`,
		"",
		`- **Kernel under test**: ${code(`${kernel.tree}@${kernel.ref}`)} (${kernel.sha.slice(0, 12)}), from ${md(kernel.how)}${kernel.approximate ? " (approximate: the report does not name the exact commit)" : ""}`,
	];
	// What the answer could not rest on: a reader checks the clue it did rest on against these.
	if (kernel.unused !== undefined && kernel.unused.length > 0)
		lines.push(`- **Not used**: ${kernel.unused.map(md).join("; ")}`);
	if (failing.length > 0)
		lines.push(
			`- **Failing tests**: ${failing.map((t) => `${code(`${t.suite}:${t.testId}`)} (${t.status ?? "said to fail"}, ${md(t.evidence.where)})`).join(", ")}`,
		);
	if (skipped.length > 0)
		lines.push(
			`- **Skipped tests** (the report is about a skip): ${skipped.map((t) => `${code(`${t.suite}:${t.testId}`)} (${t.skipReason === undefined ? "no reason given" : `why: ${code(t.skipReason)}`}, ${md(t.evidence.where)})`).join(", ")}`,
		);
	if (facts.intermittent !== undefined)
		lines.push(
			`- **Intermittent**: the report says it fails only some of the time (${code(facts.intermittent.text)}, ${md(facts.intermittent.where)}); a pass on another kernel is weak evidence, and \`--reproduce\` runs each kernel 5 times`,
		);
	if (facts.crash !== undefined) lines.push(`- **Kernel splat**: ${code(facts.crash.text)} (${md(facts.crash.where)})`);
	if (facts.kutCommit !== undefined) lines.push(`- **kvm-unit-tests**: BUILD_HEAD ${code(facts.kutCommit)}`);
	if (facts.qemu !== undefined) lines.push(`- **QEMU**: ${md(facts.qemu)}`);
	if (facts.cpu !== undefined) lines.push(`- **CPU**: ${md(facts.cpu)}`);
	for (const m of facts.missing) lines.push(`- **Not in the report**: ${m}`);
	// Beside a reproduction, the table is what the report alone says: the evidence comes after it.
	if (answer.reproduction !== undefined) lines.push("", "#### From the report alone");
	lines.push("", "| test | verdict | evidence |", "| --- | --- | --- |");
	for (const v of verdicts) {
		const words = VERDICT_WORDS[v.verdict] ?? v.verdict;
		const caveat = v.caveat === undefined ? "" : `; **but** ${v.caveat}`;
		lines.push(
			`| ${code(v.test)} | **${v.verdict}** (${words}) | ${`${v.evidence}${caveat}`.replaceAll("|", "\\|")} |`,
		);
	}
	const unclassified = failing.filter((t) => !verdicts.some((v) => v.test === `${t.suite}:${t.testId}`));
	for (const t of unclassified) lines.push(`| ${code(`${t.suite}:${t.testId}`)} | (none) | not classified |`);
	for (const t of skipped)
		lines.push(
			`| ${code(`${t.suite}:${t.testId}`)} | skip (no verdict) | skipped on ${kernel.tree}@${kernel.ref}${t.skipReason === undefined ? "" : `: ${md(t.skipReason)}`}; whether the configured kernels skip it too shows when they run it |`,
		);
	lines.push(...foldedEvidence(verdicts));
	if (answer.newer !== undefined && answer.reproduction === undefined) lines.push(...settleLines(answer, command));
	const quoted = tests.filter((t) => t.failureLines.length > 0);
	if (quoted.length > 0) {
		lines.push("", "What the report shows:", "");
		for (const t of quoted) {
			lines.push(`${code(`${t.suite}:${t.testId}`)} (${md(t.evidence.where)}):`, "", "```");
			lines.push(...t.failureLines.slice(0, MAX_QUOTED));
			if (t.failureLines.length > MAX_QUOTED) lines.push(`[${t.failureLines.length - MAX_QUOTED} more lines]`);
			lines.push("```", "");
		}
	}
	if (answer.reproduction !== undefined)
		lines.push(
			...reproductionLines(
				answer.reproduction,
				kernel.approximate ? kernel.how : undefined,
				new Set(skipped.map((t) => `${t.suite}:${t.testId}`)),
			),
		);
	lines.push(
		"",
		"To check this answer:",
		"",
		"```",
		command,
		...tests
			.filter((t) => t.suite === "kut")
			.map((t) => `./run_tests.sh ${t.testId}    # in kvm-unit-tests, on ${kernel.tree}@${kernel.ref}`),
		"```",
		"",
	);
	return lines.join("\n");
}

const short = (sha: string) => sha.slice(0, 12);

/** Report text inside a line: no control characters (they would reach a terminal), no markup. */
const md = (text: string) => text.replace(CONTROLS, " ").replace(/([\\`*_[\]<>|])/g, "\\$1");

/** Under the table, each verdict's whole evidence folded: full shas and subjects, every unresolved link. */
function foldedEvidence(verdicts: TriageAnswer["verdicts"]): string[] {
	return verdicts.flatMap((v) => {
		const details = evidenceDetails({ verdict: v.verdict, evidence: v.details } as Verdict);
		if (details.length === 0) return [];
		return [
			"",
			`<details><summary>${code(v.test)}: the whole evidence (${details.length})</summary>`,
			"",
			...details.map((d) => `- ${md(d)}`),
			"",
			"</details>",
		];
	});
}

/**
 * When no link decides (or the report is about a skip): the configured kernels that descend from
 * the reporter's, and the command that runs the tests on them.
 */
function settleLines(answer: TriageAnswer, command: string): string[] {
	const newer = answer.newer ?? [];
	const reported = `${answer.kernel.tree}@${answer.kernel.ref}`;
	const where =
		newer.length === 0
			? `No kernel the matrix builds descends from ${code(reported)}: the run compares it with the others as they are.`
			: `Kernels the matrix builds that descend from ${code(reported)}: ${newer.map((k) => `${code(k.kernel)} (${short(k.sha)}, ${k.commits} ${k.commits === 1 ? "commit" : "commits"} ahead)`).join(", ")}.`;
	return [
		"",
		`No link decides this. ${where} Running the reported tests on each would settle it:`,
		"",
		"```",
		`${command} --reproduce`,
		"```",
	];
}

/** What the verdict on the reporter's kernel comes to, in the words of a reply to the bug. */
function conclusion(t: ReproducedTest, reported: string, approximate: boolean, reportedSkip: boolean): string {
	const tally = t.tallies.find((x) => x.kernel === reported);
	// Today's tip of a branch may already hold what the reporter's commit lacked.
	const now = approximate ? ` (as it is now, which may differ from the reporter's)` : "";
	// A report about a skip is reproduced by a skip: the other kernels' columns say whether they skip too.
	if (reportedSkip && t.reproduced === "skips") return `reproduced: it skips every run on ${reported}${now} here too`;
	if (reportedSkip && t.reproduced === "passes")
		return `not reproduced: it runs and passes every run on ${reported}${now} here (whether it skips depends on the CPU, QEMU or configuration)`;
	switch (t.reproduced) {
		case "passes":
			return `not reproduced: it passes every run on ${reported}${now} here (the reporter's CPU, QEMU or configuration may matter)`;
		case "skips":
			return `not reproduced: it skips every run on ${reported} here`;
		case "partial":
			return `not reproduced: ${tally?.words ?? "?"} on ${reported}, not enough to say`;
		case "not-run":
			return `not tested: it did not run on ${reported} (${tally?.notRun[0] ?? "?"})`;
		default:
			break;
	}
	const v: ForeignClassified | undefined = t.verdicts.find((x) => x.kernel === reported);
	if (v === undefined) return "not classified";
	const words = `**${v.verdict}** (${VERDICT_WORDS[v.verdict] ?? v.verdict})`;
	const d = v.details;
	if (v.verdict === "pending-fix" && "fixedIn" in d && d.fixedIn !== undefined)
		return `${words}: fixed on ${d.fixedIn.kernel}, not yet in ${reported}`;
	if (v.verdict === "regression" && "passed" in d) {
		const since = "relation" in d.passed && d.passed.relation?.kind === "ancestor";
		return `${words}: ${since ? "broken since" : "it passed on"} ${d.passed.kernel}`;
	}
	if (v.verdict === "flaky") return `${words}: it fails some runs and passes others on ${reported}`;
	return words;
}

const commitText = (c: CommitInfo) =>
	[`${code(`${short(c.sha)} ${c.subject}`)}`, ...c.trailers.map((t) => code(t))].join(", ");

function bisectLines(t: ReproducedTest): string[] {
	const b = t.bisect;
	if (b === undefined) return [];
	if ("skipped" in b) return [`  - Bisection: ${b.skipped}`];
	const { outcome } = b;
	const first = b.mode === "fixed" ? "first fixed commit" : "first bad commit";
	const search = outcome.steps.filter((s) => s.end === undefined);
	const cost = `${search.length} steps and the two ends, ${outcome.builds} kernel builds, ${search.filter((s) => s.verdict === "skip").length} skipped`;
	const r = outcome.result;
	if (r.kind === "found") {
		const where = [
			...(b.in.length === 0 ? [] : [`in ${b.in.map(code).join(", ")}`]),
			...(b.notIn.length === 0 ? [] : [`not in ${b.notIn.map(code).join(", ")}`]),
		].join("; ");
		return [`  - Bisected, ${first}: ${commitText(r.commit)} (${cost})${where === "" ? "" : `; ${where}`}`];
	}
	if (r.kind === "ambiguous")
		return [`  - Bisected, the ${first} is one of: ${r.candidates.map(commitText).join("; ")} (${cost})`];
	return [
		`  - Bisection stopped at its step cap with ${r.remaining} commits left; continue with \`kvm-matrix bisect --resume ${b.dir}\``,
	];
}

/** The reproduction: a table of what each test did on each kernel, then each test's conclusion. */
function reproductionLines(r: Reproduction, approximate: string | undefined, skipped: ReadonlySet<string>): string[] {
	const reported = r.kernels.find((k) => k.role === "reported");
	const heads = r.kernels.map((k) => `${code(k.id)} (${short(k.sha)})${k.role === "reported" ? ", the report's" : ""}`);
	const lines = [
		"",
		`#### Reproduction: ${r.runs} ${r.runs === 1 ? "run" : "runs"} of each test on each kernel, target ${code(r.target)}${r.cancelled ? " (cancelled: what did not finish is not run)" : ""}`,
		"",
		`| test | ${heads.join(" | ")} |`,
		`| --- | ${heads.map(() => "---").join(" | ")} |`,
	];
	for (const t of r.tests)
		lines.push(
			`| ${code(t.test)} | ${r.kernels.map((k) => t.tallies.find((x) => x.kernel === k.id)?.words ?? "").join(" | ")} |`,
		);
	lines.push("");
	for (const t of r.tests) {
		const said = t.tallies.map((x) => `${x.words} on ${code(x.kernel)} (${short(x.sha)})`).join(", ");
		lines.push(
			`- ${code(t.test)}: ${said}: ${conclusion(t, reported?.id ?? "", approximate !== undefined, skipped.has(t.test))}`,
		);
		const v = t.verdicts.find((x) => x.kernel === reported?.id);
		if (v !== undefined && v.evidence !== "") lines.push(`  - Evidence: ${v.evidence}`);
		// What it printed when it failed here, to hold beside the report's own lines.
		const mine = t.tallies.find((x) => x.kernel === reported?.id);
		const checks = mine?.failedChecks ?? [];
		if (checks.length > 0 || mine?.detail !== undefined)
			lines.push(
				`  - Failed here with: ${checks.length > 0 ? checks.map(code).join(", ") : code(mine?.detail ?? "")}${mine?.logPath === undefined ? "" : ` (log: ${code(mine.logPath)})`}`,
			);
		if (v?.verdict === "pending-fix" && approximate !== undefined)
			lines.push(
				`  - **But** this ran ${reported?.id} as it is now (${approximate}): the reporter's own kernel may hold the fix`,
			);
		lines.push(...bisectLines(t));
	}
	lines.push("", `Run directory: ${code(r.runDir)} (its journal and results.json hold every run, cell by cell).`);
	return lines;
}
