// `ci merge`: the shard run directories of one `ci plan` made into one run directory, as if one
// machine had run them all: one plan.json, one journal with every shard's facts, the logs, and
// verdicts derived again over all cells, since a baseline or the kernel a test passes on may
// have run in another shard.
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { type JournalRecord, parseJournal, type ShardRecord } from "../engine/journal.js";
import { matrixDigest } from "../engine/run.js";
import { RunDirectory, readPlanFile, requireRun, withRunDirectory } from "../engine/run-dir.js";
import { readRunRecord } from "../engine/run-record.js";
import { RunSetupError } from "../engine/setup-error.js";
import type { Matrix } from "../matrix/types.js";
import { cachePaths } from "../paths/cache.js";
import { syncTree } from "../sources/git.js";
import { optional, type PlanFile, reclassifyHoldingRun } from "../verdicts/reclassify.js";

export interface MergeInput {
	readonly dirs: readonly string[];
	readonly out: string;
	readonly matrix: Matrix;
	readonly cacheRoot: string;
	/** Merge what is there when a shard is missing (its cells count as not run). */
	readonly partial?: boolean;
	readonly lore?: string;
	readonly signal?: AbortSignal;
	readonly onLine?: (line: string) => void;
}

interface ShardRun {
	readonly dir: string;
	readonly plan: PlanFile & { readonly name?: string };
	readonly records: readonly JournalRecord[];
	readonly shard: ShardRecord;
	readonly runId: string;
	readonly started: string;
	readonly digest?: string;
	readonly outcome?: "completed" | "cancelled";
}

function readShard(dir: string): ShardRun {
	requireRun(dir);
	const plan = readPlanFile(dir);
	const record = readRunRecord(path.join(dir, "journal.jsonl"));
	if (record.shard === undefined)
		throw new RunSetupError(`${dir}: not a CI shard (only runs of kvm-matrix ci run --shard K/N are merged)`);
	const { records } = parseJournal(readFileSync(path.join(dir, "journal.jsonl"), "utf8"));
	return {
		dir,
		plan,
		records,
		shard: record.shard,
		runId: record.runId ?? plan.runId,
		started: record.started ?? new Date(0).toISOString(),
		...(record.matrixDigest === undefined ? {} : { digest: record.matrixDigest }),
		...(record.outcome === undefined ? {} : { outcome: record.outcome }),
	};
}

/** Everything that makes shards unmergeable, found before anything is written. Pure. */
export function mergeProblems(
	shards: readonly Pick<ShardRun, "dir" | "shard" | "digest">[],
	digest: string,
	matrixFile: string,
	partial: boolean,
): { readonly error?: string; readonly missing: readonly number[] } {
	const first = shards[0];
	if (first === undefined) return { error: "no shard directories given", missing: [] };
	for (const s of shards) {
		if (s.shard.plan !== first.shard.plan || s.shard.count !== first.shard.count)
			return {
				error: `${s.dir} is shard ${s.shard.index}/${s.shard.count} of plan ${s.shard.plan}, ${first.dir} of plan ${first.shard.plan} (${first.shard.index}/${first.shard.count}): merge the shards of one ci plan`,
				missing: [],
			};
		if (s.digest !== undefined && s.digest !== digest)
			return {
				error: `${s.dir} ran another matrix than ${matrixFile} (digest ${s.digest}, not ${digest}): merge with the matrix the shards ran`,
				missing: [],
			};
	}
	const seen = new Map<number, string>();
	for (const s of shards) {
		const other = seen.get(s.shard.index);
		if (other !== undefined)
			return { error: `shard ${s.shard.index}/${s.shard.count} given twice: ${other} and ${s.dir}`, missing: [] };
		seen.set(s.shard.index, s.dir);
	}
	const missing = Array.from({ length: first.shard.count }, (_, i) => i + 1).filter((i) => !seen.has(i));
	if (missing.length > 0 && !partial)
		return {
			error: `shard${missing.length > 1 ? "s" : ""} ${missing.map((i) => `${i}/${first.shard.count}`).join(", ")} missing: give every shard's directory, or --partial to merge what is there`,
			missing,
		};
	return { missing };
}

/**
 * The shard's logs under the merged directory: hard links where both are on one file system (a
 * log is never written again once its run ended, and 24,000 copies were most of a merge's time),
 * copies where they are not.
 */
function linkOrCopyTree(from: string, to: string): void {
	mkdirSync(to, { recursive: true });
	for (const entry of readdirSync(from, { withFileTypes: true })) {
		const source = path.join(from, entry.name);
		const target = path.join(to, entry.name);
		if (entry.isDirectory()) linkOrCopyTree(source, target);
		else if (entry.isFile()) {
			try {
				linkSync(source, target);
			} catch {
				copyFileSync(source, target);
			}
		}
	}
}

/** A log path recorded on the shard's machine, as it is under the merged directory. */
const rebased = (out: string, logPath: string) => {
	const at = logPath.lastIndexOf(`${path.sep}cells${path.sep}`);
	return at < 0 ? logPath : path.join(out, logPath.slice(at + 1));
};

export async function mergeShards(input: MergeInput) {
	const { matrix, out } = input;
	const shards = input.dirs.map((d) => readShard(path.resolve(d)));
	const digest = matrixDigest(matrix);
	const problems = mergeProblems(shards, digest, matrix.file, input.partial ?? false);
	if (problems.error !== undefined) throw new RunSetupError(problems.error);
	if (existsSync(out) && readdirSync(out).length > 0)
		throw new RunSetupError(`${out} is not empty: ci merge writes a new run directory`);
	const dir = new RunDirectory(out);
	shards.sort((a, b) => a.shard.index - b.shard.index);
	const first = shards[0] as ShardRun;
	const runId = `${first.runId}-merged`;
	const unfinished = shards.filter((s) => s.outcome !== "completed");
	// One writer: the merge holds its run directory from the first log to results.json.
	const classified = await withRunDirectory(out, async (fence) => {
		dir.fencedBy(fence);
		// Logs first: the journal written next points at them.
		for (const s of shards) {
			const cells = path.join(s.dir, "cells");
			if (existsSync(cells)) linkOrCopyTree(cells, path.join(out, "cells"));
		}
		const jobs = new Map<string, PlanFile["jobs"][number]>();
		for (const s of shards) for (const j of s.plan.jobs) if (!jobs.has(j.id)) jobs.set(j.id, j);
		const resolved = Object.assign({}, ...shards.map((s) => s.plan.resolved)) as Record<string, string>;
		const cells = shards.flatMap((s) => s.plan.cells);
		dir.write("plan.json", {
			runId,
			matrix: matrix.file,
			resolved,
			name: matrix.name,
			cells,
			jobs: [...jobs.values()],
		});
		const started = shards.map((s) => s.started).sort()[0] ?? new Date().toISOString();
		dir.append({
			type: "run-started",
			runId,
			at: started,
			cells: cells.map((c) => c.id),
			matrix: matrix.file,
			matrixDigest: digest,
			resolved,
			merged: shards.map((s) => ({ runId: s.runId, shard: s.shard })),
		});
		dir.appendAll(
			(function* () {
				for (const s of shards)
					for (const r of s.records) {
						// The shards' own verdicts saw only their cells: the merge derives them again.
						if (
							r.type === "run-started" ||
							r.type === "run-resumed" ||
							r.type === "run-finished" ||
							r.type === "verdicts"
						)
							continue;
						if (r.type === "test-result" && r.result.logPath !== undefined)
							yield { ...r, result: { ...r.result, logPath: rebased(out, r.result.logPath) } };
						else yield r;
					}
			})(),
		);
		for (const index of problems.missing)
			input.onLine?.(`shard ${index}/${first.shard.count} missing: its cells were not run`);
		for (const s of unfinished)
			input.onLine?.(`${s.dir}: shard ${s.shard.index} did not finish; its cells so far are kept`);
		const outcome = unfinished.length === 0 && problems.missing.length === 0 ? "completed" : "cancelled";

		// Ancestry needs the trees: the merge job may be a fresh machine.
		const mirrors = cachePaths(input.cacheRoot).mirrors;
		for (const tree of new Set([...jobs.values()].map((j) => j.tree))) {
			const source = matrix.trees.get(tree);
			if (source !== undefined) await syncTree(source, mirrors, input.signal, input.onLine);
		}
		// The run ends once its verdicts are journaled: a merge killed before then is not a finished run.
		return reclassifyHoldingRun(out, matrix, input.cacheRoot, {
			fence,
			...optional("lore", input.lore),
			...optional("onNote", input.onLine),
			finish: outcome,
		});
	});
	return {
		...classified,
		dir: out,
		runId,
		shards: shards.map((s) => ({ dir: s.dir, shard: s.shard, runId: s.runId, outcome: s.outcome ?? "unfinished" })),
		missing: problems.missing,
		outcome: unfinished.length === 0 && problems.missing.length === 0 ? ("completed" as const) : ("cancelled" as const),
	};
}
