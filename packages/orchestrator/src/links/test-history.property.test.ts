// Random small histories with merges (some of which undo a side's change) and cherry-picks: every
// in-memory answer equals what git answers to the same question asked on its own. A test history,
// read whole or on top of a cached ancestor, as `git log --full-history -- FILES` and `git log -G`;
// the Link: index's commit graph as `git merge-base --is-ancestor`, and a graph whose store lost
// lines either still agrees or says it cannot tell.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import fc from "fast-check";
import { GIT_ENV } from "../../../../test/support/git.js";
import { commitCount, HistoryAnswers, isAncestor } from "./ancestry.js";
import { LinkIndex, loadLinkIndex, updateLinkIndex } from "./index.js";
import { type SuiteScope, TestHistories } from "./test-history.js";

const ROOT = "tools/testing/selftests/kvm";
const FILES = [`${ROOT}/x86_64/a.c`, `${ROOT}/x86_64/b.c`, `${ROOT}/lib/x.c`, "x86/vmx.c", "arch/x86/kvm/x86.c"];
const CFG = "x86/unittests.cfg";
const ENTRIES = ["vmx", "svm", "pmu"];
const BRANCHES = ["master", "next", "stable"];
const SELFTESTS: SuiteScope = { suite: "selftests", root: ROOT };
const KUT: SuiteScope = { suite: "kut", cfg: CFG };

type Step =
	| { readonly kind: "commit"; readonly branch: number; readonly files: readonly number[]; readonly entry?: number }
	| { readonly kind: "merge"; readonly into: number; readonly from: number; readonly ours: boolean }
	| { readonly kind: "pick"; readonly onto: number; readonly from: number };

const step: fc.Arbitrary<Step> = fc
	.oneof(
		{
			weight: 5,
			arbitrary: fc.record({
				kind: fc.constant("commit" as const),
				branch: fc.nat(2),
				files: fc.uniqueArray(fc.nat(FILES.length - 1), { minLength: 1, maxLength: 3 }),
				entry: fc.option(fc.nat(ENTRIES.length - 1), { nil: undefined }),
			}),
		},
		{
			weight: 2,
			arbitrary: fc.record({
				kind: fc.constant("merge" as const),
				into: fc.nat(2),
				from: fc.nat(2),
				ours: fc.boolean(),
			}),
		},
		{ weight: 1, arbitrary: fc.record({ kind: fc.constant("pick" as const), onto: fc.nat(2), from: fc.nat(2) }) },
	)
	.map((s) => {
		if (s.kind !== "commit" || s.entry !== undefined) return s;
		const { entry: _e, ...rest } = s;
		return rest;
	});

/** Builds the history; every commit a second after the last, so git's order is the same every time. */
async function build(steps: readonly Step[]): Promise<{ repo: string; commits: Map<string, string[]> }> {
	const repo = mkdtempSync(path.join(os.tmpdir(), "th-prop-"));
	let time = 1_780_000_000;
	const run = (...args: string[]) => {
		time++;
		return execa("git", ["-C", repo, ...args], {
			env: { ...GIT_ENV, GIT_AUTHOR_DATE: `${time} +0000`, GIT_COMMITTER_DATE: `${time} +0000` },
		});
	};
	const write = (file: string, text: string) => {
		mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
		writeFileSync(path.join(repo, file), text);
	};
	await run("init", "-q", "-b", "master");
	for (const f of FILES) write(f, "0\n");
	write(CFG, "[vmx]\nfile = vmx.flat\n");
	await run("add", "-A");
	await run("commit", "-q", "-m", "initial");
	for (const b of BRANCHES.slice(1)) await run("branch", b);
	const commits = new Map(BRANCHES.map((b) => [b, [] as string[]]));
	const sha = async (ref: string) => (await run("rev-parse", ref)).stdout.trim();
	let n = 0;
	for (const s of steps) {
		n++;
		if (s.kind === "commit") {
			const branch = BRANCHES[s.branch] as string;
			await run("checkout", "-q", branch);
			for (const f of s.files) write(FILES[f] as string, `${n}\n`);
			if (s.entry !== undefined) {
				const name = ENTRIES[s.entry] as string;
				const cfg = (await run("show", `HEAD:${CFG}`)).stdout;
				const has = cfg.includes(`[${name}]`);
				write(
					CFG,
					has
						? `${cfg.replace(`[${name}]\nfile = ${name}.flat\n`, "").trimEnd()}\n`
						: `${cfg.trimEnd()}\n\n[${name}]\nfile = ${name}.flat\n`,
				);
			}
			await run("add", "-A");
			await run("commit", "-q", "--allow-empty", "-m", `change ${n}\n\nLink: https://lore.kernel.org/r/${n}-1-x@y`);
			commits.get(branch)?.push(await sha("HEAD"));
		} else if (s.kind === "merge") {
			if (s.into === s.from) continue;
			await run("checkout", "-q", BRANCHES[s.into] as string);
			// `-s ours` keeps this side whole: the other side's changes are undone by the merge.
			const how = s.ours ? ["-s", "ours"] : ["-X", "theirs"];
			const merged = await run("merge", "-q", "--no-ff", ...how, "-m", `merge ${n}`, BRANCHES[s.from] as string).then(
				() => true,
				() => false,
			);
			if (!merged) await run("merge", "--abort").catch(() => undefined);
		} else {
			const from = commits.get(BRANCHES[s.from] as string) ?? [];
			const picked = from.at(-1);
			if (s.onto === s.from || picked === undefined) continue;
			await run("checkout", "-q", BRANCHES[s.onto] as string);
			const ok = await run(
				"cherry-pick",
				"-x",
				"--allow-empty",
				"--keep-redundant-commits",
				"-X",
				"theirs",
				picked,
			).then(
				() => true,
				() => false,
			);
			if (!ok) await run("cherry-pick", "--abort").catch(() => undefined);
			else commits.get(BRANCHES[s.onto] as string)?.push(await sha("HEAD"));
		}
	}
	return { repo, commits };
}

const gitLog = async (repo: string, ...args: string[]) => {
	const out = (
		await execa("git", ["-C", repo, "log", "--no-merges", "--full-history", "--format=%H", ...args])
	).stdout.trim();
	return out === "" ? [] : out.split("\n");
};

test("test histories answer as git log does, whole and on top of a cached ancestor", async (t) => {
	t.timeout(600_000);
	await fc.assert(
		fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 14 }), fc.nat(20), async (steps, pick) => {
			const { repo, commits } = await build(steps);
			const cache = mkdtempSync(path.join(os.tmpdir(), "th-prop-cache-"));
			for (const branch of BRANCHES) {
				const tip = (await execa("git", ["-C", repo, "rev-parse", branch])).stdout.trim();
				const own = commits.get(branch) ?? [];
				// An earlier commit of the branch, read first, so that the tip is read on top of it.
				const earlier = own.length > 1 ? own[pick % (own.length - 1)] : undefined;
				for (const scope of [SELFTESTS, KUT]) {
					const whole = await new TestHistories(undefined, new HistoryAnswers()).of(repo, tip, scope);
					const cached = new TestHistories(cache, new HistoryAnswers());
					if (earlier !== undefined) await cached.of(repo, earlier, scope);
					const onTop = await new TestHistories(cache, new HistoryAnswers()).of(repo, tip, scope);
					const sets = [...FILES.map((f) => [f]), FILES.slice(0, 2), FILES].filter((files) =>
						files.every((f) => whole.covers(f)),
					);
					for (const files of sets) {
						const expected = await gitLog(repo, tip, "--", ...files);
						t.deepEqual(
							whole.touching(files).map((c) => c.sha),
							expected,
							`${branch} ${scope.suite} ${files.join(" ")}`,
						);
						t.deepEqual(
							onTop
								.touching(files)
								.map((c) => c.sha)
								.sort(),
							[...expected].sort(),
							`on top: ${branch} ${scope.suite} ${files.join(" ")}`,
						);
					}
					if (scope.suite !== "kut") continue;
					for (const name of ENTRIES) {
						const expected = await gitLog(repo, `-G^\\[${name}\\]$`, tip, "--", CFG);
						t.deepEqual(
							whole.changingEntry(name).map((c) => c.sha),
							expected,
							`${branch} [${name}]`,
						);
						t.deepEqual(
							onTop
								.changingEntry(name)
								.map((c) => c.sha)
								.sort(),
							[...expected].sort(),
							`on top: ${branch} [${name}]`,
						);
					}
				}
			}
		}),
		{ numRuns: 8 },
	);
});

test("the commit graph in memory answers ancestry as git does, and a store that lost lines never answers wrong", async (t) => {
	t.timeout(600_000);
	await fc.assert(
		fc.asyncProperty(
			fc.array(step, { minLength: 3, maxLength: 14 }),
			fc.array(fc.nat(1000), { maxLength: 3 }),
			async (steps, lost) => {
				const { repo } = await build(steps);
				const store = path.join(mkdtempSync(path.join(os.tmpdir(), "th-prop-links-")), "store");
				const index = await updateLinkIndex(repo, BRANCHES, store);
				const all = (await execa("git", ["-C", repo, "rev-list", "--all"])).stdout.split("\n");
				t.is(index.graph.size, all.length);
				// The next run reads the tables this one saved: the same answers.
				const saved = await loadLinkIndex(store);
				t.true(saved.fromSavedTables);
				// A store that grew (master first, the other branches' commits appended later) has its
				// saved tables joined with the appended lines: the same answers again.
				const grown = path.join(mkdtempSync(path.join(os.tmpdir(), "th-prop-grown-")), "store");
				const first = await updateLinkIndex(repo, ["master"], grown);
				const joined = await updateLinkIndex(repo, BRANCHES, grown);
				t.is(joined.graph.size, all.length);
				t.is(joined.tablesFrom, joined.size > first.size ? "joined" : "saved");
				// A store cut short or edited by hand: some commits' lines are gone.
				const text = readFileSync(`${store}.links`, "utf8");
				const lines = text.split("\n").filter((l) => l !== "");
				const kept = lines.filter((_, i) => !lost.some((n) => n % lines.length === i));
				const damaged = LinkIndex.fromLines(`${kept.join("\n")}\n`, []).graph;
				for (const a of all)
					for (const b of all) {
						const truth = await isAncestor(repo, a, b);
						t.is(index.graph.isAncestor(a, b), truth, `${a.slice(0, 7)} in ${b.slice(0, 7)}`);
						t.is(saved.graph.isAncestor(a, b), truth, `saved: ${a.slice(0, 7)} in ${b.slice(0, 7)}`);
						t.is(saved.graph.count(a, b), index.graph.count(a, b));
						t.is(saved.graph.mergeBase(a, b), index.graph.mergeBase(a, b));
						t.is(joined.graph.isAncestor(a, b), truth, `joined: ${a.slice(0, 7)} in ${b.slice(0, 7)}`);
						t.is(joined.graph.count(a, b), index.graph.count(a, b));
						t.is(joined.graph.mergeBase(a, b), index.graph.mergeBase(a, b));
						t.is(index.graph.count(a, b), await commitCount(repo, a, b), `${a.slice(0, 7)}..${b.slice(0, 7)}`);
						// Several best common ancestors: git picks one, the graph leaves it to git.
						const bases = (await execa("git", ["-C", repo, "merge-base", "--all", a, b], { reject: false })).stdout
							.split("\n")
							.filter((l) => l !== "");
						t.is(
							index.graph.mergeBase(a, b),
							bases.length > 1 ? undefined : (bases[0] ?? null),
							`merge-base ${a.slice(0, 7)} ${b.slice(0, 7)}`,
						);
						const answer = damaged.isAncestor(a, b);
						if (answer !== undefined) t.is(answer, truth, `damaged: ${a.slice(0, 7)} in ${b.slice(0, 7)}`);
					}
			},
		),
		{ numRuns: 6 },
	);
});
