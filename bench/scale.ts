// Verdicts at real scale (issue 25): wall time and peak RSS of the built CLI on generated,
// real-shaped inputs — `ci merge` of 6, 12 and 24 shards of 1,000 results (1 % failing, and 24
// with nothing failing), `classify` of a run with 10,000 failures across 4 kernels (cold cache,
// then warm), `report` of the 24-shard merged run in every format — and how each grows with size.
// Run: pnpm build && pnpm bench:scale [--quick] [--commits N[,N...]] [--cli PATH] [--only WHAT] [--timeout S]
//      [--commit-graph]
// Targets (issue 25): 24-shard merge, 1 % failing ≤ 10 s and ≤ 300 MB; on a 1,000,000-commit tree,
// 10,000 failures across 4 kernels classified in ≤ 5 s warm, ≤ 90 s cold, ≤ 500 MB.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { cacheRoot, REPORT_EXTENSION, REPORT_FORMATS, VERDICT_NAMES } from "@kvm-matrix/orchestrator";
import { execa } from "execa";
import {
	type ClassifyRun,
	classifyRun,
	type Generated,
	GROWN_BY,
	grownRun,
	kernelInput,
	type ShardSet,
	shardSet,
} from "./scale/inputs.js";
import { type KernelRepo, setCommitGraph } from "./scale/kernel-repo.js";
import { CommandFailed, type Measured, measure } from "./scale/measure.js";

const WORKSPACE_CLI = fileURLToPath(new URL("../packages/tui/bin/kvm-matrix.js", import.meta.url));
const SECTIONS = ["merge", "classify", "report"] as const;
type Section = (typeof SECTIONS)[number];

interface Options {
	readonly commits: readonly number[];
	readonly mergeSizes: readonly number[];
	readonly cli: string;
	readonly only: ReadonlySet<Section>;
	readonly timeoutSeconds: number;
	readonly commitGraph: boolean;
	readonly root: string;
}

const USAGE = `usage: pnpm bench:scale [--quick] [--commits N[,N...]] [--cli PATH] [--only merge|classify|report] [--timeout SECONDS]
                        [--commit-graph]
  --commits   kernel tree sizes (default 1,000,000; several print the growth between them)
  --quick     20,000 commits, merges of 6 and 24 shards only
  --cli       another build's packages/tui/bin/kvm-matrix.js (its "before" figures)
  --only      one section, or several separated by commas
  --timeout   per command (default 1200); a command past it is killed and shows >TIMEOUT
  --commit-graph  give the generated trees a commit-graph with changed-path Bloom filters (as
              kvm-matrix's own mirrors have; without it, trees are like a user's fresh clone)
inputs are kept in $BENCH_SCALE_DIR (default <kvm-matrix cache>/bench/scale)`;

function parseOptions(argv: readonly string[]): Options {
	const { values } = parseArgs({
		args: [...argv],
		options: {
			commits: { type: "string" },
			quick: { type: "boolean", default: false },
			cli: { type: "string" },
			only: { type: "string" },
			timeout: { type: "string", default: "1200" },
			"commit-graph": { type: "boolean", default: false },
			help: { type: "boolean", short: "h", default: false },
		},
	});
	if (values.help) {
		console.log(USAGE);
		process.exit(0);
	}
	const commits = (values.commits ?? (values.quick ? "20000" : "1000000"))
		.split(",")
		.map((c) => Number(c.replaceAll("_", "")));
	if (commits.some((c) => !Number.isInteger(c) || c <= 0))
		throw new UsageError(`--commits ${values.commits}: whole numbers`);
	const only = (values.only ?? SECTIONS.join(",")).split(",");
	const unknown = only.find((s) => !(SECTIONS as readonly string[]).includes(s));
	if (unknown !== undefined) throw new UsageError(`--only ${unknown}: one of ${SECTIONS.join(", ")}`);
	const timeoutSeconds = Number(values.timeout);
	if (!(timeoutSeconds > 0)) throw new UsageError(`--timeout ${values.timeout}: seconds, more than 0`);
	const cli = path.resolve(values.cli ?? WORKSPACE_CLI);
	if (!existsSync(cli)) throw new UsageError(`${cli} does not exist (pnpm build first?)`);
	return {
		commits: [...new Set(commits)].sort((a, b) => a - b),
		mergeSizes: values.quick ? [6, 24] : [6, 12, 24],
		cli,
		only: new Set(only as Section[]),
		timeoutSeconds,
		commitGraph: values["commit-graph"],
		root: path.resolve(process.env.BENCH_SCALE_DIR ?? path.join(cacheRoot(process.env), "bench", "scale")),
	};
}

class UsageError extends Error {}

// ---- printing ----------------------------------------------------------------------------------

const n = (x: number) => x.toLocaleString("en");
const secs = (s: number) => `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;

/** A figure against its target: `12.3 s OVER (≤ 10 s)`, `>TIMEOUT (1200 s)`. */
function timeFigure(m: Measured, timeout: number, target?: number): string {
	if (m.seconds === undefined) return m.timedOut ? `>TIMEOUT (${timeout} s)` : "?";
	return `${secs(m.seconds)}${target === undefined ? "" : ` ${m.seconds <= target ? "ok" : "OVER"} (≤ ${target} s)`}`;
}
function rssFigure(m: Measured, target?: number): string {
	if (m.peakMb === undefined) return m.timedOut ? "? MB" : "?";
	const mb = Math.round(m.peakMb);
	return `${mb} MB${target === undefined ? "" : ` ${mb <= target ? "ok" : "OVER"} (≤ ${target} MB)`}`;
}

/** Verdict counts from the lines `classify` and `ci merge` print under each cell. */
function verdictCounts(stdout: string): string {
	const counts = new Map<string, number>();
	const line = new RegExp(`^ {2}\\S+ +(${VERDICT_NAMES.join("|")})(?::|$)`);
	for (const l of stdout.split("\n")) {
		const v = line.exec(l)?.[1];
		if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
	}
	if (counts.size === 0) return "no verdicts";
	return VERDICT_NAMES.filter((v) => counts.has(v))
		.map((v) => `${v} ${n(counts.get(v) ?? 0)}`)
		.join(", ");
}

function growth(label: string, a: Measured, b: Measured): string {
	const ratio = (x?: number, y?: number) =>
		x === undefined || y === undefined || x === 0 ? "n/a" : `×${(y / x).toFixed(2)}`;
	return `  ${label}: time ${ratio(a.seconds, b.seconds)}, peak RSS ${ratio(a.peakMb, b.peakMb)}`;
}

function generated<T>(what: string, g: Generated<T>): void {
	console.log(
		`  ${what.padEnd(46)} ${g.cached ? `cached (generated in ${secs(g.seconds)})` : `generated in ${secs(g.seconds)}`}`,
	);
}

// ---- sections ----------------------------------------------------------------------------------

interface Context {
	readonly options: Options;
	/** This run's scratch directory (caches, copies of runs, reports), removed at the end. */
	readonly work: string;
	readonly run: (args: readonly string[], cache: string, cwd: string) => Promise<Measured>;
}

/** `ci merge` of a shard set into `<set>/merged` (the 24-shard one is what `report` reads). */
async function merge(ctx: Context, set: ShardSet, cache: string): Promise<Measured> {
	const dir = path.dirname(set.matrix);
	const out = path.join(dir, "merged");
	rmSync(out, { recursive: true, force: true });
	return ctx.run(["ci", "merge", ...set.shards, "--out", out, "--matrix", set.matrix], cache, dir);
}

async function mergeSection(ctx: Context, sets: ReadonlyMap<string, ShardSet>, commits: number): Promise<void> {
	const { options } = ctx;
	console.log(`\nci merge SHARDS --out DIR --matrix FILE  (1,000 results a shard, ${n(commits)}-commit tree)`);
	const cache = path.join(ctx.work, "merge-cache");
	const row = (label: string, set: ShardSet, m: Measured, targets: { s?: number; mb?: number } = {}) =>
		console.log(
			`  ${label.padEnd(38)} ${timeFigure(m, options.timeoutSeconds, targets.s).padEnd(24)} ${rssFigure(m, targets.mb).padEnd(22)} ${n(set.failing)} failing: ${verdictCounts(m.stdout)}`,
		);
	const target = { s: 10, mb: 300 };
	const largest = sets.get("24");
	// First on a new cache, as on a fresh CI machine: the tree's Link: index and the selftests'
	// history are made here. The merges after it find them in the cache.
	if (largest !== undefined)
		row("24 shards, 1 % failing, cold cache", largest, await merge(ctx, largest, cache), target);
	const measured: [number, Measured][] = [];
	for (const size of options.mergeSizes) {
		const set = sets.get(String(size));
		if (set === undefined) continue;
		const m = await merge(ctx, set, cache);
		measured.push([size, m]);
		row(`${size} shards, 1 % failing`, set, m, size === 24 ? target : {});
	}
	const pass = sets.get("24-pass");
	if (pass !== undefined) row("24 shards, none failing", pass, await merge(ctx, pass, cache));
	for (let i = 1; i < measured.length; i++) {
		const [a, ma] = measured[i - 1] as [number, Measured];
		const [b, mb] = measured[i] as [number, Measured];
		console.log(growth(`growth ${a} → ${b} shards (×${(b / a).toFixed(0)} results)`, ma, mb));
	}
}

async function reportSection(ctx: Context, set: ShardSet): Promise<void> {
	const { options } = ctx;
	const dir = path.dirname(set.matrix);
	const merged = path.join(dir, "merged");
	console.log(`\nreport RUN_DIR --format F --out FILE  (the 24-shard merged run, ${n(set.results)} results)`);
	if (!existsSync(path.join(merged, "results.json"))) {
		const m = await merge(ctx, set, path.join(ctx.work, "report-cache"));
		console.log(`  (merged the 24 shards first: ${timeFigure(m, options.timeoutSeconds)})`);
		if (m.timedOut) {
			console.log("  no merged run to report on");
			return;
		}
	}
	for (const format of REPORT_FORMATS) {
		const out = path.join(ctx.work, `report.${REPORT_EXTENSION[format]}`);
		const m = await ctx.run(
			["report", merged, "--format", format, "--out", out],
			path.join(ctx.work, "report-cache"),
			dir,
		);
		const size = existsSync(out) ? `${(statSync(out).size / 1e6).toFixed(1)} MB written` : "";
		console.log(
			`  ${format.padEnd(38)} ${timeFigure(m, options.timeoutSeconds).padEnd(24)} ${rssFigure(m).padEnd(22)} ${size}`,
		);
		rmSync(out, { force: true });
	}
}

/**
 * A copy of the generated run to classify: classify appends to its journal and rewrites
 * results.json. The logs are `logs`' (by default the run's own).
 */
function copyRun(run: string, to: string, logs = run): string {
	mkdirSync(to, { recursive: true });
	for (const f of ["plan.json", "journal.jsonl", "results.json"]) cpSync(path.join(run, f), path.join(to, f));
	// The logs are only read, and 50,000 of them would cost more to copy than to classify.
	symlinkSync(path.join(logs, "cells"), path.join(to, "cells"));
	return to;
}

async function classifySection(ctx: Context, runs: readonly [number, ClassifyRun, KernelRepo][]): Promise<void> {
	const { options } = ctx;
	const first = runs[0]?.[1];
	if (first === undefined) return;
	console.log(
		`\nclassify RUN_DIR --matrix FILE  (4 kernels × 10,000 tests, ${n(first.failing)} failing: ${first.failingPerKernel.map(n).join(" / ")} on master / next / queue / stable)`,
	);
	const figures: [number, Measured, Measured][] = [];
	for (const [commits, input, kernel] of runs) {
		const cache = path.join(ctx.work, `classify-cache-${commits}`);
		const atScale = commits >= 1_000_000;
		const row = (label: string, m: Measured, target: number) =>
			console.log(
				`  ${label.padEnd(38)} ${timeFigure(m, options.timeoutSeconds, target).padEnd(24)} ${rssFigure(m, 500).padEnd(22)} ${verdictCounts(m.stdout)}`,
			);
		const once = (tag: string, run = input.run) =>
			ctx.run(
				[
					"classify",
					copyRun(run, path.join(ctx.work, `classify-${commits}-${tag}`, "run"), input.run),
					"--matrix",
					input.matrix,
				],
				cache,
				path.dirname(input.matrix),
			);
		const cold = await once("cold");
		row(`${n(commits)} commits, cold cache`, cold, 90);
		const warm = await once("warm");
		row(`${n(commits)} commits, warm cache`, warm, 5);
		// The next night: master has moved on, the store is appended to, the saved tables joined.
		const grown = await once("grown", await grownRun(kernel, input));
		console.log(
			`  ${`${n(commits)} + ${GROWN_BY} new on master`.padEnd(38)} ${timeFigure(grown, options.timeoutSeconds).padEnd(24)} ${rssFigure(grown).padEnd(22)} ${verdictCounts(grown.stdout)}`,
		);
		if (!atScale) console.log("    (the targets are for a 1,000,000-commit tree)");
		figures.push([commits, cold, warm]);
	}
	for (let i = 1; i < figures.length; i++) {
		const [a, ac, aw] = figures[i - 1] as [number, Measured, Measured];
		const [b, bc, bw] = figures[i] as [number, Measured, Measured];
		const label = `growth ${n(a)} → ${n(b)} commits (×${(b / a).toFixed(0)})`;
		console.log(`${growth(`${label}, cold`, ac, bc)}\n${growth(`${label}, warm`, aw, bw)}`);
	}
}

// ---- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
	const options = parseOptions(process.argv.slice(2));
	const load = () =>
		os
			.loadavg()
			.map((l) => l.toFixed(1))
			.join(" ");
	// The figures belong to a build: name its commit (and whether its sources had local changes).
	const commit = await execa("git", ["-C", path.dirname(options.cli), "describe", "--always", "--dirty"], {
		reject: false,
	});
	console.log(
		`bench:scale  ${options.cli}  (${commit.exitCode === 0 ? `checkout ${commit.stdout.trim()}` : "not in git"})`,
	);
	console.log(
		`  node ${process.version}, ${os.cpus().length} cores, load average ${load()}; inputs in ${options.root}`,
	);
	mkdirSync(options.root, { recursive: true });
	const work = mkdtempSync(path.join(options.root, "tmp-"));
	const ctx: Context = {
		options,
		work,
		run: (args, cache, cwd) =>
			measure(args, {
				cli: options.cli,
				cwd,
				env: { KVM_MATRIX_CACHE: cache },
				timeoutSeconds: options.timeoutSeconds,
				// 1: the command answered, and the answer has failures to look at.
				okExits: [0, 1],
			}),
	};
	try {
		console.log("\ninputs");
		const kernels: [number, KernelRepo][] = [];
		for (const commits of options.commits) {
			const g = await kernelInput(options.root, commits);
			generated(`kernel tree, ${n(commits)} commits`, g);
			const graph = await setCommitGraph(g.value.repo, options.commitGraph);
			console.log(
				`    ${n(g.value.objects)} objects, ${(g.value.packBytes / 1e6).toFixed(0)} MB packed; ${options.commitGraph ? `commit-graph with changed paths${graph === undefined ? "" : ` (written in ${secs(graph)})`}` : "no commit-graph"}`,
			);
			kernels.push([commits, g.value]);
		}
		// Merges and reports on the largest tree (the issue's are at kernel scale); classify on each.
		const [largestCommits, largest] = kernels.at(-1) as [number, KernelRepo];
		const sets = new Map<string, ShardSet>();
		if (options.only.has("merge") || options.only.has("report")) {
			const sizes = options.only.has("merge") ? options.mergeSizes : [24];
			for (const size of sizes) {
				const g = await shardSet(options.root, largest, size, 10);
				generated(`${size} shards × 1,000 results, 1 % failing`, g);
				const filled = g.value.planned.filter((c) => c > 0);
				console.log(
					`    one cell a shard; ci plan's own partition: ${filled.join(", ")} cells in ${filled.length} of ${size} shards`,
				);
				sets.set(String(size), g.value);
			}
			if (options.only.has("merge")) {
				const g = await shardSet(options.root, largest, 24, 0);
				generated("24 shards × 1,000 results, none failing", g);
				sets.set("24-pass", g.value);
			}
		}
		const runs: [number, ClassifyRun, KernelRepo][] = [];
		if (options.only.has("classify"))
			for (const [commits, kernel] of kernels) {
				const g = await classifyRun(options.root, kernel);
				generated(`run of 4 × 10,000 tests on ${n(commits)} commits`, g);
				runs.push([commits, g.value, kernel]);
			}

		if (options.only.has("merge")) await mergeSection(ctx, sets, largestCommits);
		const set24 = sets.get("24");
		if (options.only.has("report") && set24 !== undefined) await reportSection(ctx, set24);
		if (options.only.has("classify")) await classifySection(ctx, runs);
		console.log(`\nload average at the end ${load()} (the figures are wall times: a busy machine inflates them)`);
	} finally {
		rmSync(work, { recursive: true, force: true });
	}
}

main().catch((error: unknown) => {
	if (error instanceof CommandFailed) {
		console.error(`bench:scale: ${error.message}\n${error.stderrTail}`);
	} else if (error instanceof UsageError) {
		console.error(`bench:scale: ${error.message}\n${USAGE}`);
	} else {
		console.error(`bench:scale: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
	}
	process.exit(1);
});
