// Two `kvm-matrix run`s on one cache at the same time (the "done when"): one kernel build,
// both runs complete, identical verdicts. Real git, make, QEMU, on the fakelinux tree.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CLI, REPO } from "./support/cli.js";
import { fakeLinux } from "./support/fakelinux.js";

interface Results {
	outcome: string;
	cells: {
		id: string;
		state: string;
		results: { testId: string; attempt: number; status: string; verdict?: { verdict: string } }[];
		verdicts: Record<string, number>;
		kernel: { build?: { cacheHit: boolean; key?: string } };
	}[];
}

test("two runs on one cache at once: one kernel build, both complete, the same verdicts", async (t) => {
	t.timeout(600_000);
	const tree = await fakeLinux();
	const work = mkdtempSync(path.join(os.tmpdir(), "shared-cache-"));
	const matrix = path.join(work, "m.yaml");
	writeFileSync(
		matrix,
		`name: shared
trees:
  fake: { path: ${tree} }
config: { base: tinyconfig, fragments: [kvm_guest.config] }
kernels:
  - { tree: fake, ref: master }
targets:
  - { name: t, qemu: { smp: 1, memory: 768M, accel: tcg } }
suites:
  selftests: { include: ["x86_64/pass_test", "x86_64/skip_test", "x86_64/fail_test", "x86_64/broken_test"], timeout: 30s }
`,
	);
	const cache = path.join(work, "cache");
	const builds = path.join(work, "builds.log");
	const run = (name: string) =>
		execa("node", [CLI, "run", matrix, "--run-dir", path.join(work, name)], {
			cwd: REPO,
			reject: false,
			env: { KVM_MATRIX_CACHE: cache, XDG_CACHE_HOME: cache, NO_COLOR: "1", FAKELINUX_BUILD_LOG: builds },
		});
	const [a, b] = await Promise.all([run("a"), run("b")]);

	// make bzImage ran once, for both.
	t.is(readFileSync(builds, "utf8").trim().split("\n").length, 1, readFileSync(builds, "utf8"));
	const output = `${a.stdout}\n${b.stdout}`;
	t.is(output.match(/built kernel \w+/g)?.length, 1, output);
	t.is(output.match(/cache hit: kernel \w+ \(make skipped\)/g)?.length, 1, output);

	const results = (name: string) => JSON.parse(readFileSync(path.join(work, name, "results.json"), "utf8")) as Results;
	const [ra, rb] = [results("a"), results("b")];
	t.is(a.exitCode, b.exitCode, `${a.stderr}\n${b.stderr}`);
	for (const r of [ra, rb]) {
		t.is(r.outcome, "completed");
		t.is(r.cells.length, 1);
		t.is(r.cells[0]?.state, "done");
	}
	t.deepEqual([ra, rb].map((r) => r.cells[0]?.kernel.build?.cacheHit).sort(), [false, true]);
	// Each result, its attempt and its verdict; and the cell's verdict counts.
	const verdicts = (r: Results) => ({
		results: (r.cells[0]?.results ?? []).map(
			(x) => `${x.testId}#${x.attempt} ${x.status} ${x.verdict?.verdict ?? "-"}`,
		),
		counts: r.cells[0]?.verdicts,
	});
	t.deepEqual(verdicts(ra), verdicts(rb));
	t.deepEqual(ra.cells[0]?.verdicts, { infra: 1, "new-failure": 1 });
	t.deepEqual(Object.fromEntries((ra.cells[0]?.results ?? []).map((x) => [x.testId, x.status])), {
		"x86_64/pass_test": "pass",
		"x86_64/skip_test": "skip",
		"x86_64/fail_test": "fail",
		"x86_64/broken_test": "error",
	});
});
