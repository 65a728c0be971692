// A KUT-shaped tree built with its own ./configure && make: which tests a commit concerns, read
// from the Makefile rules and the compiler's dependency files the build wrote.
import { mkdtempSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { buildKut } from "../packages/orchestrator/src/kut/build.js";
import {
	depFileOf,
	kutBuildDir,
	kutImageRules,
	kutSources,
	parseDepFile,
	readKutDepFiles,
	testsForFiles,
} from "../packages/orchestrator/src/kut/sources.js";
import { parseUnittestsCfg } from "../packages/orchestrator/src/kut/unittests-cfg.js";
import { cachePaths } from "../packages/orchestrator/src/paths/cache.js";
import { capture } from "../packages/orchestrator/src/proc/run.js";
import { worktreeFor } from "../packages/orchestrator/src/sources/git.js";
import { commitSourceChange, kutFixture } from "./support/kut-fixture.js";

const filesOf = async (repo: string, sha: string) =>
	(await capture("git", ["-C", repo, "show", "--format=", "--name-only", sha])).split("\n").filter(Boolean);

test("a built KUT tree maps a commit to the entries whose image it is compiled into", async (t) => {
	const repo = await kutFixture({ sharedImages: true });
	const base = await capture("git", ["-C", repo, "rev-parse", "HEAD"]);
	const cache = cachePaths(mkdtempSync(path.join(os.tmpdir(), "kut-sources-cache-")));
	const vmxOnly = await commitSourceChange(
		repo,
		"x86/vmx_tests.c",
		"nVMX: Add a testcase\n\nLink: https://lore.kernel.org/all/20230729005200.1057358-6-seanjc@google.com\nLink: https://lore.kernel.org/r/20230911182013.333559-4-seanjc@google.com",
	);
	const included = await commitSourceChange(repo, "x86/emulator64.c", "x86/emulator: Add a 64-bit testcase");
	const shared = await commitSourceChange(repo, "lib/libcflat.h", "lib: Tweak report output");
	const sha = shared;

	t.is(kutBuildDir(cache.root, sha), undefined, "nothing built yet");
	const worktree = await worktreeFor(repo, sha, cache.worktrees);
	const built = await buildKut({ worktree, sha, cache, jobs: 2 });
	t.is(kutBuildDir(cache.root, sha), worktree);

	// The build's own dependency files, as the compiler wrote them: lib/ through -I $(SRCDIR)/lib.
	t.deepEqual(parseDepFile(await readFile(path.join(worktree, depFileOf("x86/emulator.o")), "utf8")), [
		"x86/emulator.c",
		path.join(worktree, "lib/libcflat.h"),
		"x86/emulator64.c",
	]);

	const rules = await kutImageRules(repo, sha);
	t.deepEqual(rules?.get("vmx"), ["x86/vmx_tests.o"]);
	const deps = await readKutDepFiles(worktree);
	t.deepEqual(deps("x86/vmx_tests.o"), ["x86/vmx_tests.c", "lib/libcflat.h", "x86/vmx.h"]);
	t.is(deps("x86/access.o"), undefined);
	const entries = built.entries;
	t.deepEqual(testsForFiles(await filesOf(repo, vmxOnly), entries, rules, deps), ["vmx", "ept", "vmx_apic"]);
	t.deepEqual(testsForFiles(await filesOf(repo, included), entries, rules, deps), ["emulator"]);
	t.deepEqual(await filesOf(repo, shared), ["lib/libcflat.h"]);
	t.deepEqual(testsForFiles(await filesOf(repo, shared), entries, rules, deps), []);

	const ept = entries.find((e) => e.name === "ept");
	const emulator = entries.find((e) => e.name === "emulator");
	if (ept === undefined || emulator === undefined) return t.fail("the fixture has [ept] and [emulator]");
	t.deepEqual(await kutSources({ repo, sha, entry: ept, buildDir: worktree }), {
		files: ["x86/vmx.c", "x86/vmx.h", "x86/vmx_tests.c"],
		basis: "build",
	});
	t.deepEqual(await kutSources({ repo, sha, entry: emulator, buildDir: worktree }), {
		files: ["x86/emulator.c", "x86/emulator64.c"],
		basis: "build",
	});

	// The fixture repository itself was never built: the Makefile is all there is.
	t.deepEqual(await kutSources({ repo, sha, entry: ept, buildDir: repo }), {
		files: ["x86/vmx.c", "x86/vmx_tests.c"],
		basis: "makefile",
	});
	t.deepEqual(await kutSources({ repo, sha: base, entry: emulator }), { files: ["x86/emulator.c"], basis: "makefile" });

	// A commit that is not there is an error, not a tree without Makefiles.
	await t.throwsAsync(kutSources({ repo, sha: "0".repeat(40), entry: ept }));

	// A tree without KUT's Makefiles (as test-commits' own small trees are): the image's name.
	const cfg = parseUnittestsCfg(await readFile(path.join(repo, "x86/unittests.cfg"), "utf8")).entries;
	t.is(cfg.length, entries.length);
	const bare = mkdtempSync(path.join(os.tmpdir(), "kut-bare-"));
	await capture("git", ["-C", bare, "init", "-q"]);
	await capture("git", [
		"-C",
		bare,
		"-c",
		"user.name=Dev",
		"-c",
		"user.email=d@e.org",
		"commit",
		"-q",
		"--allow-empty",
		"-m",
		"empty",
	]);
	const bareSha = await capture("git", ["-C", bare, "rev-parse", "HEAD"]);
	t.deepEqual(await kutSources({ repo: bare, sha: bareSha, entry: ept }), {
		files: ["x86/vmx.c"],
		basis: "image-name",
	});
});
