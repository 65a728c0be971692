import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { commitFiles, git } from "../../../../test/support/git.js";
import { parseUnittestsCfg } from "../kut/unittests-cfg.js";
import { HistoryAnswers } from "./ancestry.js";
import { updateLinkIndex } from "./index.js";
import { patchStatusIn } from "./patch-status.js";
import { commitsTouching } from "./test-commits.js";
import { TestHistories } from "./test-history.js";
import { isFixLink, typeLinks } from "./typing.js";

const commit = commitFiles;

test("a KUT test maps to the commits that touched its source, and through their links to the KVM fix", async (t) => {
	// The kernel side: the fix is patch 1 of a series, only in next.
	const kernel = mkdtempSync(path.join(os.tmpdir(), "kernel-"));
	await git(kernel, "init", "-q", "-b", "master");
	await commit(kernel, { "base.c": "x" }, "Initial");
	await git(kernel, "checkout", "-q", "-b", "next");
	const fix = await commit(
		kernel,
		{ "arch/x86/kvm/emulate.c": "fix" },
		"KVM: x86: Fix emulated MMIO with ENTER\n\nLink: https://patch.msgid.link/20260225012049.920665-2-seanjc@google.com",
	);
	// The test side (KUT-shaped): the test commit links the series' cover letter, then its own posting.
	const kut = mkdtempSync(path.join(os.tmpdir(), "kut-"));
	await git(kut, "init", "-q", "-b", "master");
	await commit(
		kut,
		{ "x86/unittests.cfg": "[emulator]\nfile = emulator.flat\n", "x86/emulator.c": "v1" },
		"x86: add emulator test",
	);
	await commit(
		kut,
		{
			"x86/emulator.c": "v2",
			"x86/unittests.cfg":
				"[emulator]\nfile = emulator.flat\n\n[emulator-mmio]\nfile = emulator.flat\ntest_args = mmio\n",
		},
		"x86/emulator: Add testcases for ENTER + emulated MMIO\n\nLink: https://lore.kernel.org/all/20260225012049.920665-1-seanjc@google.com\nLink: https://patch.msgid.link/20260301000000.5555-3-seanjc@google.com",
	);
	const cfg = parseUnittestsCfg(await git(kut, "show", "master:x86/unittests.cfg")).entries;
	const mmio = cfg.find((e) => e.name === "emulator-mmio");
	if (mmio === undefined) return t.fail();
	const touching = await commitsTouching(kut, "master", ["x86/emulator.c"]);
	t.is(touching.length, 2);
	const history = await new TestHistories(undefined, new HistoryAnswers()).of(
		kut,
		await git(kut, "rev-parse", "master"),
		{ suite: "kut", cfg: "x86/unittests.cfg" },
	);
	const added = history.changingEntry("emulator-mmio");
	t.deepEqual(
		added.map((c) => c.subject),
		["x86/emulator: Add testcases for ENTER + emulated MMIO"],
	);

	const index = await updateLinkIndex(
		kernel,
		["master", "next"],
		path.join(mkdtempSync(path.join(os.tmpdir(), "i-")), "k.json"),
	);
	const links = (
		await Promise.all(
			touching.map((c) =>
				typeLinks(c, { trees: [{ tree: "kvm", index }], testCommits: new Set(touching.map((x) => x.sha)) }),
			),
		)
	).flat();
	const [dep] = links.filter(isFixLink);
	t.deepEqual(dep?.role === "fix" ? [dep.matchedBy, dep.patches.map((p) => p.commits)] : [], [
		"series",
		[[{ tree: "kvm", sha: fix, subject: "KVM: x86: Fix emulated MMIO with ENTER" }]],
	]);
	const [patch] = dep?.role === "fix" ? dep.patches : [];
	t.deepEqual(
		await patchStatusIn(
			patch ?? t.fail(),
			{ repo: kernel, sha: await git(kernel, "rev-parse", "master") },
			new HistoryAnswers(),
		),
		{ kind: "missing" },
	);
});
