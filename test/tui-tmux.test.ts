// The interactive view in a real terminal: tmux runs the real `kvm-matrix run` on a small matrix
// (the KUT-shaped FIXTURE on a host target, so it needs no kernel build), keys go in with
// send-keys and the screen comes back with capture-pane.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import test, { type ExecutionContext } from "ava";
import { execa } from "execa";
import { CLI, REPO } from "./support/cli.js";
import { commitFiles } from "./support/git.js";
import { hostMatrix, kutFixture } from "./support/kut-fixture.js";

/**
 * A real terminal (tmux) `columns` × `rows` running `kvm-matrix run FILE --run-dir RUNDIR` with
 * `env` (a person's terminal has no CI), then `EXIT=<status>`. The session ends with the test.
 */
async function terminal(
	t: ExecutionContext,
	options: { dir: string; file: string; runDir: string; columns: number; rows: number; env: string },
) {
	const session = `kvm-matrix-${process.pid}-${path.basename(options.dir)}`;
	const command = `cd ${REPO} && env ${options.env} KVM_MATRIX_CACHE=${path.join(options.dir, "cache")} node ${CLI} run ${options.file} --run-dir ${options.runDir}; echo "EXIT=$?"; sleep 30`;
	await execa("tmux", [
		"new-session",
		"-d",
		"-s",
		session,
		"-x",
		`${options.columns}`,
		"-y",
		`${options.rows}`,
		command,
	]);
	t.teardown(() => execa("tmux", ["kill-session", "-t", session], { reject: false }));
	const capture = async (scrollback: boolean) =>
		(await execa("tmux", ["capture-pane", "-p", ...(scrollback ? ["-S", "-"] : []), "-t", session])).stdout;
	/** The screen (or, with `scrollback`, all the terminal has) once it shows `what`. */
	const until = async (what: RegExp, scrollback = false) => {
		for (let i = 0; i < 600; i++) {
			const text = await capture(scrollback);
			if (what.test(text)) return text;
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
		throw new Error(`the screen never showed ${what}:\n${await capture(scrollback)}`);
	};
	const keys = (...k: string[]) => execa("tmux", ["send-keys", "-t", session, ...k]);
	return { until, keys, ended: () => until(/EXIT=\d+/, true) };
}
const PERSON = "-u CI -u CONTINUOUS_INTEGRATION";

test("kvm-matrix run in a terminal: the grid at start, live counts, the failure filter, q asks and cancels", async (t) => {
	t.timeout(120_000);
	const repo = await kutFixture();
	// A slow test keeps the run going while the screen is read.
	const cfg = readFileSync(path.join(repo, "x86", "unittests.cfg"), "utf8");
	await commitFiles(
		repo,
		{ "x86/unittests.cfg": cfg.replace("timeout = 2s", "timeout = 60s") },
		"x86: a slow timeout test",
	);
	const { dir, file } = hostMatrix(
		repo,
		"tui",
		"{ tree: kut, ref: master, accel: tcg, include: [pass, fail, skip, timeout] }",
		"retries: 0\n",
	);
	const runDir = path.join(dir, "run");
	const { until, keys } = await terminal(t, { dir, file, runDir, columns: 120, rows: 40, env: PERSON });

	const start = await until(/kvm-matrix · tui · run \S+-tui/);
	t.regex(start, /^ +host$/m);
	t.regex(start, /^prebuilt vmlinuz-\S+ +\S+ (queued|checkout|build|running)/m);
	t.regex(start, /q quit · \? help · enter tests · l log · f filter · r retry/);

	// While the 60 s test runs, the three quick ones are in: live counts, and the failure listed.
	const running = await until(/running ✓1 ✗1 -1/);
	t.regex(running, /failures: 1\n {2}fail +running\/host +fail +3 tests, 1 unexpected failures, 1 skipped/);
	t.regex(running, /log: running\/host\n(.*\n)*? {2}FAIL fail \(\d\.\ds\)/);

	// f: only regressions, and there are none (verdicts come when the run ends).
	await keys("f");
	const filtered = await until(/failures \(regression\): 0/);
	t.false(/^ {2}fail +running\/host/m.test(filtered));

	// q: work is running, so it asks; y cancels, and the results are kept on disk.
	await keys("q");
	await until(/Work is running\. Cancel the run\? \(y\/n\)/);
	await keys("y");
	const end = await until(/EXIT=\d+/);
	t.regex(end, /run cancelled: 3 tests in 1 cells/);
	t.regex(end, new RegExp(`results: ${runDir.replaceAll("/", "\\/")}/results\\.json`));
	t.regex(end, /EXIT=130/);
	t.true(existsSync(path.join(runDir, "results.json")));
	const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as { outcome: string };
	t.is(results.outcome, "cancelled");
});

test("kvm-matrix run in a terminal under CI=true prints plain lines and says why", async (t) => {
	t.timeout(120_000);
	const repo = await kutFixture();
	const { dir, file } = hostMatrix(repo, "tui-ci", "{ tree: kut, ref: master, accel: tcg, include: [pass] }");
	const runDir = path.join(dir, "run");
	const text = await (await terminal(t, { dir, file, runDir, columns: 120, rows: 40, env: "CI=true" })).ended();
	t.regex(text, /^kvm-matrix run: CI is set, so plain output/m);
	t.regex(text, /PASS +pass/);
	t.regex(text, /EXIT=0/);
	t.false(text.includes("q quit · ? help"));
});

test("in a terminal shorter than the run's summary, the path of the results still gets a line of its own", async (t) => {
	t.timeout(120_000);
	const repo = await kutFixture();
	const { dir, file } = hostMatrix(repo, "tui-short", "{ tree: kut, ref: master, accel: tcg }", "retries: 0\n");
	const runDir = path.join(dir, "run");
	const text = await (await terminal(t, { dir, file, runDir, columns: 100, rows: 12, env: PERSON })).ended();
	const escaped = runDir.replaceAll("/", "\\/");
	// New failures only: green by the exit policy, and the line that says so comes last.
	t.regex(
		text,
		new RegExp(
			`^run directory: ${escaped}\\n+results: ${escaped}\\/results\\.json\\n+exit 0, green: no regressions; 3 new-failure; --fail-on new-failure would make it red\\n+EXIT=0$`,
			"m",
		),
	);
	t.regex(text, /^run completed: 13 tests in 1 cells$/m);
});
