// kvm-unit-tests both ways on one machine in one run: KUT's own `run_tests.sh -j N`, and
// kvm-matrix scheduling the same tests one by one on N slots, longest first (durations from a
// warm-up run). Prints both wall times, their ratio (target ≤ 0.85) and whether every test got
// the same status. Run: pnpm bench:kut [KUT_DIR] [N]. Without KUT_DIR it uses the generated
// KUT-shaped FIXTURE (KUT is not installable here): its tests are tiny, so the figures show the
// scheduling overhead, not what longest-first saves on a real suite.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { execa } from "execa";
import { parseStatusLine } from "../packages/orchestrator/src/kut/output.js";
import { runKutOnHost } from "../packages/orchestrator/src/kut/run-host.js";
import { parseUnittestsCfg } from "../packages/orchestrator/src/kut/unittests-cfg.js";
import { kutFixture } from "../test/support/kut-fixture.js";

const [given, nArg] = process.argv.slice(2);
const n = Number(nArg ?? os.availableParallelism());
const fixture = given === undefined || given === "";
const dir = fixture ? await kutFixture() : path.resolve(given);
const accel = process.env.ACCEL ?? "tcg";
console.log(`kvm-unit-tests at ${dir}${fixture ? " (FIXTURE)" : ""}, ACCEL=${accel}, N=${n}`);
await execa("./configure", ["--arch=x86_64"], { cwd: dir });
await execa("make", [`-j${n}`], { cwd: dir });
const { readFile } = await import("node:fs/promises");
const names = parseUnittestsCfg(await readFile(path.join(dir, "x86/unittests.cfg"), "utf8")).entries.map((e) => e.name);

const scratch = mkdtempSync(path.join(os.tmpdir(), "bench-kut-"));
const t0 = performance.now();
const own = await execa("./run_tests.sh", ["-j", String(n)], {
	cwd: dir,
	reject: false,
	env: { ACCEL: accel, unittest_log_dir: path.join(scratch, "own") },
});
const ownMs = performance.now() - t0;
const ownStatus = new Map(
	own.stdout.split("\n").flatMap((l) => {
		const p = parseStatusLine(l);
		return p === undefined ? [] : [[p.name, `${p.status} ${p.detail ?? ""}`.trim()] as const];
	}),
);

const durationsFile = path.join(scratch, "durations.json");
await runKutOnHost({ dir, tests: names, accel, logRoot: path.join(scratch, "warm-up"), parallel: n, durationsFile });
const t1 = performance.now();
const ours = await runKutOnHost({
	dir,
	tests: names,
	accel,
	logRoot: path.join(scratch, "ours"),
	parallel: n,
	durationsFile,
});
const oursMs = performance.now() - t1;
const oursStatus = new Map(ours.map((r) => [r.testId, r] as const));

const disagree = [...ownStatus].filter(([name, line]) => {
	const r = oursStatus.get(name);
	const word =
		r === undefined ? "missing" : ({ pass: "PASS", skip: "SKIP", error: "SKIP" }[r.status as "pass"] ?? "FAIL");
	return line !== `${word} ${r?.detail ?? ""}`.trim();
});
console.log(`run_tests.sh -j ${n}   ${(ownMs / 1000).toFixed(2)} s  (${ownStatus.size} tests)`);
console.log(`kvm-matrix, ${n} slots  ${(oursMs / 1000).toFixed(2)} s  (${oursStatus.size} tests, longest first)`);
console.log(`ratio                ${(oursMs / ownMs).toFixed(3)}  (target ≤ 0.85)`);
console.log(
	`statuses             ${disagree.length === 0 && ownStatus.size === oursStatus.size ? "identical" : `DIFFER: ${disagree.map(([n]) => n).join(", ")}`}`,
);
