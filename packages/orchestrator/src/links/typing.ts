/**
 * Every link of a test commit, typed before it is used (issue "Verdicts that hold on real
 * history"). Of the KUT commits that carry two or more links, most link something other than a
 * KVM fix: an earlier posting of the test, a reply on the list, a bug tracker, an lkp report, or
 * patches of the test's own series. Only a link that resolves to a kernel commit of a configured
 * tree (or, with lore, to a KVM patch posted and applied nowhere) is a fix dependency; everything
 * else is shown as evidence and decides nothing.
 */
import type { IndexedCommit } from "./index.js";
import type { LoreAnswer } from "./lore.js";
import { type KernelCommit, type LinkShape, type Patch, patchesOf, type TreeIndex } from "./patches.js";
import { normalisePatchSubject } from "./posting.js";
import { seriesOf } from "./trailers.js";

export type { KernelCommit, Patch, TreeIndex };

/** What a test commit refers to: a mail it links, a kernel commit it cites, or a bug. */
export type LinkTarget =
	| { readonly kind: "message-id"; readonly id: string }
	| { readonly kind: "citation"; readonly sha: string; readonly subject: string }
	| { readonly kind: "bug"; readonly id: string };

export type MatchedBy = "message-id" | "series" | "sha" | "subject";

export type TypedLink =
	/** Resolves to KVM patches applied in a configured tree: the one kind that can make a failure `pending-fix`. */
	| {
			readonly role: "fix";
			readonly target: LinkTarget;
			readonly matchedBy: MatchedBy;
			readonly subject: string;
			/** The patches it stands for (a series link: every patch of it), each with its commits. */
			readonly patches: readonly Patch[];
	  }
	/** A KVM patch lore knows that no configured tree has applied: a fix dependency too. */
	| {
			readonly role: "posted";
			readonly target: LinkTarget;
			readonly subject: string;
			readonly date?: string;
	  }
	| { readonly role: "own-posting"; readonly target: LinkTarget }
	| { readonly role: "own-series"; readonly target: LinkTarget }
	| { readonly role: "earlier-posting"; readonly target: LinkTarget; readonly subject: string }
	| { readonly role: "reply"; readonly target: LinkTarget; readonly subject?: string }
	| { readonly role: "bug-report"; readonly target: LinkTarget }
	| { readonly role: "unresolved"; readonly target: LinkTarget; readonly note: string };

export type FixLink = Extract<TypedLink, { role: "fix" | "posted" }>;
export const isFixLink = (l: TypedLink): l is FixLink => l.role === "fix" || l.role === "posted";

export interface TypingContext {
	readonly trees: readonly TreeIndex[];
	/** The test's own commits: in a kernel tree (selftests) they carry the same links and are not the fix. */
	readonly testCommits: ReadonlySet<string>;
	/** Their subjects: a backport of the test's own commit (another sha, the same subject) is not the fix either. */
	readonly testSubjects?: ReadonlySet<string>;
	/** Looks a message-id up on lore; absent when lore look-ups are off (the default). */
	readonly lore?: (messageId: string) => Promise<LoreAnswer>;
}

// lkp's reports and lore's copies of bugzilla mails are mails, but reports, never fixes.
const BUG_MAIL = [/-lkp@intel\.com$/i, /@https?\.bugzilla\./i, /^bug-\d+-\d+@/i, /@bugzilla\./i];
export const isBugMail = (id: string) => BUG_MAIL.some((re) => re.test(id));

/** How a link target reads in evidence: `<msgid>`, `commit f402ecd7a8b6`, `bugzilla.kernel.org#216812`. */
export function targetText(target: LinkTarget): string {
	switch (target.kind) {
		case "message-id":
			return target.id;
		case "citation":
			return `commit ${target.sha.slice(0, 12)} ("${target.subject}")`;
		case "bug":
			return target.id;
	}
}

function byMessageId(ctx: TypingContext, id: string): { commits: KernelCommit[]; matchedBy: MatchedBy } | undefined {
	const exact: KernelCommit[] = [];
	const series: KernelCommit[] = [];
	for (const { tree, index } of ctx.trees) {
		const found = index.commitsFor(id);
		const commit = (sha: string) => ({ tree, sha, subject: index.commit(sha)?.subject ?? "" });
		for (const sha of found.exact) if (!ctx.testCommits.has(sha)) exact.push(commit(sha));
		for (const sha of found.series) if (!ctx.testCommits.has(sha)) series.push(commit(sha));
	}
	if (exact.length > 0) return { commits: exact, matchedBy: "message-id" };
	if (series.length > 0) return { commits: series, matchedBy: "series" };
	return undefined;
}

function bySubject(ctx: TypingContext, subject: string): KernelCommit[] {
	const wanted = normalisePatchSubject(subject);
	if (wanted === "") return [];
	return ctx.trees.flatMap(({ tree, index }) =>
		index
			.commitsWithPatchSubject(wanted)
			.filter((sha) => !ctx.testCommits.has(sha))
			.map((sha) => ({ tree, sha, subject: index.commit(sha)?.subject ?? wanted })),
	);
}

function byCitation(
	ctx: TypingContext,
	sha: string,
	subject: string,
): { commits: KernelCommit[]; matchedBy: MatchedBy } {
	const commits: KernelCommit[] = [];
	for (const { tree, index } of ctx.trees) {
		const found = index.commitByPrefix(sha);
		if (found !== undefined && !ctx.testCommits.has(found.sha))
			commits.push({ tree, sha: found.sha, subject: found.subject });
	}
	// A cherry-pick or a rebase gives the same change another sha; its subject stays.
	const same = bySubject(ctx, subject).filter((c) => !commits.some((k) => k.sha === c.sha));
	if (commits.length > 0) return { commits: [...commits, ...same], matchedBy: "sha" };
	return { commits: same, matchedBy: "subject" };
}

/** A link that resolved to commits, as the patches they are. */
function fixLink(
	ctx: TypingContext,
	target: LinkTarget,
	matchedBy: MatchedBy,
	commits: readonly KernelCommit[],
	shape: LinkShape,
): Extract<TypedLink, { role: "fix" }> {
	const patches = patchesOf(commits, shape, ctx.trees, {
		shas: ctx.testCommits,
		subjects: ctx.testSubjects ?? new Set(),
	});
	return { role: "fix", target, matchedBy, subject: patches[0]?.subject ?? commits[0]?.subject ?? "", patches };
}

/** What lore says a message-id is, typed; called only for links no configured tree has. */
async function typeFromLore(ctx: TypingContext, target: LinkTarget & { kind: "message-id" }): Promise<TypedLink> {
	if (ctx.lore === undefined) return { role: "unresolved", target, note: "not found in any configured tree" };
	const answer = await ctx.lore(target.id);
	if (answer.kind === "not-found")
		return { role: "unresolved", target, note: "not found in any configured tree, nor on lore" };
	if (answer.kind === "unavailable")
		return { role: "unresolved", target, note: `not found in any configured tree; lore: ${answer.reason}` };
	const posting = answer.posting;
	// A kvm-unit-tests series (its cover letter or a reply in it) is never a KVM fix.
	if (posting.project === "kut" && posting.kind !== "reply")
		return { role: "earlier-posting", target, subject: posting.subject };
	switch (posting.kind) {
		case "kut-patch":
			return { role: "earlier-posting", target, subject: posting.subject };
		case "reply":
			return { role: "reply", target, subject: posting.subject };
		case "other":
			return { role: "unresolved", target, note: `on lore, but not a patch: "${posting.subject}"` };
		case "kernel-patch":
		case "cover-letter": {
			// An earlier version of a series: its patch subjects find the version that was applied.
			const subjects = posting.kind === "cover-letter" ? posting.patchSubjects : [posting.subject];
			const commits = subjects.flatMap((s) => bySubject(ctx, s));
			if (commits.length > 0) return fixLink(ctx, target, "subject", commits, { kind: "subjects" });
			return {
				role: "posted",
				target,
				subject: posting.subject,
				...(posting.date === undefined ? {} : { date: posting.date }),
			};
		}
	}
}

/**
 * Types every link of one test commit, in the order the commit gives them. Its own posting is
 * its last link (added when it was applied), and other patches of that posting's series are
 * its own series: neither is a dependency, unless the link names a kernel commit exactly (a KUT
 * commit whose only link is the KVM patch it tests).
 */
export async function typeLinks(commit: IndexedCommit, ctx: TypingContext): Promise<TypedLink[]> {
	const ids = [...new Set(commit.messageIds)];
	const own = ids.filter((id) => !isBugMail(id)).at(-1);
	const ownStem = own === undefined ? undefined : seriesOf(own)?.stem;
	const typed: TypedLink[] = [];
	for (const id of ids) {
		const target = { kind: "message-id", id } as const;
		if (isBugMail(id)) {
			typed.push({ role: "bug-report", target });
			continue;
		}
		const found = byMessageId(ctx, id);
		const isOwn = id === own;
		const inOwnSeries = !isOwn && ownStem !== undefined && seriesOf(id)?.stem === ownStem;
		// Copies of the test's own commit (a stable backport of a selftest) are no patch: then the
		// link is what it would have been without them.
		const fix =
			found === undefined
				? undefined
				: fixLink(ctx, target, found.matchedBy, found.commits, { kind: "message-id", id });
		if (
			found !== undefined &&
			fix !== undefined &&
			fix.patches.length > 0 &&
			(found.matchedBy === "message-id" || !isOwn)
		) {
			typed.push(fix);
		} else if (isOwn) typed.push({ role: "own-posting", target });
		else if (inOwnSeries) typed.push({ role: "own-series", target });
		else typed.push(await typeFromLore(ctx, target));
	}
	for (const c of commit.citations) {
		const target = { kind: "citation", sha: c.sha, subject: c.subject } as const;
		const found = byCitation(ctx, c.sha, c.subject);
		const fix =
			found.commits.length > 0
				? fixLink(ctx, target, found.matchedBy, found.commits, { kind: "one-patch" })
				: undefined;
		typed.push(
			fix !== undefined && fix.patches.length > 0
				? { ...fix, subject: c.subject }
				: { role: "unresolved", target, note: "not found in any configured tree" },
		);
	}
	for (const bug of commit.bugs) typed.push({ role: "bug-report", target: { kind: "bug", id: bug } });
	return typed;
}
