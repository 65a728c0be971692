/**
 * Mail is read here, once, at the edge. public-inbox serves RFC 822 text and mboxrd, and every
 * mailer folds headers, encodes words and wraps bodies its own way; deciding all of that in one
 * place, against the shapes git send-email and public-inbox really produce, lets the rest of the
 * code work on a typed `LoreMessage` and never see a raw header again.
 */

import { beforeFirst } from "../text/trim.js";
import { normaliseMessageId } from "./trailers.js";

/** One mail, reduced to what tells a posting apart. Message-ids are normalised (no `<>`). */
export interface LoreMessage {
	readonly messageId: string;
	/** Decoded and unfolded, whitespace collapsed. */
	readonly subject: string;
	/** ISO 8601, when the Date header parses. */
	readonly date?: string;
	readonly from?: string;
	readonly inReplyTo?: string;
	readonly references: readonly string[];
	/** The list's id without `<>` (`kvm.vger.kernel.org`). */
	readonly listId?: string;
	/** Files the body's diff touches, in order, each once (`-p1` paths). */
	readonly files: readonly string[];
	readonly hasDiff: boolean;
	/** b4's `change-id:`, which stays the same across every version of a series. */
	readonly changeId?: string;
}

/** A mail as public-inbox's `/raw` serves it (RFC 822; CRLF or LF; an mbox `From ` line is skipped). */
export function parseMessage(raw: string): LoreMessage {
	const { headers, body: encoded } = splitMessage(raw);
	const body = decodeBody(encoded, headers);
	const header = (name: string) => headers.get(name)?.[0];

	const messageId = normaliseMessageId(angleIds(header("message-id") ?? "")[0] ?? header("message-id") ?? "");
	const date = isoDate(header("date"));
	const from = header("from");
	const inReplyTo = angleIds(header("in-reply-to") ?? "")[0];
	const listId = header("list-id");
	const listIdValue = listId === undefined ? undefined : (angleIds(listId)[0] ?? listId.trim());
	const { files, hasDiff } = diffOf(body);
	const changeId = /^change-id:[ \t]*(\S+)[ \t]*$/im.exec(body)?.[1];
	return {
		messageId,
		subject: collapse(decodeWords(header("subject") ?? "")),
		...(date === undefined ? {} : { date }),
		...(from === undefined ? {} : { from: collapse(decodeWords(from)) }),
		...(inReplyTo === undefined ? {} : { inReplyTo }),
		references: (headers.get("references") ?? []).flatMap(angleIds),
		...(listIdValue === undefined ? {} : { listId: listIdValue }),
		files,
		hasDiff,
		...(changeId === undefined ? {} : { changeId }),
	};
}

/**
 * The mails of an mbox as public-inbox writes them (mboxrd: a `From ` line before each mail, and
 * `>From `, `>>From `... in bodies lose one `>`). Text without a `From ` line is one mail.
 */
export function parseMbox(text: string): LoreMessage[] {
	return splitMbox(text).map(parseMessage);
}

/** The raw mails of an mbox, as `parseMbox` reads them. */
export function splitMbox(text: string): string[] {
	if (!text.startsWith("From ")) return [text];
	const lines = (text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text).split("\n");
	const mails: string[][] = [];
	let current: string[] = [];
	lines.forEach((line, i) => {
		// A `From ` line separates mails only after a blank line (or at the start): an mbox that
		// forgot to escape one in a body still parses.
		if (line.startsWith("From ") && (i === 0 || lines[i - 1] === "")) {
			current = [];
			mails.push(current);
		} else current.push(/^>+From /.test(line) ? line.slice(1) : line);
	});
	return mails.filter((mail) => mail.some((line) => line !== "")).map((mail) => mail.join("\n"));
}

/**
 * A mail's subject and its text as a reader sees it: transfer encoding and charset undone and,
 * of a multipart mail (bugzilla sends text and HTML), the first text/plain part.
 */
export function mailBody(raw: string): { subject: string; body: string } {
	const { headers, body } = splitMessage(raw);
	return { subject: collapse(decodeWords(headers.get("subject")?.[0] ?? "")), body: readableText(headers, body) };
}

interface Split {
	readonly headers: Map<string, string[]>;
	/** Still in its transfer encoding. */
	readonly body: string;
}

/** Headers and body of a mail (CRLF or LF; an mbox `From ` line is skipped). */
function splitMessage(raw: string): Split {
	const text = raw.includes("\r") ? raw.replace(/\r\n?/g, "\n") : raw;
	return splitPart(text.startsWith("From ") ? text.slice(text.indexOf("\n") + 1) : text);
}

/** A blank first line means no headers at all (a MIME part may have none). */
function splitPart(text: string): Split {
	const split = text.startsWith("\n") ? 0 : text.indexOf("\n\n");
	return {
		headers: parseHeaders(split === -1 ? text : text.slice(0, split)),
		body: split === -1 ? "" : text.slice(split + (split === 0 ? 1 : 2)),
	};
}

const headerParam = (value: string, name: string): string | undefined =>
	new RegExp(`;\\s*${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, "i")
		.exec(value)
		?.slice(1)
		.find((v) => v !== undefined);

/** Text of one entity; multipart entities give their first text/plain part, else their first text part. */
function readableText(headers: ReadonlyMap<string, readonly string[]>, body: string): string {
	const type = headers.get("content-type")?.[0] ?? "text/plain";
	const mime = (type.split(";")[0] ?? "").trim().toLowerCase();
	const boundary = headerParam(type, "boundary");
	if (mime.startsWith("multipart/") && boundary !== undefined) {
		const parts = mimeParts(body, boundary).map(splitPart);
		const mimeOf = (part: Split) =>
			(part.headers.get("content-type")?.[0] ?? "text/plain").split(";")[0]?.trim().toLowerCase() ?? "";
		const chosen =
			parts.find((part) => mimeOf(part) === "text/plain") ??
			parts.find((part) => mimeOf(part).startsWith("multipart/")) ??
			parts.find((part) => mimeOf(part).startsWith("text/"));
		return chosen === undefined ? "" : readableText(chosen.headers, chosen.body);
	}
	const encoding = headers.get("content-transfer-encoding")?.[0]?.toLowerCase();
	const charset = headerParam(type, "charset")?.toLowerCase() ?? "utf-8";
	if (encoding === "quoted-printable") return decodeBytes(qpBytes(body), charset);
	if (encoding === "base64") return decodeBytes([...Buffer.from(body.replace(/\s+/g, ""), "base64")], charset);
	return body;
}

/** The parts between `--boundary` lines, up to `--boundary--`; the preamble is not a part. */
function mimeParts(body: string, boundary: string): string[] {
	const parts: string[][] = [];
	let current: string[] | undefined;
	for (const line of body.split("\n")) {
		const trimmed = line.trimEnd();
		if (trimmed === `--${boundary}--`) break;
		if (trimmed === `--${boundary}`) {
			current = [];
			parts.push(current);
		} else current?.push(line);
	}
	return parts.map((lines) => lines.join("\n"));
}

/** Quoted-printable body to bytes; soft line breaks (`=` at a line's end) join lines. */
function qpBytes(text: string): number[] {
	const bytes: number[] = [];
	const joined = text.replace(/=[ \t]*\n/g, "");
	for (let i = 0; i < joined.length; i++) {
		const hex = joined[i] === "=" ? joined.slice(i + 1, i + 3) : "";
		if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
			bytes.push(Number.parseInt(hex, 16));
			i += 2;
		} else {
			// By code point: a mailer that sent 8-bit text as QP anyway may have characters outside the BMP.
			const char = String.fromCodePoint(joined.codePointAt(i) ?? 0);
			for (const byte of Buffer.from(char)) bytes.push(byte);
			i += char.length - 1;
		}
	}
	return bytes;
}

const HEADER_NAME = /^[!-9;-~]+$/;

/** Header name (lower case) → values in order, each unfolded. */
function parseHeaders(text: string): Map<string, string[]> {
	const headers = new Map<string, string[]>();
	let name: string | undefined;
	let value = "";
	const flush = () => {
		if (name === undefined) return;
		const list = headers.get(name);
		if (list === undefined) headers.set(name, [value.trim()]);
		else list.push(value.trim());
	};
	for (const line of text.split("\n")) {
		if ((line.startsWith(" ") || line.startsWith("\t")) && name !== undefined) {
			value += line;
			continue;
		}
		flush();
		name = undefined;
		const colon = line.indexOf(":");
		const candidate = colon > 0 ? line.slice(0, colon) : "";
		if (!HEADER_NAME.test(candidate)) continue;
		name = candidate.toLowerCase();
		value = line.slice(colon + 1);
	}
	flush();
	return headers;
}

const angleIds = (value: string): string[] =>
	[...value.matchAll(/<([^<>\s]+)>/g)].map((m) => normaliseMessageId(m[1] ?? ""));

const collapse = (text: string) => text.replace(/\s+/g, " ").trim();

function isoDate(value: string | undefined): string | undefined {
	if (value === undefined) return undefined;
	const time = Date.parse(value);
	return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

/**
 * RFC 2047 encoded-words. Adjacent words of one charset are joined as bytes before decoding,
 * because mailers split a long subject between the bytes of one UTF-8 character.
 */
function decodeWords(value: string): string {
	if (!value.includes("=?")) return value;
	let out = "";
	let pending: { charset: string; bytes: number[] } | undefined;
	let last = 0;
	const flush = () => {
		if (pending !== undefined) out += decodeBytes(pending.bytes, pending.charset);
		pending = undefined;
	};
	for (const m of value.matchAll(ENCODED_WORD)) {
		const between = value.slice(last, m.index);
		last = m.index + m[0].length;
		const charset = beforeFirst(m[1] ?? "", "*").toLowerCase();
		if (between.trim() !== "") {
			flush();
			out += between;
		} else if (pending === undefined) out += between;
		else if (pending.charset !== charset) flush(); // whitespace between two encoded-words is not text
		const bytes = (m[2] ?? "").toUpperCase() === "B" ? [...Buffer.from(m[3] ?? "", "base64")] : qBytes(m[3] ?? "");
		// A loop, not push(...bytes): a long subject's bytes outnumber what a call's arguments may hold.
		if (pending === undefined) pending = { charset, bytes };
		else for (const byte of bytes) pending.bytes.push(byte);
	}
	flush();
	return out + value.slice(last);
}

function qBytes(text: string): number[] {
	const bytes: number[] = [];
	for (let i = 0; i < text.length; i++) {
		const c = text[i] ?? "";
		const hex = c === "=" ? text.slice(i + 1, i + 3) : "";
		if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
			bytes.push(Number.parseInt(hex, 16));
			i += 2;
		} else if (c === "_") bytes.push(0x20);
		else bytes.push(...Buffer.from(c));
	}
	return bytes;
}

function decodeBytes(bytes: readonly number[], charset: string): string {
	try {
		return new TextDecoder(charset).decode(new Uint8Array(bytes));
	} catch {
		return new TextDecoder().decode(new Uint8Array(bytes));
	}
}

/** A single-part body in quoted-printable or base64 is decoded, so a diff's lines are whole again. */
function decodeBody(body: string, headers: ReadonlyMap<string, readonly string[]>): string {
	const encoding = headers.get("content-transfer-encoding")?.[0]?.toLowerCase();
	if (encoding === "quoted-printable") {
		return body
			.replace(/=[ \t]*\n/g, "")
			.replace(/(?:=[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replaceAll("=", ""), "hex").toString("utf8"));
	}
	if (encoding === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
	return body;
}

/** `a/x86/apic.c` → `x86/apic.c`, as `patch -p1` reads it; a tab starts a timestamp. */
function stripPrefix(name: string): string | undefined {
	const file = name.split("\t")[0]?.trim() ?? "";
	if (file === "" || file === "/dev/null") return undefined;
	const slash = file.indexOf("/");
	return slash === -1 ? file : file.slice(slash + 1);
}

function diffOf(body: string): { files: string[]; hasDiff: boolean } {
	const files = new Set<string>();
	let hasDiff = false;
	const lines = body.split("\n");
	lines.forEach((line, i) => {
		if (line.startsWith("diff --git ")) {
			hasDiff = true;
			for (const file of gitDiffPaths(line.slice("diff --git ".length))) files.add(file);
		} else if (line.startsWith("--- ") && lines[i + 1]?.startsWith("+++ ")) {
			hasDiff = true;
			for (const name of [line.slice(4), lines[i + 1]?.slice(4) ?? ""]) {
				const file = stripPrefix(name);
				if (file !== undefined) files.add(file);
			}
		}
	});
	return { files: [...files], hasDiff };
}

/** `a/X b/Y`; when X = Y the halves are compared, so a path containing " b/" still splits right. */
function gitDiffPaths(rest: string): string[] {
	const half = (rest.length - 1) / 2;
	if (Number.isInteger(half) && rest.startsWith("a/") && rest.slice(2, half) === rest.slice(half + 3)) {
		return [rest.slice(2, half)];
	}
	// The first ` b/` that leaves a path on both sides, found by position: a pattern's lazy `.+?`
	// against a line of many ` b/` retries each to the end.
	if (!rest.startsWith("a/") || /[\r\n\u2028\u2029]/.test(rest)) return [];
	for (let at = rest.indexOf(" b/", 3); at !== -1; at = rest.indexOf(" b/", at + 1))
		if (at + 3 < rest.length) return [...new Set([rest.slice(2, at), rest.slice(at + 3)])];
	return [];
}
