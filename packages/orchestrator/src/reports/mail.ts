// One plain-text mail per bisected regression, in the form kernel developers know from test
// robots (0-day's "[tree:branch] sha subject: test fails"): to the first bad commit's author, Cc
// the people its trailers name and the list, with the commit, the kernel and its config, how to
// reproduce, the failure's lines and the tags to add to a fix. kvm-matrix never sends it: the
// output is an mbox (`git send-email` and mail clients read it), to check and send by hand.
import { createHash } from "node:crypto";
import type { CellSummary } from "../engine/summary.js";
import type { Bisected } from "../verdicts/classify.js";
import { type RunView, tailKey } from "./run-view.js";

export interface MailOptions {
	/** `From:` and `Reported-by:`: who sends it (default: kvm-matrix at this host, to be replaced). */
	readonly from?: string;
	/** The list every mail goes to besides the trailers' people. */
	readonly list?: string;
	readonly repositoryUrl?: (tree: string) => string | undefined;
	/** The matrix file, for the commands that reproduce it. */
	readonly matrixFile?: string;
	/** How a kernel's config is made (`make tinyconfig + kvm_guest.config`), from the matrix. */
	readonly configOf?: (kernelId: string) => string | undefined;
}

export const DEFAULT_MAIL_FROM = "kvm-matrix <kvm-matrix@localhost>";
export const DEFAULT_MAIL_LIST = "kvm@vger.kernel.org";

type Result = CellSummary["results"][number];

/** An address as a trailer or git writes it: `Name <a@b>` or a bare address; anything else is not one. */
const ADDRESS = /^(?:[^<>\r\n]{0,200}<[^<>\s@]+@[^<>\s@]+>|[^<>\s@]+@[^<>\s@]+)$/;
/** `Name <a@b>` as its parts (by the last `<`, no pattern: names are untrusted text); undefined when bare. */
function splitAddress(text: string): { readonly name: string; readonly address: string } | undefined {
	const t = text.trim();
	const open = t.lastIndexOf("<");
	if (open < 0 || !t.endsWith(">")) return undefined;
	return { name: t.slice(0, open).trim(), address: t.slice(open + 1, -1) };
}
const addressOf = (text: string) => (splitAddress(text)?.address ?? text.trim()).toLowerCase();
/** Header text on one line: a newline in a commit's subject never starts a header of its own. */
const oneLine = (text: string) => text.replace(/[\r\n]+/g, " ").trim();

/** Whether `text` is one address a header may carry (`Name <a@b>` or `a@b`), on one line. */
export const isMailAddress = (text: string) => !/[\r\n]/.test(text) && ADDRESS.test(text.trim());

/** RFC 2047: header text with anything but printable ASCII as UTF-8 encoded words. */
function encodeWords(text: string): string {
	if (!/[^\x20-\x7e]/.test(text)) return text;
	const words: string[] = [];
	let chunk = "";
	for (const ch of text) {
		// 45 bytes of UTF-8 per word keeps each encoded word within 75 characters.
		if (Buffer.byteLength(chunk + ch) > 45) {
			words.push(chunk);
			chunk = "";
		}
		chunk += ch;
	}
	if (chunk !== "") words.push(chunk);
	return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString("base64")}?=`).join(" ");
}

/** An address for a header: a display name with specials quoted, non-ASCII encoded. */
function headerAddress(text: string): string {
	const parts = splitAddress(text);
	if (parts === undefined) return text.trim();
	const quoted = parts.name.length >= 2 && parts.name.startsWith('"') && parts.name.endsWith('"');
	const name = (quoted ? parts.name.slice(1, -1) : parts.name).trim();
	if (name === "") return `<${parts.address}>`;
	const shown = /[^\x20-\x7e]/.test(name)
		? encodeWords(name)
		: /[(),.:;<>@[\]\\"]/.test(name)
			? `"${name.replace(/(["\\])/g, "\\$1")}"`
			: name;
	return `${shown} <${parts.address}>`;
}

export interface RegressionMail {
	readonly cell: string;
	readonly test: string;
	readonly messageId: string;
	readonly text: string;
}

/** The mails of a run: one per regression whose bisection found a first bad commit. Pure. */
export function regressionMails(view: RunView, options: MailOptions = {}): RegressionMail[] {
	const from = options.from ?? DEFAULT_MAIL_FROM;
	const list = options.list ?? DEFAULT_MAIL_LIST;
	const mails: RegressionMail[] = [];
	const kernels = new Map(view.kernels.map((k) => [k.id, k]));
	for (const cell of view.cells)
		for (const r of cell.results) {
			const v = r.verdict;
			if (v?.verdict !== "regression") continue;
			const bisected = v.evidence.bisected;
			if (bisected?.commit === undefined) continue;
			const kernel = kernels.get(cell.kernel.id);
			mails.push(
				mailOf(view, cell, r, bisected as Bisected & { commit: NonNullable<Bisected["commit"]> }, {
					from,
					list,
					tree: kernel?.tree,
					branch: kernel?.ref,
					config: options.configOf?.(cell.kernel.id),
					configKey: kernel?.config,
					good: "sha" in v.evidence.passed ? v.evidence.passed.sha : undefined,
					url: kernel?.tree === undefined ? undefined : options.repositoryUrl?.(kernel.tree),
					matrixFile: options.matrixFile,
				}),
			);
		}
	return mails;
}

function mailOf(
	view: RunView,
	cell: CellSummary,
	r: Result,
	bisected: Bisected & { commit: NonNullable<Bisected["commit"]> },
	ctx: {
		from: string;
		list: string;
		tree: string | undefined;
		branch: string | undefined;
		config: string | undefined;
		configKey: string | undefined;
		good: string | undefined;
		url: string | undefined;
		matrixFile: string | undefined;
	},
): RegressionMail {
	const c = bisected.commit;
	const test = `${r.suite}:${r.testId}`;
	const suiteName = r.suite === "kut" ? "kvm-unit-tests" : "KVM selftest";
	const place = `${ctx.tree ?? cell.kernel.id}:${ctx.branch ?? "?"}`;
	const author = c.author !== undefined && ADDRESS.test(c.author) ? oneLine(c.author) : undefined;
	const seen = new Set([addressOf(ctx.from), ...(author === undefined ? [] : [addressOf(author)])]);
	const cc: string[] = [];
	for (const p of [...c.people, ctx.list]) {
		const a = oneLine(p);
		if (!ADDRESS.test(a) || seen.has(addressOf(a))) continue;
		seen.add(addressOf(a));
		cc.push(a);
	}
	const messageId = `kvm-matrix-${createHash("sha256").update(`${view.runId}\0${cell.id}\0${test}\0${c.sha}`).digest("hex").slice(0, 24)}@kvm-matrix`;
	const subject = oneLine(`[${place}] ${c.sha.slice(0, 12)} ${c.subject}: ${suiteName} ${r.testId} fails`);
	const here = cell.kernel.sha;
	const tail = view.logTails.get(tailKey(cell.id, r));
	const failure = (tail ?? r.detail ?? r.status).split("\n").slice(-30);
	const matrix = ctx.matrixFile ?? "MATRIX.yaml";
	const target = cell.target;
	const body = [
		"Hello,",
		"",
		`kvm-matrix found that ${suiteName} ${r.testId} fails on ${place}${here === undefined ? "" : ` (${here.slice(0, 12)})`} on target ${target},`,
		`and passes on ${ctx.good === undefined ? "an earlier kernel" : ctx.good.slice(0, 12)}. It bisected the failure to:`,
		"",
		`commit: ${c.sha}`,
		`subject: ${oneLine(c.subject)}`,
		...(author === undefined ? [] : [`author: ${author}`]),
		...c.links.map((l) => `link: ${oneLine(l)}`),
		"",
		`tree: ${ctx.tree ?? "?"}${ctx.url === undefined ? "" : ` (${ctx.url})`}, branch ${ctx.branch ?? "?"}`,
		`kernel under test: ${here ?? "?"}`,
		`kernel config: ${ctx.config ?? "as the matrix file says"}${ctx.configKey === undefined ? "" : ` (kvm-matrix config ${ctx.configKey}), then make olddefconfig`}`,
		`test: ${test} on target ${target}${r.detail === undefined ? "" : ` (${oneLine(r.detail)})`}`,
		`run: ${view.runId}`,
		`bisection: ${bisected.dir}`,
		"",
		"To reproduce (the matrix file is the run's own):",
		"",
		...(ctx.url === undefined ? [] : [`  git clone ${ctx.url} linux && git -C linux checkout ${c.sha}`]),
		`  kvm-matrix bisect --matrix ${matrix} --test ${test} --target ${target} --good ${c.sha}^ --bad ${c.sha}`,
		`  kvm-matrix run ${matrix} --only '${cell.id}'`,
		"",
		"The failure:",
		"",
		...failure.map((l) => `  ${l}`),
		"",
		"If you fix the issue in a separate patch or commit (not just a new version of the same",
		"patch or commit), please add these tags:",
		"",
		`| Reported-by: ${ctx.from}`,
		`| Closes: https://lore.kernel.org/r/${messageId}`,
		"",
		"-- ",
		"kvm-matrix, a KVM test matrix (it writes these mails and never sends them)",
	];
	const headers = [
		`From kvm-matrix ${"Thu Jan  1 00:00:00 1970"}`,
		`From: ${headerAddress(ctx.from)}`,
		...(author === undefined ? [] : [`To: ${headerAddress(author)}`]),
		...(cc.length === 0 ? [] : [`Cc: ${cc.map(headerAddress).join(",\n    ")}`]),
		`Subject: ${encodeWords(subject)}`,
		...(view.started === undefined ? [] : [`Date: ${new Date(view.started).toUTCString()}`]),
		`Message-ID: <${messageId}>`,
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=UTF-8",
		"Content-Transfer-Encoding: 8bit",
	];
	// mbox: a body line starting "From " would start a new message; quote it as mboxrd does.
	const text = `${headers.join("\n")}\n\n${body.map((l) => (/^>*From /.test(l) ? `>${l}` : l)).join("\n")}\n`;
	return { cell: cell.id, test, messageId, text };
}

/** Every mail of the run as one mbox (empty when no regression was bisected). */
export function mailReport(view: RunView, options: MailOptions = {}): string {
	return regressionMails(view, options)
		.map((m) => m.text)
		.join("\n");
}
