// The nightly's history as one offline HTML page: a test × run timeline (each point coloured by
// its verdict, a click shows its evidence and the end of its log), the flaky tests with their
// rates, and every regression's bisection. Pure: the runs' views and the flaky list come in.
import type { CellSummary } from "../engine/summary.js";
import type { FlakyTest } from "../history/queries.js";
import { evidenceDetails } from "../verdicts/details.js";
import { VERDICT_NAMES } from "../verdicts/exit-policy.js";
import { COLOURS, escapeHtml, STYLE } from "./html.js";
import { type RunView, tailKey } from "./run-view.js";

export interface HistoryPageInput {
	readonly title: string;
	/** Oldest first. */
	readonly runs: readonly RunView[];
	readonly flaky: readonly FlakyTest[];
	/** Rows at most (the tests that failed most recently first); the page says how many were left out. */
	readonly maxRows?: number;
}

type Result = CellSummary["results"][number];

const STATUS_COLOUR: Readonly<Record<Result["status"], string>> = {
	pass: COLOURS.pass,
	skip: COLOURS.empty,
	fail: COLOURS["new-failure"],
	timeout: COLOURS["new-failure"],
	crash: COLOURS["new-failure"],
	error: COLOURS.infra,
};

const PAGE_STYLE = `${STYLE}
table.timeline td{padding:0;min-width:1.6em}
table.timeline button{all:unset;box-sizing:border-box;display:block;width:100%;height:1.6em;cursor:pointer}
table.timeline button:focus{outline:2px solid #000}
table.timeline th.run{writing-mode:vertical-rl;font-weight:normal;font-size:.8em}
section.point{margin-top:1em;border-left:4px solid #d1d5da;padding-left:.8em}
`;

const SCRIPT = `
document.querySelectorAll("table.timeline button[data-point]").forEach(function (b) {
  b.addEventListener("click", function () {
    document.querySelectorAll("section.point").forEach(function (s) { s.hidden = s.id !== b.dataset.point; });
    var shown = document.getElementById(b.dataset.point);
    if (shown) shown.scrollIntoView({ block: "nearest" });
  });
});
`;

const failing = (r: Result) => r.status !== "pass" && r.status !== "skip";

export function historyPage(input: HistoryPageInput): string {
	const e = escapeHtml;
	const maxRows = input.maxRows ?? 400;
	// Rows: every (cell, test) that did not pass somewhere; newest failures first.
	const lastBad = new Map<string, number>();
	input.runs.forEach((run, i) => {
		for (const cell of run.cells)
			for (const r of cell.results)
				if (failing(r) || r.verdict !== undefined) lastBad.set(`${cell.id} ${r.suite}:${r.testId}`, i);
	});
	const rows = [...lastBad.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k]) => k);
	const shown = rows.slice(0, maxRows);
	const lookup = input.runs.map((run) => {
		const m = new Map<string, { cell: CellSummary; r: Result }>();
		for (const cell of run.cells) for (const r of cell.results) m.set(`${cell.id} ${r.suite}:${r.testId}`, { cell, r });
		return m;
	});
	const points: string[] = [];
	const body = shown.map((row, ri) => {
		const tds = input.runs.map((run, i) => {
			const hit = lookup[i]?.get(row);
			if (hit === undefined) return "<td></td>";
			const { cell, r } = hit;
			const shade = r.verdict?.verdict ?? r.status;
			const colour = r.verdict === undefined ? STATUS_COLOUR[r.status] : COLOURS[r.verdict.verdict];
			const id = `p-${ri}-${i}`;
			const tail = run.logTails.get(tailKey(cell.id, r));
			const details = r.verdict === undefined ? [] : evidenceDetails(r.verdict);
			points.push(
				`<section class="point" id="${id}" hidden><h3>${e(row)} in run ${e(run.runId)}</h3><p>kernel ${e(cell.kernel.id)}${cell.kernel.sha === undefined ? "" : ` (${e(cell.kernel.sha)})`}, target ${e(cell.target)}: <strong>${e(r.status)}</strong>${r.detail === undefined ? "" : ` (${e(r.detail)})`}</p>${r.explanation === undefined ? "" : `<p class="explanation">${e(r.explanation)}</p>`}${details.length === 0 ? "" : `<ul class="evidence">${details.map((d) => `<li>${e(d)}</li>`).join("")}</ul>`}${tail === undefined ? "" : `<pre class="log">${e(tail)}</pre>`}</section>`,
			);
			return `<td><button type="button" data-point="${id}" data-shade="${e(shade)}" style="background:${colour}" title="${e(`${run.runId}: ${shade}`)}"></button></td>`;
		});
		return `<tr><th scope="row">${e(row)}</th>${tds.join("")}</tr>`;
	});
	const head = `<tr><th>cell and test \\ run</th>${input.runs.map((r) => `<th class="run" scope="col" title="${e(r.runId)}">${e(r.runId)}</th>`).join("")}</tr>`;
	const timeline =
		shown.length === 0
			? "<p>Every test passed (or skipped) in every run shown.</p>"
			: `<table class="timeline"><thead>${head}</thead><tbody>${body.join("")}</tbody></table>${rows.length > shown.length ? `<p>${rows.length - shown.length} more rows left out.</p>` : ""}`;
	const flaky =
		input.flaky.length === 0
			? "<p>No test both passed and failed on one kernel build and target.</p>"
			: `<table class="flaky"><thead><tr><th>test</th><th>kernel</th><th>target</th><th>failed</th><th>runs (oldest first)</th></tr></thead><tbody>${input.flaky
					.map(
						(f) =>
							`<tr><td>${e(f.test)}</td><td>${e(f.kernel)}${f.sha === undefined ? "" : ` ${e(f.sha.slice(0, 12))}`}</td><td>${e(f.target)}</td><td>${f.failed} of ${f.runs} (${Math.round(f.rate * 100)}%)</td><td>${e(f.seen.map((s) => (s.retried ? "p*" : s.status === "pass" ? "p" : "F")).join(""))}</td></tr>`,
					)
					.join("")}</tbody></table>`;
	const bisections = input.runs.flatMap((run) =>
		run.cells.flatMap((cell) =>
			cell.results.flatMap((r) => {
				const v = r.verdict;
				if (v?.verdict !== "regression" || v.evidence.bisected === undefined) return [];
				const b = v.evidence.bisected;
				const what =
					b.commit === undefined
						? e(b.why ?? "no single first bad commit")
						: `first bad commit <code>${e(b.commit.sha)}</code> ("${e(b.commit.subject)}")${b.commit.author === undefined ? "" : ` by ${e(b.commit.author)}`}${b.commit.links.map((l) => `<br>Link: ${e(l)}`).join("")}`;
				return [
					`<li><strong>${e(`${cell.id} ${r.suite}:${r.testId}`)}</strong> in run ${e(run.runId)}: ${what}<br><small>bisection: ${e(b.dir)}</small></li>`,
				];
			}),
		),
	);
	const shades: [string, string][] = [
		["pass", STATUS_COLOUR.pass],
		["skip", STATUS_COLOUR.skip],
		...VERDICT_NAMES.map((v): [string, string] => [v, COLOURS[v]]),
	];
	const legend = `<p class="legend">${shades.map(([name, colour]) => `<span style="background:${colour}">${e(name)}</span>`).join("")}</p>`;
	return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${e(input.title)}</title><style>${PAGE_STYLE}</style></head>
<body>
<h1>${e(input.title)}</h1>
<p>${input.runs.length} runs, ${e(input.runs[0]?.runId ?? "")} to ${e(input.runs.at(-1)?.runId ?? "")}. Click a point for its verdict, evidence and log.</p>
<h2>Timeline</h2>
${timeline}
${legend}
${points.join("\n")}
<h2>Flaky tests</h2>
${flaky}
<h2>Bisected regressions</h2>
${bisections.length === 0 ? "<p>None.</p>" : `<ul class="bisections">${bisections.join("")}</ul>`}
<script>${SCRIPT}</script>
</body></html>
`;
}
