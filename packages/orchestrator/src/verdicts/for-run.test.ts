// verdictsForRun on real git trees: a kernel tree with two branches and a KUT-shaped tree whose
// commits link the KVM fix. Exercises what the CLI tests cannot reach directly: passes from an
// earlier run, and the test sources note.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { commitFiles, git } from "../../../../test/support/git.js";
import type { FinalResult } from "../events/attempts.js";
import { parseUnittestsCfg } from "../kut/unittests-cfg.js";
import { describeVerdict } from "./classify.js";
import { type CellSources, verdictsForRun } from "./for-run.js";

const result = (testId: string, status: FinalResult["status"]): FinalResult => ({
	suite: "kut",
	testId,
	status,
	durationMs: 1,
	attempt: 1,
});

async function trees() {
	const kernel = mkdtempSync(path.join(os.tmpdir(), "forrun-kernel-"));
	await git(kernel, "init", "-q", "-b", "master");
	const old = await commitFiles(kernel, { "virt/kvm/kvm_main.c": "1\n" }, "Initial");
	const master = await commitFiles(kernel, { "virt/kvm/kvm_main.c": "2\n" }, "KVM: x86: a change that breaks svm");
	await git(kernel, "checkout", "-q", "-b", "next");
	const fix = await commitFiles(
		kernel,
		{ "arch/x86/kvm/svm/nested.c": "fix\n" },
		"KVM: nSVM: the fix\n\nLink: https://patch.msgid.link/20260501000000.1111-2-seanjc@google.com",
	);
	const kut = mkdtempSync(path.join(os.tmpdir(), "forrun-kut-"));
	await git(kut, "init", "-q", "-b", "master");
	await commitFiles(
		kut,
		{
			"x86/unittests.cfg": "[svm]\nfile = svm.flat\n\n[vmx]\nfile = vmx.flat\n",
			"x86/Makefile.x86_64": "$(TEST_DIR)/svm.$(bin): $(TEST_DIR)/svm_tests.o\n",
			"x86/svm.c": "",
			"x86/svm_tests.c": "",
			"x86/vmx.c": "",
		},
		"x86: tests",
	);
	await commitFiles(
		kut,
		{ "x86/svm_tests.c": "new\n" },
		"x86/svm: test the fix\n\nLink: https://lore.kernel.org/all/20260501000000.1111-1-seanjc@google.com\nLink: https://lore.kernel.org/r/20260502000000.2222-1-qa@example.org",
	);
	const kutSha = await git(kut, "rev-parse", "HEAD");
	const entries = parseUnittestsCfg(await git(kut, "show", "HEAD:x86/unittests.cfg")).entries;
	return { kernel, kut, kutSha, entries, old, master, fix };
}

/** A cell of the kvm tree at `sha`, target t, with the KUT tree's sources. */
const cellIn =
	(x: Awaited<ReturnType<typeof trees>>) =>
	(kernelId: string, sha: string, results: FinalResult[]): CellSources => ({
		cell: `${kernelId}/t`,
		kernelId,
		target: "t",
		kernel: { tree: "kvm", repo: x.kernel, sha },
		kut: { repo: x.kut, sha: x.kutSha, entries: x.entries },
		results,
	});

test("passes in an earlier run count as evidence across kernels; a missing fix it lacked too is no explanation", async (t) => {
	const x = await trees();
	const cell = cellIn(x);
	const verdicts = await verdictsForRun({
		cells: [cell("kvm@master", x.master, [result("svm", "fail"), result("vmx", "fail")])],
		baseline: { kind: "none" },
		// Yesterday kvm@master was at `old` and both tests passed there.
		earlier: {
			runId: "20260601-000000-nightly",
			started: "2026-06-01T00:00:00.000Z",
			cells: [
				{
					id: "kvm@master/t",
					kernel: { id: "kvm@master", sha: x.old },
					results: [
						{ suite: "kut", testId: "svm", status: "pass" },
						{ suite: "kut", testId: "vmx", status: "pass" },
					],
				},
			],
		},
		knownIssues: [],
		kernelTrees: [{ tree: "kvm", repo: x.kernel, refs: [x.master, x.fix] }],
		branches: [
			{ name: "kvm@master", tree: "kvm", repo: x.kernel, ref: x.master },
			{ name: "kvm@next", tree: "kvm", repo: x.kernel, ref: x.fix },
		],
		cacheRoot: mkdtempSync(path.join(os.tmpdir(), "forrun-cache-")),
	});
	const line = (test: string) => {
		const v = verdicts.get("kvm@master/t")?.get(`kut:${test}`);
		return v === undefined ? undefined : describeVerdict(v);
	};
	const s = (sha: string) => sha.slice(0, 12);
	// svm links a fix master lacks, but it passed yesterday on an ancestor without it: a regression.
	t.is(
		line("svm"),
		`regression: passed on kvm@master (${s(x.old)}) in run 20260601-000000-nightly; commits ${s(x.old)}..${s(x.master)} (1); passed on kvm@master without ${s(x.fix)} ("KVM: nSVM: the fix")`,
	);
	t.is(
		line("vmx"),
		`regression: passed on kvm@master (${s(x.old)}) in run 20260601-000000-nightly; commits ${s(x.old)}..${s(x.master)} (1)`,
	);
});

test("a pass after a failed attempt on a descendant is not evidence that the failure is fixed there", async (t) => {
	const x = await trees();
	const cell = cellIn(x);
	const classifyVmx = async (onNext: FinalResult) => {
		const verdicts = await verdictsForRun({
			cells: [cell("kvm@master", x.master, [result("vmx", "fail")]), cell("kvm@next", x.fix, [onNext])],
			baseline: { kind: "none" },
			knownIssues: [],
			kernelTrees: [{ tree: "kvm", repo: x.kernel, refs: [x.master, x.fix] }],
			branches: [
				{ name: "kvm@master", tree: "kvm", repo: x.kernel, ref: x.master },
				{ name: "kvm@next", tree: "kvm", repo: x.kernel, ref: x.fix },
			],
			cacheRoot: mkdtempSync(path.join(os.tmpdir(), "forrun-cache-")),
		});
		return verdicts.get("kvm@master/t")?.get("kut:vmx")?.verdict;
	};
	t.is(await classifyVmx(result("vmx", "pass")), "pending-fix");
	// Failed, then passed on its retry: next is flaky for vmx, and says nothing about master's failure.
	t.is(await classifyVmx({ ...result("vmx", "pass"), attempt: 2, earlier: [result("vmx", "fail")] }), "new-failure");
});
