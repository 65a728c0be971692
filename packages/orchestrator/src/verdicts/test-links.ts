/**
 * The commits behind one test and what each of their links is: the test's sources as its build
 * says (KUT's Makefile rules and dependency files, the selftests' build), the commits of the test
 * tree that touched them or added the test's cfg entry, and every link of those commits typed.
 * Shared by the verdicts of a run and by `explain`.
 */

import { kutBuildDir, kutSources } from "../kut/sources.js";
import type { KutEntry } from "../kut/unittests-cfg.js";
import { HistoryAnswers } from "../links/ancestry.js";
import type { IndexedCommit } from "../links/index.js";
import type { LoreAnswer } from "../links/lore.js";
import { normalisePatchSubject } from "../links/posting.js";
import { commitsTouching } from "../links/test-commits.js";
import { TestHistories, type TestHistory } from "../links/test-history.js";
import type { TestSourceSet } from "../links/test-sources.js";
import { type TreeIndex, type TypedLink, targetText, typeLinks } from "../links/typing.js";
import { cachePaths } from "../paths/cache.js";
import { cachedSelftests, SELFTESTS_DIR } from "../selftests/build.js";
import { selftestSources } from "../selftests/sources.js";

/** Where a test lives: a KUT cfg entry at a KUT commit, or a selftest at a kernel commit. */
export type TestHome =
	| { readonly suite: "kut"; readonly repo: string; readonly sha: string; readonly entry: KutEntry }
	| { readonly suite: "selftests"; readonly repo: string; readonly sha: string; readonly id: string };

export interface TestLinks {
	readonly sources: TestSourceSet;
	/** Newest first, each commit once, with its links in the order it gives them. */
	readonly commits: readonly { readonly commit: IndexedCommit; readonly links: readonly TypedLink[] }[];
}

export interface LinkContext {
	readonly trees: readonly TreeIndex[];
	readonly cacheRoot: string;
	readonly lore?: (messageId: string) => Promise<LoreAnswer>;
	/** The run's test histories: one pass over each suite commit's history, shared by every test. */
	readonly histories?: TestHistories;
}

/** The run's test histories, cached where the cache keeps them. */
export const testHistories = (cacheRoot: string, git: HistoryAnswers = new HistoryAnswers()) =>
	new TestHistories(cachePaths(cacheRoot).testHistory, git);

/**
 * The commits of the pass that touched `files`; a file the pass did not read (outside the selftests
 * directory) is asked of git on its own.
 */
async function touching(history: TestHistory, repo: string, sha: string, files: readonly string[]) {
	const outside = files.filter((f) => !history.covers(f));
	return [...history.touching(files), ...(outside.length === 0 ? [] : await commitsTouching(repo, sha, outside))];
}

const KUT_CFG = "x86/unittests.cfg";

export async function testLinks(home: TestHome, ctx: LinkContext): Promise<TestLinks> {
	const histories = ctx.histories ?? testHistories(ctx.cacheRoot);
	let sources: TestSourceSet;
	let commits: IndexedCommit[];
	if (home.suite === "selftests") {
		// Only where its sources were built from: the binaries are not read, so not checked (per failure).
		const built = await cachedSelftests(cachePaths(ctx.cacheRoot), home.sha, { verify: false });
		sources = await selftestSources({
			repo: home.repo,
			sha: home.sha,
			id: home.id,
			...(built === undefined ? {} : { outputDir: built.outputDir }),
		});
		const history = await histories.of(home.repo, home.sha, { suite: "selftests", root: SELFTESTS_DIR });
		commits = await touching(history, home.repo, home.sha, sources.files);
	} else {
		const buildDir = kutBuildDir(ctx.cacheRoot, home.sha);
		sources = await kutSources({
			repo: home.repo,
			sha: home.sha,
			entry: home.entry,
			...(buildDir === undefined ? {} : { buildDir }),
		});
		const history = await histories.of(home.repo, home.sha, { suite: "kut", cfg: KUT_CFG });
		commits = [
			...(await touching(history, home.repo, home.sha, sources.files)),
			...history.changingEntry(home.entry.name),
		];
	}
	const unique = [...new Map(commits.map((c) => [c.sha, c])).values()];
	const typing = {
		trees: ctx.trees,
		testCommits: new Set(unique.map((c) => c.sha)),
		testSubjects: new Set(unique.map((c) => normalisePatchSubject(c.subject))),
		...(ctx.lore === undefined ? {} : { lore: ctx.lore }),
	};
	const typed = [];
	for (const commit of unique) typed.push({ commit, links: await typeLinks(commit, typing) });
	return { sources, commits: typed };
}

/** Every link of every commit once, in order (a link two commits give is one dependency). */
export function distinctLinks(links: TestLinks): TypedLink[] {
	const seen = new Set<string>();
	const out: TypedLink[] = [];
	for (const { links: own } of links.commits) {
		for (const link of own) {
			const key = `${link.role}\0${targetText(link.target)}`;
			if (seen.has(key)) continue;
			seen.add(key);
			out.push(link);
		}
	}
	return out;
}
