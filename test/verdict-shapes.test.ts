// The verdict benchmark's cases as tests: each case builds its real git trees, runs the built CLI
// (`kvm-matrix classify --results ... --json`) through the benchmark's own runner, and every label
// must hold. One test per case, so a failure names the shape that broke.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { buildCase, type Label, type VerdictCase } from "../bench/verdicts/build.js";
import { CASES } from "../bench/verdicts/cases.js";
import { type Check, checkLine, judge, runCase, summaryLine } from "../bench/verdicts.js";

const root = mkdtempSync(path.join(os.tmpdir(), "verdict-shapes-"));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

/** At most as many CLI runs at once as there are cores: the cases' own timeouts stay meaningful. */
const slots = Math.max(2, os.availableParallelism());
let running = 0;
const waiting: (() => void)[] = [];
async function limited<T>(work: () => Promise<T>): Promise<T> {
	if (running >= slots) await new Promise<void>((resolve) => waiting.push(resolve));
	running++;
	try {
		return await work();
	} finally {
		running--;
		waiting.shift()?.();
	}
}

for (const c of CASES) {
	test(`${c.name}: ${c.shape}`, async (t) => {
		t.timeout(180_000);
		const checks = await limited(() => runCase(c, root));
		t.true(checks.length > 0, "the case declares no label");
		for (const check of checks) t.true(check.ok, checkLine(check));
	});
}

test("the summary counts false pending-fix verdicts and missed regressions", (t) => {
	const label = (verdict: Label["verdict"]): Label => ({ kernel: "kvm@master", test: "kut:vmx", verdict });
	const answer = (verdict: string) =>
		({
			ok: true,
			results: [{ kernel: "kvm@master", test: "kut:vmx", verdict, evidence: "needs x in kvm@next" }],
		}) as const;
	const checks: Check[] = [
		judge("a", label("regression"), answer("pending-fix")),
		judge("b", label("new-failure"), answer("new-failure")),
		judge("c", { ...label("pending-fix"), evidence: ["kvm@queue"] }, answer("pending-fix")),
		judge("d", label("still-failing"), { ok: false, error: "exit 2: bad input" }),
	];
	t.deepEqual(
		checks.map((c) => c.ok),
		[false, true, false, false],
	);
	t.is(summaryLine(checks), "1/4 verdicts right, 1 false pending-fix, 1 regressions missed");
	t.is(
		checkLine(checks[2] as Check),
		'WRONG  c  kvm@master kut:vmx: expected pending-fix, got pending-fix — needs x in kvm@next (evidence lacks "kvm@queue")',
	);
	t.is(
		checkLine(checks[3] as Check),
		"WRONG  d  kvm@master kut:vmx: expected still-failing, got error — exit 2: bad input",
	);
});

test("a case citing a commit it never names fails to build, naming the case and the id", async (t) => {
	const c: VerdictCase = {
		name: "00-bad-citation",
		shape: "a label cites a commit no step made",
		kvm: [{ linux: "6.18", at: "2025-11-30T21:00:00Z" }],
		kut: [{ layoutAfter: "2025-12-01T00:00:00Z" }],
		kernels: ["master"],
		results: { master: { svm: "fail" } },
		labels: [{ ref: "master", test: "svm", verdict: "pending-fix", evidence: ["{{sha12:fix}}"] }],
	};
	await t.throwsAsync(buildCase(c, path.join(root, c.name)), {
		message: "case 00-bad-citation: no commit named fix before it is cited",
	});
});
