/**
 * A bug report, from whatever the user has: a bug number or URL (fetched elsewhere, read here from
 * bugzilla's REST answers), a saved copy of those answers, a mail or mbox, or a pasted log. All of
 * them become the same `BugReport`, a list of texts that say where each came from, so that what
 * reads facts out of a report never asks what it was.
 */

import * as z from "zod";
import { mailBody, splitMbox } from "../links/mail.js";
import { trimTrailing } from "../text/trim.js";
import type { BugReport, ReportText } from "./types.js";

type Failure = { readonly error: string };

const MIB = 2 ** 20;
/** Per text: a report's facts are in its first pages, and a 50 MiB attachment must not stall triage. */
const TEXT_CAP = MIB;

// ---------------------------------------------------------------------------------------------
// BUG, as the user types it

/**
 * `216812`, `https://bugzilla.kernel.org/show_bug.cgi?id=216812`, or the short form
 * `https://bugzilla.kernel.org/216812`. The base is what comes before `show_bug.cgi` (a bugzilla
 * may live under a path), without a trailing `/`.
 */
export function parseBugArg(arg: string, defaultBase: string): { base: string; id: string } | Failure {
	const text = arg.trim();
	if (/^\d+$/.test(text)) return { base: trimTrailing(defaultBase, "/"), id: text.replace(/^0+(?=\d)/, "") };
	const wanted = `"${text}" is not a bug number or bugzilla URL (e.g. 216812 or ${trimTrailing(defaultBase, "/")}/show_bug.cgi?id=216812)`;
	let url: URL;
	try {
		url = new URL(text);
	} catch {
		return { error: wanted };
	}
	if (url.protocol !== "http:" && url.protocol !== "https:") return { error: wanted };
	const page = /^(.*)\/show_bug\.cgi$/.exec(url.pathname);
	if (page !== null) {
		const id = url.searchParams.get("id")?.trim() ?? "";
		if (!/^\d+$/.test(id)) return { error: `${text}: no bug number in its id= parameter` };
		return { base: `${url.origin}${page[1] ?? ""}`, id: id.replace(/^0+(?=\d)/, "") };
	}
	const short = /^(.*)\/(\d+)\/?$/.exec(url.pathname);
	if (short !== null && url.search === "") {
		return { base: `${url.origin}${short[1] ?? ""}`, id: (short[2] ?? "").replace(/^0+(?=\d)/, "") };
	}
	return { error: wanted };
}

// ---------------------------------------------------------------------------------------------
// Bugzilla 5 REST answers

const errorAnswer = z.looseObject({
	error: z.literal(true),
	code: z.number().optional(),
	message: z.string().optional(),
});

const bugAnswer = z.looseObject({
	bugs: z.array(z.looseObject({ id: z.number(), summary: z.string().optional() })),
});

const commentAnswer = z.looseObject({
	bugs: z.record(
		z.string(),
		z.looseObject({
			comments: z.array(
				z.looseObject({
					count: z.number().optional(),
					text: z.string(),
				}),
			),
		}),
	),
});

const attachmentAnswer = z.looseObject({
	bugs: z.record(
		z.string(),
		z.array(
			z.looseObject({
				id: z.number(),
				file_name: z.string(),
				content_type: z.string().optional(),
				is_obsolete: z.union([z.number(), z.boolean()]).optional(),
				data: z.string().optional(),
			}),
		),
	),
});

/** Bugzilla's code for "Bug #N does not exist." */
const NO_SUCH_BUG = 101;

/**
 * The answers of `GET <base>/rest/bug/<id>`, `.../comment` and `.../attachment` as one report:
 * the description (comment 0), the other comments, then the text attachments still current.
 */
export function reportFromBugzilla(
	base: string,
	id: string,
	bugJson: unknown,
	commentsJson: unknown,
	attachmentsJson?: unknown,
): BugReport | Failure {
	return fromAnswers({ base: trimTrailing(base, "/"), id }, bugJson, commentsJson, attachmentsJson);
}

interface Origin {
	/** Unknown for a saved copy that does not say. */
	readonly base?: string;
	/** Unknown for a saved copy: then the bug answer's. */
	readonly id?: string;
}

function fromAnswers(
	origin: Origin,
	bugJson: unknown,
	commentsJson: unknown,
	attachmentsJson: unknown,
): BugReport | Failure {
	for (const answer of [bugJson, commentsJson, attachmentsJson]) {
		const refused = errorAnswer.safeParse(answer);
		if (refused.success) return { error: bugzillaError(origin, refused.data.code, refused.data.message) };
	}
	const bugs = bugAnswer.safeParse(bugJson);
	if (!bugs.success) return { error: located(origin, shapeError("the bug answer", bugs.error)) };
	const bug = origin.id === undefined ? bugs.data.bugs[0] : bugs.data.bugs.find((b) => String(b.id) === origin.id);
	if (bug === undefined) return { error: bugzillaError(origin, NO_SUCH_BUG, undefined) };
	const id = origin.id ?? String(bug.id);

	const comments = commentAnswer.safeParse(commentsJson);
	if (!comments.success) return { error: located(origin, shapeError("the comment answer", comments.error)) };
	const thread = comments.data.bugs[id]?.comments;
	if (thread === undefined) return { error: located(origin, `the comment answer has no comments of bug ${id}`) };
	const texts: ReportText[] = [];
	thread.forEach((comment, i) => {
		const count = comment.count ?? i;
		if (comment.text.trim() !== "") texts.push(capped(count === 0 ? "description" : `comment ${count}`, comment.text));
	});

	if (attachmentsJson !== undefined) {
		const attachments = attachmentAnswer.safeParse(attachmentsJson);
		if (!attachments.success) return { error: located(origin, shapeError("the attachment answer", attachments.error)) };
		for (const attachment of attachments.data.bugs[id] ?? []) {
			if (attachment.is_obsolete === 1 || attachment.is_obsolete === true || attachment.data === undefined) continue;
			const text = attachmentText(attachment.data, attachment.content_type, attachment.file_name);
			if (text !== undefined && text.trim() !== "") {
				texts.push(capped(`attachment ${attachment.id} (${attachment.file_name})`, text));
			}
		}
	}
	return {
		source: "bugzilla",
		id,
		...(origin.base === undefined ? {} : { url: `${origin.base}/show_bug.cgi?id=${id}` }),
		...(bug.summary === undefined || bug.summary === "" ? {} : { title: bug.summary }),
		texts,
	};
}

function bugzillaError(origin: Origin, code: number | undefined, message: string | undefined): string {
	if (code === NO_SUCH_BUG && origin.id !== undefined) {
		return `bug ${origin.id} not found${origin.base === undefined ? "" : ` on ${origin.base}`}`;
	}
	const said = `${(message ?? "").trim() || "an error"}${code === undefined ? "" : ` (bugzilla error ${code})`}`;
	return origin.base === undefined ? `bugzilla said: ${said}` : `${origin.base}: ${said}`;
}

const located = (origin: Origin, message: string) =>
	origin.base === undefined ? message : `${origin.base}: ${message}`;

function shapeError(what: string, error: z.ZodError): string {
	const issue = error.issues[0];
	const at = issue === undefined || issue.path.length === 0 ? "" : ` at ${issue.path.map(String).join(".")}`;
	return `${what} is not bugzilla's shape${at}: ${issue?.message ?? "unexpected value"}`;
}

const TEXT_NAME = /\.(?:log|txt|out)$/i;

/**
 * A log attached as application/octet-stream is still a log: what its name or type does not say,
 * its bytes do (valid UTF-8 without NUL). Declared text is read leniently; serial consoles
 * sometimes write NULs into a log that is text all the same.
 */
function attachmentText(data: string, contentType: string | undefined, fileName: string): string | undefined {
	const bytes = Buffer.from(data, "base64");
	if (bytes.length === 0) return undefined;
	const declared = (contentType ?? "").trim().toLowerCase().startsWith("text/") || TEXT_NAME.test(fileName);
	if (declared) return bytes.toString("utf8").replaceAll("\0", "");
	if (bytes.includes(0)) return undefined;
	try {
		return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
	} catch {
		return undefined;
	}
}

function capped(where: string, text: string): ReportText {
	if (text.length * 3 <= TEXT_CAP || Buffer.byteLength(text) <= TEXT_CAP) return { where, text };
	// Cutting between a character's bytes leaves a replacement character at the end: not text.
	const cut = trimTrailing(Buffer.from(text).subarray(0, TEXT_CAP).toString("utf8"), "\uFFFD");
	return { where: `${where} (cut to its first 1 MiB)`, text: cut };
}

// ---------------------------------------------------------------------------------------------
// A saved file

/**
 * A saved bugzilla report is one JSON object holding the three REST answers:
 *
 *     { "bug": <GET /rest/bug/ID>, "comments": <GET /rest/bug/ID/comment>,
 *       "attachments": <GET /rest/bug/ID/attachment>, "base": "https://bugzilla.kernel.org" }
 *
 * `attachments` and `base` may be left out (without `base` the report has no URL). The bug
 * answer's own `bugs` key may stand in for `bug`: `{ "bugs": [...], "comments": ... }`.
 */
const savedReport = z.looseObject({
	bug: z.unknown().optional(),
	bugs: z.unknown().optional(),
	comments: z.unknown().optional(),
	attachments: z.unknown().optional(),
	base: z.string().optional(),
});

/** A saved report (bugzilla JSON, a mail or mbox, or plain text), named `name` in messages and evidence. */
export function reportFromText(text: string, name: string): BugReport | Failure {
	if (text.trim() === "") return { error: `${name}: empty` };
	if (isBinary(text)) return { error: `${name}: binary data, not a bug report` };
	const json = savedJson(text);
	if (json !== undefined) {
		const report = fromSavedJson(json);
		return "error" in report ? { error: `${name}: ${report.error}` } : report;
	}
	const normal = text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
	if (looksLikeMail(normal)) {
		const report = fromMails(normal);
		return "error" in report ? { error: `${name}: ${report.error}` } : report;
	}
	return { source: "text", texts: [capped(name, text)] };
}

/** A JSON object that looks meant for bugzilla; other JSON is read as plain text. */
function savedJson(text: string): object | undefined {
	if (!text.trimStart().startsWith("{")) return undefined;
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch {
		return undefined;
	}
	if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
	return ["bug", "bugs", "comments", "error"].some((key) => key in json) ? json : undefined;
}

function fromSavedJson(json: object): BugReport | Failure {
	const refused = errorAnswer.safeParse(json);
	if (refused.success) return { error: bugzillaError({}, refused.data.code, refused.data.message) };
	const parsed = savedReport.safeParse(json);
	if (!parsed.success) return { error: shapeError("the saved report", parsed.error) };
	const saved = parsed.data;
	const bug = saved.bug ?? (saved.bugs === undefined ? undefined : { bugs: saved.bugs });
	if (bug === undefined) return { error: 'no "bug" answer (save {"bug": ..., "comments": ..., "attachments": ...})' };
	if (saved.comments === undefined) {
		return { error: 'no "comments" answer (save {"bug": ..., "comments": ..., "attachments": ...})' };
	}
	return fromAnswers(
		saved.base === undefined ? {} : { base: trimTrailing(saved.base, "/") },
		bug,
		saved.comments,
		saved.attachments,
	);
}

const MBOX_FROM = /^From \S+ .*\d\d:\d\d(?::\d\d)?/;
const HEADER_LINE = /^([!-9;-~]+):/;
const CONTINUATION = /^[ \t]/;

/**
 * An mbox starts with its `From ` line; a mail with headers only: a first paragraph made only of
 * header lines, among them From or Subject (a log's `FAIL: x` line alone is not a mail).
 */
function looksLikeMail(text: string): boolean {
	if (MBOX_FROM.test(text)) return true;
	const end = text.indexOf("\n\n");
	const lines = (end === -1 ? text : text.slice(0, end)).split("\n");
	if (lines.length < 2 || !HEADER_LINE.test(lines[0] ?? "")) return false;
	const names = new Set<string>();
	for (const line of lines) {
		const header = HEADER_LINE.exec(line);
		if (header !== null) names.add((header[1] ?? "").toLowerCase());
		else if (!CONTINUATION.test(line)) return false;
	}
	return names.size >= 2 && (names.has("from") || names.has("subject"));
}

/** Bugzilla's mails: `[Bug 216812] New: KVM: ...`. */
const BUG_SUBJECT = /^\[Bug (\d+)\]\s*(?:New:\s*)?/i;

function fromMails(text: string): BugReport | Failure {
	const mails = splitMbox(text).map(mailBody);
	const texts = mails.flatMap((mail, i) =>
		mail.body.trim() === "" ? [] : [capped(`mail ${i + 1}: ${mail.subject || "(no subject)"}`, mail.body)],
	);
	if (texts.length === 0) return { error: mails.length === 1 ? "a mail without text" : "mails without text" };
	const subject = mails[0]?.subject ?? "";
	const bug = BUG_SUBJECT.exec(subject);
	const id = bug?.[1];
	const title = bug === null ? subject : subject.slice(bug[0].length);
	const url =
		id === undefined
			? undefined
			: mails
					.map((mail) => new RegExp(`https?://\\S+/show_bug\\.cgi\\?id=${id}(?!\\d)`).exec(mail.body)?.[0])
					.find((found) => found !== undefined);
	return {
		source: "mail",
		...(id === undefined ? {} : { id }),
		...(url === undefined ? {} : { url }),
		...(title === "" ? {} : { title }),
		texts,
	};
}

/** The caller read the file as UTF-8: NULs or many replacement characters mean it was not text. */
function isBinary(text: string): boolean {
	if (text.includes("\0")) return true;
	const sample = text.slice(0, 64 * 1024);
	let replaced = 0;
	for (const char of sample) if (char === "\uFFFD") replaced++;
	return replaced > sample.length / 20;
}
