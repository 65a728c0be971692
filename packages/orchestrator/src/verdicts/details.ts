/**
 * Everything a verdict's evidence holds, a line each: what the pasteable line (`describeVerdict`)
 * leaves out, counts or cuts short. Reports fold these under the line; JSON has the data itself.
 */
import type { FixEvidence, Unknowns, Verdict } from "./classify.js";

function fixDetail(f: FixEvidence): string {
	const where = f.in.length === 0 ? "in no configured branch" : `in ${f.in.join(", ")}`;
	if (f.status === "posted")
		return `needs "${f.subject}" (${f.link}): posted${f.date === undefined ? "" : ` ${f.date.slice(0, 10)}`}, not applied in any configured tree`;
	const linked = f.patch === f.link ? "" : `, linked as ${f.link}`;
	return `needs ${f.commit ?? "(no commit)"} "${f.subject}"${linked}: ${where}`;
}

function unknownDetails(u: Unknowns): string[] {
	return [...(u.unresolved ?? []).map((l) => `unresolved: ${l}`), ...(u.caveats ?? [])];
}

/** The verdict's evidence as lines, each whole (full shas, full subjects, every link). */
export function evidenceDetails(v: Verdict): string[] {
	switch (v.verdict) {
		case "infra":
		case "known":
			return [];
		case "build-regression":
		case "boot-regression": {
			const p = v.evidence.passed;
			return [
				`${v.verdict === "build-regression" ? "built" : "booted"} on ${p.kernel}${p.sha === undefined ? "" : ` (${p.sha})`}${p.run === undefined ? "" : ` in run ${p.run}`}`,
				...(v.evidence.here === undefined ? [] : [`now ${v.evidence.here}: ${v.evidence.reason}`]),
				...v.evidence.lines,
			];
		}
		case "flaky": {
			const h = v.evidence.history;
			if (h === undefined) return [];
			return [
				`on ${h.revision}, target ${h.target}`,
				...h.seen.map((s) => `run ${s.run}: ${s.retried === true ? "pass after a retry" : s.status}`),
				`this run: ${v.evidence.attempts.join(" → ")}`,
			];
		}
		case "pending-fix": {
			const { fixes, fixedIn, notes } = v.evidence;
			return [
				...fixes.map(fixDetail),
				...(fixedIn === undefined
					? []
					: [
							`passes on ${fixedIn.kernel} (${fixedIn.sha})${fixedIn.run === undefined ? "" : ` in run ${fixedIn.run}`}`,
						]),
				...notes,
				...unknownDetails(v.evidence),
			];
		}
		case "regression": {
			const p = v.evidence.passed;
			const sha = p.sha === undefined ? "" : ` (${p.sha})`;
			const b = v.evidence.bisected;
			const bisected =
				b === undefined
					? []
					: b.commit === undefined
						? [`bisected in ${b.dir}: ${b.why ?? "no single first bad commit"}`]
						: [
								`first bad commit ${b.commit.sha} ("${b.commit.subject}")${b.commit.author === undefined ? "" : ` by ${b.commit.author}`}${b.shared === true ? ", found for another test of the range and checked for this one" : ""}`,
								...b.commit.links.map((l) => `Link: ${l}`),
								`bisection: ${b.dir}`,
							];
			return [
				...bisected,
				`passed on ${p.kernel}${sha}${p.run === undefined ? "" : ` in run ${p.run}`}`,
				...v.evidence.notes,
				...unknownDetails(v.evidence),
			];
		}
		case "still-failing":
			return [...v.evidence.notes, ...unknownDetails(v.evidence)];
		case "new-failure":
			return [...v.evidence.notes, ...unknownDetails(v.evidence)];
	}
}
