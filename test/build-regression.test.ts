// A nightly whose kernel stops building: the fakelinux tree, built for real and booted under QEMU
// on the first night; a commit that breaks the build lands on its branch; the second night's run
// is red with a `build-regression` naming where it last built, the commits between and the
// compiler's first error, in results.json, JUnit and Markdown. A kernel that never built is infra.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CLI, REPO } from "./support/cli.js";
import { fakeLinux } from "./support/fakelinux.js";
import { cliEnv } from "./support/run-process.js";

interface Results {
	cells: {
		id: string;
		state: string;
		cellVerdict?: {
			verdict: { verdict: string; evidence: { passed: { run?: string; sha?: string } } };
			explanation: string;
		};
	}[];
}

const git = (cwd: string, ...args: string[]) =>
	execa("git", args, {
		cwd,
		env: {
			GIT_AUTHOR_NAME: "T",
			GIT_AUTHOR_EMAIL: "t@example.org",
			GIT_COMMITTER_NAME: "T",
			GIT_COMMITTER_EMAIL: "t@example.org",
		},
	});

test("a kernel that built last night and fails to build tonight is a build-regression, red by default", async (t) => {
	t.timeout(600_000);
	const tree = await fakeLinux();
	await git(tree, "branch", "nightly", "master");
	const dir = mkdtempSync(path.join(os.tmpdir(), "build-regression-"));
	const cache = path.join(dir, "cache");
	const runs = path.join(dir, "runs");
	mkdirSync(runs);
	const file = path.join(dir, "m.yaml");
	writeFileSync(
		file,
		`name: nightly-build
trees:
  fake: { path: ${tree} }
config: { base: tinyconfig, fragments: [kvm_guest.config] }
kernels:
  - { tree: fake, ref: nightly }
  - { tree: fake, ref: broken }
targets:
  - { name: t, qemu: { smp: 1, memory: 768M, accel: tcg } }
suites:
  selftests: { include: ["x86_64/pass_test"], timeout: 30s }
`,
	);
	const run = (name: string) =>
		execa(
			"node",
			[
				CLI,
				"run",
				file,
				"--headless",
				"--run-dir",
				path.join(runs, name),
				"--report",
				`junit:${dir}/${name}.xml`,
				"--report",
				`markdown:${dir}/${name}.md`,
			],
			{ env: cliEnv(cache), reject: false, cwd: REPO },
		);

	const first = await run("night-1");
	// fake@broken never built: the harness's failure to build it says nothing new (infra, green).
	t.is(first.exitCode, 0, `${first.stdout}\n${first.stderr}`);
	const good = (await git(tree, "rev-parse", "nightly")).stdout.trim();

	await git(tree, "checkout", "-q", "nightly");
	writeFileSync(path.join(tree, "FAIL_BUILD"), "");
	await git(tree, "add", "FAIL_BUILD");
	await git(tree, "commit", "-q", "-m", "kbuild: a change that breaks the build");
	const bad = (await git(tree, "rev-parse", "nightly")).stdout.trim();

	const second = await run("night-2");
	t.is(second.exitCode, 1, `${second.stdout}\n${second.stderr}`);
	t.regex(second.stdout, /^exit 1, red: 1 build-regression \(also 1 infra, not failing the run\)$/m);
	const results = JSON.parse(readFileSync(path.join(runs, "night-2", "results.json"), "utf8")) as Results;
	const nightly = results.cells.find((c) => c.id === "fake@nightly/t");
	t.is(nightly?.state, "failed");
	t.is(nightly?.cellVerdict?.verdict.verdict, "build-regression");
	t.is(nightly?.cellVerdict?.verdict.evidence.passed.sha, good);
	t.is(
		nightly?.cellVerdict?.explanation,
		`build-regression: built on fake@nightly (${good.slice(0, 12)}) in run ${nightly?.cellVerdict?.verdict.evidence.passed.run}; commits ${good.slice(0, 12)}..${bad.slice(0, 12)}; kernel/fail.c:3:1: error: expected ';' before '}' token`,
	);
	t.regex(nightly?.cellVerdict?.verdict.evidence.passed.run ?? "", /nightly-build$/);
	// The broken branch never built: still infra, not a regression.
	const broken = results.cells.find((c) => c.id === "fake@broken/t");
	t.is(broken?.state, "failed");
	t.is(broken?.cellVerdict, undefined);

	const junit = readFileSync(path.join(dir, "night-2.xml"), "utf8");
	t.regex(junit, /<failure message="build-regression: built on fake@nightly[^"]*" type="build-regression">/);
	t.regex(junit, /<error message="build failed: kernel build failed: [^"]*" type="infra">/);
	const md = readFileSync(path.join(dir, "night-2.md"), "utf8");
	t.regex(md, /## Kernels that no longer build\n\n- `fake@nightly\/t`: built on fake@nightly/);
	t.regex(md, /\| build-regression \| 1 \|/);

	// Still broken the next night: still red, still against the night it last built.
	const third = await run("night-3");
	t.is(third.exitCode, 1, `${third.stdout}\n${third.stderr}`);
	const still = (JSON.parse(readFileSync(path.join(runs, "night-3", "results.json"), "utf8")) as Results).cells.find(
		(c) => c.id === "fake@nightly/t",
	);
	t.is(still?.cellVerdict?.verdict.verdict, "build-regression");
	t.is(still?.cellVerdict?.verdict.evidence.passed.run, nightly?.cellVerdict?.verdict.evidence.passed.run);

	// classify of the run directory gives the same verdict, and the same exit.
	const again = await execa("node", [CLI, "classify", path.join(runs, "night-2")], {
		env: cliEnv(cache),
		reject: false,
		cwd: REPO,
	});
	t.is(again.exitCode, 1, again.stderr);
	t.regex(again.stdout, /red: 1 build-regression/);
});
