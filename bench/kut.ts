// kvm-unit-tests both ways on one machine in one run: KUT's own `run_tests.sh -j N`, and the
// command a user runs, `kvm-matrix run` of a generated matrix with a host target, timed from the
// start of the command to its exit. Prints both wall times, their ratio (target ≤ 0.85), the
// statuses side by side, and how many test QEMUs ran at once (sampled from /proc).
//
//   pnpm bench:kut [KUT_DIR] [N] [TEST|GLOB...]
//
// KUT_DIR is a git checkout of kvm-unit-tests (the matrix builds its HEAD, as a user's would);
// without it, the generated KUT-shaped FIXTURE, whose tests take milliseconds. N defaults to the
// CPU count; kvm-matrix is not told N: it sizes its slots itself from the machine and the tests'
// cfg `smp`, so N ≠ nproc compares it with a run_tests.sh that was given a different width.
// kvm-matrix keeps a cache per KUT checkout (BENCH_CACHE, default under the system's temp dir):
// the first run of the bench also does a warm-up run, which builds KUT and records the durations
// that longest-first needs, as a user's first run would.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { execa } from "execa";
import { parseStatusLine } from "../packages/orchestrator/src/kut/output.js";
import { parseUnittestsCfg } from "../packages/orchestrator/src/kut/unittests-cfg.js";
import { selectTests } from "../packages/orchestrator/src/selftests/guest-script.js";
import { CLI } from "../test/support/cli.js";
import { kutFixture } from "../test/support/kut-fixture.js";
import { type QemuReport, sampleQemus, testQemus } from "./qemu-sampler.js";

const [given, nArg, ...subset] = process.argv.slice(2);
const n = Number(nArg ?? os.availableParallelism());
const fixture = given === undefined || given === "";
const dir = fixture ? await kutFixture() : path.resolve(given);
const accel = process.env.ACCEL ?? "tcg";
const head = (await execa("git", ["-C", dir, "rev-parse", "HEAD"])).stdout.trim();
console.log(
	`kvm-unit-tests at ${dir}${fixture ? " (FIXTURE)" : ""} (${head.slice(0, 12)}), ACCEL=${accel}, N=${n}, ${os.availableParallelism()} CPUs`,
);

await execa("./configure", ["--arch=x86_64"], { cwd: dir });
await execa("make", [`-j${os.availableParallelism()}`], { cwd: dir });
const cfg = parseUnittestsCfg(readFileSync(path.join(dir, "x86/unittests.cfg"), "utf8"));
const names =
	subset.length === 0
		? []
		: resolveSubset(
				subset,
				cfg.entries.map((e) => e.name),
			);

// run_tests.sh runs each test once; so does kvm-matrix here unless BENCH_RETRIES says otherwise
// (a matrix's default is one retry of each failing test, which tells a flaky test from a broken one).
const retries = Number(process.env.BENCH_RETRIES ?? 0);
const scratch = mkdtempSync(path.join(os.tmpdir(), "bench-kut-"));
const cache =
	process.env.BENCH_CACHE ??
	path.join(os.tmpdir(), "kvm-matrix-bench-kut", createHash("sha256").update(dir).digest("hex").slice(0, 12));
mkdirSync(cache, { recursive: true });
const matrix = path.join(scratch, "bench.yaml");
writeFileSync(
	matrix,
	`name: bench-kut
trees:
  kut: { path: ${JSON.stringify(dir)} }
kernels:
  - { name: running, prebuilt: { kernel: /boot/vmlinuz-* } }
targets:
  - { name: host, host: true }
retries: ${retries}
suites:
  kut: { tree: kut, ref: ${head}, accel: ${accel}${names.length === 0 ? "" : `, include: ${JSON.stringify(names)}`} }
`,
);

/** One cold `kvm-matrix run`: its wall time, the statuses it wrote, and the QEMUs it ran. */
async function kvmMatrixRun(label: string) {
	const json = path.join(scratch, `${label}.json`);
	const sampler = sampleQemus();
	const t0 = performance.now();
	const run = await execa(
		"node",
		[CLI, "run", matrix, "--headless", "--json", json, "--run-dir", path.join(scratch, label)],
		{
			reject: false,
			env: { KVM_MATRIX_CACHE: cache, NO_COLOR: "1" },
		},
	);
	const ms = performance.now() - t0;
	const qemus = await sampler.stop();
	if (!existsSync(json)) throw new Error(`kvm-matrix run wrote no results (exit ${run.exitCode}):\n${run.stderr}`);
	const doc = JSON.parse(readFileSync(json, "utf8")) as {
		cells: { results: { testId: string; status: string; detail?: string; durationMs: number }[] }[];
	};
	const statuses = new Map<string, string>();
	for (const r of doc.cells.flatMap((c) => c.results)) statuses.set(r.testId, kutWords(r.status, r.detail));
	return { ms, qemus, statuses };
}

const durations = path.join(cache, "kut-durations", "kut.json");
if (!existsSync(durations)) {
	console.log("warm-up: a first kvm-matrix run builds KUT in the cache and records the tests' durations");
	const warm = await kvmMatrixRun("warm-up");
	console.log(`warm-up took ${(warm.ms / 1000).toFixed(1)} s`);
}

// What one run_tests.sh call costs before any QEMU: a test it skips without starting one.
const manual = cfg.entries.find((e) => e.groups.includes("nodefault"))?.name;
if (manual !== undefined) {
	const t = performance.now();
	await execa("./run_tests.sh", [manual], {
		cwd: dir,
		reject: false,
		env: { ACCEL: accel, unittest_log_dir: path.join(scratch, "probe") },
	});
	console.log(
		`one run_tests.sh call that starts no test QEMU (${manual}, nodefault): ${((performance.now() - t) / 1000).toFixed(2)} s`,
	);
}

const sampler = sampleQemus();
const t0 = performance.now();
const own = await execa("./run_tests.sh", ["-j", String(n), ...names], {
	cwd: dir,
	reject: false,
	env: { ACCEL: accel, unittest_log_dir: path.join(scratch, "own") },
});
const ownMs = performance.now() - t0;
const ownQemus = await sampler.stop();
const ownStatus = new Map(
	own.stdout.split("\n").flatMap((l) => {
		const p = parseStatusLine(l);
		return p === undefined ? [] : [[p.name, `${p.status} ${p.detail ?? ""}`.trim()] as const];
	}),
);

const ours = await kvmMatrixRun("ours");

const all = [...new Set([...ownStatus.keys(), ...ours.statuses.keys()])];
const width = Math.max(4, ...all.map((t) => t.length));
const ownWidth = Math.max(12, ...[...ownStatus.values()].map((s) => s.length));
console.log(`\n${"test".padEnd(width)}  ${"run_tests.sh".padEnd(ownWidth)}  kvm-matrix`);
let differ = 0;
for (const test of all) {
	const a = ownStatus.get(test) ?? "-";
	const b = ours.statuses.get(test) ?? "-";
	if (a !== b) differ += 1;
	console.log(`${test.padEnd(width)}  ${a.padEnd(ownWidth)}  ${a === b ? "same" : b}`);
}
const line = (label: string, ms: number, count: number, q: QemuReport) =>
	console.log(
		`${label.padEnd(24)} ${(ms / 1000).toFixed(2).padStart(8)} s  ${String(count).padStart(3)} tests  test QEMUs at once: max ${q.max}, mean ${q.mean.toFixed(2)}`,
	);
console.log("");
const ownTests = testQemus(ownQemus);
const ourTests = testQemus(ours.qemus);
line(`run_tests.sh -j ${n}`, ownMs, ownStatus.size, ownTests);
line("kvm-matrix run", ours.ms, ours.statuses.size, ourTests);
console.log(`ratio                    ${(ours.ms / ownMs).toFixed(3)}  (target ≤ 0.85)`);
console.log(`statuses                 ${differ === 0 ? "identical" : `${differ} DIFFER`}`);
if (process.env.BENCH_DETAIL === "1") {
	for (const [label, q] of [
		["run_tests.sh", ownTests],
		["kvm-matrix", ourTests],
	] as const) {
		console.log(`\n${label}: test QEMUs, longest first (wall, CPU)`);
		for (const p of [...q.processes].sort((a, b) => b.lastMs - b.firstMs - (a.lastMs - a.firstMs)))
			console.log(
				`  ${((p.lastMs - p.firstMs) / 1000).toFixed(1).padStart(6)} s  ${p.cpuS.toFixed(1).padStart(6)} s  ${p.test}`,
			);
	}
}

/** A kvm-matrix result in run_tests.sh's words, to compare status lines. */
function kutWords(status: string, detail: string | undefined): string {
	const word = status === "pass" ? "PASS" : status === "skip" || status === "error" ? "SKIP" : "FAIL";
	return `${word} ${detail ?? ""}`.trim();
}

function resolveSubset(wanted: readonly string[], known: readonly string[]): string[] {
	// The same globs a matrix's `include` takes.
	const out = selectTests(known, wanted, []);
	if (out.length === 0) throw new Error(`no test of ${wanted.join(" ")} in x86/unittests.cfg`);
	return out;
}
