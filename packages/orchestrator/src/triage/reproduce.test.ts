import test from "ava";
import type { CellSummary } from "../engine/summary.js";
import type { TestStatus } from "../events/types.js";
import { parseMatrix } from "../matrix/parse.js";
import type { Matrix } from "../matrix/types.js";
import {
	bisectRange,
	reproduceKernels,
	reproduceMatrix,
	reproduceRuns,
	type Tally,
	tallyOutcome,
	tallyResult,
	tallyRuns,
	tallyWords,
} from "./reproduce.js";

const MATRIX = `name: m
trees:
  kvm: { url: https://git.kernel.org/pub/scm/virt/kvm/kvm.git }
  kut: { url: https://gitlab.com/kvm-unit-tests/kvm-unit-tests.git }
config: { base: defconfig }
kernels:
  - { tree: kvm, ref: next }
  - { tree: kvm, ref: queue }
targets:
  - { name: t, qemu: { smp: 2, memory: 1G, accel: tcg } }
  - { name: host, host: true }
suites:
  kut: { tree: kut, ref: master, include: ["*"], exclude: [vmx_smp], groups: [vmx] }
  selftests: { include: ["x86_64/*"] }
baseline: { tree: kvm, ref: next }
retries: 2
`;

function matrix(): Matrix {
	const parsed = parseMatrix(MATRIX, { label: "m.yaml", file: "/m.yaml", baseDir: "/", homeDir: "/home/u" });
	if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
	return parsed.value;
}

const kernels = reproduceKernels({ tree: "kvm", ref: "v6.1", sha: "a".repeat(40) }, [
	{ id: "kvm@next", tree: "kvm", ref: "next", sha: "b".repeat(40) },
	// The same commit as the reporter's kernel: run once.
	{ id: "kvm@stable", tree: "kvm", ref: "stable", sha: "a".repeat(40) },
	{ id: "kvm@queue", tree: "kvm", ref: "queue", sha: "c".repeat(40) },
]);

test("the kernels: the reporter's first, then each configured commit once", (t) => {
	t.deepEqual(
		kernels.map((k) => [k.id, k.role]),
		[
			["kvm@v6.1", "reported"],
			["kvm@next", "configured"],
			["kvm@queue", "configured"],
		],
	);
});

test("the matrix: kernels at their commits, the target once per run, only the tests, no retries or baseline", (t) => {
	const m = matrix();
	const target = m.targets[0];
	if (target === undefined) throw new Error("no target");
	const r = reproduceMatrix(m, kernels, [{ suite: "kut", testId: "vmx" }], target, 3);
	t.deepEqual(
		r.kernels.map((k) => (k.kind === "source" ? [k.id, k.ref] : [])),
		[
			["kvm@v6.1", "a".repeat(40)],
			["kvm@next", "b".repeat(40)],
			["kvm@queue", "c".repeat(40)],
		],
	);
	t.deepEqual(
		r.targets.map((x) => [x.name, x.qemu.smp, x.host]),
		[
			["t-run1", 2, false],
			["t-run2", 2, false],
			["t-run3", 2, false],
		],
	);
	t.deepEqual(r.suites.kut?.include, ["vmx"]);
	t.deepEqual(r.suites.kut?.exclude, []);
	t.deepEqual(r.suites.kut?.groups, []);
	// No selftest was reported: the suite is not run at all.
	t.is(r.suites.selftests, undefined);
	t.is(r.retries, 0);
	t.is(r.baseline, undefined);
});

const cell = (kernel: string, run: number, status: TestStatus | undefined, state: CellSummary["state"] = "done") =>
	({
		id: `${kernel}/t-run${run}`,
		kernel: { id: kernel },
		target: `t-run${run}`,
		state,
		...(state === "failed" ? { failure: { stage: "build", reason: "make exited 2", evidence: [] } } : {}),
		counts: { pass: 0, fail: 0, skip: 0, timeout: 0, crash: 0, error: 0 },
		results:
			status === undefined
				? []
				: [
						{
							suite: "kut",
							testId: "vmx",
							status,
							durationMs: 1,
							attempt: 1,
							...(status === "fail" ? { detail: `FAIL: run ${run}` } : {}),
						},
					],
		verdicts: {},
		notes: [],
	}) satisfies CellSummary;

test("tallies: each kernel's runs in run order; what did not run says why", (t) => {
	const cells = [
		cell("kvm@v6.1", 2, "fail"),
		cell("kvm@v6.1", 1, "timeout"),
		cell("kvm@v6.1", 3, "fail"),
		cell("kvm@next", 1, "pass"),
		cell("kvm@next", 2, "fail"),
		cell("kvm@next", 3, "pass"),
		cell("kvm@queue", 1, undefined, "failed"),
		cell("kvm@queue", 2, undefined),
	];
	const tallies = tallyRuns({ cells }, kernels, [{ suite: "kut", testId: "vmx" }], "t", 3).get("kut:vmx") ?? [];
	t.deepEqual(
		tallies.map((x) => [x.kernel, x.statuses, x.notRun]),
		[
			["kvm@v6.1", ["timeout", "fail", "fail"], []],
			["kvm@next", ["pass", "fail", "pass"], []],
			["kvm@queue", [], ["build failed: make exited 2", "the test did not run", "cancelled"]],
		],
	);
	t.is(tallies[0]?.detail, "FAIL: run 2");
	t.deepEqual(tallies.map(tallyOutcome), ["fails", "intermittent", "not-run"]);
	t.deepEqual(tallies.map(tallyWords), [
		"fails 3/3",
		"fails 1/3, passes 2/3",
		"not run 3/3 (build failed: make exited 2)",
	]);
});

const tally = (statuses: TestStatus[], role: Tally["role"] = "configured", sha = "b"): Tally => ({
	kernel: `kvm@${sha}`,
	sha: sha.repeat(40),
	role,
	statuses,
	notRun: [],
});

test("a tally's result: all failing stays failing, both is a pass after failures (flaky), none is an error", (t) => {
	const fails = tallyResult("kut", "vmx", { ...tally(["fail", "timeout", "fail"]), detail: "FAIL: x" });
	t.is(fails.status, "fail");
	t.is(fails.detail, "FAIL: x");
	t.deepEqual(
		fails.earlier?.map((e) => e.status),
		["fail", "timeout"],
	);
	const mixed = tallyResult("kut", "vmx", tally(["pass", "fail", "pass"]));
	t.is(mixed.status, "pass");
	t.deepEqual(
		mixed.earlier?.map((e) => e.status),
		["fail"],
	);
	const passes = tallyResult("kut", "vmx", tally(["pass", "pass"]));
	t.is(passes.status, "pass");
	t.is(passes.earlier, undefined);
	t.is(tallyResult("kut", "vmx", { ...tally([]), notRun: ["boot failed: panic"] }).status, "error");
	t.is(tallyResult("kut", "vmx", tally(["skip", "skip"])).status, "skip");
});

test("a pass is evidence only when every run ran and passed: fewer is partial, and classified as an error", (t) => {
	const oneOfThree = { ...tally(["pass"]), notRun: ["boot failed: panic", "cancelled"] };
	t.is(tallyOutcome(oneOfThree), "partial");
	t.deepEqual(tallyResult("kut", "vmx", oneOfThree), {
		suite: "kut",
		testId: "vmx",
		durationMs: 0,
		status: "error",
		attempt: 1,
		detail: "passes 1/3, not run 2/3 (boot failed: panic): not enough to go on",
	});
	t.is(tallyOutcome(tally(["pass", "skip"])), "partial");
	t.is(tallyOutcome({ ...tally(["skip"]), notRun: ["cancelled"] }), "partial");
	// A failure seen is a failure, even when other runs did not run.
	t.is(tallyOutcome({ ...tally(["fail"]), notRun: ["cancelled"] }), "fails");
	t.is(tallyOutcome(tally(["pass", "pass"])), "passes");
});

test("the range to bisect: the nearest descendant that passes every run, else the nearest such ancestor", async (t) => {
	const reported = tally(["fail", "fail"], "reported", "a");
	const relations: Record<string, { kind: "descendant" | "ancestor"; count: number } | undefined> = {
		["b".repeat(40)]: { kind: "descendant", count: 9 },
		["c".repeat(40)]: { kind: "descendant", count: 3 },
		["d".repeat(40)]: { kind: "ancestor", count: 2 },
		["e".repeat(40)]: undefined,
	};
	const relation = async (_from: string, to: string) => relations[to];
	const range = await bisectRange(
		[reported, tally(["pass", "pass"], "configured", "b"), tally(["pass", "pass"], "configured", "c")],
		relation,
	);
	t.like(range, { mode: "fixed", count: 3, broken: { kernel: "kvm@a" }, fixedAt: { kernel: "kvm@c" } });
	// A kernel that passed only some runs is no end of a range.
	t.like(
		await bisectRange(
			[reported, tally(["pass", "fail"], "configured", "c"), tally(["pass"], "configured", "d")],
			relation,
		),
		{
			mode: "regression",
			good: { kernel: "kvm@d" },
			bad: { kernel: "kvm@a" },
		},
	);
	t.deepEqual(await bisectRange([reported, tally(["pass"], "configured", "e")], relation), {
		none: "no kernel it passes on descends from kvm@a or precedes it",
	});
	t.deepEqual(await bisectRange([tally(["fail", "pass"], "reported", "a"), tally(["pass"])], relation), {
		none: "it does not fail every run on kvm@a",
	});
	t.deepEqual(await bisectRange([reported, tally(["fail"], "configured", "b")], relation), {
		none: "it passes every run on no other kernel",
	});
	// Neither end is sure when a run is missing: the reporter's, or the one that passed.
	t.deepEqual(
		await bisectRange([{ ...reported, notRun: ["cancelled"] }, tally(["pass", "pass"], "configured", "c")], relation),
		{ none: "it does not fail every run on kvm@a" },
	);
	t.deepEqual(
		await bisectRange([reported, { ...tally(["pass"], "configured", "c"), notRun: ["cancelled"] }], relation),
		{ none: "it passes every run on no other kernel" },
	);
});

test("reproduce runs: --runs when given, else 3, or 5 for a report that says it fails only sometimes", (t) => {
	t.is(reproduceRuns(undefined, "fail"), 3);
	t.is(reproduceRuns(undefined, "skip"), 3);
	t.is(reproduceRuns(undefined, "intermittent"), 5);
	t.is(reproduceRuns(2, "intermittent"), 2);
});
