import type { Job, Plan } from "@kvm-matrix/orchestrator";
import { countJobs } from "@kvm-matrix/orchestrator";
import type { Palette } from "./palette.js";

const KIND_LABEL: Record<Job["kind"], [string, string]> = {
	checkout: ["checkout", "checkouts"],
	"kernel-build": ["kernel build", "kernel builds"],
	"selftests-build": ["selftests build", "selftests builds"],
	"kut-build": ["KUT build", "KUT builds"],
};

const count = (n: number, [one, many]: [string, string]) => `${n} ${n === 1 ? one : many}`;
const pad = (text: string, width: number) => text.padEnd(width);

/** The plan as a person reads it: what runs, and what is built once for whom. */
export function renderPlanText(plan: Plan, paint: Palette): string {
	const counts = countJobs(plan);
	const kinds = (Object.keys(counts) as Job["kind"][]).filter((kind) => counts[kind] > 0);
	const lines = [
		`${paint.bold(plan.name)}: ${count(plan.cells.length, ["cell", "cells"])}, ${count(plan.jobs.length, ["job", "jobs"])} (${kinds
			.map((kind) => count(counts[kind], KIND_LABEL[kind]))
			.join(", ")})`,
	];
	if (plan.jobs.some((job) => job.revision.sha === undefined)) {
		lines.push(
			paint.dim(
				"Refs are not resolved by `plan`: jobs are keyed by tree@ref. A run resolves them to commits and shares jobs that land on the same commit.",
			),
		);
	}
	const cellWidth = Math.max(...plan.cells.map((c) => c.id.length));
	lines.push("", paint.bold("cells"));
	for (const cell of plan.cells) {
		const kernel = cell.kernel.kind === "prebuilt" ? `prebuilt ${cell.kernel.image}` : (cell.jobs.kernel ?? "");
		const rest = [cell.jobs.selftests, cell.jobs.kut].filter((j): j is string => j !== undefined);
		lines.push(`  ${paint.cyan(pad(cell.id, cellWidth))}  ${[kernel, ...rest].join("  ")}`);
	}
	const jobWidth = Math.max(...plan.jobs.map((j) => j.id.length));
	lines.push("", paint.bold("jobs"));
	for (const job of plan.jobs) {
		const users = plan.cells.filter((cell) => cell.needs.includes(job.id)).length;
		const needs = job.needs.length > 0 ? `after ${job.needs.join(", ")}` : "";
		lines.push(
			`  ${pad(job.id, jobWidth)}  ${paint.dim(`${count(users, ["cell", "cells"])}`)}${needs === "" ? "" : `  ${needs}`}`,
		);
	}
	return `${lines.join("\n")}\n`;
}
