/**
 * One way to GET a URL: bounded in time and size, and every failure a short reason a user can
 * read (`lore.kernel.org: host not found`) instead of undici's `fetch failed`. Callers decide
 * what a missing page or a failure means for them; nothing here throws.
 */

const MIB = 2 ** 20;

export type Download =
	| { readonly kind: "body"; readonly bytes: Uint8Array }
	| { readonly kind: "not-found" }
	| { readonly kind: "too-large" }
	/** `network`: the server could not be reached at all, so asking again now is pointless. */
	| { readonly kind: "failed"; readonly reason: string; readonly network: boolean };

export interface Settings {
	readonly timeoutMs: number;
	readonly maxBytes: number;
	readonly fetch: typeof fetch;
	readonly signal?: AbortSignal;
}

/** `10000` → `10 s`, `300` → `300 ms`. */
export const formatSeconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);
/** `2097152` → `2 MiB`, `4096` → `4 KiB`, otherwise bytes. */
export const formatBytes = (bytes: number) =>
	bytes % MIB === 0 ? `${bytes / MIB} MiB` : bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;

/** GETs `url`, following redirects; 404 and 410 are `not-found`, a body over `maxBytes` is `too-large`. */
export async function download(url: URL, settings: Settings): Promise<Download> {
	const timeout = AbortSignal.timeout(settings.timeoutMs);
	const signal = settings.signal === undefined ? timeout : AbortSignal.any([settings.signal, timeout]);
	try {
		const response = await settings.fetch(url, { signal, redirect: "follow" });
		if (response.status === 404 || response.status === 410) {
			await response.body?.cancel().catch(() => undefined);
			return { kind: "not-found" };
		}
		if (!response.ok) {
			await response.body?.cancel().catch(() => undefined);
			return { kind: "failed", reason: `${url.host}: HTTP ${response.status}`, network: false };
		}
		const declared = Number(response.headers.get("content-length") ?? Number.NaN);
		if (declared > settings.maxBytes) {
			await response.body?.cancel().catch(() => undefined);
			return { kind: "too-large" };
		}
		if (response.body === null) return { kind: "body", bytes: new Uint8Array() };
		const reader = response.body.getReader();
		const chunks: Uint8Array[] = [];
		let total = 0;
		for (;;) {
			const { done, value } = await reader.read();
			if (done) break;
			total += value.byteLength;
			if (total > settings.maxBytes) {
				await reader.cancel().catch(() => undefined);
				return { kind: "too-large" };
			}
			chunks.push(value);
		}
		return { kind: "body", bytes: Buffer.concat(chunks) };
	} catch (error) {
		if (settings.signal?.aborted) return { kind: "failed", reason: "cancelled", network: false };
		if (timeout.aborted) {
			return {
				kind: "failed",
				reason: `${url.host}: timed out after ${formatSeconds(settings.timeoutMs)}`,
				network: true,
			};
		}
		return { kind: "failed", reason: `${url.host}: ${networkReason(error)}`, network: true };
	}
}

export const NETWORK_REASONS: Readonly<Record<string, string>> = {
	ECONNREFUSED: "connection refused",
	ECONNRESET: "connection reset",
	ENOTFOUND: "host not found",
	EAI_AGAIN: "host name lookup failed",
	EHOSTUNREACH: "host unreachable",
	ENETUNREACH: "network unreachable",
	UND_ERR_SOCKET: "connection closed by the server",
	UND_ERR_CONNECT_TIMEOUT: "connection timed out",
	CERT_HAS_EXPIRED: "TLS certificate expired",
};

/** undici reports `fetch failed` and puts what happened in `cause`. */
export function networkReason(error: unknown): string {
	const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
	const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined;
	const known = code === undefined ? undefined : NETWORK_REASONS[code];
	if (known !== undefined) return known;
	const message = cause instanceof Error ? cause.message : String(cause);
	return (message.split("\n")[0] ?? "").trim() || "request failed";
}
