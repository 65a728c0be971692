import type { CellSummary } from "@kvm-matrix/orchestrator";
import test from "ava";
import { runLines } from "./explain.js";

const cell = (target: string, status: "pass" | "fail" | undefined, more: Partial<CellSummary> = {}): CellSummary => ({
	id: `kvm@next/${target}`,
	kernel: { id: "kvm@next" },
	target,
	state: "done",
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
						...(status === "fail"
							? { verdict: { verdict: "new-failure", evidence: { notes: [] } }, explanation: "new-failure: x" }
							: {}),
					},
				],
	verdicts: {},
	notes: [],
	...more,
});

test("runLines: a target's parameter sets that ended alike are named together", (t) => {
	const cells = [
		cell("tcg/default", "pass"),
		cell("tcg/ept-off", "fail"),
		cell("tcg/npt-off", "fail"),
		cell("host", "pass"),
		cell("icx/default", undefined, { state: "failed", failure: { stage: "boot", reason: "panic", evidence: [] } }),
		cell("icx/ept-off", undefined),
	];
	t.deepEqual(runLines({ cells }, "kut:vmx"), [
		"kvm@next/tcg: pass with default; fail (new-failure) with ept-off, npt-off",
		"kvm@next/host: pass",
		"kvm@next/icx: not run (cell failed: panic) with default",
	]);
	t.deepEqual(runLines({ cells }, "kut:other"), ["kvm@next/icx: not run (cell failed: panic) with default"]);
});
