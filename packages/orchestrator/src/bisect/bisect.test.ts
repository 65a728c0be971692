import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import type { CellSummary } from "../engine/summary.js";
import type { TestResult } from "../events/types.js";
import type { Matrix } from "../matrix/types.js";
import { withLock } from "../paths/lock.js";
import { BisectError, runBisect, stepVerdict } from "./bisect.js";

const result = (status: TestResult["status"], earlier: TestResult["status"][] = []) => ({
	suite: "selftests" as const,
	testId: "x86_64/a_test",
	status,
	durationMs: 1,
	attempt: earlier.length + 1,
	...(earlier.length === 0
		? {}
		: {
				earlier: earlier.map((s, i) => ({
					suite: "selftests" as const,
					testId: "x86_64/a_test",
					status: s,
					durationMs: 1,
					attempt: i + 1,
				})),
			}),
});

const cell = (r: ReturnType<typeof result>, state: CellSummary["state"] = "done"): CellSummary => ({
	id: "fake@x/t",
	kernel: { id: "fake@x" },
	target: "t",
	state,
	counts: { pass: 0, fail: 0, skip: 0, timeout: 0, crash: 0, error: 0 },
	results: [r],
	verdicts: {},
	notes: [],
});

const KEY = "selftests:x86_64/a_test";

test("a step's verdict in each mode: passes, fails, flaky and untestable", (t) => {
	t.is(stepVerdict("regression", cell(result("pass")), KEY).verdict, "old");
	t.is(stepVerdict("regression", cell(result("fail", ["fail"])), KEY).verdict, "new");
	t.is(stepVerdict("fixed", cell(result("pass")), KEY).verdict, "new");
	t.is(stepVerdict("fixed", cell(result("timeout", ["fail"])), KEY).verdict, "old");
	// Failed, then passed on its retry: neither good nor bad.
	t.deepEqual(stepVerdict("regression", cell(result("pass", ["fail"])), KEY), {
		verdict: "skip",
		seen: "cannot tell: flaky (fail, then pass)",
	});
	t.is(stepVerdict("regression", cell(result("error")), KEY).verdict, "skip");
	t.is(stepVerdict("regression", cell(result("pass"), "failed"), KEY).verdict, "skip");
	t.is(stepVerdict("regression", undefined, KEY).verdict, "skip");
});

test("a bisection directory in use by another kvm-matrix is refused in one line", async (t) => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "bisect-lock-"));
	let release = () => {};
	const held = new Promise<void>((resolve) => {
		release = resolve;
	});
	let holding = () => {};
	const taken = new Promise<void>((resolve) => {
		holding = resolve;
	});
	const holder = withLock(path.join(dir, "bisect"), async () => {
		holding();
		await held;
	});
	await taken;
	const matrix = { file: path.join(dir, "m.yaml") } as unknown as Matrix;
	const error = await t.throwsAsync(runBisect(dir, matrix, dir), { instanceOf: BisectError });
	t.is(error?.message, `${dir} is in use by another kvm-matrix bisect; let it finish or stop it first`);
	release();
	await holder;
});

test("a step on the params axis is one cell: its target under the one set asked for", async (t) => {
	const { parseMatrix } = await import("../matrix/parse.js");
	const { stepMatrix } = await import("./bisect.js");
	const { selectCells } = await import("../plan/cells.js");
	const parsed = parseMatrix(
		`name: m
trees:
  kvm: { url: https://example.org/kvm.git }
kernels:
  - { tree: kvm, ref: next }
targets:
  - { name: t }
params:
  - { name: default }
  - { name: ept-off, kvm_intel: { ept: "0" } }
suites:
  selftests: {}
`,
		{ label: "m.yaml", file: "/m.yaml", baseDir: "/", homeDir: "/root", exists: () => true },
	);
	if (!parsed.ok) return t.fail(JSON.stringify(parsed.error));
	const request = {
		mode: "regression" as const,
		matrix: "/m.yaml",
		tree: "kvm",
		test: { suite: "selftests" as const, testId: "x86_64/a_test" },
		old: { ref: "a", sha: "a".repeat(40) },
		new: { ref: "b", sha: "b".repeat(40) },
		maxSteps: 10,
	};
	const withSet = stepMatrix(parsed.value, { ...request, target: "t/ept-off" }, "c".repeat(40));
	t.deepEqual(
		selectCells(withSet).cells.map((c) => [c.id, c.target.moduleParams]),
		[[`kvm@${"c".repeat(12)}/t/ept-off`, { kvm_intel: { ept: "0" } }]],
	);
	const plain = stepMatrix(parsed.value, { ...request, target: "t" }, "c".repeat(40));
	t.deepEqual(
		selectCells(plain).cells.map((c) => c.id),
		[`kvm@${"c".repeat(12)}/t`],
	);
});
