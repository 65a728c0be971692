// The bench's generated inputs, each in a directory named by its parameters and kept for the next
// run: a `done` file (what was made, how long it took) marks one as complete, and a directory
// without it is made again from scratch. Each directory name carries the version of its shape.
//
// - the kernel repository (kernel-repo.ts);
// - CI shard sets: a matrix, the real `kvm-matrix ci plan` of it (the commits and matrix digest
//   every shard records, which `ci merge` checks), and each shard's run directory as `ci run`
//   leaves it, one cell a shard;
// - a run of four kernels × 10,000 tests with a quarter failing on each, for `classify`.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { loadMatrixFile, type Matrix, matrixDigest, planRun, planToJson } from "@kvm-matrix/orchestrator";
import { execa } from "execa";
import { cellFingerprint } from "../../packages/orchestrator/src/engine/fingerprint.js";
import { timestamp } from "../../packages/orchestrator/src/engine/run-dir.js";
import { TEST_COUNT } from "./history.js";
import { type KernelRepo, writeKernelRepo } from "./kernel-repo.js";
import { cellIdOf, kernelIdOf, matrixText, TARGETS } from "./matrix.js";
import { type CellRun, type PlanJson, writeRunDirectory } from "./run-dir.js";
import { failureOf, fewFailing, KERNELS, type KernelName, sampleTests } from "./stories.js";

/** The shapes generated: change one when its shapes change, and the inputs are made anew. */
const REPO_SHAPE = "k1";
const RUN_SHAPE = "r2";
/** Shard sets: r3 since `ci plan` fills every shard tied for the largest (096ddef). */
const SHARD_SHAPE = "r3";
/** The CLI of this checkout: `ci plan` must be the real one, whichever build is measured. */
const WORKSPACE_CLI = fileURLToPath(new URL("../../packages/tui/bin/kvm-matrix.js", import.meta.url));

export interface Generated<T> {
	readonly value: T;
	/** How long making it took (when it was made, for a cached one). */
	readonly seconds: number;
	readonly cached: boolean;
}

/** `make` into `dir` unless its `done` marker is there; the marker keeps the value and the time. */
async function once<T>(dir: string, make: (dir: string) => Promise<T>): Promise<Generated<T>> {
	const marker = path.join(dir, "done");
	if (existsSync(marker)) {
		const done = JSON.parse(readFileSync(marker, "utf8")) as { value: T; seconds: number };
		return { ...done, cached: true };
	}
	rmSync(dir, { recursive: true, force: true });
	mkdirSync(dir, { recursive: true });
	const t0 = performance.now();
	const value = await make(dir);
	const seconds = (performance.now() - t0) / 1000;
	writeFileSync(marker, `${JSON.stringify({ value, seconds }, null, 2)}\n`);
	return { value, seconds, cached: false };
}

export const kernelDir = (root: string, commits: number) => path.join(root, `kernel-${commits}-${REPO_SHAPE}`);

export async function kernelInput(root: string, commits: number): Promise<Generated<KernelRepo>> {
	const dir = kernelDir(root, commits);
	const made = await once(dir, (into) => writeKernelRepo(path.join(into, "repo"), commits));
	// Where it is now (the marker keeps where it was made).
	return { ...made, value: { ...made.value, repo: path.join(dir, "repo") } };
}

/** A matrix file written into `dir`, loaded as the CLI loads it. */
async function writeMatrix(dir: string, text: string): Promise<{ file: string; matrix: Matrix }> {
	const file = path.join(dir, "m.yaml");
	writeFileSync(file, text);
	const loaded = await loadMatrixFile(file);
	if (!loaded.ok) throw new Error(`${file}: ${loaded.error.map((e) => e.message).join("; ")}`);
	return { file, matrix: loaded.value };
}

/** An initramfs-sized file for the boot directories to hard-link (merge copies each one). */
function writeInitrd(dir: string): string {
	const file = path.join(dir, "initrd.img");
	const block = Buffer.alloc(1 << 16);
	for (let i = 0; i < block.length; i++) block[i] = (i * 131 + 7) & 0xff;
	writeFileSync(file, Buffer.concat(Array.from({ length: 22 }, () => block)));
	return file;
}

/** plan.json of a run of `cells` of `matrix`, as planFileOf in engine/run.ts writes it. */
function planFile(matrix: Matrix, resolved: Record<string, string>, cells: readonly string[], runId: string): PlanJson {
	const plan = planRun(matrix, new Map(Object.entries(resolved)));
	const wanted = new Set(cells);
	const chosen = plan.cells.filter((c) => wanted.has(c.id));
	const jobs = new Map(plan.jobs.map((j) => [j.id, j]));
	const json = planToJson({ ...plan, cells: chosen });
	const fingerprints = new Map(chosen.map((c) => [c.id, cellFingerprint(matrix, c, jobs, new Map())]));
	return {
		runId,
		matrix: matrix.file,
		resolved,
		...json,
		cells: json.cells.map((c) => ({ ...c, fingerprint: fingerprints.get(c.id) })),
	};
}

/** Kernels and targets for a shard count: one cell a shard. */
function shardShape(shards: number): { kernels: KernelName[]; targets: number } {
	const kernels: KernelName[] = shards % 4 === 0 ? [...KERNELS] : ["master", "next"];
	const targets = shards / kernels.length;
	if (!Number.isInteger(targets) || targets > TARGETS.length)
		throw new RangeError(`${shards} shards: not a shape this bench makes`);
	return { kernels, targets };
}

export interface ShardSet {
	readonly matrix: string;
	readonly shards: readonly string[];
	readonly plan: string;
	/** Cells per shard in the partition `ci plan` itself chose (the shards here hold one each). */
	readonly planned: readonly number[];
	readonly cells: number;
	readonly results: number;
	/** Failing results (first attempts), over all cells. */
	readonly failing: number;
	readonly records: number;
}

export const shardSetDir = (root: string, commits: number, shards: number, failingPerCell: number) =>
	path.join(kernelDir(root, commits), `shards-${shards}x1000-fail${failingPerCell}-${SHARD_SHAPE}`);

/** `shards` CI shards of 1,000 selftests a cell, `failingPerCell` of them failing. */
export function shardSet(
	root: string,
	kernel: KernelRepo,
	shards: number,
	failingPerCell: number,
): Promise<Generated<ShardSet>> {
	return once(shardSetDir(root, kernel.commits, shards, failingPerCell), async (dir) => {
		const shape = shardShape(shards);
		const name = `scale-${shards}${failingPerCell === 0 ? "-pass" : ""}`;
		const { file, matrix } = await writeMatrix(dir, matrixText({ name, repo: kernel.repo, ...shape }));
		const planOut = path.join(dir, "ci-plan.json");
		const history = path.join(dir, ".no-history");
		mkdirSync(history);
		const planCache = path.join(dir, ".plan-cache");
		await execa(
			process.execPath,
			[WORKSPACE_CLI, "ci", "plan", file, "--shards", String(shards), "--out", planOut, "--history", history],
			{ cwd: dir, env: { KVM_MATRIX_CACHE: planCache }, stdout: "ignore" },
		);
		rmSync(planCache, { recursive: true, force: true });
		const ci = JSON.parse(readFileSync(planOut, "utf8")) as {
			id: string;
			matrixDigest: string;
			resolved: Record<string, string>;
			shards: { index: number; cells: string[] }[];
		};
		if (ci.matrixDigest !== matrixDigest(matrix)) throw new Error(`${planOut}: its matrix digest is not the matrix's`);
		// One cell a shard, as the issue's figures assume: ci plan keeps a kernel's cells with its build
		// (here 4 of 24 shards get all the cells). The plan id is derived as ci/plan.ts derives it.
		const partition = planRun(matrix, new Map(Object.entries(ci.resolved))).cells.map((c, i) => ({
			index: i + 1,
			cells: [c.id],
		}));
		const planId = createHash("sha256")
			.update(JSON.stringify([ci.matrixDigest, ci.resolved, partition.map((s) => s.cells)]))
			.digest("hex")
			.slice(0, 12);
		const tests = sampleTests(1_000);
		const failingOf = new Map(KERNELS.map((k) => [k, fewFailing(tests, k, failingPerCell)]));
		const initrd = writeInitrd(dir);
		const dirs: string[] = [];
		let failing = 0;
		let results = 0;
		let records = 0;
		for (const shard of partition) {
			const started = new Date(Date.UTC(2026, 11, 6, 2, 0, 0) + shard.index * 7_000);
			const runId = `${timestamp(started)}-${name}`;
			const cells: CellRun[] = shard.cells.map((id) => {
				const kernel = shape.kernels.find((k) => id.startsWith(`${kernelIdOf(k)}/`)) as KernelName;
				const fails = failingOf.get(kernel) ?? new Set<number>();
				failing += fails.size;
				results += tests.length;
				return {
					id,
					kernelId: kernelIdOf(kernel),
					target: id.slice(id.indexOf("/") + 1),
					sha: ci.resolved[kernelIdOf(kernel)] ?? "",
					tests,
					failure: (k) => (fails.has(k) ? failureOf(k, kernel) : undefined),
				};
			});
			const runDir = path.join(dir, `shard-${shard.index}`);
			mkdirSync(runDir);
			records += writeRunDirectory({
				dir: runDir,
				runId,
				name,
				started,
				matrixFile: file,
				matrixDigest: ci.matrixDigest,
				resolved: ci.resolved,
				plan: planFile(matrix, ci.resolved, shard.cells, runId),
				cells,
				shard: { index: shard.index, count: shards, plan: planId },
				initrd,
				cacheRoot: path.join(dir, `cache-${shard.index}`),
			});
			dirs.push(runDir);
		}
		const planned = ci.shards.map((s) => s.cells.length);
		return { matrix: file, shards: dirs, plan: planId, planned, cells: shards, results, failing, records };
	});
}

export interface ClassifyRun {
	readonly matrix: string;
	readonly run: string;
	readonly results: number;
	readonly failing: number;
	/** Failing per kernel, in KERNELS' order. */
	readonly failingPerKernel: readonly number[];
	readonly records: number;
}

/** A run of the four kernels on one target, every selftest, as `kvm-matrix run` leaves it. */
export function classifyRun(root: string, kernel: KernelRepo): Promise<Generated<ClassifyRun>> {
	const dir = path.join(kernelDir(root, kernel.commits), `run-4x${TEST_COUNT}-${RUN_SHAPE}`);
	return once(dir, async () => {
		const name = "scale-classify";
		const { file, matrix } = await writeMatrix(
			dir,
			matrixText({ name, repo: kernel.repo, kernels: KERNELS, targets: 1 }),
		);
		const resolved = Object.fromEntries(KERNELS.map((k) => [kernelIdOf(k), kernel.tips[k]]));
		const started = new Date(Date.UTC(2026, 11, 6, 3, 0, 0));
		const runId = `${timestamp(started)}-${name}`;
		const tests = Array.from({ length: TEST_COUNT }, (_, k) => k);
		const target = TARGETS[0]?.name ?? "skylake";
		const failingPerKernel = KERNELS.map((k) => tests.filter((t) => failureOf(t, k) !== undefined).length);
		const cells: CellRun[] = KERNELS.map((k) => ({
			id: cellIdOf(k, target),
			kernelId: kernelIdOf(k),
			target,
			sha: kernel.tips[k],
			tests,
			failure: (t) => failureOf(t, k),
		}));
		const run = path.join(dir, "run");
		mkdirSync(run);
		const records = writeRunDirectory({
			dir: run,
			runId,
			name,
			started,
			matrixFile: file,
			matrixDigest: matrixDigest(matrix),
			resolved,
			plan: planFile(
				matrix,
				resolved,
				cells.map((c) => c.id),
				runId,
			),
			cells,
			initrd: writeInitrd(dir),
			cacheRoot: path.join(root, "cache"),
		});
		const failing = failingPerKernel.reduce((a, b) => a + b, 0);
		return { matrix: file, run, results: tests.length * KERNELS.length, failing, failingPerKernel, records };
	});
}

/** How many commits a nightly adds to master in `grownRun`. */
export const GROWN_BY = 300;

/**
 * The classify run of `kernel` as the next night would have it: master moved on by `GROWN_BY`
 * commits (each linking its posting), kept under `refs/bench/grown` in the generated repository,
 * and the run's plan resolving master to that tip; so the Link: index store is appended to and
 * its saved tables are joined with the new lines. Returns the run directory to copy and classify.
 */
export async function grownRun(kernel: KernelRepo, run: ClassifyRun): Promise<string> {
	const ref = "refs/bench/grown";
	const git = (args: readonly string[], input?: string) =>
		execa("git", ["-C", kernel.repo, ...args], input === undefined ? {} : { input });
	let tip = (await git(["rev-parse", "--verify", "-q", ref]).catch(() => undefined))?.stdout.trim();
	if (tip === undefined || tip === "") {
		const parts: string[] = [];
		for (let i = 0; i < GROWN_BY; i++) {
			const message = `KVM: x86: nightly change ${i}\n\nLink: https://lore.kernel.org/r/20261207101500.${9000 + i}-1-dev@example.org\nSigned-off-by: Dev <dev@example.org>\n`;
			parts.push(
				`commit ${ref}\ncommitter Dev <dev@example.org> ${1_796_600_000 + i} +0000\ndata ${Buffer.byteLength(message)}\n${message}${i === 0 ? `from ${kernel.tips.master}\n` : ""}\n`,
			);
		}
		await git(["fast-import", "--quiet"], parts.join(""));
		tip = (await git(["rev-parse", "--verify", ref])).stdout.trim();
	}
	const dir = path.join(path.dirname(run.run), `grown-${GROWN_BY}`);
	const plan = readFileSync(path.join(run.run, "plan.json"), "utf8");
	mkdirSync(dir, { recursive: true });
	writeFileSync(path.join(dir, "plan.json"), plan.replaceAll(kernel.tips.master, tip));
	for (const f of ["journal.jsonl", "results.json"])
		writeFileSync(path.join(dir, f), readFileSync(path.join(run.run, f)));
	return dir;
}
