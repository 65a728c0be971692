import {
	cacheRoot,
	ExplainError,
	explainTest,
	type PatchDependency,
	SourceError,
	type TestExplanation,
	type TypedLink,
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
			return `fix: ${text} → ${l.commits.map((c) => `${c.tree} ${c.sha.slice(0, 12)}`).join(", ")} (by ${l.matchedBy})`;
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

/** `kvm-matrix explain TEST --matrix FILE [--all]`: the test's KVM patches and where each is merged. */
export async function explainCommand(
	test: string,
	options: { readonly matrix: string; readonly all?: boolean; readonly lore?: string },
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
		return EXIT.ok;
	} catch (error) {
		if (error instanceof ExplainError || error instanceof SourceError) {
			io.stderr(`kvm-matrix explain: ${error.message}\n`);
			return EXIT.usage;
		}
		throw error;
	}
}
