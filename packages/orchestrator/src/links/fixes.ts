import { type IndexedCommit, isAncestor, type LinkIndex } from "./index.js";

/** What a test commit depends on: the KVM patches it links to and the commits it cites. */
export interface FixDependencies {
	readonly messageIds: readonly string[];
	readonly citations: IndexedCommit["citations"];
}

/**
 * A test commit's fix dependencies. Its own posting — the last Link/Message-Id, added when it was
 * applied — is not one; every other link is a candidate, and only those that turn out to be
 * kernel commits (or a series of them) count, which `locateFix` decides.
 */
export function fixDependencies(testCommit: IndexedCommit): FixDependencies {
	return { messageIds: testCommit.messageIds.slice(0, -1), citations: testCommit.citations };
}

export type FixLocation =
	| { readonly kind: "contained"; readonly commit: string; readonly subject: string }
	| {
			readonly kind: "not-contained";
			readonly commit: string;
			readonly subject: string;
			readonly containedIn: readonly string[];
	  }
	| { readonly kind: "not-applied"; readonly messageId: string }
	| { readonly kind: "not-a-kernel-patch"; readonly messageId: string };

/**
 * Where the fix a test links to stands for the kernel under test: in it (directly or as a
 * cherry-pick carrying the same message-id), elsewhere (which configured branches have it), or
 * nowhere. A link to a cover letter or to another patch of the series matches the series' commits.
 */
export async function locateFix(options: {
	readonly repo: string;
	readonly index: LinkIndex;
	readonly messageId: string;
	readonly kernel: string;
	readonly branches: Readonly<Record<string, string>>;
	/** The test's own commits: in a kernel tree (selftests) they carry the same links and are not the fix. */
	readonly exclude?: readonly string[];
}): Promise<FixLocation> {
	const found = options.index.commitsFor(options.messageId);
	const skip = new Set(options.exclude ?? []);
	const exact = found.exact.filter((sha) => !skip.has(sha));
	const series = found.series.filter((sha) => !skip.has(sha));
	const candidates = exact.length > 0 ? exact : series;
	if (candidates.length === 0) return { kind: "not-applied", messageId: options.messageId };
	for (const sha of candidates) {
		if (await isAncestor(options.repo, sha, options.kernel)) {
			return { kind: "contained", commit: sha, subject: options.index.commit(sha)?.subject ?? "" };
		}
	}
	// The commit named is the one in the first configured branch that has the fix (the original,
	// when branches are listed upstream first), not whichever git log happened to list first.
	const containedIn: string[] = [];
	let named: string | undefined;
	for (const [name, ref] of Object.entries(options.branches)) {
		for (const sha of candidates) {
			if (await isAncestor(options.repo, sha, ref)) {
				containedIn.push(name);
				named ??= sha;
				break;
			}
		}
	}
	const first = named ?? [...candidates].sort()[0] ?? "";
	return { kind: "not-contained", commit: first, subject: options.index.commit(first)?.subject ?? "", containedIn };
}
