import {
	type CellSummary,
	cacheRoot,
	ExplainError,
	explainTest,
	type PatchDependency,
	RunSetupError,
	type RunView,
	readRunView,
	SourceError,
	type TestExplanation,
	type TypedLink,
	targetParts,
	targetText,
} from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { loadOrReport } from "./load.js";

const SOURCES: Readonly<Record<TestExplanation["sources"]["basis"], string>> = {
	build: "from the build",
	makefile: "from the Makefile rules; not built, so included files are not known",
	"image-name": "from the test's name; no build or Makefile rule to read",
};

/** `needs "subject" (<msgid>): in next (74f0ea7e), stable (1d83a19f, cherry-pick); not in master` */
export function dependencyLine(d: PatchDependency): string {
	const id = d.messageId ?? d.link;
	if (d.posted !== undefined)
		return `needs "${d.subject}" (${id}): posted${d.posted.date === undefined ? "" : ` ${d.posted.date.slice(0, 10)}`}, not applied in any configured tree`;
	const held = d.in.map((h) => `${h.branch} (${h.sha.slice(0, 8)}${h.cherryPick ? ", cherry-pick" : ""})`);
	const parts = [held.length === 0 ? "in no configured branch" : `in ${held.join(", ")}`];
	if (d.notIn.length > 0) parts.push(`not in ${d.notIn.join(", ")}`);
	if (d.unknown.length > 0) parts.push(`git could not tell for ${d.unknown.join(", ")}`);
	return `needs "${d.subject}" (${id}): ${parts.join("; ")}`;
}

/** One typed link, for `--all`. */
function linkLine(l: TypedLink): string {
	const text = targetText(l.target);
	switch (l.role) {
		case "fix":
			return `fix: ${text} → ${l.patches
				.flatMap((p) => p.commits.slice(0, 1))
				.map((c) => `${c.tree} ${c.sha.slice(0, 12)}`)
				.join(", ")} (by ${l.matchedBy}; ${l.patches.length} patch${l.patches.length === 1 ? "" : "es"})`;
		case "posted":
			return `fix: ${text}, a KVM patch on lore applied in no configured tree ("${l.subject}")`;
		case "own-posting":
			return `its own posting: ${text}`;
		case "own-series":
			return `a patch of its own series: ${text}`;
		case "earlier-posting":
			return `an earlier posting of a kvm-unit-tests patch: ${text} ("${l.subject}")`;
		case "reply":
			return `a reply on the list: ${text}`;
		case "bug-report":
			return `a bug report: ${text}`;
		case "unresolved":
			return `unresolved: ${text}, ${l.note}`;
	}
}

/**
 * The test's results in a run, a line per kernel and target; on the `params` axis the sets that
 * ended alike are named together: `kvm@next/tcg: fail (new-failure) with ept-off, npt-off; pass with default`.
 */
export function runLines(view: Pick<RunView, "cells">, test: string): string[] {
	const places = new Map<string, Map<string, string[]>>();
	for (const cell of view.cells) {
		const r = cell.results.find((x) => `${x.suite}:${x.testId}` === test);
		const outcome =
			r === undefined ? notRun(cell) : `${r.status}${r.verdict === undefined ? "" : ` (${r.verdict.verdict})`}`;
		if (outcome === undefined) continue;
		const { target, params } = targetParts(cell.target);
		const place = `${cell.kernel.id}/${target}`;
		const byOutcome = places.get(place) ?? new Map<string, string[]>();
		byOutcome.set(outcome, [...(byOutcome.get(outcome) ?? []), ...(params === undefined ? [] : [params])]);
		places.set(place, byOutcome);
	}
	return [...places].map(
		([place, byOutcome]) =>
			`${place}: ${[...byOutcome].map(([outcome, sets]) => (sets.length === 0 ? outcome : `${outcome} with ${sets.join(", ")}`)).join("; ")}`,
	);
}

/** A cell that never got to the test: said, so a missing result is not read as a pass. */
const notRun = (cell: CellSummary) =>
	cell.state === "done"
		? undefined
		: `not run (cell ${cell.state}${cell.failure === undefined ? "" : `: ${cell.failure.reason}`})`;

/** `kvm-matrix explain TEST --matrix FILE [--all]`: the test's KVM patches and where each is merged. */
export async function explainCommand(
	test: string,
	options: { readonly matrix: string; readonly all?: boolean; readonly lore?: string; readonly run?: string },
	io: CliIo,
): Promise<ExitCode> {
	const matrix = await loadOrReport(options.matrix, io);
	if (matrix === undefined) return EXIT.usage;
	try {
		const e = await explainTest(
			test,
			matrix,
			cacheRoot(io.env),
			options.lore === undefined ? {} : { lore: options.lore },
		);
		io.stdout(`${e.test} (from ${e.source}; sources ${e.sources.files.join(", ")}, ${SOURCES[e.sources.basis]})\n`);
		if (e.dependencies.length === 0) io.stdout("  links no KVM patch in the configured trees\n");
		for (const d of e.dependencies) io.stdout(`  ${dependencyLine(d)}\n`);
		for (const u of e.unresolved) io.stdout(`  linked ${u.link}, ${u.note}\n`);
		if (options.all) {
			io.stdout(`every commit that touched it (${e.testCommits.length}):\n`);
			for (const c of e.testCommits) {
				io.stdout(`  ${c.sha.slice(0, 12)} ${c.subject}\n`);
				if (c.links.length === 0) io.stdout("    no links\n");
				for (const l of c.links) io.stdout(`    ${linkLine(l)}\n`);
			}
		}
		if (options.run !== undefined) {
			const view = readRunView(options.run);
			const lines = runLines(view, e.test);
			io.stdout(`in run ${view.runId}:${lines.length === 0 ? " not run" : ""}\n`);
			for (const line of lines) io.stdout(`  ${line}\n`);
		}
		return EXIT.ok;
	} catch (error) {
		if (error instanceof ExplainError || error instanceof SourceError || error instanceof RunSetupError) {
			io.stderr(`kvm-matrix explain: ${error.message}\n`);
			return EXIT.usage;
		}
		throw error;
	}
}
