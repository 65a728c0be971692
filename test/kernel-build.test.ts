// Config merging and the build cache on the fakelinux tree, with the kernel's real merge_config.sh.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { buildKernel } from "../packages/orchestrator/src/build/kernel.js";
import type { KernelConfig } from "../packages/orchestrator/src/matrix/types.js";
import { cachePaths } from "../packages/orchestrator/src/paths/cache.js";
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
