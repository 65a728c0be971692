/**
 * The only part of triage that talks to a bugzilla: three GETs of its REST API (the bug, its
 * comments, its attachments), each bounded in time and size. Reading the answers is
 * `reportFromBugzilla`'s job; anything that goes wrong here is one line for the user.
 */

import { download, formatBytes, type Settings } from "../net/download.js";
import { trimTrailing } from "../text/trim.js";
import { reportFromBugzilla } from "./report.js";
import { type BugReport, TriageError } from "./types.js";

export interface FetchBugOptions {
	/** Per request. Default 15 s. */
	readonly timeoutMs?: number;
	/** Per answer; attachments come inline, base64, so this bounds them too. Default 8 MiB. */
	readonly maxBytes?: number;
	readonly signal?: AbortSignal;
	readonly fetch?: typeof fetch;
}

const MIB = 2 ** 20;

/** Throws `TriageError` when the bugzilla cannot be asked, does not have the bug, or answers nonsense. */
export async function fetchBug(arg: { base: string; id: string }, options: FetchBugOptions = {}): Promise<BugReport> {
	const base = trimTrailing(arg.base, "/");
	const bugUrl = (leaf: string) => {
		try {
			return new URL(`${base}/rest/bug/${encodeURIComponent(arg.id)}${leaf}`);
		} catch {
			throw new TriageError(`"${arg.base}" is not a URL`);
		}
	};
	const urls = [bugUrl(""), bugUrl("/comment"), bugUrl("/attachment")] as const;
	// The three go together; the first failure is the answer, and the others need not finish.
	const stop = new AbortController();
	const settings: Settings = {
		timeoutMs: options.timeoutMs ?? 15_000,
		maxBytes: options.maxBytes ?? 8 * MIB,
		fetch: options.fetch ?? globalThis.fetch,
		signal: options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]),
	};
	const what = ["bug", "comments", "attachments"] as const;

	async function answer(url: URL, i: number): Promise<unknown> {
		const got = await download(url, settings);
		switch (got.kind) {
			case "failed":
				// A private bug is refused, not missing: say which it may be.
				throw new TriageError(
					/HTTP 40[13]$/.test(got.reason) ? `${got.reason} (bug ${arg.id} may be private)` : got.reason,
				);
			case "not-found":
				throw new TriageError(`bug ${arg.id} not found on ${base}`);
			case "too-large":
				throw new TriageError(
					`${url.host}: answer larger than ${formatBytes(settings.maxBytes)} (bug ${arg.id}'s ${what[i]})`,
				);
			case "body":
				try {
					return JSON.parse(Buffer.from(got.bytes).toString("utf8"));
				} catch {
					throw new TriageError(`${url.host}: answer is not JSON (bug ${arg.id}'s ${what[i]})`);
				}
		}
	}

	let answers: unknown[];
	try {
		answers = await Promise.all(urls.map(answer));
	} catch (error) {
		stop.abort();
		throw error;
	}
	const report = reportFromBugzilla(base, arg.id, answers[0], answers[1], answers[2]);
	if ("error" in report) throw new TriageError(report.error);
	return report;
}
