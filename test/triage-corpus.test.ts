// The triage benchmark's reports as tests: the trees are built once, each real bug report goes
// through the built CLI (`kvm-matrix triage --from FILE --json`) by the benchmark's own runner,
// and its label must hold. One test per report, so a failure names the report that was misread;
// and the judge itself, on answers written here.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { prepareTriageWork } from "../bench/triage/trees.js";
import {
	type Check,
	checkLine,
	judge,
	type Label,
	loadReports,
	type Report,
	readAnswer,
	reportRunner,
	summaryLines,
} from "../bench/triage.js";

const root = mkdtempSync(path.join(os.tmpdir(), "triage-corpus-"));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

/** At most as many CLIs at once as there are cores; the first alone, making the mirrors the rest reuse. */
let run: (report: Report) => Promise<Check> = () => Promise.reject(new Error("the trees were not built"));
test.before(async () => {
	run = reportRunner(await prepareTriageWork(root), os.availableParallelism());
});

for (const report of loadReports()) {
	test(`${report.name}: ${report.shape}`, async (t) => {
		// Waiting for a free CLI slot counts too: 34 reports, a few seconds each, two cores.
		t.timeout(600_000);
		const check = await run(report);
		t.true(check.ok, checkLine(check));
	});
}

const LABEL: Label = { tests: ["kut:vmx", "selftests:rseq_test"], kernel: "kvm@next", kind: "fail" };

/** `triage --json`'s answer: the tests it classified, the kernel it found, the report's facts. */
const answer = (tests: readonly [string, string][], kernel: [string, string] | undefined, kind?: string) =>
	JSON.stringify({
		facts: { ...(kind === undefined ? {} : { kind }), tests: [] },
		...(kernel === undefined ? {} : { kernel: { tree: kernel[0], ref: kernel[1], sha: "0".repeat(40) } }),
		tests: tests.map(([suite, testId]) => ({ suite, testId, failureLines: [] })),
		verdicts: [],
	});

test("the judge: a right answer is ok, and each wrong part is named with what the label wants", (t) => {
	const right = answer(
		[
			["selftests", "rseq_test"],
			["kut", "vmx"],
		],
		["kvm", "next"],
		"fail",
	);
	const checks: Check[] = [
		judge("a", LABEL, readAnswer(0, right, "")),
		judge("b", LABEL, readAnswer(0, answer([["kut", "vmx"]], ["kvm", "next"], "fail"), "")),
		judge(
			"c",
			LABEL,
			readAnswer(
				0,
				answer(
					[
						["kut", "vmx"],
						["selftests", "rseq_test"],
					],
					["kvm", "v6.1"],
					"fail",
				),
				"",
			),
		),
		judge(
			"d",
			LABEL,
			readAnswer(
				0,
				answer(
					[
						["kut", "vmx"],
						["selftests", "rseq_test"],
					],
					["kvm", "next"],
				),
				"",
			),
		),
		judge("e", { tests: [], kernel: "none", kind: "crash" }, readAnswer(0, answer([], undefined, "crash"), "")),
	];
	t.deepEqual(
		checks.map((c) => [c.ok, c.test, c.kernel, c.kind]),
		[
			[true, true, true, true],
			[false, false, true, true],
			[false, true, false, true],
			[false, true, true, false],
			[true, true, true, true],
		],
	);
	t.deepEqual(checks.map(checkLine), [
		"ok  a  test kut:vmx,selftests:rseq_test, kernel kvm@next, kind fail",
		"WRONG  b  test kut:vmx (want kut:vmx,selftests:rseq_test), kernel kvm@next, kind fail",
		"WRONG  c  test kut:vmx,selftests:rseq_test, kernel kvm@v6.1 (want kvm@next), kind fail",
		"WRONG  d  test kut:vmx,selftests:rseq_test, kernel kvm@next, kind none (want fail)",
		"ok  e  test none, kernel none, kind crash",
	]);
	t.deepEqual(summaryLines(checks), [
		"2/5 reports read right (test, kernel, kind)",
		"test: 4/5, kernel: 4/5, kind: 4/5",
	]);
	t.deepEqual(summaryLines(checks.slice(0, 1)), ["1/1 reports read right (test, kernel, kind)"]);
});

test("the judge reads a refusal's failing facts, and no JSON as a wrong read with the stderr line", (t) => {
	const refusal = JSON.stringify({
		error: "bug 1: no kernel version in it; give one with --kernel TREE@REF",
		facts: {
			kind: "fail",
			tests: [
				{ suite: "kut", testId: "vmx", status: "fail" },
				{ suite: "kut", testId: "apic", status: "pass" },
				{ suite: "selftests", testId: "rseq_test" },
			],
		},
	});
	const refused = judge("f", { ...LABEL, kernel: "none" }, readAnswer(2, refusal, "kvm-matrix triage: bug 1: ..."));
	t.true(refused.ok, checkLine(refused));
	const withKernel = JSON.stringify({ ...JSON.parse(refusal), kernel: { tree: "kvm", ref: "next" } });
	t.true(judge("g", LABEL, readAnswer(2, withKernel, "")).ok);

	const silent = judge("h", LABEL, readAnswer(2, "", "\nkvm-matrix triage: bug 1: no kernel version in it\n"));
	t.deepEqual([silent.ok, silent.test, silent.kernel, silent.kind], [false, false, false, false]);
	t.is(
		checkLine(silent),
		"WRONG  h  exit 2, no JSON: kvm-matrix triage: bug 1: no kernel version in it (want test kut:vmx,selftests:rseq_test, kernel kvm@next, kind fail)",
	);
	// An answer on a crash (exit 3) is not read, whatever it printed.
	t.false(readAnswer(3, answer([["kut", "vmx"]], ["kvm", "next"], "fail"), "TypeError: x").ok);
});

test("every report has its text and a label that reads", (t) => {
	const reports = loadReports();
	t.true(reports.length >= 30);
	for (const r of reports) t.true(existsSync(r.file), `${r.name}: no ${path.basename(r.file)}`);
});
