// The one exit policy of every command that ends with verdicts (`run`, `resume`, `classify`,
// `ci merge`): only a real regression turns a run red unless the user asks for more with
// `--fail-on`. A pending fix, a known issue and a test failing on the baseline too are explained;
// a new failure, the harness failing and a flaky test are worth a look but not a red nightly by
// default, because a red that is not a regression teaches people to ignore red.
import type { Verdict } from "./classify.js";

export type VerdictName = Verdict["verdict"];

/** Every verdict, worst first: the order reports and the summary line use. */
export const VERDICT_NAMES = [
	"regression",
	"build-regression",
	"boot-regression",
	"new-failure",
	"infra",
	"flaky",
	"still-failing",
	"known",
	"pending-fix",
] as const satisfies readonly VerdictName[];

// A verdict added to classify.ts and not here fails the build, not a nightly.
type Missing = Exclude<VerdictName, (typeof VERDICT_NAMES)[number]>;
const covered: Missing extends never ? true : Missing = true;
void covered;

export type FailOn = ReadonlySet<VerdictName>;

/** Red whatever `--fail-on` says. */
export const ALWAYS_RED: VerdictName = "regression";

/** Red unless the user says otherwise: a nightly whose kernel stopped building or booting is broken. */
export const RED_BY_DEFAULT: readonly VerdictName[] = [ALWAYS_RED, "build-regression", "boot-regression"];

export const isVerdictName = (text: string): text is VerdictName => (VERDICT_NAMES as readonly string[]).includes(text);

/** `--fail-on new-failure,infra,flaky` (repeatable, comma-separated) as a set, or the first bad name. */
export function parseFailOn(
	values: readonly string[],
): { readonly ok: true; readonly failOn: FailOn } | { readonly ok: false; readonly error: string } {
	const failOn = new Set<VerdictName>(RED_BY_DEFAULT);
	for (const part of values.flatMap((v) => v.split(","))) {
		const name = part.trim();
		if (name === "") continue;
		if (!isVerdictName(name))
			return { ok: false, error: `--fail-on ${name}: not a verdict (one of ${VERDICT_NAMES.join(", ")})` };
		failOn.add(name);
	}
	return { ok: true, failOn };
}

export const DEFAULT_FAIL_ON: FailOn = new Set<VerdictName>(RED_BY_DEFAULT);

export type VerdictCounts = Readonly<Partial<Record<VerdictName, number>>>;

export interface ExitDecision {
	readonly red: boolean;
	/** The verdicts that made it red, worst first; empty when green. */
	readonly failing: readonly VerdictName[];
	/** One line that says why, for the end of a run and a CI log. */
	readonly line: string;
}

const plural = (n: number, word: string) => `${n} ${word}`;

/** Red or green from the verdict counts, and the line that says why. Pure. */
export function decideExit(counts: VerdictCounts, failOn: FailOn = DEFAULT_FAIL_ON): ExitDecision {
	const present = VERDICT_NAMES.filter((v) => (counts[v] ?? 0) > 0);
	const failing = present.filter((v) => RED_BY_DEFAULT.includes(v) || failOn.has(v));
	const listed = (names: readonly VerdictName[]) => names.map((v) => plural(counts[v] ?? 0, v)).join(", ");
	if (failing.length > 0) {
		const others = present.filter((v) => !failing.includes(v));
		const rest = others.length === 0 ? "" : ` (also ${listed(others)}, not failing the run)`;
		return { red: true, failing, line: `red: ${listed(failing)}${rest}` };
	}
	if (present.length === 0) return { red: false, failing, line: "green: nothing failed" };
	const would = present.filter((v) => v === "new-failure" || v === "infra" || v === "flaky");
	const hint = would.length === 0 ? "" : `; --fail-on ${would.join(",")} would make it red`;
	return { red: false, failing, line: `green: no regressions; ${listed(present)}${hint}` };
}
