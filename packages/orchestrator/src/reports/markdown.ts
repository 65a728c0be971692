// The run as Markdown, for a CI step summary or a mail to the list: the exit decision and
// totals first, then the regressions (what a reader must act on) with their ranges, then the
// pending fixes with the branches that have them, then everything else that failed.
import type { CellSummary } from "../engine/summary.js";
import { targetParts } from "../plan/cells.js";
import { evidenceDetails } from "../verdicts/details.js";
import { VERDICT_NAMES, type VerdictName } from "../verdicts/exit-policy.js";
import type { RunView } from "./run-view.js";

const HEADINGS: Readonly<Record<VerdictName, string>> = {
	regression: "Regressions",
	"build-regression": "Kernels that no longer build",
	"boot-regression": "Kernels that no longer boot",
	"new-failure": "New failures (no baseline, no linked fix: need a human)",
	infra: "Infrastructure (the test could not run)",
	flaky: "Flaky",
	"still-failing": "Failing on the baseline too",
	known: "Known issues",
	"pending-fix": "Pending fixes (fix not yet merged)",
};

/** Regressions first, pending fixes second: the order a maintainer reads a nightly in. */
const SECTION_ORDER: readonly VerdictName[] = [
	"regression",
	"pending-fix",
	"new-failure",
	"infra",
	"flaky",
	"still-failing",
	"known",
];

/** Inline text that Markdown must not read as markup. */
export const mdText = (text: string) => text.replace(/([\\`*_[\]<>|])/g, "\\$1");
const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;

type Result = CellSummary["results"][number];

/** The explanation without its leading verdict name, which the section heading already says. */
const evidenceOf = (r: Result) => {
	const text = r.explanation ?? "";
	const name = r.verdict?.verdict;
	return name !== undefined && text.startsWith(`${name}: `) ? text.slice(name.length + 2) : text;
};

/**
 * A section's lines. On the `params` axis one test failing alike under several sets of a kernel
 * and target is one line naming the sets, so a reader sees "with ept-off, npt-off" at once.
 */
function groupedBySet(list: readonly { cell: CellSummary; r: Result }[]): string[] {
	const groups = new Map<string, { place: string; sets: string[]; r: Result }>();
	for (const { cell, r } of list) {
		const { target, params } = targetParts(cell.target);
		const place = params === undefined ? cell.id : `${cell.kernel.id}/${target}`;
		const key = `${place}\u0000${r.suite}:${r.testId}\u0000${params === undefined ? "" : evidenceOf(r)}`;
		const group = groups.get(key) ?? { place, sets: [], r };
		if (params !== undefined) group.sets.push(params);
		groups.set(key, group);
	}
	return [...groups.values()].flatMap(({ place, sets, r }) => {
		const under = sets.length === 0 ? "" : ` with ${sets.map(code).join(", ")}`;
		return [`- ${code(place)} ${code(`${r.suite}:${r.testId}`)}${under}: ${mdText(evidenceOf(r))}`, ...folded(r)];
	});
}

/**
 * The whole evidence under the line, folded: every patch with its full sha and subject, every
 * link that resolved nowhere. Indented into the list item, as GitHub and GitLab render it.
 */
function folded(r: Result): string[] {
	const details = r.verdict === undefined ? [] : evidenceDetails(r.verdict);
	if (details.length === 0) return [];
	return [
		`  <details><summary>evidence (${details.length})</summary>`,
		"",
		...details.map((d) => `  - ${mdText(d)}`),
		"",
		"  </details>",
	];
}

export function markdownReport(view: RunView): string {
	const out: string[] = [];
	out.push(`# kvm-matrix: ${mdText(view.matrix)}, run ${code(view.runId)}`, "");
	const outcome = view.outcome === "completed" ? "" : ` (run ${view.outcome}: results so far)`;
	out.push(`**${mdText(view.decision.line)}**${outcome}`, "");

	const byVerdict = new Map<VerdictName, { cell: CellSummary; r: Result }[]>();
	for (const cell of view.cells)
		for (const r of cell.results) {
			if (r.verdict === undefined) continue;
			const list = byVerdict.get(r.verdict.verdict) ?? [];
			list.push({ cell, r });
			byVerdict.set(r.verdict.verdict, list);
		}
	const totals = { pass: 0, fail: 0, skip: 0, timeout: 0, crash: 0, error: 0 };
	for (const cell of view.cells)
		for (const [k, n] of Object.entries(cell.counts)) totals[k as keyof typeof totals] += n;
	const states = { done: 0, failed: 0, cancelled: 0 };
	for (const cell of view.cells) states[cell.state]++;
	out.push(
		`${view.cells.length} cells (${states.done} done, ${states.failed} failed, ${states.cancelled} cancelled); ` +
			`tests: ${totals.pass} pass, ${totals.fail} fail, ${totals.skip} skip, ${totals.timeout} timeout, ${totals.crash} crash, ${totals.error} error.`,
		"",
	);
	const carried = view.cells.filter((c) => c.carried !== undefined);
	if (carried.length > 0)
		out.push(
			`${carried.length} ${carried.length === 1 ? "cell" : "cells"} carried from an earlier run (unchanged): ${carried.map((c) => code(c.id)).join(", ")}.`,
			"",
		);
	out.push("| verdict | tests |", "| --- | ---: |");
	for (const v of VERDICT_NAMES)
		out.push(
			`| ${v} | ${(byVerdict.get(v)?.length ?? 0) + view.cells.filter((c) => c.cellVerdict?.verdict.verdict === v).length} |`,
		);
	out.push("");

	for (const v of ["build-regression", "boot-regression"] as const) {
		const broken = view.cells.filter((c) => c.cellVerdict?.verdict.verdict === v);
		if (broken.length === 0) continue;
		out.push(`## ${HEADINGS[v]}`, "");
		for (const c of broken) {
			const verdict = c.cellVerdict?.verdict;
			out.push(`- ${code(c.id)}: ${mdText((c.cellVerdict?.explanation ?? "").replace(`${v}: `, ""))}`);
			const details = verdict === undefined ? [] : evidenceDetails(verdict);
			if (details.length > 0)
				out.push(
					`  <details><summary>evidence (${details.length})</summary>`,
					"",
					...details.map((d) => `  - ${mdText(d)}`),
					"",
					"  </details>",
				);
		}
		out.push("");
	}
	for (const v of SECTION_ORDER) {
		const list = byVerdict.get(v);
		if (list === undefined || list.length === 0) continue;
		out.push(`## ${HEADINGS[v]}`, "");
		for (const line of groupedBySet(list)) out.push(line);
		out.push("");
	}
	const unclassified = view.cells.flatMap((cell) =>
		cell.results
			.filter((r) => r.verdict === undefined && r.status !== "pass" && r.status !== "skip")
			.map((r) => ({ cell, r })),
	);
	if (unclassified.length > 0) {
		out.push("## Failures not classified yet", "");
		for (const { cell, r } of unclassified)
			out.push(
				`- ${code(cell.id)} ${code(`${r.suite}:${r.testId}`)}: ${r.status}${r.detail === undefined ? "" : ` (${mdText(r.detail)})`}`,
			);
		out.push("");
	}
	const stopped = view.cells.filter((c) => c.state !== "done");
	if (stopped.length > 0) {
		out.push("## Cells that did not finish", "");
		for (const c of stopped) {
			const why = c.failure === undefined ? c.state : `${c.failure.stage} failed: ${c.failure.reason}`;
			out.push(`- ${code(c.id)}: ${mdText(why)}`);
		}
		out.push("");
	}
	out.push(`Run directory: ${code(view.dir)}`, "");
	return out.join("\n");
}
