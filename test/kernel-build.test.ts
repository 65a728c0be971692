// Config merging and the build cache on the fakelinux tree, with the kernel's real merge_config.sh.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { buildKernel } from "../packages/orchestrator/src/build/kernel.js";
import type { KernelConfig } from "../packages/orchestrator/src/matrix/types.js";
import { cachePaths } from "../packages/orchestrator/src/paths/cache.js";
import { buildSelftests } from "../packages/orchestrator/src/selftests/build.js";
import { worktreeFor } from "../packages/orchestrator/src/sources/git.js";
import { fakeLinux } from "./support/fakelinux.js";

test("the final config merges base, fragments, kvm-matrix's options and the selftests' config; equal inputs hit the cache", async (t) => {
	const tree = await fakeLinux();
	const cache = cachePaths(mkdtempSync(path.join(os.tmpdir(), "kb-cache-")));
	const sha = (await execa("git", ["-C", tree, "rev-parse", "master"])).stdout;
	const worktree = await worktreeFor(tree, sha, cache.worktrees);
	const user = path.join(mkdtempSync(path.join(os.tmpdir(), "frag-")), "user.config");
	writeFileSync(user, "CONFIG_USER_OPTION=y\nCONFIG_KVM=m\n");
	const config: KernelConfig = {
		base: { kind: "make-target", target: "tinyconfig" },
		fragments: [
			{ kind: "in-tree", name: "kvm_guest.config" },
			{ kind: "file", path: user },
		],
	};
	const progress: number[] = [];
	const cold = await buildKernel({ worktree, sha, config, cache, onProgress: (done) => progress.push(done) });
	t.false(cold.cacheHit);
	t.deepEqual(progress, [1, 2, 3]);
	const final = readFileSync(path.join(path.dirname(cold.image), "config"), "utf8");
	t.true(final.includes("# base tinyconfig"));
	t.true(final.includes("CONFIG_VIRTIO=y")); // in-tree fragment
	t.true(final.includes("CONFIG_USER_OPTION=y")); // the user's file
	t.true(final.includes("CONFIG_ADVISE_SYSCALLS=y")); // kvm-matrix's fragment
	// Later fragments win: the user's CONFIG_KVM=m is overridden by kvm-matrix (KVM built in) and the selftests' config.
	t.true(final.includes("CONFIG_KVM=y"));
	t.false(final.includes("CONFIG_KVM=m"));

	const warm = await buildKernel({ worktree, sha, config, cache });
	t.true(warm.cacheHit);
	t.is(warm.key, cold.key);
	t.is(warm.image, cold.image);

	const other = await buildKernel({
		worktree,
		sha,
		config: { ...config, base: { kind: "make-target", target: "defconfig" } },
		cache,
	});
	t.false(other.cacheHit);
	t.not(other.key, cold.key);
	t.not(other.configHash, cold.configHash);
});

test("a cached image that is not whole (a crash left it empty, or short) is built again, not taken", async (t) => {
	const tree = await fakeLinux();
	const cache = cachePaths(mkdtempSync(path.join(os.tmpdir(), "kb-cache-")));
	const sha = (await execa("git", ["-C", tree, "rev-parse", "master"])).stdout;
	const worktree = await worktreeFor(tree, sha, cache.worktrees);
	const config: KernelConfig = { base: { kind: "make-target", target: "tinyconfig" }, fragments: [] };
	const cold = await buildKernel({ worktree, sha, config, cache });
	const whole = readFileSync(cold.image);
	t.true(whole.length > 1_000_000);
	// What ext4 can show after a host crash: the name reached the disk, the bytes did not.
	truncateSync(cold.image, 0);
	const again = await buildKernel({ worktree, sha, config, cache });
	t.false(again.cacheHit);
	t.is(again.image, cold.image);
	t.true(readFileSync(again.image).equals(whole));
	t.true((await buildKernel({ worktree, sha, config, cache })).cacheHit);
	// The same size with other bytes (a block that never made it) is no hit either.
	const bytes = readFileSync(cold.image);
	bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
	writeFileSync(cold.image, bytes);
	t.false((await buildKernel({ worktree, sha, config, cache })).cacheHit);
	t.true((await buildKernel({ worktree, sha, config, cache })).cacheHit);
	// An image from before seals (none beside it) is taken as it stands and sealed, unless empty.
	rmSync(`${cold.image}.sealed`);
	t.true((await buildKernel({ worktree, sha, config, cache })).cacheHit);
	t.true(existsSync(`${cold.image}.sealed`));
	rmSync(`${cold.image}.sealed`);
	truncateSync(cold.image, 0);
	t.false((await buildKernel({ worktree, sha, config, cache })).cacheHit);
	t.true(readFileSync(cold.image).equals(whole));
});

test("a selftests build whose binary is not whole is built again; a whole one is a hit", async (t) => {
	const tree = await fakeLinux();
	const cache = cachePaths(mkdtempSync(path.join(os.tmpdir(), "st-cache-")));
	const sha = (await execa("git", ["-C", tree, "rev-parse", "master"])).stdout;
	const worktree = await worktreeFor(tree, sha, cache.worktrees);
	const cold = await buildSelftests({ worktree, sha, cache, jobs: 2 });
	t.false(cold.cacheHit);
	const pass = cold.tests.find((s) => s.id === "x86_64/pass_test");
	if (pass?.binary === undefined) return t.fail(cold.errors.join("\n"));
	t.true((await buildSelftests({ worktree, sha, cache, jobs: 2 })).cacheHit);
	// The manifest reached the disk, one binary's bytes did not.
	truncateSync(path.join(cold.outputDir, pass.binary), 0);
	const again = await buildSelftests({ worktree, sha, cache, jobs: 2 });
	t.false(again.cacheHit);
	t.true(statSync(path.join(again.outputDir, pass.binary)).size > 0);
	t.true((await buildSelftests({ worktree, sha, cache, jobs: 2 })).cacheHit);
	// A manifest from before seals: taken as it stands (and sealed) while every binary has bytes.
	const manifest = path.join(cache.selftests, sha, "manifest.json");
	const { sealed: _, ...legacy } = JSON.parse(readFileSync(manifest, "utf8")) as { sealed: unknown };
	writeFileSync(manifest, JSON.stringify(legacy));
	t.true((await buildSelftests({ worktree, sha, cache, jobs: 2 })).cacheHit);
	t.true("sealed" in (JSON.parse(readFileSync(manifest, "utf8")) as object));
	writeFileSync(manifest, JSON.stringify(legacy));
	truncateSync(path.join(cold.outputDir, pass.binary), 0);
	t.false((await buildSelftests({ worktree, sha, cache, jobs: 2 })).cacheHit);
});
