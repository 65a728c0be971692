/**
 * Git's answers about history that verdicts rest on: whether a commit is in a kernel, how many
 * commits lie between two kernels, where two branches diverged. A git failure is never read as
 * "no": `merge-base --is-ancestor` exits 1 for "not an ancestor" and 128 for a missing object or
 * a broken repository, and only the first is an answer.
 */
import { CommandError, capture } from "../proc/run.js";
import type { CommitGraph } from "./graph.js";

/** Git could not answer (a commit missing from the repository, a broken mirror). */
export class GitFactError extends Error {
	override readonly name = "GitFactError";
}

const fail = (what: string, error: unknown): never => {
	const reason = error instanceof Error ? error.message : String(error);
	throw new GitFactError(`could not tell ${what}: ${reason}`);
};

/** Whether `sha` is in the history of `ref`; throws GitFactError when git cannot say. */
export async function isAncestor(repo: string, sha: string, ref: string): Promise<boolean> {
	try {
		await capture("git", ["-C", repo, "merge-base", "--is-ancestor", sha, ref]);
		return true;
	} catch (error) {
		if (error instanceof CommandError && error.exitCode === 1) return false;
		return fail(`whether ${ref.slice(0, 12)} contains ${sha.slice(0, 12)}`, error);
	}
}

/** The number of commits in `from..to`. */
export async function commitCount(repo: string, from: string, to: string): Promise<number> {
	try {
		return Number(await capture("git", ["-C", repo, "rev-list", "--count", `${from}..${to}`]));
	} catch (error) {
		return fail(`how many commits ${from.slice(0, 12)}..${to.slice(0, 12)} holds`, error);
	}
}

/** Where two commits' histories meet; undefined when they share none. */
export async function mergeBase(repo: string, a: string, b: string): Promise<string | undefined> {
	try {
		return await capture("git", ["-C", repo, "merge-base", a, b]);
	} catch (error) {
		if (error instanceof CommandError && error.exitCode === 1) return undefined;
		return fail(`where ${a.slice(0, 12)} and ${b.slice(0, 12)} diverged`, error);
	}
}

/** Whether the repository has this commit at all (a sha from another tree may not be in it). */
export async function hasCommit(repo: string, sha: string): Promise<boolean> {
	return capture("git", ["-C", repo, "cat-file", "-e", `${sha}^{commit}`]).then(
		() => true,
		() => false,
	);
}

/**
 * The history questions of one classification, each asked of git once however many failures,
 * cells or kernels need its answer: the same fix against the same kernel, the same pair of
 * kernels. An answer is the promise of it, so questions asked at once share one git process.
 */
export class HistoryAnswers {
	readonly #answers = new Map<string, Promise<unknown>>();
	readonly #graphs = new Map<string, { readonly graph: () => CommitGraph; readonly tips: readonly string[] }>();

	/**
	 * Answers ancestry questions about `repo` from its commit graph in memory where the graph can
	 * tell (built on the first question), and from git where it cannot. `tips` are commits the
	 * repository has now (the run's refs): whatever they reach, it has too.
	 */
	useGraph(repo: string, graph: () => CommitGraph, tips: readonly string[] = []): void {
		this.#graphs.set(repo, { graph, tips });
	}

	#once<T>(key: string, ask: () => Promise<T>): Promise<T> {
		let answer = this.#answers.get(key) as Promise<T> | undefined;
		if (answer === undefined) {
			answer = ask();
			this.#answers.set(key, answer);
		}
		return answer;
	}

	has(repo: string, sha: string): Promise<boolean> {
		const known = this.#graphs.get(repo);
		if (known?.tips.some((tip) => known.graph().isAncestor(sha, tip) === true)) {
			return Promise.resolve(true);
		}
		return this.#once(`has\0${repo}\0${sha}`, () => hasCommit(repo, sha));
	}

	isAncestor(repo: string, sha: string, ref: string): Promise<boolean> {
		if (sha === ref) return Promise.resolve(true);
		const known = this.#graphs.get(repo)?.graph().isAncestor(sha, ref);
		if (known !== undefined) return Promise.resolve(known);
		return this.#once(`anc\0${repo}\0${sha}\0${ref}`, () => isAncestor(repo, sha, ref));
	}

	commitCount(repo: string, from: string, to: string): Promise<number> {
		return this.#once(`count\0${repo}\0${from}\0${to}`, () => {
			const known = this.#graphs.get(repo)?.graph().count(from, to);
			if (known !== undefined) return Promise.resolve(known);
			return commitCount(repo, from, to);
		});
	}

	mergeBase(repo: string, a: string, b: string): Promise<string | undefined> {
		return this.#once(`base\0${repo}\0${a}\0${b}`, () => {
			const known = this.#graphs.get(repo)?.graph().mergeBase(a, b);
			if (known !== undefined) return Promise.resolve(known ?? undefined);
			return mergeBase(repo, a, b);
		});
	}
}
