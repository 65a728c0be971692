// Which commit of the configured trees the reporter ran. Reports name it in many ways: the QA
// template's kernel block (repository, branch, commit, sometimes the tag), lkp's and syzbot's
// commit and tree, LKFT's metadata, a `uname -r`, a `git describe`, "kvm.git next", bugzilla's
// `Tree:` field. Each clue is tried strongest first; the answer says which clue it rests on and
// which it could not use, so a reader can tell the reporter's own commit from a guess at a branch.
import type { TreeSource } from "../matrix/types.js";
import { capture } from "../proc/run.js";
import { commitOf } from "../sources/git.js";
import { normaliseUrl } from "../sources/identity.js";
import { isExactRelease } from "./extract.js";
import type { KernelClue } from "./types.js";

export interface ResolvedKernel {
	readonly tree: string;
	/** The ref the answer is named by in reports: a tag, a branch, or the sha itself. */
	readonly ref: string;
	readonly sha: string;
	/** How it was found, for the report: `the report's uname -r 6.1.0 → tag v6.1 of kvm`. */
	readonly how: string;
	/** True when it rests on a branch's tip today, or a tag near the reporter's kernel, not on its own commit. */
	readonly approximate: boolean;
	/** Stronger clues that could not be used, and why (`commit d72cf8ff: in none of kvm, linux`). */
	readonly unused?: readonly string[];
}

/** The trees of a matrix, each with the mirror it is read from. */
export type TreeRepos = ReadonlyMap<string, { readonly source: TreeSource; readonly repo: string }>;

/**
 * The project a repository URL or word stands for, as kernel people name them: mirrors and the
 * several URL spellings of one repository (cgit, pub/scm, git://, LKFT's mirrors) are one project.
 */
export function projectOf(urlOrWord: string): string {
	const text = normaliseUrl(urlOrWord).toLowerCase();
	if (/(^|\/)torvalds\/linux(-mainline)?$|^(upstream|mainline|torvalds|linux|linus)$/.test(text)) return "mainline";
	if (/(^|\/)kvm-x86(\/linux)?$|^kvm-x86$/.test(text)) return "kvm-x86";
	if (/(^|\/)virt\/kvm\/kvm$|(^|\/)kvm\/kvm$|^kvm(\.git)?$/.test(text)) return "kvm";
	if (/(^|\/)next\/linux-next$|^(linux-)?next$/.test(text)) return "linux-next";
	// stable-rc holds the same branches as stable, one review cycle ahead.
	if (/(^|\/)stable\/linux(-stable)?(-rc)?$|^(linux-)?stable(-rc)?$/.test(text)) return "stable";
	return text;
}

/** The matrix trees a repository URL or word can mean: by project, else by the tree's own name. */
export function treesForRepo(urlOrWord: string, trees: TreeRepos): string[] {
	const wanted = projectOf(urlOrWord);
	const byProject = [...trees].flatMap(([name, { source }]) =>
		source.url !== undefined && projectOf(source.url) === wanted ? [name] : [],
	);
	if (byProject.length > 0) return byProject;
	return [...trees.keys()].filter((name) => name === urlOrWord || projectOf(name) === wanted);
}

/** Trees in the order a release's tag is looked for: the named ones, then mainline, then the rest. */
function tagOrder(trees: TreeRepos, first: readonly string[]): string[] {
	const mainline = [...trees].flatMap(([n, { source }]) =>
		source.url !== undefined && projectOf(source.url) === "mainline" ? [n] : [],
	);
	return [...new Set([...first, ...mainline, ...trees.keys()])];
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
	const found = (kernel: Omit<ResolvedKernel, "unused">) => ({
		kernel: { ...kernel, ...(tried.length === 0 ? {} : { unused: [...tried] }) },
	});
	const findSha = async (sha: string, first: readonly string[] = []) => {
		for (const tree of [...new Set([...first, ...names])]) {
			const repo = trees.get(tree)?.repo;
			const full = repo === undefined ? undefined : await commitOf(repo, sha);
			if (full !== undefined) return { tree, sha: full };
		}
		return undefined;
	};
	const findTag = async (tag: string, first: readonly string[] = []) => {
		for (const tree of tagOrder(trees, first)) {
			const repo = trees.get(tree)?.repo;
			const full = repo === undefined ? undefined : await commitOf(repo, `refs/tags/${tag}`);
			if (full !== undefined) return { tree, sha: full };
		}
		return undefined;
	};
	const findBranch = async (branch: string, candidates: readonly string[]) => {
		for (const tree of candidates) {
			const repo = trees.get(tree)?.repo;
			const sha =
				repo === undefined
					? undefined
					: ((await commitOf(repo, `refs/heads/${branch}`)) ??
						(await commitOf(repo, `refs/remotes/kvm-matrix/${branch}`)));
			if (sha !== undefined) return { tree, sha };
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
	// The exact releases the report gives (`Kernel Version: 6.1`, `Linux 6.1 release`): the tag a
	// kernel built at a release commit of mainline's master is.
	const exactRelease = clues.find((c) => c.kind === "release" && c.field === true && isExactRelease(c.text));
	const blocks = clues.filter((c) => c.kind === "block");
	const blockTrees = (b: Extract<KernelClue, { kind: "block" }>) =>
		b.repo === undefined ? [] : treesForRepo(b.repo, trees);

	// 1. The commit a kernel block names, then any commit the report names, in a tree that has it.
	for (const c of clues) {
		const sha = c.kind === "block" ? c.commit : c.kind === "sha" || c.kind === "describe" ? c.sha : undefined;
		if (sha === undefined) continue;
		const where = c.kind === "block" ? blockTrees(c) : [];
		const hit = await findSha(sha, where);
		const said =
			c.kind === "block"
				? `kernel block (${c.text}): commit ${sha}`
				: c.kind === "describe"
					? `${c.text} (commit ${sha})`
					: `commit ${sha}`;
		if (hit !== undefined)
			return found({
				...hit,
				ref: sha,
				how: `the report's ${said} in ${hit.tree}${await onBranches(hit.tree, hit.sha)}`,
				approximate: false,
			});
		tried.push(`${said}: in none of ${names.join(", ")}`);
	}

	// 2. The rest of a kernel block: its tag (or exact describe), its repository and branch.
	for (const b of blocks) {
		const candidates = blockTrees(b);
		if (b.repo !== undefined && candidates.length === 0) tried.push(`${b.repo}: no configured tree is that repository`);
		const tag = b.tag ?? (b.describe !== undefined && isExactRelease(b.describe) ? b.describe : undefined);
		if (tag !== undefined) {
			const hit = await findTag(tag.startsWith("v") ? tag : `v${tag}`, candidates);
			if (hit !== undefined)
				return found({
					...hit,
					ref: tag.startsWith("v") ? tag : `v${tag}`,
					how: `the report's kernel block (${b.text}): tag ${tag} of ${hit.tree}`,
					approximate: false,
				});
			tried.push(`tag ${tag} (kernel block): in none of ${names.join(", ")}`);
		}
		if (b.branch === undefined || candidates.length === 0) continue;
		// Mainline's master at an exact release is that release's tag.
		const release = b.version !== undefined && isExactRelease(b.version) ? b.version : exactRelease?.text;
		const mainline = candidates.filter((t) => projectOf(trees.get(t)?.source.url ?? t) === "mainline");
		if (b.branch === "master" && mainline.length > 0 && release !== undefined) {
			const tag = `v${release.replace(/^v/i, "").replace(/\.0(?=$|-)/, "")}`;
			const hit = await findTag(tag, mainline);
			if (hit !== undefined)
				return found({
					...hit,
					ref: tag,
					how: `the report's kernel block (${b.text}) at release ${release}: tag ${tag} of ${hit.tree}`,
					approximate: true,
				});
		}
		const hit = await findBranch(b.branch, candidates);
		if (hit !== undefined)
			return found({
				...hit,
				ref: b.branch,
				how: `the report's kernel block (${b.text}): ${hit.tree}'s ${b.branch} as it is now`,
				approximate: true,
			});
		tried.push(`branch ${b.branch} (kernel block): not in ${candidates.join(", ")}`);
	}

	// 3. Releases and tree words, strongest first, as the clues are ordered.
	for (const clue of clues) {
		switch (clue.kind) {
			case "block":
			case "sha":
				break;
			case "describe":
			case "release": {
				const tag = clue.kind === "describe" ? clue.tag : `v${clue.version}`;
				const named = blocks.flatMap(blockTrees);
				const hit = await findTag(tag, named);
				if (hit !== undefined)
					return found({
						...hit,
						ref: tag,
						how: `the report's ${clue.text} → tag ${tag} of ${hit.tree}`,
						// A distro's 6.1.0-28 (or a 6.2.0-rc1+ with local changes) is near the tag, not the tag.
						approximate: clue.kind === "describe" || !isExactRelease(clue.text),
					});
				tried.push(`${clue.text}: no tag ${tag} in ${names.join(", ")}`);
				break;
			}
			case "branch": {
				const candidates = treesForRepo(clue.repo, trees);
				const hit = await findBranch(clue.branch, candidates);
				if (hit !== undefined)
					return found({
						...hit,
						ref: clue.branch,
						how: `the report's "${clue.text}"${clue.weak === true ? " (bugzilla's Tree: field, a category)" : ""}: ${hit.tree}'s ${clue.branch} as it is now`,
						approximate: true,
					});
				tried.push(
					candidates.length === 0
						? `"${clue.text}": no configured tree is ${clue.repo}`
						: `"${clue.text}": no branch ${clue.branch} in ${candidates.join(", ")}`,
				);
				break;
			}
		}
	}
	return { tried };
}
