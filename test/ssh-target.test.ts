// An ssh target against a real sshd on loopback: the built KUT fixture and the fakelinux selftests
// are copied to a private directory "there", run on that machine's running kernel, and their
// results and logs come back as a host target's do. Killing the sshd mid-run costs that cell
// only: it stops as infra naming the test that ran, what it had reported stays, the host cell goes
// on; once the sshd is back, resume runs what the cell had left.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CLI, REPO } from "./support/cli.js";
import { fakeLinux } from "./support/fakelinux.js";
import { kutFixture } from "./support/kut-fixture.js";
import { type LoopbackSshd, SSHD, startSshd } from "./support/sshd.js";

interface Result {
	suite: string;
	testId: string;
	status: string;
	attempt: number;
	detail?: string;
	logPath?: string;
	subtests?: { name: string; status: string }[];
}
interface Cell {
	id: string;
	state: string;
	results: Result[];
	notes?: string[];
	[key: string]: unknown;
}
const cellsOf = (dir: string) =>
	(JSON.parse(readFileSync(path.join(dir, "results.json"), "utf8")) as { cells: Cell[] }).cells;

/** What must be equal between two targets: everything a verdict reads, not times or paths. */
const comparable = (cell: Cell | undefined) =>
	(cell?.results ?? [])
		.map((r) => ({
			key: `${r.suite}:${r.testId}#${r.attempt}`,
			status: r.status,
			detail: r.detail,
			subtests: r.subtests,
		}))
		.sort((a, b) => a.key.localeCompare(b.key));

const run = (dir: string, sshd: LoopbackSshd, ...args: string[]) =>
	execa("node", [CLI, ...args], {
		cwd: REPO,
		reject: false,
		env: { NO_COLOR: "1", KVM_MATRIX_CACHE: `${dir}/cache`, KVM_MATRIX_SSH_CONFIG: sshd.config },
	});

/** The private directories this run left on the (loopback) remote machine: its sshd passes no TMPDIR. */
const leftovers = (runId: string) => readdirSync("/tmp").filter((n) => n.startsWith(`kvm-matrix-${runId}`));

async function setUp(marker: string) {
	const dir = mkdtempSync(path.join(os.tmpdir(), "ssh-target-"));
	// slow_test sleeps long enough to kill the sshd under it; on the remote side (its working
	// directory is the cell's private one) it first leaves a mark, so the test knows when.
	const linux = await fakeLinux({
		extraTests: {
			slow_test: `int main(void) { char d[4096]; if (getcwd(d, sizeof d) && strstr(d, "kvm-matrix-")) { FILE *f = fopen("${marker}", "w"); if (f) fclose(f); } fflush(stdout); sleep(${marker === "" ? 0 : 20}); puts("slept"); return 0; }`,
		},
	});
	const kut = await kutFixture();
	return { dir, linux, kut };
}

const matrixText = (linux: string, kut: string, sshd: LoopbackSshd) => `name: ssh-target
trees:
  linux: { path: ${linux} }
  kut: { path: ${kut} }
kernels:
  - { name: fake, tree: linux, ref: master }
targets:
  - { name: here, host: true }
  - { name: loop, ssh: { host: 127.0.0.1, port: ${sshd.port}, user: ${sshd.user} } }
suites:
  selftests:
    include: [x86_64/pass_test, x86_64/skip_test, x86_64/tap_test, x86_64/fail_test, x86_64/slow_test]
  kut: { tree: kut, ref: master, accel: tcg, include: [pass, fail, skip, crash, checked] }
retries: 0
`;

test.serial("an ssh target on loopback gives a host target's results, with its logs brought back", async (t) => {
	t.timeout(600_000);
	if (!existsSync(SSHD)) return t.fail(`${SSHD} is missing: run scripts/setup.sh (openssh-server)`);
	const sshd = await startSshd();
	t.teardown(() => sshd.kill());
	const { dir, linux, kut } = await setUp("");
	const file = path.join(dir, "m.yaml");
	writeFileSync(file, matrixText(linux, kut, sshd));
	const plan = await run(dir, sshd, "plan", file);
	t.is(plan.exitCode, 0, plan.stderr);
	t.regex(plan.stdout, /fake\/loop/);

	const out = await run(dir, sshd, "run", file, "--run-dir", path.join(dir, "r1"));
	t.is(out.exitCode, 0, `${out.stdout}\n${out.stderr}`);
	const cells = cellsOf(path.join(dir, "r1"));
	const here = cells.find((c) => c.id === "fake/here");
	const loop = cells.find((c) => c.id === "fake/loop");
	t.is(here?.state, "done");
	t.is(loop?.state, "done");
	// Both suites ran, on both targets, and agree test by test.
	const keys = comparable(here).map((r) => r.key);
	t.true(keys.includes("selftests:x86_64/tap_test#1"), keys.join(" "));
	t.true(keys.includes("kut:fail#1"), keys.join(" "));
	t.deepEqual(comparable(loop), comparable(here));
	t.deepEqual(Object.fromEntries(comparable(loop).map((r) => [r.key, r.status])), {
		"kut:checked#1": "skip",
		"kut:crash#1": "fail",
		"kut:fail#1": "fail",
		"kut:pass#1": "pass",
		"kut:skip#1": "skip",
		"selftests:x86_64/fail_test#1": "fail",
		"selftests:x86_64/pass_test#1": "pass",
		"selftests:x86_64/skip_test#1": "skip",
		"selftests:x86_64/slow_test#1": "pass",
		"selftests:x86_64/tap_test#1": "fail",
	});
	// The logs are local, in the run directory, where a host target's are (KUT writes none for a
	// test its `check =` skips), and hold what the tests printed there.
	const hasLog = (cell: Cell | undefined) =>
		Object.fromEntries((cell?.results ?? []).map((r) => [r.testId, r.logPath !== undefined && existsSync(r.logPath)]));
	t.deepEqual(hasLog(loop), hasLog(here));
	t.is(Object.values(hasLog(loop)).filter((has) => has).length, 9);
	for (const r of loop?.results ?? [])
		t.true(r.logPath?.startsWith(path.join(dir, "r1", "cells", "fake__loop")), r.logPath);
	const kutLog = loop?.results.find((r) => r.testId === "fail")?.logPath ?? "";
	t.regex(readFileSync(kutLog, "utf8"), /FAIL: /);
	const tapLog = loop?.results.find((r) => r.testId === "x86_64/tap_test")?.logPath ?? "";
	t.regex(readFileSync(tapLog, "utf8"), /^not ok 2 caps\.write$/m);
	t.true(
		loop?.notes?.some((n) =>
			n.startsWith(`ssh target: ran on ${sshd.user}@127.0.0.1:${sshd.port}'s kernel ${os.release()}`),
		),
		JSON.stringify(loop?.notes),
	);
	// The private directory there is gone.
	const id = (JSON.parse(readFileSync(path.join(dir, "r1", "plan.json"), "utf8")) as { runId: string }).runId;
	t.deepEqual(leftovers(id), []);

	// A changed-only nightly never carries an ssh cell: that machine may run another kernel since.
	// The host cell, whose kernel is this machine's and has not moved, is carried.
	const again = await run(
		dir,
		sshd,
		"run",
		file,
		"--run-dir",
		path.join(dir, "r2"),
		"--changed-since",
		path.join(dir, "r1"),
	);
	t.is(again.exitCode, 0, `${again.stdout}\n${again.stderr}`);
	t.regex(again.stdout, /1 of 2 cells unchanged/);
	const carried = cellsOf(path.join(dir, "r2")).map((c) => [c.id, c.carried === undefined ? "ran" : "carried"]);
	t.deepEqual(carried, [
		["fake/here", "carried"],
		["fake/loop", "ran"],
	]);
});

test.serial(
	"killing the sshd mid-run stops the ssh cell, names its test, keeps the rest; resume runs what remains",
	async (t) => {
		t.timeout(600_000);
		if (!existsSync(SSHD)) return t.fail(`${SSHD} is missing: run scripts/setup.sh (openssh-server)`);
		const sshd = await startSshd();
		t.teardown(() => sshd.kill());
		const marker = path.join(mkdtempSync(path.join(os.tmpdir(), "ssh-mark-")), "slow-started");
		const { dir, linux, kut } = await setUp(marker);
		const file = path.join(dir, "m.yaml");
		writeFileSync(file, matrixText(linux, kut, sshd));
		const child = run(dir, sshd, "run", file, "--run-dir", path.join(dir, "r1"));
		let killed = false;
		for (let i = 0; i < 3000 && !killed; i++) {
			if (existsSync(marker)) {
				sshd.kill();
				killed = true;
			} else await new Promise((resolve) => setTimeout(resolve, 100));
		}
		const out = await child;
		t.true(killed, "slow_test never started on the remote side");
		// Only a regression is red: a lost machine is infra, which the default policy reports, not fails.
		t.is(out.exitCode, 0, `${out.stdout}\n${out.stderr}`);
		t.regex(out.stdout, /infra/);
		const cells = cellsOf(path.join(dir, "r1"));
		const here = cells.find((c) => c.id === "fake/here");
		const loop = cells.find((c) => c.id === "fake/loop");
		t.is(here?.state, "done");
		t.is(here?.results.length, 10);
		t.is(loop?.state, "failed");
		t.regex(JSON.stringify(loop), new RegExp(`ssh to ${sshd.user}@127\\.0\\.0\\.1:${sshd.port}`));
		// What the remote side reported before the kill is kept; the test that ran alone when the
		// connection went is named (infra: what became of it is not known); the rest have no result.
		const reported = (loop?.results ?? []).map((r) => r.testId);
		t.true(reported.includes("x86_64/pass_test"), reported.join(" "));
		const slow = loop?.results.find((r) => r.testId === "x86_64/slow_test");
		t.is(slow?.status, "error");
		t.regex(slow?.detail ?? "", /^the connection to .*127\.0\.0\.1:\d+ was lost while it ran \(/);
		t.false(reported.includes("pass"), reported.join(" "));
		t.regex(
			String((loop as { failure?: { reason?: string } } | undefined)?.failure?.reason),
			/\(while x86_64\/slow_test ran\); resume runs the tests that remain$/,
		);
		const journal = readFileSync(path.join(dir, "r1", "journal.jsonl"), "utf8");
		t.regex(journal, /"type":"test-started","cell":"fake\/loop","suite":"selftests","testId":"x86_64\/slow_test"/);
		// The private directory could not be removed: the note says where it is.
		t.true(
			loop?.notes?.some((n) => /^could not remove \/.*kvm-matrix-.* on .*: remove it by hand$/.test(n)),
			JSON.stringify(loop?.notes),
		);
		const id = (JSON.parse(readFileSync(path.join(dir, "r1", "plan.json"), "utf8")) as { runId: string }).runId;
		t.is(leftovers(id).length, 1);
		for (const left of leftovers(id)) rmSync(path.join("/tmp", left), { recursive: true, force: true });
		const summary = await execa("node", [CLI, "classify", path.join(dir, "r1"), "--json"], { reject: false });
		t.is(summary.exitCode, 0, summary.stderr);
		const json = JSON.parse(summary.stdout) as { counts?: Record<string, number>; exit?: { status: number } };
		t.is(json.exit?.status, 0);

		// The machine is back: resume runs what the cell had left (KUT), and nothing twice.
		const back = await sshd.again();
		t.teardown(() => back.kill());
		const resumed = await run(dir, back, "resume", path.join(dir, "r1"));
		t.is(resumed.exitCode, 0, `${resumed.stdout}\n${resumed.stderr}`);
		const after = cellsOf(path.join(dir, "r1")).find((c) => c.id === "fake/loop");
		t.is(after?.state, "done", JSON.stringify(after));
		const ids = (after?.results ?? []).map((r) => r.testId);
		for (const name of ["pass", "fail", "skip", "crash", "checked"]) t.true(ids.includes(name), ids.join(" "));
		t.is(ids.filter((id) => id === "x86_64/slow_test").length, 1, "slow_test keeps its one result");
		t.is(after?.results.find((r) => r.testId === "x86_64/slow_test")?.status, "error");
		for (const left of leftovers(id)) rmSync(path.join("/tmp", left), { recursive: true, force: true });
	},
);
