// `kvm-matrix run` end to end on the fakelinux tree: real git, real make, real QEMU booting
// Debian's kernel, real (tiny) selftests compiled by the tree's own Makefile.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CLI, REPO } from "./support/cli.js";
import { fakeLinux } from "./support/fakelinux.js";
import { cliEnv, waitFor } from "./support/run-process.js";

interface Results {
	outcome: string;
	cells: {
		id: string;
		state: string;
		failure?: { stage: string; reason: string; evidence: string[] };
		counts: Record<string, number>;
		results: {
			testId: string;
			status: string;
			detail?: string;
			subtests?: { name: string; status: string }[];
			logPath?: string;
		}[];
		kernel: { build?: { cacheHit: boolean } };
	}[];
}

function matrix(tree: string, refs: string[], extra = ""): string {
	const dir = mkdtempSync(path.join(os.tmpdir(), "run-matrix-"));
	const file = path.join(dir, "m.yaml");
	writeFileSync(
		file,
		`name: fake
trees:
  fake: { path: ${tree} }
config: { base: tinyconfig, fragments: [kvm_guest.config] }
kernels:
${refs.map((r) => `  - { tree: fake, ref: ${r} }`).join("\n")}
targets:
  - { name: t, qemu: { smp: 1, memory: 768M, accel: tcg } }
suites:
  selftests: { include: ["x86_64/*"], timeout: 30s }
${extra}`,
	);
	return file;
}

test.serial(
	"a run builds, boots and classifies; a broken build is infra; a panic continues in a new boot",
	async (t) => {
		t.timeout(600_000);
		const tree = await fakeLinux();
		const cache = mkdtempSync(path.join(os.tmpdir(), "run-cache-"));
		const runDir = mkdtempSync(path.join(os.tmpdir(), "run-dir-"));
		const run = await execa("node", [CLI, "run", matrix(tree, ["master", "broken"]), "--run-dir", runDir], {
			env: cliEnv(cache),
			reject: false,
			cwd: REPO,
		});
		// A cell that failed to build, a test that did not build (both infra), and failures nothing
		// explains: worth a look, but no regression, so green unless --fail-on asks for them.
		t.is(run.exitCode, 0, run.stderr);
		t.regex(
			run.stdout,
			/^exit 0, green: no regressions; 3 new-failure, 2 infra; --fail-on new-failure,infra would make it red$/m,
		);
		const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as Results;
		const [good, broken] = results.cells;
		t.is(broken?.id, "fake@broken/t");
		t.is(broken?.state, "failed");
		t.is(broken?.failure?.stage, "build");
		t.is(broken?.failure?.evidence[0], "kernel/fail.c:3:1: error: expected ';' before '}' token");

		t.is(good?.id, "fake@master/t");
		t.is(good?.state, "done", JSON.stringify(good?.failure));
		const status = Object.fromEntries((good?.results ?? []).map((r) => [r.testId, r.status]));
		t.deepEqual(status, {
			"x86_64/broken_test": "error",
			"x86_64/pass_test": "pass",
			"x86_64/skip_test": "skip",
			"x86_64/tap_test": "fail",
			"x86_64/fail_test": "fail",
			"x86_64/panic_test": "crash",
			"x86_64/after_panic_test": "pass",
		});
		const tap = good?.results.find((r) => r.testId === "x86_64/tap_test");
		t.deepEqual(tap?.subtests, [
			{ name: "caps.read", status: "pass" },
			{ name: "caps.write", status: "fail" },
			{ name: "caps.lbr", status: "skip" },
		]);
		const panic = good?.results.find((r) => r.testId === "x86_64/panic_test");
		t.is(panic?.detail, "panic: Kernel panic - not syncing: sysrq triggered crash");
		t.true(readFileSync(panic?.logPath ?? "", "utf8").includes("sysrq_handle_crash"));
		const after = good?.results.find((r) => r.testId === "x86_64/after_panic_test");
		t.is(readFileSync(after?.logPath ?? "", "utf8"), "ran in a fresh boot\n");
		// The journal has every result, written as they came: the three failures ran twice (the
		// matrix's default retry), the rest once.
		const journal = readFileSync(path.join(runDir, "journal.jsonl"), "utf8")
			.trim()
			.split("\n")
			.map((l) => JSON.parse(l) as { type: string; result?: { testId: string; attempt: number } });
		const attempts = journal.flatMap((r) => (r.result === undefined ? [] : [`${r.result.testId}#${r.result.attempt}`]));
		t.deepEqual(attempts.filter((a) => a.endsWith("#2")).sort(), [
			"x86_64/fail_test#2",
			"x86_64/panic_test#2",
			"x86_64/tap_test#2",
		]);
		t.is(attempts.length, 10);
		t.is(journal.at(-1)?.type, "run-finished");
		t.true(run.stdout.includes("fake@master/t: PASS    x86_64/pass_test"));
		t.regex(run.stdout, /fake@broken\/t {2}failed in build: kernel build failed: kernel\/fail\.c:3:1: error/);
		// The same run under --fail-on infra (classify weighs it as run does): red.
		const strict = await execa("node", [CLI, "classify", runDir, "--fail-on", "infra"], {
			env: cliEnv(cache),
			reject: false,
			cwd: REPO,
		});
		t.is(strict.exitCode, 1, strict.stderr);
		t.regex(strict.stdout, /^exit 1, red: 2 infra \(also 3 new-failure, not failing the run\)$/m);

		// A second run of the same matrix takes the kernel from the cache: make is not run.
		const again = await execa(
			"node",
			[CLI, "run", matrix(tree, ["master"]), "--only", "fake@master/*", "--run-dir", `${runDir}-2`],
			{
				env: cliEnv(cache),
				reject: false,
				cwd: REPO,
			},
		);
		t.is(again.exitCode, 0, again.stderr);
		t.regex(again.stdout, /cache hit: kernel \w+ \(make skipped\)/);
		const second = JSON.parse(readFileSync(path.join(`${runDir}-2`, "results.json"), "utf8")) as Results;
		t.is(second.cells[0]?.kernel.build?.cacheHit, true);
	},
);

/** Running (a zombie left for init to reap, as in containers whose init does not, counts as gone). */
const alive = (pid: number) => {
	try {
		return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
	} catch {
		return false;
	}
};

// SIGHUP, as a closed terminal or a dropped ssh session sends it: the same clean stop as Ctrl-C
// (the boot test below sends SIGINT).
test.serial("a hang-up during a build kills make and its children, keeps the journal, exits 130", async (t) => {
	t.timeout(300_000);
	const tree = await fakeLinux();
	const cache = mkdtempSync(path.join(os.tmpdir(), "run-cache-"));
	const runDir = mkdtempSync(path.join(os.tmpdir(), "run-dir-"));
	const child = execa("node", [CLI, "run", matrix(tree, ["slow"]), "--run-dir", runDir], {
		env: cliEnv(cache),
		reject: false,
		cwd: REPO,
	});
	await waitFor(child, /building fake@slow/, 120_000);
	// Wait until the build's own child (sleep) is there, then interrupt.
	const { stdout } = await execa("sh", [
		"-c",
		`for i in $(seq 100); do f=$(ls ${cache}/builds/out/*/sleep.pid 2>/dev/null | head -n 1); [ -n "$f" ] && cat "$f" && exit 0; sleep 0.1; done; exit 1`,
	]);
	const sleepPid = Number(stdout.trim());
	t.true(alive(sleepPid));
	child.kill("SIGHUP");
	const result = await child;
	t.is(result.exitCode, 130);
	t.false(alive(sleepPid), "the build's sleep survived");
	const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as Results;
	t.is(results.outcome, "cancelled");
	t.is(results.cells[0]?.state, "cancelled");
	t.true(existsSync(path.join(runDir, "journal.jsonl")));
});

test.serial("Ctrl-C during a boot kills QEMU and keeps the results so far", async (t) => {
	t.timeout(300_000);
	const tree = await fakeLinux();
	const cache = mkdtempSync(path.join(os.tmpdir(), "run-cache-"));
	const runDir = mkdtempSync(path.join(os.tmpdir(), "run-dir-"));
	const child = execa("node", [CLI, "run", matrix(tree, ["master"]), "--run-dir", runDir], {
		env: cliEnv(cache),
		reject: false,
		cwd: REPO,
	});
	await waitFor(child, /PASS {4}x86_64\/pass_test/, 240_000);
	child.kill("SIGINT");
	const result = await child;
	t.is(result.exitCode, 130);
	const qemu = await execa("pgrep", ["-f", `qemu-system-x86_64.*${runDir}`], { reject: false });
	t.is(qemu.stdout.trim(), "", "QEMU survived the run");
	const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as Results;
	t.is(results.outcome, "cancelled");
	t.true((results.cells[0]?.results ?? []).some((r) => r.testId === "x86_64/pass_test" && r.status === "pass"));
});

// Two tests that each wait for the other pass only side by side; a panic while two run blames
// neither until each has run alone.
const MEET = (mine: string, other: string) =>
	`int main(void) { FILE *f = fopen("/tmp/meet-${mine}", "w"); if (f) fclose(f); for (int i = 0; i < 200; i++) { if (access("/tmp/meet-${other}", F_OK) == 0) { puts("met ${other}"); return 0; } usleep(50000); } puts("met nobody"); return 1; }`;

test.serial(
	"parallel: 2 runs two tests side by side in one guest; a panic beside another is pinned on its test",
	async (t) => {
		t.timeout(300_000);
		const tree = await fakeLinux({
			extraTests: {
				late_panic_test:
					'int main(void) { sleep(1); FILE *f = fopen("/proc/sysrq-trigger", "w"); if (!f) return 1; fputc(\'c\', f); fclose(f); sleep(60); return 0; }',
				slow_test: 'int main(void) { sleep(3); puts("slept"); return 0; }',
				meet_a_test: MEET("a", "b"),
				meet_b_test: MEET("b", "a"),
			},
		});
		const cache = mkdtempSync(path.join(os.tmpdir(), "run-cache-"));
		const runDir = mkdtempSync(path.join(os.tmpdir(), "run-dir-"));
		const file = matrix(tree, ["master"]);
		const yaml = readFileSync(file, "utf8").replace(
			'include: ["x86_64/*"], timeout: 30s }',
			"include: [x86_64/late_panic_test, x86_64/slow_test, x86_64/meet_a_test, x86_64/meet_b_test], timeout: 30s, parallel: 2 }",
		);
		writeFileSync(file, yaml);
		const run = await execa(
			"node",
			[CLI, "run", file, "--run-dir", runDir, "--json", path.join(runDir, "s.json"), "--fail-on=new-failure"],
			{
				env: cliEnv(cache),
				reject: false,
				cwd: REPO,
			},
		);
		t.is(run.exitCode, 1, run.stderr);
		const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as Results & {
			cells: { notes: string[] }[];
		};
		const cell = results.cells[0];
		const statuses = Object.fromEntries((cell?.results ?? []).map((r) => [r.testId, r.status]));
		t.deepEqual(
			statuses,
			{
				"x86_64/late_panic_test": "crash",
				"x86_64/slow_test": "pass",
				"x86_64/meet_a_test": "pass",
				"x86_64/meet_b_test": "pass",
			},
			run.stdout,
		);
		t.true(
			(cell?.notes ?? []).some((n) =>
				/x86_64\/late_panic_test, x86_64\/slow_test ran side by side; each runs again alone/.test(n),
			),
			(cell?.notes ?? []).join("\n"),
		);
		// One guest at a time: the side-by-side boot, the panicking test alone, then the rest.
		const cellDir = path.join(runDir, "cells", "fake@master__t", "selftests");
		for (const boot of ["boot-1", "boot-2", "boot-3"])
			t.true(existsSync(path.join(cellDir, boot, "console.log")), boot);
		t.false(existsSync(path.join(cellDir, "boot-4")));
		const meetLog = cell?.results.find((r) => r.testId === "x86_64/meet_a_test")?.logPath ?? "";
		t.regex(readFileSync(path.isAbsolute(meetLog) ? meetLog : path.join(runDir, meetLog), "utf8"), /met b/);
	},
);

test("an unknown ref stops the run before anything starts, in one line naming the tree and ref", async (t) => {
	const tree = await fakeLinux();
	const cache = mkdtempSync(path.join(os.tmpdir(), "run-cache-"));
	const runDir = path.join(mkdtempSync(path.join(os.tmpdir(), "run-dir-")), "never");
	const run = await execa("node", [CLI, "run", matrix(tree, ["nosuch"]), "--run-dir", runDir], {
		env: cliEnv(cache),
		reject: false,
		cwd: REPO,
	});
	t.is(run.exitCode, 2);
	t.regex(run.stderr, /^kvm-matrix run: tree fake: unknown ref "nosuch" \(no such branch, tag or commit in .*\)$/);
	t.false(existsSync(runDir));
});

test("a run directory that holds a run is refused in one line, and its journal is left as it was", async (t) => {
	const tree = await fakeLinux();
	const cache = mkdtempSync(path.join(os.tmpdir(), "run-cache-"));
	const runDir = mkdtempSync(path.join(os.tmpdir(), "run-dir-"));
	writeFileSync(path.join(runDir, "journal.jsonl"), '{"type":"run-started"}\n');
	const run = await execa("node", [CLI, "run", matrix(tree, ["master"]), "--run-dir", runDir], {
		env: cliEnv(cache),
		reject: false,
		cwd: REPO,
	});
	t.is(run.exitCode, 2);
	t.is(run.stderr, `kvm-matrix run: ${runDir} already holds a run; give --run-dir a new directory`);
	t.is(readFileSync(path.join(runDir, "journal.jsonl"), "utf8"), '{"type":"run-started"}\n');
});

test.serial("a guest that dies before its first test is booted once more; each test keeps one result", async (t) => {
	t.timeout(300_000);
	const tree = await fakeLinux();
	const cache = mkdtempSync(path.join(os.tmpdir(), "run-cache-"));
	const runDir = mkdtempSync(path.join(os.tmpdir(), "run-dir-"));
	// The real QEMU, except that the selftests' first guest dies before it runs anything: what a
	// boot that stops early (as Linux under TCG on a loaded machine now and then does) looks like.
	const bin = mkdtempSync(path.join(os.tmpdir(), "qemu-wrap-"));
	const real = (await execa("sh", ["-c", "command -v qemu-system-x86_64"])).stdout.trim();
	const wrapper = path.join(bin, "qemu-system-x86_64");
	writeFileSync(
		wrapper,
		`#!/bin/sh
case "$*" in *selftests/boot-1/*) echo "qemu-system-x86_64: the guest died (test wrapper)" >&2; exit 1 ;; esac
exec ${real} "$@"
`,
		{ mode: 0o755 },
	);
	const file = matrix(tree, ["master"]);
	writeFileSync(file, readFileSync(file, "utf8").replace('"x86_64/*"', "x86_64/pass_test, x86_64/skip_test"));
	const run = await execa("node", [CLI, "run", file, "--run-dir", runDir], {
		env: { ...cliEnv(cache), PATH: `${bin}:${process.env.PATH ?? ""}` },
		reject: false,
		cwd: REPO,
	});
	t.is(run.exitCode, 0, run.stderr);
	const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as Results;
	const cell = results.cells[0];
	t.is(cell?.state, "done", JSON.stringify(cell?.failure));
	t.deepEqual(
		cell?.results.map((r) => [r.testId, r.status]),
		[
			["x86_64/pass_test", "pass"],
			["x86_64/skip_test", "skip"],
		],
	);
	const journal = readFileSync(path.join(runDir, "journal.jsonl"), "utf8")
		.split("\n")
		.filter((l) => l.includes('"test-result"'));
	t.is(journal.length, 2, journal.join("\n"));
	const selftestsDir = path.join(runDir, "cells", "fake@master__t", "selftests");
	t.true(existsSync(path.join(selftestsDir, "boot-1")), "the first boot's logs are kept");
	t.true(existsSync(path.join(selftestsDir, "again-boot-1")));
});
