import picomatch from "picomatch";
import { isFailingStatus, testKey } from "../events/attempts.js";
import type { TestResult } from "../events/types.js";
import type { MatchedBy } from "../links/typing.js";
import type { PassingKernel, Relation } from "./across.js";

/** One KVM patch a failing test depends on, as it stands for the kernel under test. */
export interface FixEvidence {
	/** How the test links it: a message-id, or `commit <sha> ("subject")`. */
	readonly link: string;
	/** Which patch of what the link stands for: what `Pass.lacks` lists. */
	readonly patch: string;
	/** The patch's own subject. */
	readonly subject: string;
	/** The patch's commit: here when the kernel has it, else in the first configured branch that has it. */
	readonly commit?: string;
	readonly matchedBy?: MatchedBy;
	/** `posted`: a KVM patch on lore that no configured tree has applied. */
	readonly status: "missing" | "contained" | "posted" | "unknown";
	/** The configured branches that have it. */
	readonly in: readonly string[];
	readonly date?: string;
	/** Why git could not tell, for `unknown`. */
	readonly reason?: string;
}

/** A kernel on which the test passed, with the missing patches (their `patch` keys) it lacks too. */
export type Pass = PassingKernel & { readonly lacks: readonly string[] };

/**
 * What a verdict does not know, kept apart from what decided it: the line a person pastes names
 * only how many links resolved nowhere; JSON and the folded parts of reports keep every one.
 */
export interface Unknowns {
	/** Links that resolve in no configured tree (`<msgid>, not found in any configured tree`). */
	readonly unresolved?: readonly string[];
	/** How the test's sources were found, when not from its build. */
	readonly caveats?: readonly string[];
}

/** DESIGN.md's verdicts: exactly one per non-passing result. */
export type Verdict =
	| { readonly verdict: "infra"; readonly evidence: { readonly reason: string } }
	| { readonly verdict: "known"; readonly evidence: { readonly issue: KnownIssue } }
	| {
			readonly verdict: "flaky";
			readonly evidence: {
				/** This run's attempts, in order. */
				readonly attempts: readonly TestResult["status"][];
				/** Earlier runs on the same kernel build and target that both passed and failed it. */
				readonly history?: FlakyHistory;
			};
	  }
	| {
			readonly verdict: "pending-fix";
			readonly evidence: Unknowns & {
				/** The linked patches the kernel lacks; empty when only the evidence across kernels decided. */
				readonly fixes: readonly FixEvidence[];
				/** A kernel descending from this one on which the test passes. */
				readonly fixedIn?: Pass;
				/** The kernel under test's commit, for the ranges. */
				readonly here?: string;
				readonly notes: readonly string[];
			};
	  }
	| {
			readonly verdict: "regression";
			readonly evidence: Unknowns & {
				/** An ancestor on which the test passed, or the baseline. */
				readonly passed: Pass | BaselineResult;
				readonly here?: string;
				readonly notes: readonly string[];
				/** What `--bisect-regressions` found between `passed` and `here`. */
				readonly bisected?: Bisected;
			};
	  }
	| {
			readonly verdict: "still-failing";
			readonly evidence: Unknowns & { readonly baseline: BaselineResult; readonly notes: readonly string[] };
	  }
	| { readonly verdict: "new-failure"; readonly evidence: Unknowns & { readonly notes: readonly string[] } }
	| CellVerdict;

/**
 * A kernel that built (booted) in an earlier run of the same cell, or on the baseline kernel, and
 * now does not: the whole cell's verdict, red by default, since no test of it could run.
 */
export interface CellVerdict {
	readonly verdict: "build-regression" | "boot-regression";
	readonly evidence: {
		/** The compiler's first errors, or how the boot ended and the console's last lines. */
		readonly lines: readonly string[];
		readonly reason: string;
		/** Where the kernel last built (booted): an earlier run of the cell, or the baseline kernel. */
		readonly passed: { readonly kernel: string; readonly sha?: string; readonly run?: string };
		readonly here?: string;
	};
}

/** The key a cell's own verdict has among its tests' in the journal's `verdicts` record. */
export const CELL_VERDICT_KEY = "cell:kernel";

/** A regression's bisection: the first bad commit, or why there is none. */
export interface Bisected {
	/** The bisection's directory (its steps' runs, `kvm-matrix bisect --resume` continues it). */
	readonly dir: string;
	readonly commit?: {
		readonly sha: string;
		readonly subject: string;
		readonly author?: string;
		/** Its `Link:` trailers' targets. */
		readonly links: readonly string[];
		/** The people its trailers name. */
		readonly people: readonly string[];
	};
	/** The first bad commit was found for another test of the same range and checked for this one. */
	readonly shared?: true;
	/** Why no single commit: the steps ran out, untestable commits, the build budget. */
	readonly why?: string;
}

/** What the history index said of a test on one kernel build and target, this run included. */
export interface FlakyHistory {
	/** The kernel build and test suites the runs share (history/rows.ts `revisionOf`). */
	readonly revision: string;
	readonly target: string;
	/** Runs that passed or failed it, this one included. */
	readonly runs: number;
	/** Of those, the runs it failed in (a pass after a retry included). */
	readonly failed: number;
	/** The earlier runs, oldest first, with what it did in each. */
	readonly seen: readonly { readonly run: string; readonly status: TestResult["status"]; readonly retried?: true }[];
	/** The verdict it would have had without its history. */
	readonly instead: "regression" | "new-failure" | "still-failing";
}

export interface KnownIssue {
	/** Glob over `suite:testId` (`kut:vmx*`, `selftests:x86_64/*`). */
	readonly test: string;
	/** Glob over kernel ids; all kernels when absent. */
	readonly kernel?: string;
	readonly bug?: string;
	readonly reason: string;
}

export interface BaselineResult {
	readonly kernel: string;
	readonly sha?: string;
	readonly status: TestResult["status"];
	/** The earlier run it comes from, for `baseline: previous-run`. */
	readonly run?: string;
	/** `base..sha`: the commits between the baseline kernel and the kernel under test. */
	readonly range?: string;
	/** How the baseline relates to the kernel under test, when git could tell. */
	readonly relation?: Relation;
	/** The missing patches (their `patch` keys) the baseline lacks too. */
	readonly lacks?: readonly string[];
}

export interface Classifiable {
	readonly cell: string;
	readonly kernel: string;
	readonly result: TestResult;
	/** The kernel's commit, when known: ranges in the evidence start or end there. */
	readonly sha?: string;
	/** Earlier attempts' statuses, oldest first, when the test was retried. */
	readonly attempts?: readonly TestResult["status"][];
}

export interface Knowledge {
	readonly knownIssues: readonly KnownIssue[];
	/** The test's fix dependencies as they stand for this cell's kernel (`suite:testId` → fixes). */
	readonly fixes: (cell: string, testKey: string) => readonly FixEvidence[];
	/** Links that resolved to nothing (`<msgid>, not found in any configured tree`): shown, never deciding. */
	readonly unresolved?: (cell: string, testKey: string) => readonly string[];
	/** What else is not known about the test's links (how its sources were found), in words. */
	readonly caveats?: (cell: string, testKey: string) => readonly string[];
	/** Other kernels (same target) on which the test passed. */
	readonly passes?: (cell: string, testKey: string) => readonly Pass[];
	/** The same test on the baseline, same target. */
	readonly baseline: (cell: string, testKey: string) => BaselineResult | undefined;
}

export { testKey };

const closest = (passes: readonly Pass[], kind: "descendant" | "ancestor") =>
	passes
		.filter((p) => p.relation.kind === kind)
		.sort(
			(a, b) => (a.relation.kind === kind ? a.relation.count : 0) - (b.relation.kind === kind ? b.relation.count : 0),
		)[0];

/**
 * The verdict for one non-passing result (undefined for a pass or a skip). Pure and ordered: a
 * retry that passed (flaky), infrastructure (the test never really ran, or git could not say
 * whether a fix is in), what a human already explained (known issue); then the linked fixes the
 * kernel lacks — unless a kernel that lacks them too passed, which means they do not explain the
 * failure; then the evidence across kernels (passes on a descendant: fixed there; on an ancestor:
 * broken since); and only then the baseline decides between regression, still-failing and
 * new-failure. An unresolved link never decides anything: it is shown.
 */
export function classify(item: Classifiable, knowledge: Knowledge): Verdict | undefined {
	const { result } = item;
	const attempts = item.attempts ?? [];
	// A failure that a retry turned into a pass is the one passing result that still gets a verdict.
	if (attempts.some(isFailingStatus) && result.status === "pass") {
		return { verdict: "flaky", evidence: { attempts: [...attempts, result.status] } };
	}
	if (result.status === "pass" || result.status === "skip") return undefined;
	if (result.status === "error")
		return { verdict: "infra", evidence: { reason: result.detail ?? "the test could not run" } };
	const key = testKey(result);
	const issue = knowledge.knownIssues.find(
		(k) =>
			picomatch(k.test, { bash: true })(key) &&
			(k.kernel === undefined || picomatch(k.kernel, { bash: true })(item.kernel)),
	);
	if (issue !== undefined) return { verdict: "known", evidence: { issue } };

	const fixes = knowledge.fixes(item.cell, key);
	const unknown = fixes.find((f) => f.status === "unknown");
	if (unknown !== undefined) return { verdict: "infra", evidence: { reason: unknown.reason ?? "git failed" } };
	const passes = knowledge.passes?.(item.cell, key) ?? [];
	const baseline = knowledge.baseline(item.cell, key);
	const notes: string[] = [];

	// A patch explains the failure only if no kernel that lacks it passed.
	const passedWithout = (f: FixEvidence) =>
		[...passes, ...(baseline?.status === "pass" ? [baseline] : [])].find((p) => p.lacks?.includes(f.patch));
	const missing = fixes.filter((f) => f.status === "missing" || f.status === "posted");
	const explaining = missing.filter((f) => passedWithout(f) === undefined);
	for (const f of missing) {
		const without = passedWithout(f);
		if (without !== undefined) notes.push(`passed on ${without.kernel} without ${fixName(f)}`);
	}
	// What is not known is kept apart: links that resolved to nothing, how the sources were found.
	const unresolved = knowledge.unresolved?.(item.cell, key) ?? [];
	const caveats = knowledge.caveats?.(item.cell, key) ?? [];
	const unknowns: Unknowns = {
		...(unresolved.length === 0 ? {} : { unresolved }),
		...(caveats.length === 0 ? {} : { caveats }),
	};
	const descendant = closest(passes, "descendant");
	const ancestor = closest(passes, "ancestor");
	const here = item.sha === undefined ? {} : { here: item.sha };
	if (explaining.length > 0) {
		return {
			verdict: "pending-fix",
			evidence: {
				fixes: explaining,
				...(descendant === undefined ? {} : { fixedIn: descendant }),
				...here,
				notes,
				...unknowns,
			},
		};
	}
	if (descendant !== undefined) {
		if (ancestor !== undefined)
			notes.push(`it passed on ${ancestor.kernel} (${ancestor.sha.slice(0, 12)}), an ancestor`);
		return { verdict: "pending-fix", evidence: { fixes: [], fixedIn: descendant, ...here, notes, ...unknowns } };
	}
	if (ancestor !== undefined)
		return { verdict: "regression", evidence: { passed: ancestor, ...here, notes, ...unknowns } };
	if (baseline?.status === "pass")
		return { verdict: "regression", evidence: { passed: baseline, ...here, notes, ...unknowns } };
	if (baseline !== undefined) return { verdict: "still-failing", evidence: { baseline, notes, ...unknowns } };
	// Passes on kernels that neither contain nor descend from this one: evidence, not a verdict.
	const diverged = passes.map((p) => `passes on ${where(p)}${rangeText(p.relation, p.sha, item.sha)}`);
	return { verdict: "new-failure", evidence: { notes: [...diverged, ...notes], ...unknowns } };
}

const short = (s: string) => s.slice(0, 12);

/** A subject as the line quotes it: long ones cut (JSON keeps them whole), so the line stays pasteable. */
const MAX_SUBJECT = 80;
const quoted = (subject: string) =>
	`"${subject.length > MAX_SUBJECT ? `${subject.slice(0, MAX_SUBJECT - 1).trimEnd()}…` : subject}"`;

const fixName = (f: Pick<FixEvidence, "commit" | "subject" | "link">) =>
	f.commit === undefined ? `${quoted(f.subject)} (${f.link})` : `${short(f.commit)} (${quoted(f.subject)})`;

/** At most three branch names, then how many more: the JSON has them all. */
function branchList(names: readonly string[], shown = 3): string {
	if (names.length === 0) return "in no configured branch";
	return `in ${names.slice(0, shown).join(", ")}${names.length > shown ? ` +${names.length - shown} more` : ""}`;
}

/** The line a person pastes is aimed to stay under this; what it leaves out is in the JSON. */
const LINE_AIM = 200;

/**
 * The patches a kernel lacks, each sha with its own subject: two at most, then how many more.
 * Patches that are in the same branches say so once.
 */
function fixesText(fixes: readonly FixEvidence[], branches = 3): string {
	const posted = fixes.filter((f) => f.status === "posted");
	const applied = fixes.filter((f) => f.status !== "posted");
	const parts: string[] = [];
	const shown = applied.slice(0, 2);
	if (shown.length > 0) {
		const same = shown.every((f) => f.in.join() === shown[0]?.in.join());
		parts.push(
			same
				? `${shown.map(fixName).join(", ")}, ${branchList(shown[0]?.in ?? [], branches)}`
				: shown.map((f) => `${fixName(f)}, ${branchList(f.in, branches)}`).join("; "),
		);
	}
	for (const f of posted.slice(0, Math.max(0, 2 - shown.length)))
		parts.push(
			`${quoted(f.subject)} (${f.link}), posted${f.date === undefined ? "" : ` ${f.date.slice(0, 10)}`}, not applied in any configured tree`,
		);
	const more = fixes.length - Math.min(fixes.length, 2);
	return `needs ${parts.join("; ")}${more > 0 ? `; and ${more} more patch${more === 1 ? "" : "es"}` : ""}`;
}

/** `kvm@next (0123456789ab)`, or `kvm@next (0123456789ab) in run 20261125-101010-nightly`. */
function where(b: { readonly kernel: string; readonly sha?: string; readonly run?: string }): string {
	return `${b.kernel}${b.sha === undefined ? "" : ` (${b.sha.slice(0, 12)})`}${b.run === undefined ? "" : ` in run ${b.run}`}`;
}

/**
 * The commits between a kernel the test passed on (`there`) and the kernel under test (`here`):
 * one range when one contains the other, both ranges from the merge base when they diverged.
 */
function rangeText(r: Relation | undefined, there: string | undefined, here: string | undefined, legacy?: string) {
	if (r === undefined) {
		// Results written before relations were recorded carry the plain range.
		if (legacy === undefined) return "";
		const [from = "", to = ""] = legacy.split("..");
		return from === to ? "; same commit" : `; commits ${short(from)}..${short(to)}`;
	}
	switch (r.kind) {
		case "same":
			return "; same commit";
		case "ancestor":
			return there === undefined || here === undefined ? "" : `; commits ${short(there)}..${short(here)} (${r.count})`;
		case "descendant":
			return there === undefined || here === undefined
				? ""
				: `; the fix is among the ${r.count} commits ${short(here)}..${short(there)}`;
		case "diverged": {
			const base = short(r.mergeBase);
			if (there === undefined || here === undefined) return `; diverged at ${base}`;
			return `; diverged at ${base}: ${r.here} commits ${base}..${short(here)} here, ${r.there} ${base}..${short(there)} there`;
		}
		case "unrelated":
			return `; ${r.reason}`;
	}
}

const notesText = (notes: readonly string[]) => notes.map((n) => `; ${n}`).join("");

/**
 * What is not known, as one clause: how many links resolve nowhere, and where to see them. How
 * the sources were found matters only where no link decided (`withCaveats`): a link missed there
 * could have been the answer.
 */
function unknownsText(u: Unknowns, test: string | undefined, withCaveats = false): string {
	const n = u.unresolved?.length ?? 0;
	const links =
		n === 0
			? ""
			: `; ${n} link${n === 1 ? "" : "s"} unresolved${test === undefined ? "" : `: kvm-matrix explain ${test} --all`}`;
	return `${links}${withCaveats ? (u.caveats ?? []).map((c) => `; ${c}`).join("") : ""}`;
}

/**
 * One line for a person to paste: the verdict, then what decided it, then what is not known.
 * `test` (`kut:vmx`) names the command that shows the rest.
 */
export function describeVerdict(v: Verdict, test?: string): string {
	switch (v.verdict) {
		case "infra":
			return `infra: ${v.evidence.reason}`;
		case "known":
			return `known: ${v.evidence.issue.reason}${v.evidence.issue.bug === undefined ? "" : ` (${v.evidence.issue.bug})`}`;
		case "flaky": {
			const h = v.evidence.history;
			if (h === undefined) return `flaky: ${v.evidence.attempts.join(" → ")}`;
			const first = h.seen[0]?.run;
			return `flaky: failed ${h.failed} of ${h.runs} runs on this kernel and target (${Math.round((100 * h.failed) / h.runs)}%)${first === undefined ? "" : ` since run ${first}`}; not a ${h.instead}`;
		}
		case "pending-fix": {
			const { fixes, fixedIn, notes, here } = v.evidence;
			const rest = `${notesText(notes)}${unknownsText(v.evidence, test)}`;
			if (fixes.length > 0) {
				// The pass agrees with the fix; its commit is in the JSON. Over the aim, the branches
				// that have the fix are counted after the first, then the agreeing pass is left out.
				const there = fixedIn === undefined ? "" : `; passes on ${fixedIn.kernel}`;
				const lines = [
					`pending-fix: ${fixesText(fixes)}${there}${rest}`,
					`pending-fix: ${fixesText(fixes, 1)}${there}${rest}`,
					`pending-fix: ${fixesText(fixes, 1)}${rest}`,
				];
				return lines.find((l) => l.length < LINE_AIM) ?? (lines.at(-1) as string);
			}
			if (fixedIn === undefined) return `pending-fix${rest}`;
			return `pending-fix: passes on ${where(fixedIn)}${rangeText(fixedIn.relation, fixedIn.sha, here)}${rest}`;
		}
		case "regression": {
			const { passed: p, here, notes, bisected } = v.evidence;
			const legacy = "range" in p ? p.range : undefined;
			const first =
				bisected?.commit === undefined
					? ""
					: `first bad commit ${bisected.commit.sha.slice(0, 12)} ("${bisected.commit.subject}"); `;
			return `regression: ${first}passed on ${where(p)}${rangeText(p.relation, p.sha, here, legacy)}${notesText(notes)}${unknownsText(v.evidence, test)}`;
		}
		case "still-failing":
			return `still-failing: ${v.evidence.baseline.status} on ${where(v.evidence.baseline)} too${notesText(v.evidence.notes)}${unknownsText(v.evidence, test)}`;
		case "new-failure":
			return `new-failure: no baseline result and no linked fix; needs a human${notesText(v.evidence.notes)}${unknownsText(v.evidence, test, true)}`;
		case "build-regression":
		case "boot-regression": {
			const { passed, here, lines, reason } = v.evidence;
			const did = v.verdict === "build-regression" ? "built" : "booted";
			const range =
				passed.sha !== undefined && here !== undefined && passed.sha !== here
					? `; commits ${passed.sha.slice(0, 12)}..${here.slice(0, 12)}`
					: "";
			return `${v.verdict}: ${did} on ${where(passed)}${range}; ${lines[0] ?? reason}`;
		}
	}
}
