import { joinLines, trimTrailing } from "../text/trim.js";
/**
 * Trailers and message-ids, as KVM and kvm-unit-tests commits carry them (FACTS.md, "Link:
 * trailers in real history"). Pure: text in, normalised references out. Every link is reduced to
 * what it identifies — a mail (message-id), a bug, or just a URL — so that a test commit's
 * references and a kernel commit's can be compared whatever URL shape each used.
 */

export type Reference =
	| { readonly kind: "message-id"; readonly id: string }
	| { readonly kind: "bug"; readonly tracker: string; readonly id: string }
	| { readonly kind: "url"; readonly url: string };

/** `<id>` or `id`, percent-decoded, without a trailing slash: the form two mentions can be compared in. */
export function normaliseMessageId(text: string): string {
	// The common case, a bare id, costs no regular expression: this runs for every link in a history.
	if (!/[<>%/\s]/.test(text)) return text;
	let id = text.trim().replace(/^<|>$/g, "");
	try {
		id = decodeURIComponent(id);
	} catch {
		// A stray % is left as it is: better an id that matches nothing than no id.
	}
	return trimTrailing(id, "/");
}

const LORE =
	/^https?:\/\/(?:lore\.kernel\.org|lkml\.kernel\.org)\/(?:r|all|[a-z0-9._-]+)\/([^\s/]+(?:%2F)?)(?:\/.*)?$/i;
const MSGID_LINK = /^https?:\/\/patch\.msgid\.link\/([^\s/]+)(?:\/.*)?$/i;
const BUGZILLA = /^https?:\/\/bugzilla\.kernel\.org\/show_bug\.cgi\?id=(\d+)/i;
const GITLAB_ISSUE = /^https?:\/\/gitlab\.com\/([^\s]+?)\/-\/issues\/(\d+)/i;
const GITHUB_ISSUE = /^https?:\/\/github\.com\/([^/\s]+\/[^/\s]+)\/issues\/(\d+)/i;

/** What one link points at. A trailing ` # [1]` comment and `<>` around the URL are ignored. */
export function referenceFromUrl(raw: string): Reference {
	// The comment is cut at the first blank-then-#: /\s+#.*$/ would take time quadratic in a run of blanks.
	const comment = raw.search(/\s#/);
	const url = (comment === -1 ? raw : raw.slice(0, comment)).trim().replace(/^<|>$/g, "");
	const lore = LORE.exec(url) ?? MSGID_LINK.exec(url);
	if (lore !== null && (lore[1] ?? "").includes("@"))
		return { kind: "message-id", id: normaliseMessageId(lore[1] ?? "") };
	if (lore !== null && /%40/i.test(lore[1] ?? "")) return { kind: "message-id", id: normaliseMessageId(lore[1] ?? "") };
	const bz = BUGZILLA.exec(url);
	if (bz !== null) return { kind: "bug", tracker: "bugzilla.kernel.org", id: bz[1] ?? "" };
	const gl = GITLAB_ISSUE.exec(url);
	if (gl !== null) return { kind: "bug", tracker: `gitlab.com/${gl[1]}`, id: gl[2] ?? "" };
	const gh = GITHUB_ISSUE.exec(url);
	if (gh !== null) return { kind: "bug", tracker: `github.com/${gh[1]}`, id: gh[2] ?? "" };
	return { kind: "url", url };
}

const REFERENCE_KEY = /^(link|message-id|closes):/i;
// What `.` in a pattern would not match: a value holding one is not a one-line trailer.
const LINE_BREAK = /[\r\u2028\u2029]/;

/**
 * Every reference a commit message makes through its trailers, in order. This runs on every
 * commit of a kernel's history when a tree is indexed, so a line is only matched when it starts
 * with the first letter of one of the three keys.
 */
export function referencesOf(message: string): Reference[] {
	const refs: Reference[] = [];
	let start = 0;
	while (start < message.length) {
		let end = message.indexOf("\n", start);
		if (end === -1) end = message.length;
		const first = message.charCodeAt(start) | 0x20; // lower case for ASCII letters
		if (first === 0x6c || first === 0x6d || first === 0x63) {
			const line = message.slice(start, end);
			const m = REFERENCE_KEY.exec(line);
			// The value is trimmed by hand: /:\s*(.+?)\s*$/ takes time quadratic in a run of blanks.
			const value = m === null ? "" : line.slice(m[0].length).trim();
			if (m !== null && value !== "" && !LINE_BREAK.test(value)) {
				const key = (m[1] ?? "").toLowerCase();
				refs.push(
					key === "message-id" ? { kind: "message-id", id: normaliseMessageId(value) } : referenceFromUrl(value),
				);
			}
		}
		start = end + 1;
	}
	return refs;
}

/** A message-id's series: the stem all patches of one posting share, and this patch's index. */
export type Series = { readonly stem: string; readonly index: number } | undefined;

// git send-email: <YYYYMMDDhhmmss>.<pid>-<n>-<author>@<domain>
const SEND_EMAIL = /^(\d{14}\.\d+)-(\d+)-(.[^@]*@.+)$/;
// b4: <YYYYMMDD>-<topic>-v<k>-<n>-<hash>@<domain>
// `[\s\S]+$` cannot fail where `.+$` fails on a line break after a long domain: seriesOf refuses
// line breaks first, so the two mean the same.
const B4 = /^(\d{8}-.+-v\d+)-(\d+)-([0-9a-f]+@[\s\S]+)$/;

/** The series a message-id belongs to; undefined for shapes that identify a single mail only. */
export function seriesOf(messageId: string): Series {
	if (/[\n\r\u2028\u2029]/.test(messageId)) return undefined;
	const send = SEND_EMAIL.exec(messageId);
	if (send !== null) return { stem: `${send[1]}-*-${send[3]}`, index: Number(send[2]) };
	const b4 = B4.exec(messageId);
	if (b4 !== null) return { stem: `${b4[1]}-*-${b4[3]}`, index: Number(b4[2]) };
	return undefined;
}

/** A kernel commit cited in prose, the kernel's way: `commit f402ecd7a8b6 ("KVM: nSVM: ...")`. */
export interface Citation {
	readonly sha: string;
	readonly subject: string;
}

/** Citations in a commit body; line breaks inside the quoted subject are joined. */
export function citationsOf(message: string): Citation[] {
	if (!message.includes("commit")) return [];
	const text = joinLines(message).replace(/[\r\u2028\u2029]/g, " ");
	// The subject ends at the first `")`, found by position and asked once for all the citations
	// after it: a lazy `(.+?)"\)` rescans to the end for every citation left open.
	const start = /\bcommit ([0-9a-f]{12,40}) \("/g;
	const found: Citation[] = [];
	let close = -1;
	for (let m = start.exec(text); m !== null; m = start.exec(text)) {
		const from = m.index + m[0].length;
		if (close < from + 1) close = text.indexOf('")', from + 1);
		if (close === -1) break;
		found.push({ sha: m[1] ?? "", subject: text.slice(from, close) });
		start.lastIndex = close + 2;
	}
	return found;
}

// The ways a backport names the commit it copies: `git cherry-pick -x`, and stable's two headers.
const UPSTREAM = [
	/\(cherry picked from commit ([0-9a-f]{40})\)/g,
	/^commit ([0-9a-f]{40}) upstream\.?$/gm,
	/^\[\s*[Uu]pstream commit ([0-9a-f]{40})\s*\]$/gm,
];

/** The upstream commits a backport says it copies (full shas only: a prefix could be anything). */
export function upstreamOf(message: string): string[] {
	if (!message.includes("commit")) return [];
	const found = UPSTREAM.flatMap((re) => [...message.matchAll(re)].map((m) => m[1] ?? ""));
	return [...new Set(found)];
}
