// The nightly loop end to end, with real git, real make and real QEMU: a matrix on the fakelinux
// tree's `nightly` branch runs one night; a breaking commit (with the trailers a KVM patch
// carries) lands among others; the next night's `run --bisect-regressions` is red, bisects the
// regression without a command of the user's, names the commit in the verdict, results.json and
// the reports, and `report --format mail` writes the mail to its author. `history` then answers
// from the same runs.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CLI, REPO } from "../support/cli.js";
import { fakeLinux } from "../support/fakelinux.js";
import { commitFiles, git } from "../support/git.js";
import { cliEnv } from "../support/run-process.js";

const TESTS = "tools/testing/selftests/kvm/x86_64";

test("a nightly whose kernel gains a breaking commit is red, bisected on its own, and its mail written", async (t) => {
	t.timeout(1_500_000);
	const tree = await fakeLinux({
		extraTests: {
			regress_test: 'int main(void) { puts("regress works"); return 0; }',
			regress2_test: 'int main(void) { puts("regress2 works"); return 0; }',
		},
	});
	await git(tree, "checkout", "-q", "-b", "nightly");
	const dir = mkdtempSync(path.join(os.tmpdir(), "nightly-e2e-"));
	const cache = path.join(dir, "cache");
	const runs = path.join(dir, "runs");
	mkdirSync(runs);
	const file = path.join(dir, "nightly.yaml");
	writeFileSync(
		file,
		`name: nightly
trees:
  fake: { path: ${tree} }
config: { base: tinyconfig, fragments: [kvm_guest.config] }
kernels:
  - { tree: fake, ref: nightly }
targets:
  - { name: t, qemu: { smp: 1, memory: 768M, accel: tcg } }
suites:
  selftests: { include: ["x86_64/pass_test", "x86_64/regress_test", "x86_64/regress2_test"], timeout: 30s }
baseline: history
`,
	);
	const cli = (...args: string[]) => execa("node", [CLI, ...args], { env: cliEnv(cache), reject: false, cwd: REPO });

	const night1 = await cli("run", file, "--headless", "--run-dir", path.join(runs, "night-1"));
	t.is(night1.exitCode, 0, `${night1.stdout}\n${night1.stderr}`);
	const good = await git(tree, "rev-parse", "nightly");

	await commitFiles(tree, { "kernel/one.c": "/* one */\n" }, "KVM: x86: Tidy one thing");
	const breaking = await execa(
		"git",
		[
			"commit",
			"-q",
			"--allow-empty",
			"-m",
			[
				"KVM: x86: Rework the thing regress_test checks",
				"",
				"Signed-off-by: Ada Author <ada@example.org>",
				"Reviewed-by: Rex Reviewer <rex@example.org>",
				"Cc: kvm@vger.kernel.org",
				"Link: https://lore.kernel.org/r/20261201000000.4242-1-ada@example.org",
			].join("\n"),
		],
		{
			cwd: tree,
			env: {
				GIT_AUTHOR_NAME: "Ada Author",
				GIT_AUTHOR_EMAIL: "ada@example.org",
				GIT_COMMITTER_NAME: "Dev",
				GIT_COMMITTER_EMAIL: "d@e.org",
			},
		},
	).then(async () => {
		// The change itself, amended in so the commit carries it with its trailers.
		writeFileSync(
			path.join(tree, TESTS, "regress_test.c"),
			'#include <stdio.h>\nint main(void) { puts("==== Test Assertion Failure ===="); puts("  x86_64/regress_test.c:2: r == 0"); return 254; }\n',
		);
		writeFileSync(path.join(tree, TESTS, "regress2_test.c"), "#include <stdio.h>\nint main(void) { return 1; }\n");
		await git(tree, "add", "-A");
		await execa("git", ["commit", "-q", "--amend", "--no-edit"], {
			cwd: tree,
			env: {
				GIT_AUTHOR_NAME: "Ada Author",
				GIT_AUTHOR_EMAIL: "ada@example.org",
				GIT_COMMITTER_NAME: "Dev",
				GIT_COMMITTER_EMAIL: "d@e.org",
			},
		});
		return git(tree, "rev-parse", "HEAD");
	});
	await commitFiles(tree, { "kernel/two.c": "/* two */\n" }, "KVM: x86: Tidy another thing");
	const bad = await git(tree, "rev-parse", "nightly");

	const night2 = await cli(
		"run",
		file,
		"--headless",
		"--run-dir",
		path.join(runs, "night-2"),
		"--bisect-regressions",
		"--max-builds",
		"8",
		"--report",
		`markdown:${dir}/night-2.md`,
		"--report",
		`junit:${dir}/night-2.xml`,
		"--json",
		`${dir}/night-2.json`,
	);
	t.is(night2.exitCode, 1, `${night2.stdout}\n${night2.stderr}`);
	t.regex(night2.stdout, /^exit 1, red: 2 regression$/m);
	t.regex(
		night2.stderr,
		new RegExp(
			`fake@nightly/t selftests:x86_64/regress_test: first bad commit ${breaking.slice(0, 12)} \\("KVM: x86: Rework the thing regress_test checks"\\)`,
		),
	);

	interface Row {
		testId: string;
		verdict?: {
			verdict: string;
			evidence: {
				bisected?: { dir: string; shared?: true; commit?: { sha: string; author?: string; links: string[] } };
			};
		};
		explanation?: string;
	}
	const results = JSON.parse(readFileSync(path.join(runs, "night-2", "results.json"), "utf8")) as {
		cells: { results: Row[] }[];
	};
	const regress = results.cells[0]?.results.find((r) => r.testId === "x86_64/regress_test");
	t.is(regress?.verdict?.verdict, "regression");
	t.is(regress?.verdict?.evidence.bisected?.commit?.sha, breaking);
	// The second regression of the same range was checked at that commit and its parent only,
	// and shares the first one's bisection.
	const second = results.cells[0]?.results.find((r) => r.testId === "x86_64/regress2_test");
	t.is(second?.verdict?.evidence.bisected?.commit?.sha, breaking);
	t.true(second?.verdict?.evidence.bisected?.shared);
	t.is(second?.verdict?.evidence.bisected?.dir, regress?.verdict?.evidence.bisected?.dir);
	t.is(regress?.verdict?.evidence.bisected?.commit?.author, "Ada Author <ada@example.org>");
	t.deepEqual(regress?.verdict?.evidence.bisected?.commit?.links, [
		"https://lore.kernel.org/r/20261201000000.4242-1-ada@example.org",
	]);
	t.true(
		regress?.explanation?.startsWith(
			`regression: first bad commit ${breaking.slice(0, 12)} ("KVM: x86: Rework the thing regress_test checks"); passed on fake@nightly (${good.slice(0, 12)}) in run `,
		),
		regress?.explanation,
	);
	// --json and the reports were written after the bisection: they carry the commit too.
	const json = JSON.parse(readFileSync(path.join(dir, "night-2.json"), "utf8")) as { cells: { results: Row[] }[] };
	t.is(
		json.cells[0]?.results.find((r) => r.testId === "x86_64/regress_test")?.verdict?.evidence.bisected?.commit?.sha,
		breaking,
	);
	t.regex(readFileSync(path.join(dir, "night-2.md"), "utf8"), new RegExp(`first bad commit ${breaking}`));
	t.regex(readFileSync(path.join(dir, "night-2.xml"), "utf8"), new RegExp(`first bad commit ${breaking.slice(0, 12)}`));

	// The mail to send: to the author, Cc the trailers' people and the list, the robot's subject.
	const mail = await cli("report", path.join(runs, "night-2"), "--format", "mail", "--from", "QA Lab <qa@example.org>");
	t.is(mail.exitCode, 0, mail.stderr);
	const text = mail.stdout;
	t.regex(text, /^From kvm-matrix /);
	t.regex(text, /^From: QA Lab <qa@example\.org>$/m);
	t.regex(text, /^To: Ada Author <ada@example\.org>$/m);
	t.regex(text, /^Cc: Rex Reviewer <rex@example\.org>,\n {4}kvm@vger\.kernel\.org$/m);
	t.regex(
		text,
		new RegExp(
			`^Subject: \\[fake:nightly\\] ${breaking.slice(0, 12)} KVM: x86: Rework the thing regress_test checks: KVM selftest x86_64/regress_test fails$`,
			"m",
		),
	);
	t.regex(text, new RegExp(`^commit: ${breaking}$`, "m"));
	t.regex(text, new RegExp(`^kernel under test: ${bad}$`, "m"));
	t.regex(
		text,
		new RegExp(
			`kvm-matrix bisect --matrix ${file} --test selftests:x86_64/regress_test --target t --good ${breaking}\\^ --bad ${breaking}`,
		),
	);
	t.regex(text, /^ {2}==== Test Assertion Failure ====$/m);
	t.regex(text, /^\| Reported-by: QA Lab <qa@example\.org>$/m);
	t.regex(text, /^\| Closes: https:\/\/lore\.kernel\.org\/r\/kvm-matrix-[0-9a-f]{24}@kvm-matrix$/m);

	// History over the two nights: regress_test passed in night 1 and first failed in night 2.
	const first = await cli("history", "--first-failure", "selftests:x86_64/regress_test", "--runs", runs, "--json");
	t.is(first.exitCode, 0, first.stderr);
	const [ff] = (JSON.parse(first.stdout) as { firstFailure: { state: string; range?: string }[] }).firstFailure;
	t.is(ff?.state, "failing");
	t.is(ff?.range, `${good}..${bad}`);
});
