/**
 * A dependency is one KVM patch. A test links a patch, a series (its cover letter, or a patch of it
 * that was applied under another message-id) or a commit; each link stands for the patches it
 * names, and each patch for every commit that is it in the configured trees: the commit applied
 * upstream and its backports, which carry the same trailers (`cherry-pick -x`, stable's), say which
 * commit they copy (`commit X upstream.`), or keep its subject. Grouping is pure: the trees'
 * indexes in, the patches out.
 */
import type { LinkIndex } from "./index.js";
import { normalisePatchSubject } from "./posting.js";
import { seriesOf } from "./trailers.js";

/** A commit of a configured kernel tree. */
export interface KernelCommit {
	readonly tree: string;
	readonly sha: string;
	readonly subject: string;
}

/** One KVM patch, and the commits that are it. */
export interface Patch {
	/**
	 * What makes it one patch, the same whichever link found it: the smallest sha of its commits
	 * (a cited commit and a message-id link to the same patch are one dependency).
	 */
	readonly key: string;
	/** Its own subject: the evidence names every commit with its own. */
	readonly subject: string;
	/** The message-id it was applied with, when known. */
	readonly messageId?: string;
	/** Its place in its series (git send-email numbers the mails, the cover letter first), when known. */
	readonly index?: number;
	/** Every commit that is this patch in the configured trees, the first found first. */
	readonly commits: readonly KernelCommit[];
}

/** A configured kernel tree's index. */
export interface TreeIndex {
	readonly tree: string;
	readonly index: LinkIndex;
}

/** How a link was matched, which decides how its commits divide into patches. */
export type LinkShape =
	/** A message-id: the commits' own message-ids of its series say which patch each is. */
	| { readonly kind: "message-id"; readonly id: string }
	/** A cited commit, or one posting matched by subject: whatever was found is one patch. */
	| { readonly kind: "one-patch" }
	/** Patches of a posting found by their subjects (a re-posted series): one patch per subject. */
	| { readonly kind: "subjects" };

/** The test's own commits: never a fix, nor is a copy of one (a backport of the test itself). */
export interface OwnCommits {
	readonly shas: ReadonlySet<string>;
	/** Their subjects, as `normalisePatchSubject` gives them. */
	readonly subjects: ReadonlySet<string>;
}

const NO_OWN: OwnCommits = { shas: new Set(), subjects: new Set() };

const subjectKey = (subject: string) => `subject:${normalisePatchSubject(subject)}`;

// A series' selftests patches test the fix; they are not it. A series link stands for its KVM patches.
const TEST_PATCH = /^(?:KVM:\s*)?selftests?\b/i;

/**
 * The patches a link's commits make, each with its backports from every tree added. `own` holds
 * the test's own commits (in a tree that holds selftests): they, and any patch holding a copy of
 * one, are never a fix.
 */
export function patchesOf(
	found: readonly KernelCommit[],
	shape: LinkShape,
	trees: readonly TreeIndex[],
	own: OwnCommits = NO_OWN,
): Patch[] {
	const indexOf = (tree: string) => trees.find((t) => t.tree === tree)?.index;
	const stem = shape.kind === "message-id" ? seriesOf(shape.id)?.stem : undefined;
	const idsOf = (c: KernelCommit) => indexOf(c.tree)?.commit(c.sha)?.messageIds ?? [];
	/**
	 * The message-id a commit was applied with, of the link's own series: its own patch's when it
	 * carries several (some maintainers add the cover letter's link to every patch).
	 */
	const ownId = (c: KernelCommit) => {
		if (shape.kind !== "message-id") return undefined;
		const ids = idsOf(c);
		const ofSeries = ids.filter((id) => stem !== undefined && seriesOf(id)?.stem === stem && id !== shape.id);
		if (ofSeries.length === 1) return ofSeries[0];
		return ids.includes(shape.id) ? shape.id : ofSeries[0];
	};
	const groups = new Map<string, { subject: string; messageId?: string; commits: KernelCommit[] }>();
	const bySubject = new Map<string, string>();
	const seen = new Set<string>();
	const add = (key: string, c: KernelCommit, messageId?: string) => {
		if (seen.has(c.sha)) return;
		seen.add(c.sha);
		let group = groups.get(key);
		if (group === undefined) {
			group = { subject: c.subject, ...(messageId === undefined ? {} : { messageId }), commits: [] };
			groups.set(key, group);
			bySubject.set(subjectKey(c.subject), key);
		}
		group.commits.push(c);
	};
	for (const c of found) {
		if (shape.kind === "one-patch") {
			add("one", c);
			continue;
		}
		const id = ownId(c);
		// A patch found once by its message-id and once by its subject (a backport without the
		// trailer, a tree that applied it as another version) is still one patch.
		const key = id ?? bySubject.get(subjectKey(c.subject)) ?? subjectKey(c.subject);
		add(key, c, id);
	}
	// Backports the link did not find: they copy a commit of the patch, or keep its subject and
	// carry no message-id of another posting (two different "Fix typo" commits are two patches).
	for (const group of groups.values()) {
		const ids = new Set(group.commits.flatMap(idsOf));
		for (let i = 0; i < group.commits.length; i++) {
			const c = group.commits[i] as KernelCommit;
			for (const { tree, index } of trees) {
				const take = (sha: string, subject: string) => {
					if (seen.has(sha)) return;
					seen.add(sha);
					group.commits.push({ tree, sha, subject });
				};
				// A backport that names what it copies carries a reference: its line is at hand.
				for (const sha of index.commitsPickedFrom(c.sha)) take(sha, index.commit(sha)?.subject ?? group.subject);
				if (i !== 0) continue;
				for (const sha of index.commitsWithPatchSubject(group.subject)) {
					const theirs = index.commit(sha)?.messageIds ?? [];
					if (theirs.length === 0 || theirs.some((id) => ids.has(id))) take(sha, group.subject);
				}
			}
		}
	}
	const isOwn = (g: { subject: string; commits: readonly KernelCommit[] }) =>
		own.subjects.has(normalisePatchSubject(g.subject)) ||
		g.commits.some(
			(c) => own.shas.has(c.sha) || (indexOf(c.tree)?.commit(c.sha)?.upstream ?? []).some((u) => own.shas.has(u)),
		);
	const patches = [...groups.values()]
		.filter((g) => !isOwn(g))
		// A series link stands for its KVM patches; its selftests and the test's own are not fixes.
		.filter((g) => shape.kind === "one-patch" || !TEST_PATCH.test(normalisePatchSubject(g.subject)))
		.map((g): Patch => {
			const index = g.messageId === undefined ? undefined : seriesOf(g.messageId)?.index;
			return {
				key: [...g.commits.map((c) => c.sha)].sort()[0] ?? "",
				subject: g.subject,
				...(g.messageId === undefined ? {} : { messageId: g.messageId }),
				...(index === undefined ? {} : { index }),
				commits: g.commits,
			};
		});
	// A series in its order: patch 1 before patch 2, whatever order git listed them in.
	return patches.sort((a, b) => (a.index ?? Number.MAX_SAFE_INTEGER) - (b.index ?? Number.MAX_SAFE_INTEGER));
}
