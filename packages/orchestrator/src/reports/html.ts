// The run as one offline HTML file: the matrix at a glance (kernels down, targets across, each
// cell coloured by its worst verdict, with counts), and a click on a cell opens its tests with
// their verdicts, evidence and log tails. Everything is in the file (no server, no network, no
// script from elsewhere); every text from a run is escaped, since test names and logs come from
// trees and guests.

import type { CellSummary } from "../engine/summary.js";
import { targetParts } from "../plan/cells.js";
import { evidenceDetails } from "../verdicts/details.js";
import { VERDICT_NAMES, type VerdictName } from "../verdicts/exit-policy.js";
import { type RunView, tailKey } from "./run-view.js";

export const escapeHtml = (text: string) =>
	text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

/** What colours a cell: its worst verdict, else how it ended. */
export type CellShade = VerdictName | "pass" | "cancelled" | "empty";

export function cellShade(cell: CellSummary): CellShade {
	const present = new Set(cell.results.flatMap((r) => (r.verdict === undefined ? [] : [r.verdict.verdict])));
	if (cell.state === "failed") present.add(cell.cellVerdict?.verdict.verdict ?? "infra");
	const unclassified = cell.results.some((r) => r.verdict === undefined && !["pass", "skip"].includes(r.status));
	if (unclassified) present.add("new-failure");
	const worst = VERDICT_NAMES.find((v) => present.has(v));
	if (worst !== undefined) return worst;
	if (cell.state === "cancelled") return "cancelled";
	return cell.results.length === 0 ? "empty" : "pass";
}

export const COLOURS: Readonly<Record<CellShade, string>> = {
	regression: "#d73a49",
	"build-regression": "#b31d28",
	"boot-regression": "#b31d28",
	"new-failure": "#e36209",
	infra: "#6f42c1",
	flaky: "#dbab09",
	"still-failing": "#8a6d3b",
	known: "#0366d6",
	"pending-fix": "#1b7c83",
	pass: "#28a745",
	cancelled: "#959da5",
	empty: "#d1d5da",
};

export const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#24292e}
h1{font-size:1.4em;margin:0 0 .3em}
.decision{font-weight:600;margin:.2em 0 1em}
.decision.red{color:#d73a49}.decision.green{color:#22863a}
table{border-collapse:collapse}
th,td{border:1px solid #d1d5da;padding:.3em .5em;text-align:left;vertical-align:top}
table.grid td{padding:0}
table.grid button{all:unset;box-sizing:border-box;display:block;width:100%;min-width:9em;padding:.4em .6em;color:#fff;cursor:pointer}
table.grid button:focus{outline:3px solid #000}
table.grid button.selected{outline:3px solid #24292e;outline-offset:-3px}
.counts{font-size:.85em;opacity:.95}
.legend span{display:inline-block;padding:.1em .5em;margin:.1em;color:#fff;border-radius:3px}
section.cell{margin-top:1.5em}
pre{background:#f6f8fa;padding:.5em;max-height:24em;overflow:auto;white-space:pre-wrap;margin:.3em 0}
.status-pass{color:#22863a}.status-fail,.status-crash,.status-timeout{color:#d73a49}.status-error{color:#6f42c1}
`;

const SCRIPT = `
document.querySelectorAll("table.grid button[data-cell]").forEach(function (b) {
  b.addEventListener("click", function () {
    document.querySelectorAll("section.cell").forEach(function (s) { s.hidden = s.id !== b.dataset.cell; });
    document.querySelectorAll("table.grid button").forEach(function (o) { o.classList.toggle("selected", o === b); });
    var shown = document.getElementById(b.dataset.cell);
    if (shown) shown.scrollIntoView({ block: "nearest" });
  });
});
`;

const countsText = (cell: CellSummary) => {
	const c = cell.counts;
	const failing = c.fail + c.timeout + c.crash + c.error;
	return `${c.pass} pass · ${failing} fail · ${c.skip} skip`;
};

/** Target columns; on the `params` axis a row of targets over a row of their parameter sets. */
function gridHead(targets: readonly string[]): string {
	const e = escapeHtml;
	const parts = targets.map(targetParts);
	if (parts.every((p) => p.params === undefined))
		return `<tr><th>kernel \\ target</th>${targets.map((t) => `<th scope="col">${e(t)}</th>`).join("")}</tr>`;
	const groups: { target: string; span: number }[] = [];
	for (const p of parts) {
		const last = groups.at(-1);
		if (last !== undefined && last.target === p.target && p.params !== undefined) last.span++;
		else groups.push({ target: p.target, span: 1 });
	}
	const top = groups
		.map((g) => `<th scope="colgroup"${g.span > 1 ? ` colspan="${g.span}"` : ""}>${e(g.target)}</th>`)
		.join("");
	const sets = parts.map((p) => `<th scope="col">${e(p.params ?? "")}</th>`).join("");
	return `<tr><th rowspan="2">kernel \\ target</th>${top}</tr><tr>${sets}</tr>`;
}

export function htmlReport(view: RunView): string {
	const e = escapeHtml;
	const sectionId = new Map(view.cells.map((c, i) => [c.id, `cell-${i}`]));
	const byPlace = new Map(view.cells.map((c) => [`${c.kernel.id}\u0000${c.target}`, c]));
	const rows = view.kernels.map((k) => {
		const label = `${k.tree === undefined ? k.id : `${k.tree}@${k.ref ?? "?"}`}${k.sha === undefined ? "" : ` ${k.sha.slice(0, 12)}`}`;
		const tds = view.targets.map((t) => {
			const cell = byPlace.get(`${k.id}\u0000${t}`);
			if (cell === undefined) return "<td></td>";
			const shade = cellShade(cell);
			return `<td><button type="button" data-cell="${e(sectionId.get(cell.id) ?? "")}" data-shade="${shade}" style="background:${COLOURS[shade]}" title="${e(cell.id)}: ${shade}">${e(shade)}<div class="counts">${e(countsText(cell))}</div></button></td>`;
		});
		return `<tr><th scope="row">${e(label)}</th>${tds.join("")}</tr>`;
	});
	const grid = `<table class="grid"><thead>${gridHead(view.targets)}</thead><tbody>${rows.join("")}</tbody></table>`;
	const legend = `<p class="legend">${(Object.keys(COLOURS) as CellShade[]).map((s) => `<span style="background:${COLOURS[s]}">${e(s)}</span>`).join("")}</p>`;
	const sections = view.cells.map((cell) => cellSection(view, cell, sectionId.get(cell.id) ?? ""));
	const outcome = view.outcome === "completed" ? "" : ` — run ${view.outcome}, results so far`;
	return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>kvm-matrix ${e(view.matrix)} ${e(view.runId)}</title><style>${STYLE}</style></head>
<body>
<h1>kvm-matrix: ${e(view.matrix)}, run ${e(view.runId)}</h1>
<p class="decision ${view.decision.red ? "red" : "green"}">${e(view.decision.line)}${e(outcome)}</p>
${grid}
${legend}
<p>Click a cell for its tests, verdicts, evidence and logs.</p>
${sections.join("\n")}
<script>${SCRIPT}</script>
</body></html>
`;
}

function cellSection(view: RunView, cell: CellSummary, id: string): string {
	const e = escapeHtml;
	const failure =
		cell.failure === undefined
			? ""
			: `<p><strong>${e(cell.failure.stage)} failed:</strong> ${e(cell.failure.reason)}</p>${cell.failure.evidence.length === 0 ? "" : `<pre>${e(cell.failure.evidence.join("\n"))}</pre>`}`;
	const notes = cell.notes.length === 0 ? "" : `<ul>${cell.notes.map((n) => `<li>${e(n)}</li>`).join("")}</ul>`;
	// Failures first: they are what a click on a red cell is for.
	const order = (r: CellSummary["results"][number]) => (r.status === "pass" ? 2 : r.status === "skip" ? 1 : 0);
	const results = [...cell.results].sort((a, b) => order(a) - order(b));
	const rows = results.map((r) => {
		const tail = view.logTails.get(tailKey(cell.id, r));
		const evidence = r.explanation ?? r.detail ?? "";
		const details = r.verdict === undefined ? [] : evidenceDetails(r.verdict);
		const folded =
			details.length === 0
				? ""
				: `<details class="evidence"><summary>evidence (${details.length})</summary><ul>${details.map((d) => `<li>${e(d)}</li>`).join("")}</ul></details>`;
		return `<tr class="result" data-status="${e(r.status)}"><td>${e(`${r.suite}:${r.testId}`)}</td><td class="status-${e(r.status)}">${e(r.status)}</td><td>${e(r.verdict?.verdict ?? "")}</td><td>${e(evidence)}${folded}${tail === undefined ? "" : `<details><summary>log tail</summary><pre>${e(tail)}</pre></details>`}</td><td>${(r.durationMs / 1000).toFixed(1)} s</td></tr>`;
	});
	const table =
		rows.length === 0
			? "<p>No test results.</p>"
			: `<table><thead><tr><th>test</th><th>status</th><th>verdict</th><th>evidence</th><th>time</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
	return `<section class="cell" id="${e(id)}" hidden><h2>${e(cell.id)}</h2><p>kernel ${e(cell.kernel.id)}${cell.kernel.sha === undefined ? "" : ` (${e(cell.kernel.sha)})`}, target ${e(cell.target)}, ${e(cell.state)}: ${e(countsText(cell))}${cell.carried === undefined ? "" : ` (carried from run ${e(cell.carried.run)}: not run again, nothing it depends on changed)`}</p>${failure}${notes}${table}</section>`;
}
