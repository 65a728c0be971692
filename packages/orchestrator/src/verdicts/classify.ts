import picomatch from "picomatch";
import { isFailingStatus, testKey } from "../events/attempts.js";
import type { TestResult } from "../events/types.js";
import type { FixLocation } from "../links/fixes.js";

/** DESIGN.md's verdicts: exactly one per non-passing result. */
export type Verdict =
	| { readonly verdict: "infra"; readonly evidence: { readonly reason: string } }
	| { readonly verdict: "known"; readonly evidence: { readonly issue: KnownIssue } }
	| { readonly verdict: "flaky"; readonly evidence: { readonly attempts: readonly TestResult["status"][] } }
	| { readonly verdict: "pending-fix"; readonly evidence: { readonly fixes: readonly FixLocation[] } }
	| { readonly verdict: "regression"; readonly evidence: { readonly baseline: BaselineResult } }
	| { readonly verdict: "still-failing"; readonly evidence: { readonly baseline: BaselineResult } }
	| { readonly verdict: "new-failure"; readonly evidence: Record<string, never> };

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
}

export interface Classifiable {
	readonly cell: string;
	readonly kernel: string;
	readonly result: TestResult;
	/** Earlier attempts' statuses, oldest first, when the test was retried. */
	readonly attempts?: readonly TestResult["status"][];
}

export interface Knowledge {
	readonly knownIssues: readonly KnownIssue[];
	/** Where each of the test's fix dependencies stands for this cell's kernel (`suite:testId` → fixes). */
	readonly fixes: (cell: string, testKey: string) => readonly FixLocation[];
	/** The same test on the baseline, same target. */
	readonly baseline: (cell: string, testKey: string) => BaselineResult | undefined;
}

export { testKey };

/**
 * The verdict for one non-passing result (undefined for a pass or a skip). Pure and ordered:
 * a retry that passed (flaky), infrastructure (the test never really ran), what a human already
 * explained (known issue), then a fix the kernel lacks (pending-fix), and
 * only then the baseline decides between regression, still-failing and new-failure.
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
	const missing = knowledge.fixes(item.cell, key).filter((f) => f.kind === "not-contained" || f.kind === "not-applied");
	if (missing.length > 0) return { verdict: "pending-fix", evidence: { fixes: missing } };
	const baseline = knowledge.baseline(item.cell, key);
	if (baseline === undefined) return { verdict: "new-failure", evidence: {} };
	if (baseline.status === "pass") return { verdict: "regression", evidence: { baseline } };
	return { verdict: "still-failing", evidence: { baseline } };
}

/** One line for a person: the verdict and its evidence. */
export function describeVerdict(v: Verdict): string {
	switch (v.verdict) {
		case "infra":
			return `infra: ${v.evidence.reason}`;
		case "known":
			return `known: ${v.evidence.issue.reason}${v.evidence.issue.bug === undefined ? "" : ` (${v.evidence.issue.bug})`}`;
		case "flaky":
			return `flaky: ${v.evidence.attempts.join(" → ")}`;
		case "pending-fix":
			return `pending-fix: ${v.evidence.fixes
				.map((f) =>
					f.kind === "not-applied"
						? `posted on lore, not applied in any configured tree: https://lore.kernel.org/r/${f.messageId}`
						: f.kind === "not-contained"
							? `needs ${f.commit.slice(0, 12)} ("${f.subject}"), in ${f.containedIn.length === 0 ? "no configured branch" : f.containedIn.join(", ")}`
							: "",
				)
				.join("; ")}`;
		case "regression":
			return `regression: passed on ${where(v.evidence.baseline)}${range(v.evidence.baseline)}`;
		case "still-failing":
			return `still-failing: ${v.evidence.baseline.status} on ${where(v.evidence.baseline)} too`;
		case "new-failure":
			return "new-failure: no baseline result and no linked fix; needs a human";
	}
}

/** `kvm@next (0123456789ab)`, or `kvm@next (0123456789ab) in run 20261125-101010-nightly`. */
function where(b: BaselineResult): string {
	return `${b.kernel}${b.sha === undefined ? "" : ` (${b.sha.slice(0, 12)})`}${b.run === undefined ? "" : ` in run ${b.run}`}`;
}

/** The commits between baseline and kernel under test, or that there are none. */
function range(b: BaselineResult): string {
	if (b.range === undefined) return "";
	const [from = "", to = ""] = b.range.split("..");
	return from === to ? "; same commit" : `; commits ${from.slice(0, 12)}..${to.slice(0, 12)}`;
}
