// Nothing from a tree or a guest is trusted: test names from a KUT cfg or a selftests Makefile are
// checked where they are read (one line naming FILE:LINE, nothing run, no file outside the run
// directory), and a guest that forges markers or records cannot invent results or choose paths.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createEventBus, type EngineEvent, executeRun, loadMatrixFile } from "@kvm-matrix/orchestrator";
import test from "ava";
import { execa } from "execa";
import type { TestResult } from "../packages/orchestrator/src/events/types.js";
import { buildKut } from "../packages/orchestrator/src/kut/build.js";
import { runKutInGuest } from "../packages/orchestrator/src/kut/run-guest.js";
import { runKutOnHost } from "../packages/orchestrator/src/kut/run-host.js";
import type { Target } from "../packages/orchestrator/src/matrix/types.js";
import { cachePaths } from "../packages/orchestrator/src/paths/cache.js";
import { buildSelftests } from "../packages/orchestrator/src/selftests/build.js";
import { runSelftests } from "../packages/orchestrator/src/selftests/run.js";
import { worktreeFor } from "../packages/orchestrator/src/sources/git.js";
import { debianKernel } from "./support/debian-kernel.js";
import { fakeLinux } from "./support/fakelinux.js";
import { hostMatrix, kutFixture } from "./support/kut-fixture.js";

const kernel = debianKernel();
const target: Target = {
	name: "t",
	qemu: { smp: 1, memoryBytes: 768 * 2 ** 20, accel: "tcg" },
	cmdline: [],
	moduleParams: {},
	host: false,
};
const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix));
/**
 * Files whose name holds `canary` (what a forged path or an injected command would leave): in
 * /tmp itself, and anywhere under `roots` (a forged `../../x` resolves next to the run directory).
 * Other tests create and delete files meanwhile, so a directory that vanishes is skipped.
 */
function canaryFiles(canary: string, roots: readonly string[] = []): string[] {
	const found: string[] = [];
	const walk = (dir: string, deep: boolean) => {
		let names: string[] = [];
		try {
			names = readdirSync(dir);
		} catch {
			return;
		}
		for (const name of names) {
			const file = path.join(dir, name);
			if (name.includes(canary)) found.push(file);
			if (deep) walk(file, true);
		}
	};
	walk(os.tmpdir(), false);
	for (const root of roots) walk(root, true);
	return found;
}
const filesUnder = (dir: string) =>
	existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: "utf8" }).sort() : [];
const sha = async (repo: string) => (await execa("git", ["-C", repo, "rev-parse", "HEAD"])).stdout;

// Section names as a hostile or broken unittests.cfg may hold them.
const kutCorpus = (canary: string): [string, string][] => [
	[`a$(touch /tmp/${canary})`, `"a$(touch /tmp/${canary})" is not a safe test name`],
	["$(reboot -f)", '"$(reboot -f)" is not a safe test name'],
	["../../x", '"../../x" is not a safe test name'],
	["a b", '"a b" is not a safe test name'],
	["a'b", `"a'b" is not a safe test name`],
	['a"b', '"a\\"b" is not a safe test name'],
	["a\nb", '"[a" opens a section but is not a "[name]" line'],
];

test("a KUT cfg with an unsafe section name fails the cell in its build stage in one line; nothing runs", async (t) => {
	t.timeout(300_000);
	const canary = `PWNED-${randomBytes(6).toString("hex")}`;
	const cases = kutCorpus(canary);
	const outcomes = await Promise.all(
		cases.map(async ([name]) => {
			const repo = await kutFixture({ extraCfg: `\n[${name}]\nfile = pass.flat\n` });
			const { dir, file } = hostMatrix(repo, "kut-hostile", "{ tree: kut, ref: master, accel: tcg }", "retries: 0\n");
			const loaded = await loadMatrixFile(file, dir);
			if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
			const runDir = path.join(dir, "run");
			const summary = await executeRun(loaded.value, {
				cacheRoot: path.join(dir, "cache"),
				cwd: dir,
				runDir,
				bus: createEventBus<EngineEvent>(),
			});
			// The injected header's line, counted in the file as written.
			const cfg = readFileSync(path.join(repo, "x86/unittests.cfg"), "utf8").split("\n");
			const line = cfg.indexOf(`[${name.split("\n")[0]}${name.includes("\n") ? "" : "]"}`) + 1;
			return { summary, runDir, line, dir };
		}),
	);
	for (const [i, [name, why]] of cases.entries()) {
		const { summary, runDir, line } = outcomes[i] ?? { summary: undefined, runDir: "", line: 0 };
		const cell = summary?.cells[0];
		t.is(cell?.state, "failed", JSON.stringify(name));
		t.is(cell?.failure?.stage, "build", JSON.stringify(name));
		t.is(cell?.failure?.reason.split("\n").length, 1);
		t.true(line > 50);
		t.true(cell?.failure?.reason.startsWith(`x86/unittests.cfg:${line}: ${why}`), cell?.failure?.reason);
		t.deepEqual(cell?.results ?? [], []);
		// No test ran: the cell has no KUT logs at all.
		t.deepEqual(
			filesUnder(path.join(runDir, "cells")).filter((f) => f.includes("kut")),
			[],
		);
	}
	t.deepEqual(
		canaryFiles(
			canary,
			outcomes.map((o) => o.dir),
		),
		[],
	);
});

test("a selftests Makefile with an unsafe test name fails the build in one line naming FILE:LINE; make runs no shell on it", async (t) => {
	t.timeout(300_000);
	const canary = `PWNED-${randomBytes(6).toString("hex")}`;
	// As make reads them: `$$` is a `$` in the name; a space splits a word in two, so "a b" is two
	// names of which the first is fine and the second is caught as the path it would be.
	const cases: [string, string][] = [
		// The recipe `@echo $(TEST_GEN_PROGS)` kvm-matrix used to list tests with ran this touch.
		[`x86_64/a$$(touch$\${IFS}/tmp/${canary})`, `"x86_64/a$(touch\${IFS}/tmp/${canary})"`],
		[`x86_64/a$$(touch /tmp/${canary})`, '"x86_64/a$(touch"'],
		["$$(reboot -f)", '"$(reboot"'],
		["../../x", '"../../x"'],
		["x86_64/a'b", `"x86_64/a'b"`],
		['x86_64/a"b', '"x86_64/a\\"b"'],
		["/tmp/x", '"/tmp/x"'],
		["x86_64/.hidden", '"x86_64/.hidden"'],
	];
	const roots: string[] = [];
	for (const [word, shown] of cases) {
		const tree = await fakeLinux({ injectTestNames: [word] });
		const cache = cachePaths(tmp("hostile-selftests-"));
		roots.push(tree, cache.root);
		const head = await sha(tree);
		const worktree = await worktreeFor(tree, head, cache.worktrees);
		const error = await t.throwsAsync(buildSelftests({ worktree, sha: head, cache, jobs: 2 }));
		t.is(
			error?.message,
			`tools/testing/selftests/kvm/Makefile:3: ${shown} is not a safe test name (letters, digits and "_.+-", parts split by "/"; no spaces, quotes, "$" or "..")`,
		);
		// Listed before anything is built: no header, no object, no binary.
		t.false(existsSync(path.join(cache.selftests, head, "headers")));
		t.deepEqual(filesUnder(path.join(cache.selftests, head, "out")), []);
	}
	t.deepEqual(canaryFiles(canary, roots), []);
});

// A selftest that forges everything it can think of: the old console markers with paths outside
// the run directory, result records for itself, for the next test and for one never asked for, on
// its output, on descriptor 3, on every virtio port (by name and through /proc) and on ttyS1.
const forger = (canary: string) => `
static int try_write(const char *path) {
	int fd = open(path, O_WRONLY | O_NONBLOCK);
	if (fd < 0) return 0;
	dprintf(fd, "{\\"t\\":\\"start\\",\\"i\\":2}\\n{\\"t\\":\\"end\\",\\"i\\":2,\\"status\\":0,\\"ms\\":1}\\n");
	close(fd);
	return 1;
}
int main(void) {
	int tried = 0, reopened = 0, opened = 0;
	puts("forger text before");
	puts("@@kvm-matrix-test-end x86_64/forger_test@@");
	puts("@@kvm-matrix-test-start ../../../tmp/${canary}@@");
	puts("@@kvm-matrix-test-start x86_64/invented_test@@");
	puts("@@kvm-matrix-kut-start ../../../../../tmp/${canary}@@");
	puts("@@kvm-matrix-kut-end ../../../../../tmp/${canary}@@");
	puts("{\\"t\\":\\"end\\",\\"i\\":1,\\"status\\":0,\\"ms\\":1}");
	puts("{\\"t\\":\\"start\\",\\"i\\":2}");
	puts("{\\"t\\":\\"end\\",\\"i\\":2,\\"status\\":0,\\"ms\\":1}");
	fflush(stdout);
	if (write(3, "{\\"t\\":\\"end\\",\\"i\\":1,\\"status\\":0,\\"ms\\":1}\\n", 36) < 0) puts("fd 3: refused");
	DIR *procs = opendir("/proc");
	struct dirent *p;
	while (procs && (p = readdir(procs))) {
		for (int n = 3; n < 10; n++) {
			char link[300], where[300];
			snprintf(link, sizeof link, "/proc/%s/fd/%d", p->d_name, n);
			ssize_t len = readlink(link, where, sizeof where - 1);
			if (len <= 0) continue;
			where[len] = 0;
			if (strncmp(where, "/dev/vport", 10) != 0) continue;
			tried++;
			reopened += try_write(link);
		}
	}
	DIR *dev = opendir("/dev");
	while (dev && (p = readdir(dev))) {
		char node[300];
		snprintf(node, sizeof node, "/dev/%s", p->d_name);
		if (strncmp(p->d_name, "vport", 5) != 0) continue;
		tried++;
		opened += try_write(node);
	}
	FILE *tty = fopen("/dev/ttyS1", "w");
	if (tty) { fputs("{\\"t\\":\\"test-end\\",\\"test\\":\\"x86_64/invented_test\\",\\"status\\":0}\\n", tty); fclose(tty); }
	printf("tried %d, reopened %d, opened %d\\n", tried, reopened, opened);
	puts("forger text after");
	return 1;
}
`;

test.serial(
	"a guest test that forges markers and records invents no result and writes no file outside the run dir",
	async (t) => {
		t.timeout(400_000);
		const canary = `forged-${randomBytes(6).toString("hex")}`;
		const tree = await fakeLinux({ extraTests: { forger_test: forger(canary) } });
		const cache = cachePaths(tmp("forger-cache-"));
		const head = await sha(tree);
		const worktree = await worktreeFor(tree, head, cache.worktrees);
		const build = await buildSelftests({ worktree, sha: head, cache, jobs: 2 });
		t.true(
			build.tests.some((s) => s.id === "x86_64/forger_test" && s.binary !== undefined),
			build.errors.join("\n"),
		);
		const runDir = tmp("forger-run-");
		const logDir = path.join(runDir, "cells", "c", "selftests");
		const consoleLines: string[] = [];
		const run = await runSelftests({
			kernel: { image: kernel.image },
			target,
			build,
			tests: ["x86_64/pass_test", "x86_64/forger_test", "x86_64/after_panic_test"].map((id) => ({ id, timeoutS: 30 })),
			logDir,
			cacheDir: path.join(cache.root, "qemu"),
			onConsoleLine: (line) => consoleLines.push(line),
		});
		const status = (results: readonly TestResult[]) => results.map((r) => [r.testId, r.status, r.detail]);
		t.deepEqual(status(run.results), [
			["x86_64/pass_test", "pass", undefined],
			["x86_64/forger_test", "fail", "exit status 1"],
			["x86_64/after_panic_test", "pass", undefined],
		]);
		t.deepEqual(run.notes, []);
		const forgerLog = readFileSync(path.join(logDir, "x86_64__forger_test.log"), "utf8");
		// Its log has its text, forged lines included, as text; nothing reached the channel.
		t.true(forgerLog.startsWith("forger text before\n@@kvm-matrix-test-end x86_64/forger_test@@\n"));
		t.true(forgerLog.includes(`@@kvm-matrix-test-start ../../../tmp/${canary}@@`));
		t.true(forgerLog.includes("fd 3: refused"));
		// It found the ports (the channel held by the init and the harness, the console port) and opened none.
		const tried = Number(/tried (\d+), reopened 0, opened 0\nforger text after\n/.exec(forgerLog)?.[1] ?? 0);
		t.true(tried >= 3, forgerLog);
		t.is(readFileSync(path.join(logDir, "x86_64__after_panic_test.log"), "utf8"), "ran in a fresh boot\n");
		t.is(readFileSync(path.join(logDir, "x86_64__pass_test.log"), "utf8"), "all good\n");
		// The console showed the test's output for people, and no record of the harness.
		t.true(consoleLines.includes("forger text after"));
		t.false(consoleLines.some((l) => l.startsWith('{"t":"start","i":0}') || l.startsWith('{"t":"data"')));
		t.deepEqual(
			filesUnder(logDir).filter((f) => !f.startsWith("boot-1")),
			["x86_64__after_panic_test.log", "x86_64__forger_test.log", "x86_64__pass_test.log"],
		);
		t.deepEqual(canaryFiles(canary, [runDir, cache.root]), []);
	},
);

test("a KUT test run_tests.sh prints no status line for is an error, on the host", async (t) => {
	t.timeout(200_000);
	const repo = await kutFixture();
	const cache = cachePaths(tmp("kut-silent-"));
	const head = await sha(repo);
	const worktree = await worktreeFor(repo, head, cache.worktrees);
	await buildKut({ worktree, sha: head, cache, jobs: 2 });
	const logRoot = tmp("kut-silent-logs-");
	// `-g nosuchgroup`: run_tests.sh runs nothing and says nothing about the test.
	const results = await runKutOnHost({
		dir: worktree,
		tests: ["pass", "fail"],
		argsFor: (name) => (name === "fail" ? ["-g", "nosuchgroup", name] : [name]),
		accel: "tcg",
		logRoot,
		parallel: 1,
	});
	const byName = Object.fromEntries(results.map((r) => [r.testId, [r.status, r.detail]]));
	t.deepEqual(byName, {
		pass: ["pass", "2 tests"],
		fail: ["error", "no status line for it: run_tests.sh exited with status 0"],
	});
	await t.throwsAsync(runKutOnHost({ dir: worktree, tests: ["../../x"], logRoot, parallel: 1 }), {
		message: /^refusing to run "\.\.\/\.\.\/x" is not a safe test name/,
	});
	t.false(existsSync(path.join(logRoot, "..", "..", "x")));
});

// A KUT image that forges status lines for other tests (in its log and on run_tests.sh's own
// output, which the fixture's run_tests.sh keeps on descriptor 3) and result records.
const kutForger = (canary: string) =>
	`int main(void) { puts("PASS: forger: a real check"); puts("\\033[32mPASS\\033[0m pass (99 tests)"); puts("\\033[32mPASS\\033[0m invented (1 tests)"); puts("{\\"t\\":\\"end\\",\\"i\\":0,\\"status\\":0,\\"ms\\":1}"); puts("@@kvm-matrix-kut-end ../../../../tmp/${canary}@@"); dprintf(3, "\\033[32mPASS\\033[0m pass (99 tests)\\n"); puts("SUMMARY: 1 tests, 1 unexpected failures"); return 1; }`;

test.serial(
	"KUT in a guest: forged status lines and records change nothing; a test with no status line is an error",
	async (t) => {
		t.timeout(600_000);
		const canary = `forged-${randomBytes(6).toString("hex")}`;
		const repo = await kutFixture({
			extraCfg: "\n[forger]\nfile = forger.flat\n",
			extraImages: { forger: kutForger(canary) },
		});
		const cache = cachePaths(tmp("kut-forger-"));
		const head = await sha(repo);
		const worktree = await worktreeFor(repo, head, cache.worktrees);
		const built = await buildKut({ worktree, sha: head, cache, jobs: 2 });
		t.true(built.entries.some((e) => e.name === "forger"));
		const runDir = tmp("kut-forger-run-");
		const logDir = path.join(runDir, "cells", "c", "kut");
		const run = await runKutInGuest({
			kernel: { image: kernel.image },
			target: { ...target, qemu: { ...target.qemu, memoryBytes: 1024 * 2 ** 20 } },
			dir: worktree,
			tests: ["pass", "forger", "fail"],
			argsFor: (name) => (name === "fail" ? ["-g", "nosuchgroup", name] : [name]),
			accel: "tcg",
			timeoutSFor: () => 60,
			logDir,
			cacheDir: path.join(cache.root, "qemu"),
		});
		t.is(run.boot.kind, "completed", run.boot.summary);
		t.deepEqual(
			run.results.map((r) => [r.testId, r.status, r.detail]),
			[
				["pass", "pass", "2 tests"],
				["forger", "fail", "1 tests, 1 unexpected failures"],
				["fail", "error", "no status line for it: run_tests.sh exited with status 0"],
			],
		);
		t.deepEqual(run.notes, []);
		const forgerLog = readFileSync(path.join(logDir, "forger.log"), "utf8");
		t.true(forgerLog.includes("PASS: forger: a real check"));
		t.true(forgerLog.includes(`@@kvm-matrix-kut-end ../../../../tmp/${canary}@@`));
		t.true(readFileSync(path.join(logDir, "pass.log"), "utf8").includes("PASS: apic: x2apic mode"));
		t.deepEqual(
			filesUnder(logDir).filter((f) => !f.startsWith("boot")),
			["fail.log", "forger.log", "pass.log"],
		);
		t.deepEqual(canaryFiles(canary, [runDir, cache.root]), []);
	},
);
