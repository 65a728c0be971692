// A build's time limit on the fakelinux tree: the `slow` branch's make never ends.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { BuildTimeoutError, buildKernel, formatLimit } from "../packages/orchestrator/src/build/kernel.js";
import type { KernelConfig } from "../packages/orchestrator/src/matrix/types.js";
import { cachePaths } from "../packages/orchestrator/src/paths/cache.js";
import { lockPathOf } from "../packages/orchestrator/src/paths/lock.js";
import { worktreeFor } from "../packages/orchestrator/src/sources/git.js";
import { fakeLinux } from "./support/fakelinux.js";

/** Running; a zombie left for an init that does not reap counts as gone. */
const alive = (pid: number) => {
	try {
		return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
	} catch {
		return false;
	}
};

const config: KernelConfig = { base: { kind: "make-target", target: "tinyconfig" }, fragments: [] };

test("a kernel build past its timeout is killed with what make started, and the next build of it is not blocked", async (t) => {
	const tree = await fakeLinux();
	const cache = cachePaths(mkdtempSync(path.join(os.tmpdir(), "timeout-cache-")));
	const sha = (await execa("git", ["-C", tree, "rev-parse", "slow"])).stdout;
	const worktree = await worktreeFor(tree, sha, cache.worktrees);
	const started = Date.now();
	const error = await t.throwsAsync(buildKernel({ worktree, sha, config, cache, timeoutMs: 1_500 }), {
		instanceOf: BuildTimeoutError,
	});
	t.is(error?.message, "kernel build exceeded its 1.5 s timeout");
	t.true(Date.now() - started < 20_000);
	const [out] = await execa("sh", ["-c", `ls -d ${cache.builds}/out/*/`]).then((r) => r.stdout.split("\n"));
	const sleepPid = Number(readFileSync(path.join(out ?? "", "sleep.pid"), "utf8"));
	await new Promise((resolve) => setTimeout(resolve, 200));
	t.false(alive(sleepPid), "the build's sleep outlived the timeout");
	t.false(existsSync(lockPathOf((out ?? "").replace(/\/$/, ""))), "the lock outlived the build");

	// The same commit and config again, now that the build ends: built at once, no wait for a lock.
	rmSync(path.join(worktree, "SLOW_BUILD"));
	const waits: string[] = [];
	const again = await buildKernel({ worktree, sha, config, cache, timeoutMs: 60_000, onWait: (l) => waits.push(l) });
	t.false(again.cacheHit);
	t.true(existsSync(again.image));
	t.deepEqual(waits, []);
});

test("a time limit reads as a person would say it", (t) => {
	t.is(formatLimit(4 * 3_600_000), "4 h");
	t.is(formatLimit(90 * 60_000), "90 min");
	t.is(formatLimit(1_500), "1.5 s");
	t.is(formatLimit(250), "250 ms");
});
