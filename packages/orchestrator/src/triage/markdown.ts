// The triage answer as Markdown to paste into the bug: what was read from the report, on which
// kernel, the verdict with its evidence, and how to check it. Pure: the answer in, text out.
import type { TriageAnswer } from "./triage.js";

const MAX_QUOTED = 8;

const code = (text: string) => `\`${text.replaceAll("`", "'")}\``;

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
	const lines: string[] = [
		`### kvm-matrix triage of ${report.url === undefined ? title : `[${title}](${report.url})`}${report.title === undefined ? "" : `: ${report.title}`}`,
		"",
		`- **Kernel under test**: ${code(`${kernel.tree}@${kernel.ref}`)} (${kernel.sha.slice(0, 12)}), from ${kernel.how}${kernel.approximate ? " (approximate: the report does not name the exact commit)" : ""}`,
		`- **Failing tests**: ${tests.map((t) => `${code(`${t.suite}:${t.testId}`)} (${t.status ?? "said to fail"}, ${t.evidence.where})`).join(", ")}`,
	];
	if (facts.kutCommit !== undefined) lines.push(`- **kvm-unit-tests**: BUILD_HEAD ${code(facts.kutCommit)}`);
	if (facts.qemu !== undefined) lines.push(`- **QEMU**: ${facts.qemu}`);
	if (facts.cpu !== undefined) lines.push(`- **CPU**: ${facts.cpu}`);
	for (const m of facts.missing) lines.push(`- **Not in the report**: ${m}`);
	lines.push("", "| test | verdict | evidence |", "| --- | --- | --- |");
	for (const v of verdicts) {
		const words = VERDICT_WORDS[v.verdict] ?? v.verdict;
		const caveat = v.caveat === undefined ? "" : `; **but** ${v.caveat}`;
		lines.push(
			`| ${code(v.test)} | **${v.verdict}** (${words}) | ${`${v.evidence}${caveat}`.replaceAll("|", "\\|")} |`,
		);
	}
	const unclassified = tests.filter((t) => !verdicts.some((v) => v.test === `${t.suite}:${t.testId}`));
	for (const t of unclassified) lines.push(`| ${code(`${t.suite}:${t.testId}`)} | (none) | not classified |`);
	const quoted = tests.filter((t) => t.failureLines.length > 0);
	if (quoted.length > 0) {
		lines.push("", "What the report shows:", "");
		for (const t of quoted) {
			lines.push(`${code(`${t.suite}:${t.testId}`)} (${t.evidence.where}):`, "", "```");
			lines.push(...t.failureLines.slice(0, MAX_QUOTED));
			if (t.failureLines.length > MAX_QUOTED) lines.push(`[${t.failureLines.length - MAX_QUOTED} more lines]`);
			lines.push("```", "");
		}
	}
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
