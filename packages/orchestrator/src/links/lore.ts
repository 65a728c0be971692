/**
 * The only part of lore look-ups that talks to a server. A message-id no configured tree has a
 * commit for is asked of a public-inbox server (lore.kernel.org runs public-inbox); the network
 * may be slow or absent, so this layer stays thin, answers `unavailable` instead of throwing,
 * and keeps what it learnt on disk so that a later run need not ask again.
 */

import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import * as z from "zod";
import { type Download, download, formatBytes, type Settings } from "../net/download.js";
import { writeAtomically } from "../paths/atomic.js";
import { err, ok, type Result } from "../result.js";
import { trimTrailing } from "../text/trim.js";
import { type LoreMessage, parseMbox } from "./mail.js";
import { describePosting, type LorePosting } from "./posting.js";
import { normaliseMessageId } from "./trailers.js";

export type LoreAnswer =
	| { readonly kind: "found"; readonly posting: LorePosting }
	| { readonly kind: "not-found" }
	/** One line: `lore.kernel.org: timed out after 10 s`. Never cached. */
	| { readonly kind: "unavailable"; readonly reason: string };

export interface LoreClientOptions {
	/** An inbox URL (`https://lore.kernel.org/all`); a bare host gets `/all`. */
	readonly base: string;
	/** Where answers are kept, one JSON file per message-id. */
	readonly cacheDir: string;
	/** Per request. Default 10 s. */
	readonly timeoutMs?: number;
	/** Per response body. Default 2 MiB. */
	readonly maxBytes?: number;
	readonly fetch?: typeof fetch;
	readonly signal?: AbortSignal;
}

export interface LoreClient {
	/** The inbox asked, after defaulting (`https://lore.kernel.org/all`). */
	readonly base: string;
	/** Never rejects: network trouble is an `unavailable` answer. One request per id per client. */
	lookUp(messageId: string): Promise<LoreAnswer>;
}

const MIB = 2 ** 20;
// A thread's mbox compresses well; this bounds what its gzip may expand to (a bomb stops here).
const THREAD_EXPANSION = 16;

/** `https://lore.kernel.org` → `https://lore.kernel.org/all`; query, fragment and trailing `/` dropped. */
export function inboxUrl(base: string): Result<URL> {
	let url: URL;
	try {
		url = new URL(base);
	} catch {
		return err(`"${base}" is not a URL`);
	}
	if (url.protocol !== "http:" && url.protocol !== "https:") return err(`"${base}" is not an http or https URL`);
	url.search = "";
	url.hash = "";
	const pathname = trimTrailing(url.pathname, "/");
	url.pathname = pathname === "" ? "/all" : pathname;
	return ok(url);
}

/** A message-id as a path segment, escaped as public-inbox's own links escape it (`/` → `%2F`, `@` kept). */
export function escapeMessageId(id: string): string {
	return encodeURIComponent(id).replace(/%(24|26|2B|2C|3B|3D|3A|40)/g, (_, hex: string) =>
		String.fromCharCode(Number.parseInt(hex, 16)),
	);
}

const gunzipAsync = promisify(gunzip);

/**
 * Bugzilla's message-ids end with its URL's `/` (`bug-219787-28872@https.bugzilla.kernel.org/`),
 * which normalising a link removes; such an id is asked for again with it.
 */
const spelledWithSlash = (id: string) => /@https?\./.test(id) && !id.endsWith("/");

type ThreadText =
	| { readonly kind: "text"; readonly text: string }
	| { readonly kind: "too-large" }
	| { readonly kind: "corrupt"; readonly reason: string };

/** A thread's mbox; served gzipped, but a proxy may already have inflated it. */
async function threadText(bytes: Uint8Array, maxBytes: number): Promise<ThreadText> {
	if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return { kind: "text", text: Buffer.from(bytes).toString("utf8") };
	try {
		const text = (await gunzipAsync(bytes, { maxOutputLength: maxBytes * THREAD_EXPANSION })).toString("utf8");
		return { kind: "text", text };
	} catch (error) {
		if (error instanceof RangeError) return { kind: "too-large" };
		return {
			kind: "corrupt",
			reason: `thread mbox is not valid gzip (${error instanceof Error ? error.message : String(error)})`,
		};
	}
}

const cacheEntrySchema = z.object({
	format: z.literal(1),
	messageId: z.string(),
	base: z.string(),
	answer: z.discriminatedUnion("kind", [
		z.object({ kind: z.literal("not-found") }),
		z.object({
			kind: z.literal("found"),
			posting: z.object({
				messageId: z.string(),
				subject: z.string(),
				rawSubject: z.string(),
				date: z.string().optional(),
				kind: z.enum(["kernel-patch", "kut-patch", "cover-letter", "reply", "other"]),
				series: z.object({ version: z.number().int(), index: z.number().int(), total: z.number().int() }).optional(),
				files: z.array(z.string()),
				patchSubjects: z.array(z.string()),
				project: z.enum(["kernel", "kut"]).optional(),
				changeId: z.string().optional(),
			}),
		}),
	]),
});

/** A cached answer as the type says it: zod's optional keys may hold `undefined`, ours may not. */
function fromCache(entry: z.infer<typeof cacheEntrySchema>["answer"]): LoreAnswer {
	if (entry.kind === "not-found") return { kind: "not-found" };
	const { date, series, project, changeId, ...rest } = entry.posting;
	return {
		kind: "found",
		posting: {
			...rest,
			...(date === undefined ? {} : { date }),
			...(series === undefined ? {} : { series }),
			...(project === undefined ? {} : { project }),
			...(changeId === undefined ? {} : { changeId }),
		},
	};
}

/**
 * A client for one public-inbox inbox. Answers are cached in `cacheDir` (found and not-found;
 * an unavailable answer never is). Once the server cannot be reached, later lookups of this
 * client answer `unavailable` at once instead of each waiting for the timeout.
 */
export function createLoreClient(options: LoreClientOptions): LoreClient {
	const inbox = inboxUrl(options.base);
	const settings: Settings = {
		timeoutMs: options.timeoutMs ?? 10_000,
		maxBytes: options.maxBytes ?? 2 * MIB,
		fetch: options.fetch ?? globalThis.fetch,
		...(options.signal === undefined ? {} : { signal: options.signal }),
	};
	const base = inbox.ok ? inbox.value.href : options.base;
	const answers = new Map<string, Promise<LoreAnswer>>();
	let unreachable: string | undefined;

	const cacheFile = (id: string) =>
		path.join(options.cacheDir, `${createHash("sha256").update(id).digest("hex")}.json`);

	async function readCache(id: string): Promise<LoreAnswer | undefined> {
		let text: string;
		try {
			text = await readFile(cacheFile(id), "utf8");
		} catch {
			return undefined;
		}
		let json: unknown;
		try {
			json = JSON.parse(text);
		} catch {
			return undefined;
		}
		const entry = cacheEntrySchema.safeParse(json);
		if (!entry.success || entry.data.messageId !== id) return undefined;
		// Another inbox may hold what this one did not: only a found answer holds for every inbox.
		if (entry.data.answer.kind === "not-found" && entry.data.base !== base) return undefined;
		return fromCache(entry.data.answer);
	}

	async function writeCache(id: string, answer: LoreAnswer): Promise<void> {
		try {
			await mkdir(options.cacheDir, { recursive: true });
			await writeAtomically(cacheFile(id), `${JSON.stringify({ format: 1, messageId: id, base, answer }, null, 1)}\n`);
		} catch {
			// The cache saves a request next time; failing to write it costs nothing now.
		}
	}

	const unavailable = (reason: string): LoreAnswer => ({ kind: "unavailable", reason });

	function failed(outcome: Download & { kind: "failed" }): LoreAnswer {
		if (outcome.network) unreachable = outcome.reason;
		return unavailable(outcome.reason);
	}

	async function fetchAnswer(inbox: URL, id: string): Promise<LoreAnswer> {
		const cached = await readCache(id);
		if (cached !== undefined) return cached;
		if (unreachable !== undefined) return unavailable(unreachable);
		let mid = id;
		const at = (leaf: string) => new URL(`${inbox.origin}${inbox.pathname}/${escapeMessageId(mid)}/${leaf}`);

		let raw = await download(at("raw"), settings);
		if (raw.kind === "not-found" && spelledWithSlash(id)) {
			mid = `${id}/`;
			raw = await download(at("raw"), settings);
		}
		if (raw.kind === "failed") return failed(raw);
		if (raw.kind === "too-large")
			return unavailable(`${inbox.host}: answer larger than ${formatBytes(settings.maxBytes)}`);
		if (raw.kind === "not-found") {
			const answer: LoreAnswer = { kind: "not-found" };
			await writeCache(id, answer);
			return answer;
		}
		// public-inbox serves /raw as mboxrd: more than one mail when an id was used twice.
		const parsed = parseMbox(Buffer.from(raw.bytes).toString("utf8"))[0];
		if (parsed === undefined) return unavailable(`${inbox.host}: empty answer for ${id}`);
		const message = parsed.messageId === "" ? { ...parsed, messageId: id } : parsed;

		let thread: LoreMessage[] | undefined;
		const alone = describePosting(message);
		if (alone.kind === "cover-letter" || alone.kind === "reply") {
			const mbox = await download(at("t.mbox.gz"), settings);
			if (mbox.kind === "failed") return failed(mbox);
			// A thread too large to read, or gone, still leaves the mail itself to describe.
			if (mbox.kind === "body") {
				const text = await threadText(mbox.bytes, settings.maxBytes);
				if (text.kind === "text") thread = parseMbox(text.text);
				else if (text.kind === "corrupt") return unavailable(`${inbox.host}: ${text.reason}`);
			}
		}
		const answer: LoreAnswer = {
			kind: "found",
			posting: thread === undefined ? alone : describePosting(message, thread),
		};
		await writeCache(id, answer);
		return answer;
	}

	async function lookUpOnce(messageId: string): Promise<LoreAnswer> {
		if (!inbox.ok) return unavailable(inbox.error);
		const id = normaliseMessageId(messageId);
		// "." and ".." would be path segments the URL resolves away, asking for another page.
		if (id === "" || id === "." || id === "..") return { kind: "not-found" };
		try {
			return await fetchAnswer(inbox.value, id);
		} catch (error) {
			return unavailable(`lore look-up of ${id} failed: ${error instanceof Error ? error.message : String(error)}`);
		}
	}

	return {
		base,
		lookUp(messageId: string): Promise<LoreAnswer> {
			const key = normaliseMessageId(messageId);
			const known = answers.get(key);
			if (known !== undefined) return known;
			const answer = lookUpOnce(messageId);
			answers.set(key, answer);
			return answer;
		},
	};
}
