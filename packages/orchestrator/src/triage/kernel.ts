// Which commit of the configured trees the reporter ran. A report rarely names a commit: more
// often a `uname -r`, a `git describe`, or "kvm.git next". Each clue is tried strongest first; the
// answer says which clue it rests on, so a reader can tell a sha from a guess at a branch.
import type { TreeSource } from "../matrix/types.js";
import { capture } from "../proc/run.js";
import { commitOf } from "../sources/git.js";
import type { KernelClue } from "./types.js";

export interface ResolvedKernel {
	readonly tree: string;
	/** The ref the answer is named by in reports: a tag, a branch, or the sha itself. */
	readonly ref: string;
	readonly sha: string;
	/** How it was found, for the report: `the report's uname -r 6.1.0 → tag v6.1 of kvm`. */
	readonly how: string;
	/** True when it rests on a branch's tip today, not on the reporter's own commit. */
	readonly approximate: boolean;
}

/** The trees of a matrix, each with the mirror it is read from. */
export type TreeRepos = ReadonlyMap<string, { readonly source: TreeSource; readonly repo: string }>;

/**
 * The matrix trees a repository word can mean: `kvm` is kvm.git, `kvm-x86` is the kvm-x86 tree,
 * `linux` is mainline; matched on the tree's name and on its URL.
 */
export function treesForRepoWord(word: string, trees: TreeRepos): string[] {
	const patterns: Readonly<Record<string, RegExp>> = {
		kvm: /(^|[/:])kvm(\.git)?\/?$|virt\/kvm\/kvm/,
		"kvm-x86": /kvm-x86/,
		"linux-next": /linux-next/,
		// Mainline is torvalds/linux; kvm-x86's repository is also called linux.git.
		linux: /torvalds\/linux(\.git)?\/?$/,
	};
	const pattern = patterns[word];
	return [...trees].flatMap(([name, { source }]) => {
		if (name === word) return [name];
		const url = source.url ?? "";
		return pattern !== undefined && url !== "" && pattern.test(url) ? [name] : [];
	});
}

/**
 * The kernel a report's clues point at in the configured trees, or undefined with the reasons
 * each clue failed (`6.1-rc4: no tag v6.1-rc4 in kvm, kvm-x86`).
 */
export async function resolveReportedKernel(
	clues: readonly KernelClue[],
	trees: TreeRepos,
): Promise<{ readonly kernel: ResolvedKernel } | { readonly tried: readonly string[] }> {
	const tried: string[] = [];
	const names = [...trees.keys()];
	const findSha = async (sha: string) => {
		for (const [tree, { repo }] of trees) {
			const full = await commitOf(repo, sha);
			if (full !== undefined) return { tree, sha: full };
		}
		return undefined;
	};
	const findTag = async (tag: string) => {
		for (const [tree, { repo }] of trees) {
			const full = await commitOf(repo, `refs/tags/${tag}`);
			if (full !== undefined) return { tree, sha: full };
		}
		return undefined;
	};
	// A commit is named as the report gave it, with the branches that have it, as people say it.
	const onBranches = async (tree: string, sha: string) => {
		const repo = trees.get(tree)?.repo;
		const out =
			repo === undefined
				? ""
				: await capture("git", [
						"-C",
						repo,
						"for-each-ref",
						"--contains",
						sha,
						"--format=%(refname)",
						"refs/heads",
						"refs/remotes/kvm-matrix",
					]).catch(() => "");
		// A mirror keeps a URL tree's branches as kvm-matrix/<branch>: one name each.
		const branches = [
			...new Set(
				out
					.split("\n")
					.filter((b) => b !== "" && !b.endsWith("/HEAD"))
					.map((b) => b.replace(/^refs\/(heads|remotes\/kvm-matrix)\//, "")),
			),
		];
		return branches.length === 0 ? "" : ` (on ${branches.slice(0, 4).join(", ")}${branches.length > 4 ? ", …" : ""})`;
	};
	for (const clue of clues) {
		switch (clue.kind) {
			case "sha":
			case "describe": {
				// A describe names its commit too; the tag only says where it is.
				const said = clue.kind === "sha" ? `commit ${clue.sha}` : `${clue.text} (commit ${clue.sha})`;
				const found = await findSha(clue.sha);
				if (found !== undefined)
					return {
						kernel: {
							...found,
							ref: clue.sha,
							how: `the report's ${said} in ${found.tree}${await onBranches(found.tree, found.sha)}`,
							approximate: false,
						},
					};
				tried.push(`${said}: in none of ${names.join(", ")}`);
				break;
			}
			case "branch": {
				const candidates = treesForRepoWord(clue.repo, trees);
				for (const tree of candidates) {
					const repo = trees.get(tree)?.repo;
					const sha =
						repo === undefined
							? undefined
							: ((await commitOf(repo, `refs/heads/${clue.branch}`)) ??
								(await commitOf(repo, `refs/remotes/kvm-matrix/${clue.branch}`)));
					if (sha !== undefined)
						return {
							kernel: {
								tree,
								ref: clue.branch,
								sha,
								how: `the report's "${clue.text}": ${tree}'s ${clue.branch} as it is now`,
								approximate: true,
							},
						};
				}
				tried.push(
					candidates.length === 0
						? `"${clue.text}": no configured tree is ${clue.repo}`
						: `"${clue.text}": no branch ${clue.branch} in ${candidates.join(", ")}`,
				);
				break;
			}
			case "release": {
				const tag = `v${clue.version}`;
				const found = await findTag(tag);
				if (found !== undefined)
					return {
						kernel: {
							...found,
							ref: tag,
							how: `the report's ${clue.text} → tag ${tag} of ${found.tree}`,
							// A distro's 6.1.0-28 (or a 6.2.0-rc1+ with local changes) is near the tag, not the tag.
							approximate: !/^v?\d+\.\d+(\.0)?(-rc\d+)?$/.test(clue.text),
						},
					};
				tried.push(`${clue.text}: no tag ${tag} in ${names.join(", ")}`);
				break;
			}
		}
	}
	return { tried };
}
