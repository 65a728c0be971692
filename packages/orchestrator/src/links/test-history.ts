/**
 * The commits behind every test of a suite at one commit, from one pass over the suite's history:
 * which commits touched each file, and which added or removed each `x86/unittests.cfg` entry.
 * Classifying a thousand failures asks git once per suite commit, not once per test; a path-limited
 * `git log` per test cost seconds each on a kernel-sized history.
 *
 * Every commit that changed a file counts, as `git log --full-history` has it: a change a merge
 * later undid still touched the test, and git's default simplification would drop it for one path
 * and keep it for another, so that a test's commits would depend on how they were asked for.
 *
 * A commit's history never changes, so the pass is kept in the cache under the commit alone (every
 * repository that has the commit has the same history behind it) and read back by the next run. A
 * new commit of a branch seen before is read on top of the nearest cached ancestor: only the
 * commits between them are asked for.
 */
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { writeAtomically } from "../paths/atomic.js";
import { BOUNDED_PACK_MEMORY, streamRecords } from "../proc/run.js";
import { GitFactError, type HistoryAnswers } from "./ancestry.js";
import { commitLine, type IndexedCommit, parseCommitLine, parseRecord } from "./index.js";

/** What one pass is over: a kernel's KVM selftests directory, or a whole kvm-unit-tests tree. */
export type SuiteScope =
	| { readonly suite: "selftests"; readonly root: string }
	| { readonly suite: "kut"; readonly cfg: string };

export interface PassCommit {
	readonly commit: IndexedCommit;
	readonly files: readonly string[];
	/** Names of cfg entries (`[name]` lines) the commit added or removed. */
	readonly entries: readonly string[];
}

/** The history behind one suite commit. */
export class TestHistory {
	/** Newest first, as git log gives them. */
	readonly #commits: readonly PassCommit[];
	readonly #byFile = new Map<string, number[]>();
	readonly #byEntry = new Map<string, number[]>();
	readonly scope: SuiteScope;

	constructor(scope: SuiteScope, commits: readonly PassCommit[]) {
		this.scope = scope;
		this.#commits = commits;
		commits.forEach((c, i) => {
			for (const f of c.files) push(this.#byFile, f, i);
			for (const e of c.entries) push(this.#byEntry, e, i);
		});
	}

	get size(): number {
		return this.#commits.length;
	}

	get commits(): readonly PassCommit[] {
		return this.#commits;
	}

	/** Whether the pass saw this path's commits (a selftest's files outside its directory were not read). */
	covers(file: string): boolean {
		return this.scope.suite === "kut" || file === this.scope.root || file.startsWith(`${this.scope.root}/`);
	}

	/** The commits that touched any of `files`, newest first, each once. */
	touching(files: readonly string[]): IndexedCommit[] {
		return this.#pick(files.map((f) => this.#byFile.get(f)));
	}

	/** The commits that added or removed the `[name]` line of the cfg (what `git log -G` finds). */
	changingEntry(name: string): IndexedCommit[] {
		return this.#pick([this.#byEntry.get(name)]);
	}

	#pick(lists: readonly (readonly number[] | undefined)[]): IndexedCommit[] {
		const at = new Set<number>();
		for (const list of lists) for (const i of list ?? []) at.add(i);
		return [...at].sort((a, b) => a - b).map((i) => (this.#commits[i] as PassCommit).commit);
	}

	/** The cache's text: one commit per line (the Link: index's line, then files, then cfg entries). */
	toText(): string {
		return this.#commits
			.map(
				(c) =>
					`${commitLine(c.commit)}${SEP}${c.files.map(clean).join(LIST)}${SEP}${c.entries.map(clean).join(LIST)}\n`,
			)
			.join("");
	}

	static fromText(scope: SuiteScope, text: string): TestHistory | undefined {
		const commits: PassCommit[] = [];
		for (const line of text.split("\n")) {
			if (line === "") continue;
			const fields = line.split(SEP);
			const commit = parseCommitLine(fields.slice(0, 6).join(SEP));
			if (commit === undefined || fields.length !== 8) return undefined;
			commits.push({ commit, files: list(fields[6] ?? ""), entries: list(fields[7] ?? "") });
		}
		return new TestHistory(scope, commits);
	}
}

const SEP = "\t";
const LIST = "\u001f";
const clean = (s: string) => s.replaceAll(SEP, " ").replaceAll(LIST, " ").replaceAll("\n", " ");
const list = (s: string) => (s === "" ? [] : s.split(LIST));

function push(map: Map<string, number[]>, key: string, value: number): void {
	const found = map.get(key);
	if (found === undefined) map.set(key, [value]);
	else found.push(value);
}

/** A cfg diff line that adds or removes an entry header: `+[vmx]`, `-[vmx_pf]`. */
const ENTRY_LINE = /^[+-]\[([^\]\n]*)\]$/;

/** One record of the pass: `%H%x00%s%x00%B%x00`, then what `--name-only` or `-p` printed. */
function passRecord(raw: string, what: "files" | "entries"): PassCommit | undefined {
	const text = raw.charCodeAt(0) === 10 ? raw.slice(1) : raw;
	const end = text.lastIndexOf("\0");
	if (end === -1) return undefined;
	const commit = parseRecord(text.slice(0, end));
	const rest = text.slice(end + 1).split("\n");
	if (what === "files") return { commit, files: rest.filter((l) => l !== ""), entries: [] };
	const entries = new Set<string>();
	for (const line of rest) {
		const m = ENTRY_LINE.exec(line);
		if (m?.[1] !== undefined) entries.add(m[1]);
	}
	return { commit, files: [], entries: [...entries] };
}

const FORMAT = "--format=%x1e%H%x00%s%x00%B%x00";

/**
 * The commits of `range` (a sha, or `new ^old`) for the scope: one git log for files, one more for
 * KUT's cfg. The kernel's selftests are a few thousand commits among a million: which ones is asked
 * first (`rev-list`, shas only), then only they are read whole; one path-limited log with `%B`
 * kept every commit message it walked past, 1.5 GB for a million commits.
 */
async function readPass(repo: string, range: readonly string[], scope: SuiteScope): Promise<PassCommit[]> {
	const run = async (args: readonly string[], what: "files" | "entries", input?: string) => {
		const out: PassCommit[] = [];
		await streamRecords(
			"git",
			["-C", repo, ...BOUNDED_PACK_MEMORY, "log", "--no-merges", "--full-history", FORMAT, ...args],
			"\u001e",
			(raw) => {
				if (raw.length === 0) return;
				const c = passRecord(raw, what);
				if (c !== undefined) out.push(c);
			},
			input === undefined ? {} : { input },
		);
		return out;
	};
	if (scope.suite === "selftests") {
		const shas: string[] = [];
		await streamRecords(
			"git",
			["-C", repo, ...BOUNDED_PACK_MEMORY, "rev-list", "--no-merges", "--full-history", ...range, "--", scope.root],
			"\n",
			(line) => {
				if (line !== "") shas.push(line);
			},
		);
		if (shas.length === 0) return [];
		return run(["--no-walk=unsorted", "--stdin", "--name-only", "--", scope.root], "files", `${shas.join("\n")}\n`);
	}
	const [files, entries] = await Promise.all([
		run(["--name-only", ...range], "files"),
		run(["-p", "--unified=0", "--no-ext-diff", ...range, "--", scope.cfg], "entries"),
	]);
	// Both passes list commits newest first; a cfg change is a file change too.
	const bySha = new Map(entries.map((e) => [e.commit.sha, e.entries]));
	return files.map((f) => ({ ...f, entries: bySha.get(f.commit.sha) ?? [] }));
}

const scopeName = (scope: SuiteScope) => (scope.suite === "kut" ? "kut" : "selftests");

/**
 * The test histories of one run: each suite commit's read once (from the cache, or from git and
 * then cached), whatever the number of tests and failures that need it.
 */
export class TestHistories {
	readonly #dir: string | undefined;
	readonly #git: HistoryAnswers;
	readonly #found = new Map<string, Promise<TestHistory>>();
	/** How many passes over history this run asked git for (a count tests read). */
	passes = 0;

	/** `dir`: where passes are cached (none: read from git each run). */
	constructor(dir: string | undefined, git: HistoryAnswers) {
		this.#dir = dir;
		this.#git = git;
	}

	of(repo: string, sha: string, scope: SuiteScope): Promise<TestHistory> {
		const key = `${repo}\0${sha}\0${JSON.stringify(scope)}`;
		let found = this.#found.get(key);
		if (found === undefined) {
			found = this.#load(repo, sha, scope);
			this.#found.set(key, found);
			found.catch(() => this.#found.delete(key));
		}
		return found;
	}

	async #load(repo: string, sha: string, scope: SuiteScope): Promise<TestHistory> {
		const dir = this.#dir === undefined ? undefined : path.join(this.#dir, scopeName(scope));
		const file = (s: string) => path.join(dir ?? "", s);
		if (dir !== undefined && SHA40.test(sha)) {
			const cached = await readFile(file(sha), "utf8").then(
				(text) => TestHistory.fromText(scope, text),
				() => undefined,
			);
			if (cached !== undefined) return cached;
		}
		const base = dir === undefined ? undefined : await this.#nearestAncestor(repo, sha, dir, scope);
		this.passes++;
		const added = await readPass(repo, base === undefined ? [sha] : [sha, `^${base.sha}`], scope);
		const history = new TestHistory(scope, [...added, ...(base === undefined ? [] : base.history.commits)]);
		if (dir !== undefined && SHA40.test(sha)) {
			await mkdir(dir, { recursive: true });
			await writeAtomically(file(sha), history.toText());
		}
		return history;
	}

	/** The newest few cached commits that `sha` descends from in `repo`: the closest such, read back. */
	async #nearestAncestor(
		repo: string,
		sha: string,
		dir: string,
		scope: SuiteScope,
	): Promise<{ readonly sha: string; readonly history: TestHistory } | undefined> {
		const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => SHA40.test(n) && n !== sha);
		const dated = await Promise.all(
			names.map(async (n) => ({
				n,
				at: await stat(path.join(dir, n)).then(
					(s) => s.mtimeMs,
					() => 0,
				),
			})),
		);
		for (const { n } of dated.sort((a, b) => b.at - a.at).slice(0, NEAREST)) {
			try {
				if (!(await this.#git.has(repo, n)) || !(await this.#git.isAncestor(repo, n, sha))) continue;
			} catch (error) {
				if (error instanceof GitFactError) continue;
				throw error;
			}
			const text = await readFile(path.join(dir, n), "utf8").catch(() => undefined);
			const history = text === undefined ? undefined : TestHistory.fromText(scope, text);
			if (history !== undefined) return { sha: n, history };
		}
		return undefined;
	}
}

/** How many recent cached commits a new one is tried against (a nightly's branches: a handful). */
const NEAREST = 8;
const SHA40 = /^[0-9a-f]{40}$/;
