// Verdict accuracy on the real shapes of FACTS.md: bench/verdicts/build.ts builds every case of
// bench/verdicts/cases.ts (plain data) into its git trees, then this runs the real CLI
// (`kvm-matrix classify --results ... --matrix ... --json`) and compares each verdict with its label.
// One line per label, then one summary line; exit 0 when all are right.
// Run: pnpm build && pnpm bench:verdicts
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { type BuiltCase, buildCase, type Label, type VerdictCase } from "./verdicts/build.js";
import { CASES } from "./verdicts/cases.js";
import { startLoreServer } from "./verdicts/lore-server.js";

const CLI = fileURLToPath(new URL("../packages/tui/bin/kvm-matrix.js", import.meta.url));
const REPO = fileURLToPath(new URL("../", import.meta.url));

/** One entry of `classify --json`. */
interface JsonVerdict {
	readonly kernel: string;
	readonly test: string;
	readonly status?: string;
	readonly verdict: string;
	readonly evidence?: string;
}

/** One label against what the CLI said. */
export interface Check {
	readonly case: string;
	readonly label: Label;
	/** The verdict given, `none` when the result was not listed, `error` when the CLI failed. */
	readonly got: string;
	readonly evidence: string;
	/** Evidence strings the label wants that are missing. */
	readonly missing: readonly string[];
	readonly ok: boolean;
}

/** Builds one case under `root/<name>`, runs the CLI on it (with a lore stand-in when the case has mails). */
export async function runCase(c: VerdictCase, root: string): Promise<Check[]> {
	const dir = path.join(root, c.name);
	rmSync(dir, { recursive: true, force: true });
	mkdirSync(dir, { recursive: true });
	const built = await buildCase(c, dir);
	const lore = built.lore === undefined ? undefined : await startLoreServer(built.lore);
	try {
		// Another repository, also called `kvm`, classified first on the same cache: its own answers too.
		const first = built.before;
		const before =
			first === undefined
				? []
				: await classify(first, dir, lore?.url).then((answer) =>
						first.labels.map((label) => judge(`${c.name} (the other repository, first)`, label, answer)),
					);
		const answer = await classify(built, dir, lore?.url);
		return [...before, ...built.labels.map((label) => judge(c.name, label, answer))];
	} finally {
		await lore?.close();
	}
}

export type Answer =
	| { readonly ok: true; readonly results: readonly JsonVerdict[] }
	| { readonly ok: false; readonly error: string };

async function classify(
	built: Pick<BuiltCase, "results" | "matrix">,
	dir: string,
	loreUrl: string | undefined,
): Promise<Answer> {
	const args = [
		CLI,
		"classify",
		...built.results.flatMap((r) => ["--results", `${r.kernel}=${r.file}`]),
		"--matrix",
		built.matrix,
		"--json",
		...(loreUrl === undefined ? [] : ["--lore", loreUrl]),
	];
	const run = await execa("node", args, {
		cwd: REPO,
		reject: false,
		env: { NO_COLOR: "1", FORCE_COLOR: "0", KVM_MATRIX_CACHE: path.join(dir, "cache") },
	});
	const firstLine = (text: string) => text.trim().split("\n")[0] ?? "";
	if (run.exitCode !== 0 && run.exitCode !== 1)
		return { ok: false, error: `exit ${run.exitCode}: ${firstLine(run.stderr) || firstLine(run.stdout)}` };
	try {
		const parsed = JSON.parse(run.stdout) as { results?: unknown };
		if (!Array.isArray(parsed.results)) return { ok: false, error: "no results array in the JSON output" };
		return { ok: true, results: parsed.results as JsonVerdict[] };
	} catch {
		return { ok: false, error: `not JSON: ${firstLine(run.stdout) || firstLine(run.stderr)}` };
	}
}

/** A label against the CLI's answer (pure). */
export function judge(name: string, label: Label, answer: Answer): Check {
	if (!answer.ok) return { case: name, label, got: "error", evidence: answer.error, missing: [], ok: false };
	const entry = answer.results.find((r) => r.kernel === label.kernel && r.test === label.test);
	const got = entry?.verdict ?? "none";
	const evidence = entry?.evidence ?? "";
	const missing = [
		...(label.evidence ?? []).filter((want) => !evidence.includes(want)),
		...(label.absent ?? []).filter((unwanted) => evidence.includes(unwanted)).map((u) => `no ${u}`),
	];
	return { case: name, label, got, evidence, missing, ok: got === label.verdict && missing.length === 0 };
}

/** `ok|WRONG  <case>  <kernel> <test>: expected <v>, got <v> — <evidence>` */
export function checkLine(c: Check): string {
	const lacking =
		c.missing.length === 0 ? "" : ` (evidence lacks ${c.missing.map((m) => JSON.stringify(m)).join(", ")})`;
	return `${c.ok ? "ok" : "WRONG"}  ${c.case}  ${c.label.kernel} ${c.label.test}: expected ${c.label.verdict}, got ${c.got} — ${c.evidence || "(no evidence)"}${lacking}`;
}

/** `N/M verdicts right, F false pending-fix, R regressions missed` */
export function summaryLine(checks: readonly Check[]): string {
	const right = checks.filter((c) => c.ok).length;
	const falsePending = checks.filter((c) => c.got === "pending-fix" && c.label.verdict !== "pending-fix").length;
	const missed = checks.filter((c) => c.label.verdict === "regression" && c.got !== "regression").length;
	return `${right}/${checks.length} verdicts right, ${falsePending} false pending-fix, ${missed} regressions missed`;
}

/** Runs every case, `parallel` at a time; the checks in case order. */
export async function runCases(
	cases: readonly VerdictCase[],
	root: string,
	parallel = Math.max(2, os.availableParallelism()),
): Promise<Check[]> {
	const out: Check[][] = new Array(cases.length);
	let next = 0;
	const worker = async () => {
		while (next < cases.length) {
			const i = next++;
			const c = cases[i];
			if (c !== undefined) out[i] = await runCase(c, root);
		}
	};
	await Promise.all(Array.from({ length: Math.min(parallel, cases.length) }, worker));
	return out.flat();
}

async function main() {
	const root = mkdtempSync(path.join(os.tmpdir(), "bench-verdicts-"));
	try {
		const checks = await runCases(CASES, root);
		for (const c of checks) console.log(checkLine(c));
		console.log(summaryLine(checks));
		process.exitCode = checks.every((c) => c.ok) ? 0 : 1;
	} finally {
		if (process.env.KEEP_TREES === undefined) rmSync(root, { recursive: true, force: true });
		else console.error(`trees kept in ${root}`);
	}
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	main().catch((error: unknown) => {
		console.error(`bench:verdicts: ${error instanceof Error ? error.message : String(error)}`);
		process.exit(2);
	});
}
