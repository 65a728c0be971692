// The generated kernel repository, written by git fast-import in two passes: master, its topic
// merges, fixes, next and queue first (marks exported), then stable and lts, whose backports name
// their originals' shas (`commit <sha> upstream.`, `(cherry picked from commit <sha>)`), which only
// the first pass's marks can tell. Commit dates grow with every commit written.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { execa } from "execa";
import { GREG, PAOLO, sob } from "../verdicts/people.js";
import { type CommitText, cherryPick, commitText, stableBackport } from "./commits.js";
import {
	type CommitPlan,
	FIXES_COMMITS,
	fixHomeOf,
	History,
	NEXT_COMMITS,
	QUEUE_COMMITS,
	TOPIC_COMMITS,
} from "./history.js";

export const BRANCHES = ["master", "next", "queue", "fixes", "stable", "lts"] as const;
export type Branch = (typeof BRANCHES)[number];

export interface KernelRepo {
	readonly repo: string;
	readonly commits: number;
	/** Every branch's tip. */
	readonly tips: Readonly<Record<Branch, string>>;
	/** Objects written, and the pack's size in bytes. */
	readonly objects: number;
	readonly packBytes: number;
}

const withFix = (k: number) => fixHomeOf(k) !== undefined;
const FIRST_DATE = 1_600_000_000;

/** One `git fast-import` process, fed in large writes (one per commit costs more than git's work). */
class Importer {
	private readonly chunks: string[] = [];
	private buffered = 0;
	private readonly process;

	constructor(
		repo: string,
		marks: { readonly export?: string; readonly import?: string },
		private written: number,
	) {
		const args = ["-C", repo, "fast-import", "--quiet", "--done"];
		if (marks.export !== undefined) args.push(`--export-marks=${marks.export}`);
		if (marks.import !== undefined) args.push(`--import-marks=${marks.import}`);
		// glibc gives freed memory back to the system at once by default: fast-import, which frees and
		// reallocates tree buffers for every commit, then spends most of its time in brk (7 × slower).
		const env = { MALLOC_TOP_PAD_: String(256 << 20), MALLOC_TRIM_THRESHOLD_: String(1 << 30) };
		this.process = execa("git", args, { stdin: "pipe", stdout: "ignore", stderr: "pipe", env });
	}

	/** Commits written so far, this pass and those before: the next commit's date. */
	get count(): number {
		return this.written;
	}

	private async write(text: string): Promise<void> {
		this.chunks.push(text);
		this.buffered += text.length;
		if (this.buffered >= 1 << 20) await this.flush();
	}

	private async flush(): Promise<void> {
		const stdin = this.process.stdin;
		if (stdin === null) throw new Error("git fast-import has no stdin");
		const text = this.chunks.join("");
		this.chunks.length = 0;
		this.buffered = 0;
		if (!stdin.write(text)) await new Promise<void>((resolve) => stdin.once("drain", () => resolve()));
	}

	async reset(ref: string, from: string): Promise<void> {
		await this.write(`reset refs/heads/${ref}\nfrom ${from}\n\n`);
	}

	/** A commit on `ref`; without `from` it continues the branch's tip. */
	async commit(
		ref: string,
		mark: number,
		text: CommitText,
		committer: string,
		extra: { readonly from?: string; readonly merge?: string; readonly files?: CommitText["files"] } = {},
	): Promise<void> {
		const when = FIRST_DATE + this.written++ * 30;
		const files = [...text.files, ...(extra.files ?? [])]
			.map(([file, content]) => `M 100644 inline ${file}\ndata ${Buffer.byteLength(content)}\n${content}\n`)
			.join("");
		await this.write(
			`commit refs/heads/${ref}\nmark :${mark}\nauthor ${text.author} ${when} +0000\ncommitter ${committer} ${when} +0000\ndata ${Buffer.byteLength(text.message)}\n${text.message}${extra.from === undefined ? "" : `from ${extra.from}\n`}${extra.merge === undefined ? "" : `merge ${extra.merge}\n`}${files}\n`,
		);
	}

	async done(): Promise<void> {
		await this.write("done\n");
		await this.flush();
		this.process.stdin?.end();
		await this.process;
	}
}

/** The first pass: master (mark i + 1 for commit i), topics, fixes, next, queue. */
async function writeUpstream(history: History, importer: Importer): Promise<void> {
	const n = history.commits;
	let mark = n;
	const text = (plan: CommitPlan) => commitText(plan, withFix);
	for (let i = 0; i < n; i++) {
		const plan = history.master(i);
		if (plan.kind !== "merge") {
			await importer.commit("master", i + 1, text(plan), PAOLO);
			continue;
		}
		// A topic branch off master ten commits back, merged here with what it changed.
		await importer.reset("topic", `:${i - 9}`);
		const changed: (readonly [string, string])[] = [];
		for (let t = 0; t < TOPIC_COMMITS; t++) {
			const topic = text(history.topic(i, t));
			await importer.commit("topic", ++mark, topic, PAOLO);
			changed.push(...topic.files);
		}
		await importer.commit("master", i + 1, text(plan), PAOLO, { merge: `:${mark}`, files: changed });
	}
	const branch = async (ref: string, from: number, count: number, at: (j: number) => CommitPlan) => {
		await importer.reset(ref, `:${from}`);
		for (let j = 0; j < count; j++) await importer.commit(ref, ++mark, text(at(j)), PAOLO);
		return mark;
	};
	await branch("fixes", n, FIXES_COMMITS, (j) => history.fixesCommit(j));
	const nextTip = await branch("next", n, NEXT_COMMITS, (j) => history.nextCommit(j));
	await branch("queue", nextTip, QUEUE_COMMITS, (j) => history.queueCommit(j));
}

/** The shas of the given first-pass marks, from the file fast-import exported. */
function shasOf(marksFile: string, wanted: ReadonlySet<number>): Map<number, string> {
	const shas = new Map<number, string>();
	for (const line of readFileSync(marksFile, "utf8").split("\n")) {
		const space = line.indexOf(" ");
		const mark = Number(line.slice(1, space));
		if (wanted.has(mark)) shas.set(mark, line.slice(space + 1));
	}
	return shas;
}

/** The second pass: stable and lts, each a branch point on master and backports in order. */
async function writeMaintenance(history: History, importer: Importer, marksFile: string): Promise<void> {
	const stable = history.stableBackports();
	const lts = history.ltsBackports();
	const shas = shasOf(marksFile, new Set([...stable, ...lts].map((i) => i + 1)));
	const shaOf = (i: number) => {
		const sha = shas.get(i + 1);
		if (sha === undefined) throw new Error(`no sha for master commit ${i}`);
		return sha;
	};
	let mark = 10 * history.commits;
	const maintained = async (
		ref: string,
		base: number,
		originals: readonly number[],
		version: string,
		backport: (t: CommitText, sha: string) => CommitText,
	) => {
		await importer.reset(ref, `:${base + 1}`);
		let release = 0;
		for (const [b, i] of originals.entries()) {
			await importer.commit(ref, ++mark, backport(commitText(history.master(i), withFix), shaOf(i)), GREG);
			// A release every 40 backports, as stable tags them.
			if (b % 40 === 39) {
				release++;
				const message = `Linux ${version}.${release}\n\n${sob(GREG)}\n`;
				await importer.commit(
					ref,
					++mark,
					{ author: GREG, message, files: [["Makefile", `SUBLEVEL = ${release}\n`]] },
					GREG,
				);
			}
		}
	};
	await maintained("stable", history.stableBase, stable, "6.12", stableBackport);
	await maintained("lts", history.ltsBase, lts, "6.6", cherryPick);
}

/** Writes the repository of `commits` master commits into `repo` (emptied first). */
export async function writeKernelRepo(repo: string, commits: number): Promise<KernelRepo> {
	const history = new History(commits);
	rmSync(repo, { recursive: true, force: true });
	mkdirSync(repo, { recursive: true });
	await execa("git", ["init", "-q", "-b", "master", repo]);
	const marks = path.join(repo, ".git", "bench-marks");
	const upstream = new Importer(repo, { export: marks }, 0);
	await writeUpstream(history, upstream);
	await upstream.done();
	const maintenance = new Importer(repo, { import: marks }, upstream.count);
	await writeMaintenance(history, maintenance, marks);
	await maintenance.done();
	rmSync(marks);
	const tips = {} as Record<Branch, string>;
	for (const b of BRANCHES) tips[b] = (await execa("git", ["-C", repo, "rev-parse", `refs/heads/${b}`])).stdout.trim();
	const counts = (await execa("git", ["-C", repo, "count-objects", "-v"])).stdout;
	const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(counts)?.[1] ?? 0);
	return { repo, commits, tips, objects: field("in-pack") + field("count"), packBytes: field("size-pack") * 1024 };
}

/**
 * Gives `repo` a commit-graph with changed-path Bloom filters, or takes it away: kvm-matrix's own
 * mirrors get one after each fetch, a user's clone (a `path:` tree like this one) has none unless
 * its owner writes it. Returns the seconds writing took, or undefined when nothing was written.
 */
export async function setCommitGraph(repo: string, wanted: boolean): Promise<number | undefined> {
	const info = path.join(repo, ".git", "objects", "info");
	const present = existsSync(path.join(info, "commit-graph")) || existsSync(path.join(info, "commit-graphs"));
	if (!wanted) {
		rmSync(path.join(info, "commit-graph"), { force: true });
		rmSync(path.join(info, "commit-graphs"), { recursive: true, force: true });
		return undefined;
	}
	if (present) return undefined;
	const t0 = performance.now();
	await execa("git", ["-C", repo, "commit-graph", "write", "--reachable", "--changed-paths"]);
	return (performance.now() - t0) / 1000;
}
