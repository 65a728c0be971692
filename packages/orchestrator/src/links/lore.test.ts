import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import test, { type ExecutionContext } from "ava";
import {
	COVER,
	COVER_ID,
	COVER_THREAD,
	KERNEL_PATCH,
	KUT_PATCH,
	mail,
	mbox,
	REPLIED_PATCH,
	REPLY,
	SERIES_SUBJECTS,
} from "../../../../test/support/lore-mails.js";
import { createLoreClient, escapeMessageId, inboxUrl } from "./lore.js";

test("inbox URLs and message-ids in paths", (t) => {
	const url = (base: string) => {
		const r = inboxUrl(base);
		return r.ok ? r.value.href : r.error;
	};
	t.is(url("https://lore.kernel.org"), "https://lore.kernel.org/all");
	t.is(url("https://lore.kernel.org/kvm/"), "https://lore.kernel.org/kvm");
	t.is(url("http://127.0.0.1:8080/all?x=1#y"), "http://127.0.0.1:8080/all");
	t.is(url("ftp://lore.kernel.org/all"), '"ftp://lore.kernel.org/all" is not an http or https URL');
	t.is(escapeMessageId("bug-219787-28872@https.bugzilla.kernel.org/"), "bug-219787-28872@https.bugzilla.kernel.org%2F");
	t.is(escapeMessageId("a b+c@x"), "a%20b+c@x");
});

// ---------------------------------------------------------------------------------------------
// The client, against a lore-shaped server on 127.0.0.1

type Route = (req: IncomingMessage, res: ServerResponse) => void;

interface Lore {
	readonly base: string;
	readonly requests: string[];
	close(): Promise<void>;
}

const send =
	(body: string | Buffer, type = "text/plain; charset=utf-8"): Route =>
	(_req, res) => {
		res.writeHead(200, { "content-type": type });
		res.end(body);
	};

async function lore(routes: Record<string, Route>): Promise<Lore> {
	const requests: string[] = [];
	const server = createServer((req, res) => {
		const url = req.url ?? "";
		requests.push(url);
		const route = routes[url];
		if (route !== undefined) return route(req, res);
		res.writeHead(404, { "content-type": "text/html" });
		res.end("<html>404 Not Found</html>");
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const { port } = server.address() as AddressInfo;
	return {
		base: `http://127.0.0.1:${port}/all`,
		requests,
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}

const KERNEL_ID = "20260101000000.1000-4-seanjc@google.com";
const KUT_ID = "20260102000000.2000-3-thuth@redhat.com";
const REPLY_ID = "aF1d7rh_vbr8cr7j@google.com";
const SLASH_ID = "bug-219787-28872@https.bugzilla.kernel.org/";

const ROUTES: Record<string, Route> = {
	[`/all/${KERNEL_ID}/raw`]: send(mbox(KERNEL_PATCH)),
	[`/all/${KUT_ID}/raw`]: send(mbox(KUT_PATCH)),
	[`/all/${REPLY_ID}/raw`]: send(mbox(REPLY)),
	[`/all/${REPLY_ID}/t.mbox.gz`]: send(gzipSync(mbox(REPLIED_PATCH, REPLY)), "application/gzip"),
	[`/all/${COVER_ID}/raw`]: send(mbox(COVER)),
	[`/all/${COVER_ID}/t.mbox.gz`]: send(gzipSync(COVER_THREAD), "application/gzip"),
	"/all/bug-219787-28872@https.bugzilla.kernel.org%2F/raw": send(
		mbox(mail({ id: SLASH_ID, subject: "[Bug 219787] New: vmx fails", body: "Report.\n" })),
	),
};

/** A server and an empty cache directory, both gone when the test ends. */
async function setUp(t: ExecutionContext, routes: Record<string, Route> = ROUTES) {
	const server = await lore(routes);
	const cacheDir = await mkdtemp(path.join(os.tmpdir(), "lore-cache-"));
	t.teardown(async () => {
		await server.close();
		await rm(cacheDir, { recursive: true, force: true });
	});
	return {
		server,
		cacheDir,
		client: (options: { timeoutMs?: number; maxBytes?: number; base?: string } = {}) =>
			createLoreClient({ base: options.base ?? server.base, cacheDir, ...options }),
	};
}

test("a kernel patch is found, then answered from the cache without asking the server", async (t) => {
	const env = await setUp(t);
	const answer = await env.client().lookUp(`<${KERNEL_ID}>`);
	if (answer.kind !== "found") return t.fail(JSON.stringify(answer));
	t.like(answer.posting, {
		messageId: KERNEL_ID,
		kind: "kernel-patch",
		subject: "KVM: x86: Don't drop the pending IPI when the vCPU is blocked",
		series: { version: 4, index: 3, total: 7 },
		files: ["arch/x86/kvm/lapic.c"],
		date: "2026-02-25T01:20:49.000Z",
	});
	t.deepEqual(env.server.requests, [`/all/${KERNEL_ID}/raw`]);
	// A new client (a new run) reads the cache: no request at all.
	t.deepEqual(await createLoreClient({ base: env.server.base, cacheDir: env.cacheDir }).lookUp(KERNEL_ID), answer);
	t.is(env.server.requests.length, 1);
	t.is((await readdir(env.cacheDir)).filter((f) => f.endsWith(".json")).length, 1);
});

test("concurrent look-ups of one id make one request", async (t) => {
	const env = await setUp(t);
	const client = env.client();
	const answers = await Promise.all([client.lookUp(KUT_ID), client.lookUp(`<${KUT_ID}>`), client.lookUp(KUT_ID)]);
	t.true(answers.every((a) => a.kind === "found" && a.posting.kind === "kut-patch"));
	t.deepEqual(env.server.requests, [`/all/${KUT_ID}/raw`]);
});

test("a reply is looked up with its thread, which names the patch it answers", async (t) => {
	const env = await setUp(t);
	const answer = await env.client().lookUp(REPLY_ID);
	if (answer.kind !== "found") return t.fail(JSON.stringify(answer));
	t.is(answer.posting.kind, "reply");
	t.deepEqual(answer.posting.patchSubjects, ['KVM: nVMX: Inject #GP, not #UD, if "generic" VMXON CR0/CR4 check fails']);
	t.deepEqual(env.server.requests, [`/all/${REPLY_ID}/raw`, `/all/${REPLY_ID}/t.mbox.gz`]);
});

test("a cover letter's patches come from its gzipped thread", async (t) => {
	const env = await setUp(t);
	const answer = await env.client({ base: env.server.base.replace(/\/all$/, "") }).lookUp(COVER_ID);
	if (answer.kind !== "found") return t.fail(JSON.stringify(answer));
	t.like(answer.posting, {
		kind: "cover-letter",
		subject: "KVM: x86: Emulator MMIO fix and cleanups",
		rawSubject: "[PATCH 00/14] KVM: x86: Emulator MMIO fix and cleanups",
		series: { version: 1, index: 0, total: 14 },
		project: "kernel",
	});
	t.deepEqual(answer.posting.patchSubjects, SERIES_SUBJECTS);
	// A base without a path asked the whole archive, /all.
	t.deepEqual(env.server.requests, [`/all/${COVER_ID}/raw`, `/all/${COVER_ID}/t.mbox.gz`]);
});

test("a patch is looked up without its thread", async (t) => {
	const env = await setUp(t);
	await env.client().lookUp(KUT_ID);
	t.deepEqual(env.server.requests, [`/all/${KUT_ID}/raw`]);
});

test("an id with / is percent-encoded in the path, as public-inbox's own links are", async (t) => {
	const env = await setUp(t, { "/all/a%2Fb@x/raw": send(mbox(mail({ id: "a/b@x", subject: "Re: x", body: "y\n" }))) });
	t.like(await env.client().lookUp("a%2Fb@x"), { kind: "found", posting: { messageId: "a/b@x", kind: "reply" } });
	t.is(env.server.requests[0], "/all/a%2Fb@x/raw");
});

test("a bugzilla id that lost its trailing / to normalising is asked for with it too", async (t) => {
	const env = await setUp(t);
	// As the link index holds it: referenceFromUrl drops the trailing slash.
	const answer = await env.client().lookUp("bug-219787-28872@https.bugzilla.kernel.org");
	t.like(answer, { kind: "found", posting: { kind: "other", subject: "New: vmx fails" } });
	t.deepEqual(env.server.requests, [
		"/all/bug-219787-28872@https.bugzilla.kernel.org/raw",
		"/all/bug-219787-28872@https.bugzilla.kernel.org%2F/raw",
	]);
});

test("404 is not-found, and not-found is cached", async (t) => {
	const env = await setUp(t);
	t.deepEqual(await env.client().lookUp("nobody@nowhere"), { kind: "not-found" });
	t.deepEqual(await env.client().lookUp("nobody@nowhere"), { kind: "not-found" });
	t.deepEqual(env.server.requests, ["/all/nobody@nowhere/raw"]);
	// Another inbox may have it: a not-found from /all does not answer for /kvm.
	t.deepEqual(await env.client({ base: env.server.base.replace(/all$/, "kvm") }).lookUp("nobody@nowhere"), {
		kind: "not-found",
	});
	t.is(env.server.requests.length, 2);
});

test("a slow server is unavailable after the timeout, is not cached, and is not asked again by that client", async (t) => {
	const slow: Route = (_req, res) => {
		setTimeout(() => {
			if (!res.destroyed) send(mbox(KERNEL_PATCH))(_req, res);
		}, 2_000);
	};
	const env = await setUp(t, { [`/all/${KERNEL_ID}/raw`]: slow, [`/all/${KUT_ID}/raw`]: slow });
	const client = env.client({ timeoutMs: 200 });
	const started = Date.now();
	t.deepEqual(await client.lookUp(KERNEL_ID), {
		kind: "unavailable",
		reason: `${new URL(env.server.base).host}: timed out after 200 ms`,
	});
	t.true(Date.now() - started < 1_500);
	// The next id does not wait another timeout.
	t.like(await client.lookUp(KUT_ID), { kind: "unavailable" });
	t.is(env.server.requests.length, 1);
	t.deepEqual(await readdir(env.cacheDir), []);
	// A later run asks again.
	t.like(await env.client({ timeoutMs: 200 }).lookUp(KERNEL_ID), { kind: "unavailable" });
	t.is(env.server.requests.length, 2);
});

test("a body that stalls half-way times out too", async (t) => {
	const stall: Route = (_req, res) => {
		res.writeHead(200, { "content-type": "text/plain" });
		res.write(mbox(KERNEL_PATCH).slice(0, 100));
	};
	const env = await setUp(t, { [`/all/${KERNEL_ID}/raw`]: stall });
	t.like(await env.client({ timeoutMs: 200 }).lookUp(KERNEL_ID), {
		kind: "unavailable",
		reason: `${new URL(env.server.base).host}: timed out after 200 ms`,
	});
});

test("a body larger than maxBytes is unavailable, with or without a Content-Length", async (t) => {
	const big = `${mbox(KERNEL_PATCH)}\n${"x".repeat(4096)}\n`;
	const chunked: Route = (_req, res) => {
		res.writeHead(200, { "content-type": "text/plain" });
		for (let i = 0; i < 8; i++) res.write(big.slice(i * 1024, (i + 1) * 1024));
		res.end(big.slice(8 * 1024));
	};
	const env = await setUp(t, { [`/all/${KERNEL_ID}/raw`]: send(big), [`/all/${KUT_ID}/raw`]: chunked });
	const host = new URL(env.server.base).host;
	t.deepEqual(await env.client({ maxBytes: 2048 }).lookUp(KERNEL_ID), {
		kind: "unavailable",
		reason: `${host}: answer larger than 2 KiB`,
	});
	t.deepEqual(await env.client({ maxBytes: 2048 }).lookUp(KUT_ID), {
		kind: "unavailable",
		reason: `${host}: answer larger than 2 KiB`,
	});
	t.deepEqual(await readdir(env.cacheDir), []);
	// The default is 2 MiB, which this is far below.
	t.like(await env.client().lookUp(KERNEL_ID), { kind: "found" });
});

test("a server that went away is unavailable, never an exception", async (t) => {
	const env = await setUp(t);
	await env.server.close();
	const answer = await env.client().lookUp(KERNEL_ID);
	t.is(answer.kind, "unavailable");
	if (answer.kind === "unavailable") t.regex(answer.reason, /^127\.0\.0\.1:\d+: connection (refused|closed)/);
});

test("a server error is unavailable and not cached", async (t) => {
	const broken: Route = (_req, res) => {
		res.writeHead(503);
		res.end("busy");
	};
	const env = await setUp(t, { [`/all/${KERNEL_ID}/raw`]: broken });
	t.deepEqual(await env.client().lookUp(KERNEL_ID), {
		kind: "unavailable",
		reason: `${new URL(env.server.base).host}: HTTP 503`,
	});
	const answer = await env.client().lookUp(KERNEL_ID);
	t.true(answer.kind === "unavailable" && answer.reason.endsWith(": HTTP 503"));
	t.is(env.server.requests.length, 2);
});

test("a corrupt cache file is ignored and replaced", async (t) => {
	const env = await setUp(t);
	await env.client().lookUp(KERNEL_ID);
	const [file] = await readdir(env.cacheDir);
	if (file === undefined) return t.fail("nothing cached");
	const cached = path.join(env.cacheDir, file);
	for (const corrupt of ["{not json", JSON.stringify({ format: 1, messageId: KERNEL_ID, base: "x", answer: {} })]) {
		await writeFile(cached, corrupt);
		t.like(await env.client().lookUp(KERNEL_ID), { kind: "found", posting: { kind: "kernel-patch" } });
	}
	t.is(env.server.requests.length, 3);
	t.true(existsSync(cached));
	t.like(JSON.parse(await readFile(cached, "utf8")), { format: 1, messageId: KERNEL_ID });
});

test("a bad base URL answers unavailable without a request", async (t) => {
	const client = createLoreClient({ base: "lore.kernel.org/all", cacheDir: "/nonexistent" });
	t.deepEqual(await client.lookUp(KERNEL_ID), {
		kind: "unavailable",
		reason: '"lore.kernel.org/all" is not a URL',
	});
});
