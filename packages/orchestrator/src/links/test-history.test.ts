import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { commitFiles, git } from "../../../../test/support/git.js";
import { HistoryAnswers } from "./ancestry.js";
import { commitsTouching } from "./test-commits.js";
import { type SuiteScope, TestHistories } from "./test-history.js";

const KUT: SuiteScope = { suite: "kut", cfg: "x86/unittests.cfg" };
const SELFTESTS: SuiteScope = { suite: "selftests", root: "tools/testing/selftests/kvm" };
const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix));

/** A KUT-shaped history with a merge, an entry added, renamed back and forth, and one removed. */
async function kutTree() {
	const repo = tmp("th-kut-");
	await git(repo, "init", "-q", "-b", "master");
	await commitFiles(
		repo,
		{ "x86/unittests.cfg": "[vmx]\nfile = vmx.flat\n", "x86/vmx.c": "1", "lib/x86/vm.h": "1" },
		"x86: vmx",
	);
	await git(repo, "checkout", "-q", "-b", "side");
	await commitFiles(
		repo,
		{ "x86/vmx.c": "side" },
		"x86: vmx on a side branch\n\nLink: https://lore.kernel.org/r/1-a@b",
	);
	await git(repo, "checkout", "-q", "master");
	await commitFiles(
		repo,
		{ "x86/unittests.cfg": "[vmx]\nfile = vmx.flat\n\n[vmx_pf]\nfile = vmx.flat\n", "lib/x86/vm.h": "2" },
		"x86: vmx_pf entry",
	);
	await git(repo, "merge", "-q", "--no-ff", "-m", "Merge side", "side");
	await commitFiles(
		repo,
		{ "x86/unittests.cfg": "[vmx]\nfile = vmx.flat\n", "x86/emulator.c": "1" },
		"x86: drop vmx_pf; vmx_pf is not [vmx_pf] here",
	);
	return repo;
}

test("one pass answers what a path-limited git log and git log -G answer, test by test", async (t) => {
	const repo = await kutTree();
	const sha = await git(repo, "rev-parse", "HEAD");
	const history = await new TestHistories(undefined, new HistoryAnswers()).of(repo, sha, KUT);
	for (const files of [
		["x86/vmx.c"],
		["lib/x86/vm.h"],
		["x86/vmx.c", "lib/x86/vm.h"],
		["x86/unittests.cfg"],
		["x86/nope.c"],
	]) {
		const expected = await commitsTouching(repo, sha, files);
		t.deepEqual(
			history.touching(files).map((c) => c.sha),
			expected.map((c) => c.sha),
			files.join(" "),
		);
	}
	for (const name of ["vmx", "vmx_pf", "emulator"]) {
		const out = await git(
			repo,
			"log",
			"--full-history",
			"--format=%H",
			`-G^\\[${name}\\]$`,
			sha,
			"--",
			"x86/unittests.cfg",
		);
		t.deepEqual(
			history.changingEntry(name).map((c) => c.sha),
			out === "" ? [] : out.split("\n"),
			name,
		);
	}
	const side = history.touching(["x86/vmx.c"]).find((c) => c.subject.includes("side branch"));
	t.deepEqual(side?.messageIds, ["1-a@b"]);
});

test("a suite commit's pass is cached under its sha, and a descendant is read on top of it", async (t) => {
	const repo = tmp("th-sel-");
	await git(repo, "init", "-q", "-b", "master");
	await commitFiles(repo, { "tools/testing/selftests/kvm/x86_64/a.c": "1", "arch/x86/kvm/x86.c": "1" }, "a");
	const first = await git(repo, "rev-parse", "HEAD");
	const cache = tmp("th-cache-");
	const run1 = new TestHistories(cache, new HistoryAnswers());
	t.is((await run1.of(repo, first, SELFTESTS)).touching(["tools/testing/selftests/kvm/x86_64/a.c"]).length, 1);
	t.is(run1.passes, 1);

	// A second run reads it back: no pass over history at all.
	const run2 = new TestHistories(cache, new HistoryAnswers());
	t.is((await run2.of(repo, first, SELFTESTS)).size, 1);
	t.is(run2.passes, 0);

	// The branch moves on; another branch leaves from the first commit.
	await commitFiles(repo, { "tools/testing/selftests/kvm/x86_64/a.c": "2", "arch/x86/kvm/x86.c": "2" }, "b");
	await commitFiles(repo, { "tools/testing/selftests/kvm/x86_64/c.c": "1" }, "c");
	const later = await git(repo, "rev-parse", "HEAD");
	await git(repo, "checkout", "-q", "-b", "other", first);
	await commitFiles(repo, { "tools/testing/selftests/kvm/x86_64/a.c": "other" }, "other");
	const other = await git(repo, "rev-parse", "HEAD");

	for (const sha of [later, other]) {
		const incremental = await new TestHistories(cache, new HistoryAnswers()).of(repo, sha, SELFTESTS);
		const whole = await new TestHistories(undefined, new HistoryAnswers()).of(repo, sha, SELFTESTS);
		for (const file of ["x86_64/a.c", "x86_64/c.c"].map((f) => `tools/testing/selftests/kvm/${f}`))
			t.deepEqual(
				incremental.touching([file]).map((c) => c.subject),
				whole.touching([file]).map((c) => c.subject),
				`${sha === later ? "later" : "other"} ${file}`,
			);
	}
	const onOther = await new TestHistories(cache, new HistoryAnswers()).of(repo, other, SELFTESTS);
	t.deepEqual(
		onOther.touching(["tools/testing/selftests/kvm/x86_64/a.c"]).map((c) => c.subject),
		["other", "a"],
	);
	t.false(onOther.covers("tools/lib/x.c"));
	t.true(onOther.covers("tools/testing/selftests/kvm/lib/x86_64/processor.c"));
});

test("a damaged cache file is read again from git, never trusted", async (t) => {
	const repo = tmp("th-dmg-");
	await git(repo, "init", "-q", "-b", "master");
	await commitFiles(repo, { "tools/testing/selftests/kvm/x86_64/a.c": "1" }, "a");
	const sha = await git(repo, "rev-parse", "HEAD");
	const cache = tmp("th-cache-");
	await new TestHistories(cache, new HistoryAnswers()).of(repo, sha, SELFTESTS);
	const { writeFileSync } = await import("node:fs");
	writeFileSync(path.join(cache, "selftests", sha), "garbage\n");
	const again = new TestHistories(cache, new HistoryAnswers());
	t.is((await again.of(repo, sha, SELFTESTS)).size, 1);
	t.is(again.passes, 1);
});
