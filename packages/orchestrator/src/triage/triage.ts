// The static half of triage: a bug report in, its failing tests classified against the reporter's
// kernel out, as `classify --results` would classify them. Nothing is built or booted. Every
// problem that stops it (no test named, no kernel found, a tree that cannot be read) is a
// TriageError of one line, raised before anything is printed.
import type { FinalResult } from "../events/attempts.js";
import { isFailingStatus } from "../events/attempts.js";
import { parseUnittestsCfg } from "../kut/unittests-cfg.js";
import { HistoryAnswers } from "../links/ancestry.js";
import type { Matrix, TreeSource } from "../matrix/types.js";
import { cachePaths } from "../paths/cache.js";
import { capture } from "../proc/run.js";
import { resolveRef, SourceError, syncTree } from "../sources/git.js";
import { relate } from "../verdicts/across.js";
import {
	classifyForeignResults,
	type ForeignClassified,
	ForeignResultsError,
	selftestIds,
} from "../verdicts/foreign.js";
import { extractFacts, reportKernelClues, testsAbout } from "./extract.js";
import { type ResolvedKernel, resolveReportedKernel, type TreeRepos } from "./kernel.js";
import type { Reproduction } from "./reproduce-run.js";
import {
	type BugReport,
	type KnownTests,
	type ReportedTest,
	type ReportFacts,
	TriageError,
	type TriagePartial,
} from "./types.js";

export interface TriageInput {
	readonly matrix: Matrix;
	readonly report: BugReport;
	readonly cacheRoot: string;
	/** `--kernel TREE@REF`: the kernel under test, whatever the report says. */
	readonly kernel?: string;
	/** `--test NAME`: the failing tests, whatever the report names (`xapic`, `x86_64/cpuid_test`). */
	readonly tests?: readonly string[];
	readonly lore?: string;
}

export interface TriageAnswer {
	readonly report: Omit<BugReport, "texts">;
	readonly facts: ReportFacts;
	readonly kernel: ResolvedKernel;
	/** The failing tests that were classified, as the report (or --test) named them. */
	readonly tests: readonly ReportedTest[];
	/**
	 * Each failure's verdict against the kernel found. When that kernel is only near the reporter's
	 * (a branch tip today, a tag near a distro release), a `pending-fix` carries a caveat: the
	 * reporter's own kernel may hold the fix.
	 */
	readonly verdicts: readonly (ForeignClassified & { readonly caveat?: string })[];
	/**
	 * When no link decided (or the report is about a skip): the configured kernels that descend from
	 * the reporter's, on which running the tests would settle it (`--reproduce`).
	 */
	readonly newer?: readonly { readonly kernel: string; readonly sha: string; readonly commits: number }[];
	/** With `--reproduce`: what the tests did when run again, kernel by kernel, and their verdicts. */
	readonly reproduction?: Reproduction;
}

const MAX_QUOTE = 300;
const quote = (text: string) => (text.length > MAX_QUOTE ? `${text.slice(0, MAX_QUOTE)}…` : text);
/** A test as the answer carries it: its evidence and failure lines quoted, never a whole attachment. */
const quoted = (t: ReportedTest): ReportedTest => ({
	...t,
	evidence: { ...t.evidence, text: quote(t.evidence.text) },
	failureLines: t.failureLines.map(quote),
});

const errorLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";

async function syncAll(matrix: Matrix, cacheRoot: string): Promise<TreeRepos> {
	const cache = cachePaths(cacheRoot);
	const trees = new Map<string, { source: TreeSource; repo: string }>();
	for (const [name, source] of matrix.trees) {
		try {
			trees.set(name, { source, repo: await syncTree(source, cache.mirrors) });
		} catch (error) {
			throw new TriageError(`tree ${name}: ${errorLine(error)}`);
		}
	}
	return trees;
}

async function knownTests(matrix: Matrix, trees: TreeRepos, kernel: ResolvedKernel | undefined): Promise<KnownTests> {
	const kut = matrix.suites.kut;
	let entries: KnownTests["kut"] = [];
	if (kut !== undefined) {
		const repo = trees.get(kut.tree)?.repo;
		if (repo !== undefined) {
			const sha = await resolveRef(repo, kut.tree, kut.ref).catch((error: unknown) => {
				throw new TriageError(errorLine(error));
			});
			const cfg = await capture("git", ["-C", repo, "show", `${sha}:x86/unittests.cfg`]).catch(() => "");
			entries = parseUnittestsCfg(cfg).entries.map((e) => ({
				name: e.name,
				file: e.file,
				...(e.testArgs === undefined ? {} : { testArgs: e.testArgs }),
			}));
		}
	}
	const st = matrix.suites.selftests?.source;
	const selftestsRepo = st?.kind === "tree" ? trees.get(st.tree)?.repo : trees.get(kernel?.tree ?? "")?.repo;
	const selftestsSha =
		st?.kind === "tree" && selftestsRepo !== undefined
			? await resolveRef(selftestsRepo, st.tree, st.ref).catch((error: unknown) => {
					throw new TriageError(errorLine(error));
				})
			: kernel?.sha;
	const selftests =
		selftestsRepo === undefined || selftestsSha === undefined ? [] : await selftestIds(selftestsRepo, selftestsSha);
	return { kut: entries, selftests };
}

/** A test named by `--test`: a KUT entry, or a selftest by its id or its basename. */
function testsFromOption(names: readonly string[], known: KnownTests): ReportedTest[] {
	return names.map((name) => {
		const evidence = { where: "--test", text: name };
		if (known.kut.some((e) => e.name === name)) return { suite: "kut", testId: name, evidence, failureLines: [] };
		const selftest = known.selftests.includes(name)
			? name
			: known.selftests.filter((id) => id.endsWith(`/${name}`)).length === 1
				? known.selftests.find((id) => id.endsWith(`/${name}`))
				: undefined;
		if (selftest !== undefined) return { suite: "selftests", testId: selftest, evidence, failureLines: [] };
		throw new TriageError(`--test ${name}: no such kvm-unit-tests entry or KVM selftest in the configured trees`);
	});
}

/** A reported failure as a result to classify: what the report said it did, `fail` when it only said so in words. */
function asResult(test: ReportedTest): FinalResult {
	const detail = test.failureLines[0];
	return {
		suite: test.suite,
		testId: test.testId,
		status: test.status ?? "fail",
		durationMs: 0,
		attempt: 1,
		...(detail === undefined ? {} : { detail }),
	};
}

export async function triageReport(input: TriageInput): Promise<TriageAnswer> {
	return (await triageWithTrees(input)).answer;
}

/** The static answer, and the trees it synced: what a reproduction goes on with. */
export async function triageWithTrees(input: TriageInput): Promise<{ answer: TriageAnswer; trees: TreeRepos }> {
	const { matrix, report } = input;
	const trees = await syncAll(matrix, input.cacheRoot);
	const chosen = await chooseKernel(input, trees, report);
	// The selftests a report can name are those of the kernel's tree (the first configured kernel's
	// when the report's is not known, so a missing test is still told apart from a missing kernel).
	const home = "kernel" in chosen ? chosen.kernel : await firstKernel(matrix, trees);
	const known = await knownTests(matrix, trees, home);
	const facts = extractFacts(report, known);
	// A test the report shows passing is evidence, not the bug; one it shows skipping is the bug
	// when nothing failed.
	const { texts: _texts, ...about } = report;
	const quotedFacts = { ...facts, tests: facts.tests.map(quoted) };
	// What was read goes with every refusal from here on: a tool asking for JSON gets it.
	const partial: TriagePartial = {
		report: about,
		facts: quotedFacts,
		...("kernel" in chosen ? { kernel: chosen.kernel } : chosen.tried === undefined ? {} : { tried: chosen.tried }),
	};
	const refuse = (message: string) => new TriageError(message, partial);
	let named: ReportedTest[];
	try {
		named =
			input.tests === undefined || input.tests.length === 0
				? testsAbout(facts)
				: testsFromOption(input.tests, known).map((t) => ({ ...t, ...statusIn(facts, t) }));
	} catch (error) {
		throw error instanceof TriageError ? refuse(error.message) : error;
	}
	const problems = [
		...(named.length === 0
			? [
					facts.kind === "crash"
						? `a kernel crash report (${facts.crash?.text ?? "a splat"}), not a kvm-unit-tests or selftest result; give the test that hits it with --test NAME`
						: "no failing kvm-unit-tests or KVM selftest named in it; give one with --test NAME",
				]
			: []),
		...("problem" in chosen ? [chosen.problem] : []),
	];
	if (problems.length > 0 || !("kernel" in chosen)) throw refuse(`${reportName(report)}: ${problems.join("; ")}`);
	const k = chosen.kernel;
	const failing = named.filter((t) => t.status === undefined || isFailingStatus(t.status));
	try {
		const verdicts = await classifyForeignResults({
			matrix,
			results: [{ kernel: `${k.tree}@${k.ref}`, results: failing.map(asResult) }],
			cacheRoot: input.cacheRoot,
			// Synced once above: a URL tree is not fetched a second time.
			repos: new Map([...trees].map(([name, t]) => [name, t.repo])),
			...(input.lore === undefined ? {} : { lore: input.lore }),
		});
		const caveat = `the reporter's kernel is not known exactly (${k.how}); it may hold the fix`;
		// Where no link decided, the kernels that would: the configured ones that descend from the reporter's.
		const undecided = verdicts.some((v) => v.verdict === "new-failure") || failing.length < named.length;
		const answer: TriageAnswer = {
			report: about,
			facts: quotedFacts,
			kernel: k,
			tests: named.map(quoted),
			verdicts: verdicts.map((v) => (k.approximate && v.verdict === "pending-fix" ? { ...v, caveat } : v)),
			...(undecided ? { newer: await newerKernels(matrix, trees, k) } : {}),
		};
		return { answer, trees };
	} catch (error) {
		// A known-issues file that does not read, a tree that went away, git failing on a mirror:
		// the user's to mend, in one line, never a stack trace.
		if (error instanceof ForeignResultsError || error instanceof SourceError || error instanceof Error)
			throw refuse(errorLine(error));
		throw error;
	}
}

/** What the report says a test named by `--test` did, when it names it at all. */
function statusIn(facts: ReportFacts, t: ReportedTest): Partial<ReportedTest> {
	const said = facts.tests.find((x) => x.suite === t.suite && x.testId === t.testId);
	return said === undefined
		? {}
		: {
				...(said.status === undefined ? {} : { status: said.status }),
				failureLines: said.failureLines,
				...(said.skipReason === undefined ? {} : { skipReason: said.skipReason }),
			};
}

/** The matrix's configured kernels that descend from `k`, nearest first: where a fix would be. */
async function newerKernels(
	matrix: Matrix,
	trees: TreeRepos,
	k: ResolvedKernel,
): Promise<NonNullable<TriageAnswer["newer"]>> {
	const git = new HistoryAnswers();
	const here = { tree: k.tree, repo: trees.get(k.tree)?.repo ?? "", sha: k.sha };
	const out: { kernel: string; sha: string; commits: number }[] = [];
	for (const spec of matrix.kernels) {
		if (spec.kind !== "source") continue;
		const repo = trees.get(spec.tree)?.repo;
		const sha = repo === undefined ? undefined : await resolveRef(repo, spec.tree, spec.ref).catch(() => undefined);
		if (repo === undefined || sha === undefined || sha === k.sha) continue;
		const relation = await relate(here, { tree: spec.tree, repo, sha }, git);
		if (relation.kind === "descendant") out.push({ kernel: spec.id, sha, commits: relation.count });
	}
	return out.sort((a, b) => a.commits - b.commits);
}

/** The first source kernel of the matrix, resolved: where selftests are listed when the report's kernel is unknown. */
async function firstKernel(matrix: Matrix, trees: TreeRepos): Promise<ResolvedKernel | undefined> {
	for (const k of matrix.kernels) {
		const ref = k.kind === "source" ? { tree: k.tree, ref: k.ref } : k.source;
		const repo = ref === undefined ? undefined : trees.get(ref.tree)?.repo;
		if (ref === undefined || repo === undefined) continue;
		const sha = await resolveRef(repo, ref.tree, ref.ref).catch(() => undefined);
		if (sha !== undefined) return { tree: ref.tree, ref: ref.ref, sha, how: "the matrix", approximate: true };
	}
	return undefined;
}

const reportName = (report: BugReport) =>
	report.id !== undefined
		? `bug ${report.id}`
		: report.source === "text"
			? (report.texts[0]?.where ?? "the report")
			: "the report";

/** The kernel under test, or why it is not known (said with the other problems, in one line). */
async function chooseKernel(
	input: TriageInput,
	trees: TreeRepos,
	report: BugReport,
): Promise<{ readonly kernel: ResolvedKernel } | { readonly problem: string; readonly tried?: readonly string[] }> {
	if (input.kernel !== undefined) {
		const at = input.kernel.indexOf("@");
		const tree = at <= 0 ? "" : input.kernel.slice(0, at);
		const ref = at <= 0 ? "" : input.kernel.slice(at + 1);
		const repo = trees.get(tree)?.repo;
		if (tree === "" || ref === "")
			throw new TriageError(`--kernel ${input.kernel}: expected TREE@REF (e.g. kvm@next, kvm@v6.1, kvm@1234abcd5678)`);
		if (repo === undefined)
			throw new TriageError(
				`--kernel ${input.kernel}: the matrix has no tree ${tree} (it has ${[...trees.keys()].join(", ")})`,
			);
		const sha = await resolveRef(repo, tree, ref).catch((error: unknown) => {
			throw new TriageError(`--kernel ${input.kernel}: ${errorLine(error)}`);
		});
		return { kernel: { tree, ref, sha, how: `--kernel ${input.kernel}`, approximate: false } };
	}
	// The clues come from the report alone; the tests it names need the kernel's tree to be known.
	const clues = reportKernelClues(report);
	if (clues.length === 0) return { problem: "no kernel version in it; give one with --kernel TREE@REF" };
	// Only trees the matrix builds kernels from: a kvm-unit-tests commit is never the kernel.
	const kernelTreeNames = new Set(
		input.matrix.kernels.flatMap((k) =>
			k.kind === "source" ? [k.tree] : k.source === undefined ? [] : [k.source.tree],
		),
	);
	const kernelTrees: TreeRepos = new Map([...trees].filter(([name]) => kernelTreeNames.has(name)));
	const found = await resolveReportedKernel(clues, kernelTrees);
	if ("tried" in found)
		return {
			problem: `unknown kernel (${found.tried.join("; ")}); give one with --kernel TREE@REF`,
			tried: found.tried,
		};
	return found;
}
