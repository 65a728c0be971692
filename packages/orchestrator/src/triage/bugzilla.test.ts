import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import test from "ava";
import { fetchBug } from "./bugzilla.js";
import { TriageError } from "./types.js";

// ---------------------------------------------------------------------------------------------
// A bugzilla-shaped server on 127.0.0.1

type Route = (req: IncomingMessage, res: ServerResponse) => void;

interface Bugzilla {
	readonly base: string;
	readonly requests: string[];
	close(): Promise<void>;
}

const json =
	(body: unknown, status = 200): Route =>
	(_req, res) => {
		res.writeHead(status, { "content-type": "application/json; charset=UTF-8" });
		res.end(typeof body === "string" ? body : JSON.stringify(body));
	};

function closing(server: Server): () => Promise<void> {
	return () =>
		new Promise<void>((resolve) => {
			server.closeAllConnections();
			server.close(() => resolve());
		});
}

async function bugzilla(routes: Record<string, Route>, prefix = ""): Promise<Bugzilla> {
	const requests: string[] = [];
	const server = createServer((req, res) => {
		const url = req.url ?? "";
		requests.push(url);
		const route = routes[url];
		if (route !== undefined) return route(req, res);
		json({ error: true, code: 101, message: "Bug #9 does not exist." }, 404)(req, res);
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const { port } = server.address() as AddressInfo;
	return { base: `http://127.0.0.1:${port}${prefix}`, requests, close: closing(server) };
}

const LOG =
	"FAIL: vmx_apic_passthrough_tpr_threshold_test: TPR threshold VM-exit\nSUMMARY: 2 tests, 1 unexpected failures\n";

const routes = (prefix: string): Record<string, Route> => ({
	[`${prefix}/rest/bug/5`]: json({ bugs: [{ id: 5, summary: "vmx fails" }], faults: [] }),
	[`${prefix}/rest/bug/5/comment`]: json({
		bugs: { "5": { comments: [{ id: 1, count: 0, text: "It fails.", creator: "a@b", attachment_id: null }] } },
		comments: {},
	}),
	[`${prefix}/rest/bug/5/attachment`]: json({
		bugs: {
			"5": [
				{
					id: 7,
					file_name: "kut.log",
					content_type: "text/plain",
					is_obsolete: 0,
					data: Buffer.from(LOG).toString("base64"),
				},
			],
		},
		attachments: {},
	}),
});

test("the three REST answers make one report", async (t) => {
	const server = await bugzilla(routes("/bugzilla"), "/bugzilla");
	t.teardown(server.close);
	t.deepEqual(await fetchBug({ base: `${server.base}/`, id: "5" }), {
		source: "bugzilla",
		id: "5",
		url: `${server.base}/show_bug.cgi?id=5`,
		title: "vmx fails",
		texts: [
			{ where: "description", text: "It fails." },
			{ where: "attachment 7 (kut.log)", text: LOG },
		],
	});
	t.deepEqual([...server.requests].sort(), [
		"/bugzilla/rest/bug/5",
		"/bugzilla/rest/bug/5/attachment",
		"/bugzilla/rest/bug/5/comment",
	]);
});

async function failure(promise: Promise<unknown>): Promise<string> {
	try {
		await promise;
	} catch (error) {
		if (error instanceof TriageError) return error.message;
		throw error;
	}
	throw new Error("fetchBug did not fail");
}

test("a bug that does not exist: 404, or bugzilla's error answer with 200", async (t) => {
	const server = await bugzilla({
		"/rest/bug/8": json({ error: true, code: 101, message: "Bug #8 does not exist." }),
		"/rest/bug/8/comment": json({ error: true, code: 101, message: "Bug #8 does not exist." }),
		"/rest/bug/8/attachment": json({ error: true, code: 101, message: "Bug #8 does not exist." }),
	});
	t.teardown(server.close);
	t.is(await failure(fetchBug({ base: server.base, id: "9" })), `bug 9 not found on ${server.base}`);
	t.is(await failure(fetchBug({ base: server.base, id: "8" })), `bug 8 not found on ${server.base}`);
});

test("HTTP errors, a private bug, garbage and a huge answer", async (t) => {
	const good = routes("");
	const server = await bugzilla({
		...good,
		"/rest/bug/6": json("<html>Internal Server Error</html>", 500),
		"/rest/bug/6/comment": good["/rest/bug/5/comment"] as Route,
		"/rest/bug/6/attachment": good["/rest/bug/5/attachment"] as Route,
		"/rest/bug/7": json({ error: true, code: 102, message: "You are not authorized to access bug #7." }, 401),
		"/rest/bug/7/comment": json({}, 401),
		"/rest/bug/7/attachment": json({}, 401),
		"/rest/bug/5/comment": json("<html><body>Bugzilla is down for maintenance</body></html>"),
		"/rest/bug/4": json({ bugs: [{ id: 4 }] }),
		"/rest/bug/4/comment": json({ bugs: { "4": { comments: [] } } }),
		"/rest/bug/4/attachment": (_req, res) => {
			// Streamed without a length: the cap must hold while reading, not only from the header.
			res.writeHead(200, { "content-type": "application/json" });
			res.write(`{"bugs":{"4":[{"data":"${"A".repeat(4096)}`);
			res.end(`"}]}}`);
		},
	});
	t.teardown(server.close);
	const host = new URL(server.base).host;
	t.is(await failure(fetchBug({ base: server.base, id: "6" })), `${host}: HTTP 500`);
	t.is(await failure(fetchBug({ base: server.base, id: "7" })), `${host}: HTTP 401 (bug 7 may be private)`);
	t.is(await failure(fetchBug({ base: server.base, id: "5" })), `${host}: answer is not JSON (bug 5's comments)`);
	t.is(
		await failure(fetchBug({ base: server.base, id: "4" }, { maxBytes: 1024 })),
		`${host}: answer larger than 1 KiB (bug 4's attachments)`,
	);
});

test("a server that never answers times out; a closed port refuses", async (t) => {
	const silent = createServer(() => undefined);
	await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
	t.teardown(closing(silent));
	const { port } = silent.address() as AddressInfo;
	const started = Date.now();
	t.is(
		await failure(fetchBug({ base: `http://127.0.0.1:${port}`, id: "5" }, { timeoutMs: 300 })),
		`127.0.0.1:${port}: timed out after 300 ms`,
	);
	t.true(Date.now() - started < 5000);

	const gone = createServer();
	await new Promise<void>((resolve) => gone.listen(0, "127.0.0.1", resolve));
	const closed = (gone.address() as AddressInfo).port;
	await closing(gone)();
	t.is(
		await failure(fetchBug({ base: `http://127.0.0.1:${closed}`, id: "5" })),
		`127.0.0.1:${closed}: connection refused`,
	);
});

test("a host that does not resolve, a base that is no URL, a cancelled fetch", async (t) => {
	// undici's own shape: `fetch failed`, the resolver's code in `cause`; real DNS would make the
	// message depend on whether this machine has a resolver at all (ENOTFOUND or EAI_AGAIN).
	const offline: typeof fetch = () =>
		Promise.reject(
			new TypeError("fetch failed", {
				cause: Object.assign(new Error("getaddrinfo ENOTFOUND bugzilla.kernel.org"), { code: "ENOTFOUND" }),
			}),
		);
	t.is(
		await failure(fetchBug({ base: "https://bugzilla.kernel.org", id: "5" }, { fetch: offline })),
		"bugzilla.kernel.org: host not found",
	);
	t.is(await failure(fetchBug({ base: "not a url", id: "5" })), '"not a url" is not a URL');
	const controller = new AbortController();
	controller.abort();
	t.is(await failure(fetchBug({ base: "http://127.0.0.1:9", id: "5" }, { signal: controller.signal })), "cancelled");
});
