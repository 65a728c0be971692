// A bugzilla's REST API for the tests' bugs, on loopback: `/rest/bug/N`, `/rest/bug/N/comment`
// and `/rest/bug/N/attachment` (text attachments base64-encoded), shaped as bugzilla.kernel.org
// answers them. `hang` makes it accept requests and never answer.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Bug {
	readonly id: number;
	readonly summary: string;
	readonly comments: readonly string[];
	readonly attachments?: readonly { readonly id: number; readonly name: string; readonly text: string }[];
}

/** A bugzilla's REST API for these bugs: `/rest/bug/N`, `/rest/bug/N/comment`, `/rest/bug/N/attachment`. */
export async function bugzilla(bugs: readonly Bug[], hang = false): Promise<{ url: string; server: Server }> {
	const server = createServer((req, res) => {
		if (hang) return;
		const m = /^\/rest\/bug\/(\d+)(\/comment|\/attachment)?$/.exec(req.url ?? "");
		const bug = bugs.find((b) => String(b.id) === m?.[1]);
		const json = (status: number, body: unknown) => {
			res.writeHead(status, { "content-type": "application/json" });
			res.end(JSON.stringify(body));
		};
		if (m === null || bug === undefined)
			return json(404, { error: true, code: 101, message: `Bug #${m?.[1] ?? "?"} does not exist.` });
		if (m[2] === undefined)
			return json(200, { bugs: [{ id: bug.id, summary: bug.summary, product: "Virtualization" }] });
		if (m[2] === "/comment")
			return json(200, {
				bugs: {
					[bug.id]: {
						comments: bug.comments.map((text, count) => ({
							id: 1000 + count,
							count,
							text,
							creator: "qa@example.org",
							creation_time: "2023-01-10T12:00:00Z",
						})),
					},
				},
			});
		return json(200, {
			bugs: {
				[bug.id]: (bug.attachments ?? []).map((a) => ({
					id: a.id,
					file_name: a.name,
					content_type: "text/plain",
					summary: a.name,
					is_obsolete: 0,
					data: Buffer.from(a.text).toString("base64"),
				})),
			},
		});
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
