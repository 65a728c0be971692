// A lore.kernel.org stand-in for the verdict benchmark: the two public-inbox endpoints kvm-matrix
// reads, served from 127.0.0.1 on a free port, for the mails a case declares. Nothing else is
// answered (404), as lore answers an id it never saw.
//   GET <base>/<percent-encoded msgid>/raw        one RFC 822 mail
//   GET <base>/<percent-encoded msgid>/t.mbox.gz  the whole thread as a gzipped mbox, root first
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";

export interface LoreMail {
	readonly messageId: string;
	/** `Sean Christopherson <seanjc@google.com>` */
	readonly from: string;
	/** RFC 2822: `Fri, 30 Sep 2022 23:59:15 +0000` */
	readonly date: string;
	/** As posted: `[PATCH v4 3/7] KVM: x86: ...`, `[kvm-unit-tests PATCH v2 4/5] x86: ...` */
	readonly subject: string;
	/** The body after the headers: the commit message, `---`, a diffstat and the diff. */
	readonly body: string;
}

/** One thread: its root (a cover letter or a lone patch) first, then the replies to it. */
export type LoreThread = readonly LoreMail[];

/** A mail as `GET .../raw` returns it: headers, a blank line, the body. Replies point at the root. */
export function rawMail(mail: LoreMail, root?: LoreMail): string {
	const headers = [
		`From: ${mail.from}`,
		`Date: ${mail.date}`,
		`Subject: ${mail.subject}`,
		`Message-ID: <${mail.messageId}>`,
		...(root === undefined || root === mail
			? []
			: [`In-Reply-To: <${root.messageId}>`, `References: <${root.messageId}>`]),
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=UTF-8",
		"Content-Transfer-Encoding: 8bit",
	];
	return `${headers.join("\n")}\n\n${mail.body.endsWith("\n") ? mail.body : `${mail.body}\n`}`;
}

/** The thread as public-inbox's mboxrd: a `From mboxrd@z` separator per mail, `From ` lines quoted. */
export function threadMbox(thread: LoreThread): string {
	const root = thread[0];
	return thread
		.map((mail) => {
			const text = rawMail(mail, root).replace(/^(>*From )/gm, ">$1");
			return `From mboxrd@z Thu Jan  1 00:00:00 1970\n${text}\n`;
		})
		.join("");
}

export interface LoreServer {
	/** The inbox URL to pass as `--lore`: `http://127.0.0.1:PORT/all`. */
	readonly url: string;
	/** Every path asked for, in order (for a WRONG line's evidence when a lookup went astray). */
	readonly requests: readonly string[];
	close(): Promise<void>;
}

/** Serves the threads until `close` (which also drops kept-alive connections). */
export async function startLoreServer(threads: readonly LoreThread[]): Promise<LoreServer> {
	const byId = new Map<string, { mail: LoreMail; thread: LoreThread }>();
	for (const thread of threads) for (const mail of thread) byId.set(mail.messageId, { mail, thread });
	const requests: string[] = [];
	const server = createServer((request, response) => {
		const url = request.url ?? "";
		requests.push(url);
		const m = /^\/all\/(.+?)\/(raw|t\.mbox\.gz)$/.exec(url.split("?")[0] ?? "");
		let id: string | undefined;
		try {
			id = m === null ? undefined : decodeURIComponent(m[1] ?? "").replace(/^<|>$/g, "");
		} catch {
			id = undefined;
		}
		const found = request.method === "GET" && id !== undefined ? byId.get(id) : undefined;
		if (m === null || found === undefined) {
			response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
			response.end("404 Not Found\n");
			return;
		}
		if (m[2] === "raw") {
			response.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
			response.end(rawMail(found.mail, found.thread[0]));
			return;
		}
		response.writeHead(200, { "content-type": "application/gzip" });
		response.end(gzipSync(threadMbox(found.thread)));
	});
	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => resolve());
	});
	const { port } = server.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}/all`,
		requests,
		close: () =>
			new Promise<void>((resolve) => {
				server.close(() => resolve());
				server.closeAllConnections();
			}),
	};
}
