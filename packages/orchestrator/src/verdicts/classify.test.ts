import test from "ava";
import type { TestResult } from "../events/types.js";
import type { FixLocation } from "../links/fixes.js";
import { type BaselineResult, type Classifiable, classify, describeVerdict, type Knowledge } from "./classify.js";

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
	result: r,
	...(attempts === undefined ? {} : { attempts }),
});

const FIX_IN_NEXT: FixLocation = {
	kind: "not-contained",
	commit: "f402ecd7a8b6e0c0ffee00000000000000000000",
	subject: "KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR",
	containedIn: ["kvm-x86/next"],
};
const knowledge = (over: Partial<Knowledge> = {}): Knowledge => ({
	knownIssues: [
		{
			test: "kut:pmu*",
			kernel: "kvm@*",
			bug: "https://bugzilla.kernel.org/show_bug.cgi?id=1",
			reason: "PMU emulation gaps",
		},
	],
	fixes: (_cell, key) =>
		key === "kut:svm" ? [FIX_IN_NEXT] : key === "kut:posted" ? [{ kind: "not-applied", messageId: "1.2-1-a@b.c" }] : [],
	baseline: (_cell, key): BaselineResult | undefined =>
		({
			"kut:vmx": { kernel: "kvm-x86@next", sha: "abc123abc123ff", status: "pass" },
			"kut:msr": { kernel: "kvm-x86@next", status: "fail" },
		})[key] as BaselineResult | undefined,
	...over,
});

const cases: [string, Classifiable, string | undefined][] = [
	["a pass has no verdict", item(result("vmx", "pass")), undefined],
	["a skip has no verdict", item(result("vmx", "skip")), undefined],
	["a test that could not run is infra", item(result("vmx", "error", "QEMU Aborted")), "infra: QEMU Aborted"],
	[
		"a known issue wins over everything but infra",
		item(result("pmu_lbr", "fail")),
		"known: PMU emulation gaps (https://bugzilla.kernel.org/show_bug.cgi?id=1)",
	],
	["failed, then passed on retry: flaky", item(result("vmx", "pass"), "kvm@master", ["fail"]), "flaky: fail → pass"],
	[
		"failed, then failed again: not flaky",
		item(result("vmx", "fail"), "kvm@master", ["fail"]),
		"regression: passed on kvm-x86@next (abc123abc123)",
	],
	[
		"the seed's story: the fix is only in next",
		item(result("svm", "fail")),
		'pending-fix: needs f402ecd7a8b6 ("KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR"), in kvm-x86/next',
	],
	[
		"a fix posted but applied nowhere",
		item(result("posted", "timeout")),
		"pending-fix: posted on lore, not applied in any configured tree: https://lore.kernel.org/r/1.2-1-a@b.c",
	],
	[
		"passed on the baseline, no fix explains it: regression",
		item(result("vmx", "crash")),
		"regression: passed on kvm-x86@next (abc123abc123)",
	],
	["failed on the baseline too: still-failing", item(result("msr", "fail")), "still-failing: fail on kvm-x86@next too"],
	[
		"no baseline, no link: new-failure",
		item(result("new", "fail")),
		"new-failure: no baseline result and no linked fix; needs a human",
	],
];
for (const [name, input, expected] of cases) {
	test(name, (t) => {
		const v = classify(input, knowledge());
		t.is(v === undefined ? undefined : describeVerdict(v), expected);
	});
}

test("flaky beats pending-fix: a test that passed on retry does not need its fix to pass", (t) => {
	t.is(classify(item(result("svm", "pass"), "kvm@master", ["timeout"]), knowledge())?.verdict, "flaky");
	t.is(classify({ ...item(result("vmx", "fail")), attempts: [] }, knowledge())?.verdict, "regression");
});

test("a known issue scoped to other kernels does not apply", (t) => {
	const v = classify(item(result("pmu_lbr", "fail"), "stable@6.1.y"), knowledge());
	t.is(v?.verdict, "new-failure");
});

test("removing the link changes the verdict: nothing is hard-coded", (t) => {
	const withLink = classify(item(result("svm", "fail")), knowledge());
	const withoutLink = classify(item(result("svm", "fail")), knowledge({ fixes: () => [] }));
	t.is(withLink?.verdict, "pending-fix");
	t.is(withoutLink?.verdict, "new-failure");
});

test("a regression names the commits between baseline and kernel; a previous run names the run", (t) => {
	const base = (over: Partial<BaselineResult>): BaselineResult => ({ kernel: "kvm@master", status: "pass", ...over });
	const regression = (b: BaselineResult) =>
		describeVerdict(classify(item(result("vmx", "fail")), knowledge({ baseline: () => b })) ?? fail());
	const fail = (): never => {
		throw new Error("no verdict");
	};
	t.is(
		regression(base({ sha: "1".repeat(40), range: `${"1".repeat(40)}..${"2".repeat(40)}` })),
		"regression: passed on kvm@master (111111111111); commits 111111111111..222222222222",
	);
	t.is(
		regression(
			base({ sha: "1".repeat(40), run: "20261124-010000-nightly", range: `${"1".repeat(40)}..${"1".repeat(40)}` }),
		),
		"regression: passed on kvm@master (111111111111) in run 20261124-010000-nightly; same commit",
	);
	t.is(
		describeVerdict(
			classify(item(result("vmx", "timeout")), knowledge({ baseline: () => base({ status: "fail", run: "r1" }) })) ??
				fail(),
		),
		"still-failing: fail on kvm@master in run r1 too",
	);
});
