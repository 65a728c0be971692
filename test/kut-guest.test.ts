// KUT inside a booted kernel (Debian's, under TCG), tests side by side: the fixture's run_tests.sh
// runs in the guest, its "images" are native programs. Two images that wait for each other pass
// only side by side; one that panics the guest's kernel while another runs is pinned on its test
// once each has run alone, and the rest go on in a new boot.
import { existsSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { buildKut } from "../packages/orchestrator/src/kut/build.js";
import { runKutInGuest } from "../packages/orchestrator/src/kut/run-guest.js";
import type { Target } from "../packages/orchestrator/src/matrix/types.js";
import { cachePaths } from "../packages/orchestrator/src/paths/cache.js";
import { worktreeFor } from "../packages/orchestrator/src/sources/git.js";
import { debianKernel } from "./support/debian-kernel.js";
import { git } from "./support/git.js";
import { kutFixture } from "./support/kut-fixture.js";

const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix));
const target: Target = {
	name: "t",
	qemu: { smp: 2, memoryBytes: 1024 * 2 ** 20, accel: "tcg" },
	cmdline: [],
	moduleParams: {},
	host: false,
};
// The guest's /dev/shm is a tmpfs of its own: where the two images meet.
const meet = (mine: string, other: string) =>
	`int main(void) { fclose(fopen("/dev/shm/meet-${mine}", "w")); for (int i = 0; i < 200; i++) { if (access("/dev/shm/meet-${other}", F_OK) == 0) { puts("PASS: met ${other}"); puts("SUMMARY: 1 tests"); return 0; } usleep(50000); } puts("FAIL: met nobody"); puts("SUMMARY: 1 tests, 1 unexpected failures"); return 1; }`;

test("KUT in a guest side by side: two tests meet; a panic beside another is pinned on its test", async (t) => {
	t.timeout(600_000);
	const repo = await kutFixture({
		extraCfg: [
			"",
			"[late_panic]\nfile = late_panic.flat\n",
			"[slow]\nfile = slow.flat\n",
			"[meet_a]\nfile = meet_a.flat\n",
			"[meet_b]\nfile = meet_b.flat\n",
		].join("\n"),
		extraImages: {
			late_panic:
				'int main(void) { sleep(1); FILE *f = fopen("/proc/sysrq-trigger", "w"); if (!f) return 1; fputc(\'c\', f); fclose(f); sleep(60); return 0; }',
			slow: 'int main(void) { sleep(3); puts("PASS: slept"); puts("SUMMARY: 1 tests"); return 0; }',
			meet_a: meet("a", "b"),
			meet_b: meet("b", "a"),
		},
	});
	const cache = cachePaths(tmp("kut-guest-"));
	const head = (await git(repo, "rev-parse", "HEAD")).trim();
	const worktree = await worktreeFor(repo, head, cache.worktrees);
	await buildKut({ worktree, sha: head, cache, jobs: 2 });
	const logDir = path.join(tmp("kut-guest-run-"), "kut");
	const run = await runKutInGuest({
		kernel: { image: debianKernel().image },
		target,
		dir: worktree,
		tests: ["late_panic", "slow", "meet_a", "meet_b"],
		sideBySide: 2,
		accel: "tcg",
		timeoutSFor: () => 60,
		logDir,
		cacheDir: path.join(cache.root, "qemu"),
	});
	t.deepEqual(
		Object.fromEntries(run.results.map((r) => [r.testId, r.status])),
		{ late_panic: "crash", slow: "pass", meet_a: "pass", meet_b: "pass" },
		JSON.stringify(run.results.map((r) => [r.testId, r.status, r.detail])),
	);
	t.deepEqual(
		run.boots.map((b) => b.kind),
		["panic", "panic", "completed"],
	);
	t.true(
		run.notes.some((n) => /late_panic, slow ran side by side; each runs again alone/.test(n)),
		run.notes.join("\n"),
	);
	t.regex(run.results.find((r) => r.testId === "late_panic")?.detail ?? "", /^panic: /);
	for (const dir of ["boot", "boot-2", "boot-3"]) t.true(existsSync(path.join(logDir, dir)), dir);
});
