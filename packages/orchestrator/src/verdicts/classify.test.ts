import test from "ava";
import type { TestResult } from "../events/types.js";
import {
	type BaselineResult,
	type Classifiable,
	classify,
	describeVerdict,
	type FixEvidence,
	type Knowledge,
	type Pass,
	type Verdict,
} from "./classify.js";

const K = "a".repeat(40); // the kernel under test
const result = (testId: string, status: TestResult["status"], detail?: string): TestResult => ({
	suite: "kut",
	testId,
	status,
	durationMs: 1,
	attempt: 1,
	...(detail === undefined ? {} : { detail }),
});
const item = (r: TestResult, kernel = "kvm@master", attempts?: TestResult["status"][]): Classifiable => ({
	cell: `${kernel}/default`,
	kernel,
	sha: K,
	result: r,
	...(attempts === undefined ? {} : { attempts }),
});

const SVM_FIX: FixEvidence = {
	link: "20251113225621.1688428-1-seanjc@google.com",
	patch: "20251113225621.1688428-2-seanjc@google.com",
	commit: "f402ecd7a8b6e0c0ffee00000000000000000000",
	subject: "KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR",
	matchedBy: "series",
	status: "missing",
	in: ["kvm-x86@next"],
};
const POSTED: FixEvidence = {
	link: "20230106011306.85230-3-seanjc@google.com",
	patch: "20230106011306.85230-3-seanjc@google.com",
	subject: "KVM: x86: Inject #GP on x2APIC WRMSR that sets reserved bits 63:32",
	status: "posted",
	in: [],
	date: "2023-01-06T01:13:06.000Z",
};
const CONTAINED: FixEvidence = { ...SVM_FIX, status: "contained", in: ["kvm-x86@next", "kvm@master"] };
const UNKNOWN: FixEvidence = {
	...SVM_FIX,
	status: "unknown",
	reason: "could not tell whether aaaaaaaaaaaa contains f402ecd7a8b6: fatal: bad object",
};
const pass = (kernel: string, sha: string, relation: Pass["relation"], lacks: string[] = []): Pass => ({
	kernel,
	sha,
	relation,
	lacks,
});
const NEXT = pass("kvm@queue", "b".repeat(40), { kind: "descendant", count: 42 });
const OLD = pass("kvm@v6.0", "c".repeat(40), { kind: "ancestor", count: 7 }, [SVM_FIX.patch]);
const SIDE = pass("kvm-x86@fixes", "d".repeat(40), { kind: "diverged", mergeBase: "e".repeat(40), here: 3, there: 5 });

interface Case {
	readonly name: string;
	readonly item: Classifiable;
	readonly fixes?: FixEvidence[];
	readonly passes?: Pass[];
	readonly baseline?: BaselineResult;
	readonly unresolved?: string[];
	readonly expected: string | undefined;
}

const knowledge = (c: Case): Knowledge => ({
	knownIssues: [
		{
			test: "kut:pmu*",
			kernel: "kvm@*",
			bug: "https://bugzilla.kernel.org/show_bug.cgi?id=1",
			reason: "PMU emulation gaps",
		},
	],
	fixes: () => c.fixes ?? [],
	unresolved: () => c.unresolved ?? [],
	passes: () => c.passes ?? [],
	baseline: () => c.baseline,
});

const cases: Case[] = [
	{ name: "a pass has no verdict", item: item(result("vmx", "pass")), expected: undefined },
	{ name: "a skip has no verdict", item: item(result("vmx", "skip")), expected: undefined },
	{
		name: "a test that could not run is infra",
		item: item(result("vmx", "error", "QEMU Aborted")),
		expected: "infra: QEMU Aborted",
	},
	{
		name: "a known issue wins over a pending fix",
		item: item(result("pmu_lbr", "fail")),
		fixes: [SVM_FIX],
		expected: "known: PMU emulation gaps (https://bugzilla.kernel.org/show_bug.cgi?id=1)",
	},
	{
		name: "failed, then passed on retry: flaky",
		item: item(result("svm", "pass"), "kvm@master", ["fail"]),
		fixes: [SVM_FIX],
		expected: "flaky: fail → pass",
	},
	{
		name: "the seed's story: the fix is only in next",
		item: item(result("svm", "fail")),
		fixes: [SVM_FIX],
		expected:
			'pending-fix: needs f402ecd7a8b6 ("KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR"), in kvm-x86@next',
	},
	{
		name: "static link and evidence across kernels agree",
		item: item(result("svm", "fail")),
		fixes: [SVM_FIX],
		passes: [NEXT],
		expected:
			'pending-fix: needs f402ecd7a8b6 ("KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR"), in kvm-x86@next; passes on kvm@queue',
	},
	{
		name: "a KVM patch lore knows, applied nowhere",
		item: item(result("x2apic", "timeout")),
		fixes: [POSTED],
		expected:
			'pending-fix: needs "KVM: x86: Inject #GP on x2APIC WRMSR that sets reserved bits 63:32" (20230106011306.85230-3-seanjc@google.com), posted 2023-01-06, not applied in any configured tree',
	},
	{
		name: "git could not tell whether the fix is in: infra, never a missing fix",
		item: item(result("svm", "fail")),
		fixes: [UNKNOWN],
		expected: "infra: could not tell whether aaaaaaaaaaaa contains f402ecd7a8b6: fatal: bad object",
	},
	{
		name: "a contained fix explains nothing: the baseline decides",
		item: item(result("svm", "fail")),
		fixes: [CONTAINED],
		baseline: { kernel: "kvm-x86@next", sha: "b".repeat(40), status: "fail" },
		expected: "still-failing: fail on kvm-x86@next (bbbbbbbbbbbb) too",
	},
	{
		name: "no link, passes on a descendant: fixed there (the maintainer's answer)",
		item: item(result("vmx", "fail"), "kvm@next-old"),
		passes: [NEXT],
		expected:
			"pending-fix: passes on kvm@queue (bbbbbbbbbbbb); the fix is among the 42 commits aaaaaaaaaaaa..bbbbbbbbbbbb",
	},
	{
		name: "no link, passed on an ancestor: a regression with the range",
		item: item(result("vmx", "fail")),
		passes: [OLD],
		expected: "regression: passed on kvm@v6.0 (cccccccccccc); commits cccccccccccc..aaaaaaaaaaaa (7)",
	},
	{
		name: "a missing fix contradicted by an ancestor that passed without it: regression",
		item: item(result("svm", "fail")),
		fixes: [SVM_FIX],
		passes: [OLD],
		expected:
			'regression: passed on kvm@v6.0 (cccccccccccc); commits cccccccccccc..aaaaaaaaaaaa (7); passed on kvm@v6.0 without f402ecd7a8b6 ("KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR")',
	},
	{
		name: "a missing fix contradicted by the baseline that lacks it too and passed: regression",
		item: item(result("svm", "fail")),
		fixes: [SVM_FIX],
		baseline: {
			kernel: "kvm@next",
			sha: "d".repeat(40),
			status: "pass",
			relation: SIDE.relation,
			lacks: [SVM_FIX.patch],
		},
		expected:
			'regression: passed on kvm@next (dddddddddddd); diverged at eeeeeeeeeeee: 3 commits eeeeeeeeeeee..aaaaaaaaaaaa here, 5 eeeeeeeeeeee..dddddddddddd there; passed on kvm@next without f402ecd7a8b6 ("KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR")',
	},
	{
		name: "a baseline that has the fix and passed agrees with it: pending-fix",
		item: item(result("svm", "fail")),
		fixes: [SVM_FIX],
		baseline: { kernel: "kvm-x86@next", sha: "d".repeat(40), status: "pass", relation: SIDE.relation, lacks: [] },
		expected:
			'pending-fix: needs f402ecd7a8b6 ("KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR"), in kvm-x86@next',
	},
	{
		name: "diverged baseline that passed: regression, with both ranges",
		item: item(result("vmx", "crash")),
		baseline: { kernel: "kvm@next", sha: "d".repeat(40), status: "pass", relation: SIDE.relation },
		expected:
			"regression: passed on kvm@next (dddddddddddd); diverged at eeeeeeeeeeee: 3 commits eeeeeeeeeeee..aaaaaaaaaaaa here, 5 eeeeeeeeeeee..dddddddddddd there",
	},
	{
		name: "passes only on a diverged kernel, no baseline: new-failure with the evidence, never pending-fix",
		item: item(result("vmx", "fail")),
		passes: [SIDE],
		expected:
			"new-failure: no baseline result and no linked fix; needs a human; passes on kvm-x86@fixes (dddddddddddd); diverged at eeeeeeeeeeee: 3 commits eeeeeeeeeeee..aaaaaaaaaaaa here, 5 eeeeeeeeeeee..dddddddddddd there",
	},
	{
		name: "an unresolved link is shown and decides nothing",
		item: item(result("vmx", "fail")),
		unresolved: ["20240907005440.500075-5-mlevitsk@redhat.com, not found in any configured tree"],
		expected: "new-failure: no baseline result and no linked fix; needs a human; 1 link unresolved",
	},
	{
		name: "failed on the baseline too: still-failing",
		item: item(result("msr", "fail")),
		baseline: { kernel: "kvm-x86@next", status: "fail", run: "r1" },
		expected: "still-failing: fail on kvm-x86@next in run r1 too",
	},
	{
		name: "a regression recorded before relations: the plain range",
		item: item(result("vmx", "fail")),
		baseline: {
			kernel: "kvm@master",
			sha: "1".repeat(40),
			status: "pass",
			range: `${"1".repeat(40)}..${"1".repeat(40)}`,
			run: "20261124-010000-nightly",
		},
		expected: "regression: passed on kvm@master (111111111111) in run 20261124-010000-nightly; same commit",
	},
];

for (const c of cases) {
	test(c.name, (t) => {
		const v = classify(c.item, knowledge(c));
		t.is(v === undefined ? undefined : describeVerdict(v), c.expected);
		// The whole subject is kept in the evidence; only the line cuts it.
		if (v?.verdict === "pending-fix")
			t.deepEqual(
				v.evidence.fixes,
				(c.fixes ?? []).filter((f) => f.status !== "contained"),
			);
	});
}

test("removing the link changes the verdict: nothing is hard-coded", (t) => {
	const base = cases.find((c) => c.name === "the seed's story: the fix is only in next") as Case;
	const verdict = (c: Case): Verdict["verdict"] | undefined => classify(c.item, knowledge(c))?.verdict;
	t.is(verdict(base), "pending-fix");
	t.is(verdict({ ...base, fixes: [] }), "new-failure");
	t.is(verdict({ ...base, fixes: [CONTAINED] }), "new-failure");
});

test("a known issue scoped to other kernels does not apply", (t) => {
	const c: Case = { name: "", item: item(result("pmu_lbr", "fail"), "stable@6.1.y"), expected: undefined };
	t.is(classify(c.item, knowledge(c))?.verdict, "new-failure");
});

test("the closest descendant is named when several pass", (t) => {
	const far = pass("kvm-x86@next", "f".repeat(40), { kind: "descendant", count: 900 });
	const c: Case = { name: "", item: item(result("vmx", "fail")), passes: [far, NEXT], expected: undefined };
	const v = classify(c.item, knowledge(c));
	t.is(v?.verdict === "pending-fix" ? v.evidence.fixedIn?.kernel : undefined, "kvm@queue");
});

test("a verdict line with a dozen unresolved links stays pasteable: the decision first, the rest one clause", (t) => {
	const unresolved = Array.from(
		{ length: 12 },
		(_, i) => `2024090700544${i}.50007${i}-5-mlevitsk@redhat.com, not found in any configured tree`,
	);
	const c: Case = {
		name: "",
		item: item(result("vmx", "fail")),
		fixes: [SVM_FIX],
		passes: [NEXT],
		unresolved,
		expected: "",
	};
	const v = classify(c.item, knowledge(c));
	if (v?.verdict !== "pending-fix") return t.fail();
	const line = describeVerdict(v, "kut:vmx");
	t.is(
		line,
		'pending-fix: needs f402ecd7a8b6 ("KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR"), in kvm-x86@next; passes on kvm@queue; 12 links unresolved: kvm-matrix explain kut:vmx --all',
	);
	t.true(line.length < 200, `${line.length} characters`);
	// JSON keeps every one.
	t.deepEqual(v.evidence.unresolved, unresolved);
	// The real subject (80 characters), in three branches: the branches after the first are counted,
	// and the pass that agrees with the fix is left to the JSON.
	const real: FixEvidence = {
		...SVM_FIX,
		subject: "KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)",
		in: ["kvm-x86@next", "kvm@queue", "kvm@next"],
	};
	const long = classify(c.item, knowledge({ ...c, fixes: [real] }));
	const longLine = long === undefined ? "" : describeVerdict(long, "kut:vmx");
	t.is(
		longLine,
		'pending-fix: needs f402ecd7a8b6 ("KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)"), in kvm-x86@next +2 more; 12 links unresolved: kvm-matrix explain kut:vmx --all',
	);
	t.true(longLine.length < 200, `${longLine.length} characters`);
});

test("a series the kernel lacks two patches of: each sha with its own subject, then how many more", (t) => {
	const patch = (n: number, subject: string): FixEvidence => ({
		...SVM_FIX,
		patch: `20251113225621.1688428-${n}-seanjc@google.com`,
		commit: String(n).repeat(40),
		subject,
	});
	const c: Case = {
		name: "",
		item: item(result("svm", "fail")),
		fixes: [patch(2, "KVM: nSVM: Fix A"), patch(3, "KVM: SVM: Fix B"), patch(4, "KVM: SVM: Fix C")],
		expected: "",
	};
	const v = classify(c.item, knowledge(c));
	t.is(
		v === undefined ? "" : describeVerdict(v),
		'pending-fix: needs 222222222222 ("KVM: nSVM: Fix A"), 333333333333 ("KVM: SVM: Fix B"), in kvm-x86@next; and 1 more patch',
	);
});
