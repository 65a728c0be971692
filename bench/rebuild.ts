// Cold vs warm build phase for the demo kernel: a first build from an empty build cache, then the
// same build again (a cache hit must skip make, and the config steps too). Target: warm ≤ 3 % of
// cold. Slow (a real kernel build, minutes). Run: pnpm bench:rebuild
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { buildKernel } from "../packages/orchestrator/src/build/kernel.js";
import { ensureDemoTree } from "../packages/orchestrator/src/demo/linux-source.js";
import type { KernelConfig } from "../packages/orchestrator/src/matrix/types.js";
import { cachePaths } from "../packages/orchestrator/src/paths/cache.js";
import { capture } from "../packages/orchestrator/src/proc/run.js";
import { resolveRef, worktreeFor } from "../packages/orchestrator/src/sources/git.js";

const tree = await ensureDemoTree(path.join(os.homedir(), ".cache/kvm-matrix/demo/linux"));
const sha = await resolveRef(tree, "linux", "demo");
const cache = cachePaths(mkdtempSync(path.join(os.tmpdir(), "bench-rebuild-")));
const worktree = await worktreeFor(tree, sha, cache.worktrees);
const fragment = path.resolve(import.meta.dirname, "../matrices/fragments/kvm-selftests.config");
const config: KernelConfig = {
	base: { kind: "make-target", target: "tinyconfig" },
	fragments: [
		{ kind: "in-tree", name: "kvm_guest.config" },
		{ kind: "file", path: fragment },
	],
};
const jobs = os.availableParallelism();
const timed = async () => {
	const start = performance.now();
	const result = await buildKernel({ worktree, sha, config, cache, jobs });
	return { ...result, seconds: (performance.now() - start) / 1000 };
};
console.log(
	`demo kernel ${sha.slice(0, 12)} (tinyconfig + kvm_guest.config + fragments), make -j${jobs}, ${await capture("gcc", ["--version"]).then((v) => v.split("\n")[0])}`,
);
const cold = await timed();
console.log(`cold  ${cold.seconds.toFixed(1)} s  cache hit: ${cold.cacheHit}  objects: ${cold.objects ?? "?"}`);
const warm = await timed();
console.log(`warm  ${warm.seconds.toFixed(2)} s  cache hit: ${warm.cacheHit}`);
console.log(`warm/cold ${((100 * warm.seconds) / cold.seconds).toFixed(2)} %  (target ≤ 3 %)`);
