/**
 * What a mail is to the people who sent it: a patch (for which tree, in which series), a cover
 * letter, a reply, or something else. That is a question of the kernel community's conventions
 * (`git mailinfo` subjects, `[PATCH v2 3/7]` tags, which top-level paths each tree has), not of
 * mail encoding or of the network, so it stays a pure function of parsed mails: tested from
 * tables, and shared with the link index, which matches re-posted patches by their subject.
 */

import path from "node:path";
import type { LoreMessage } from "./mail.js";

export type LorePostingKind = "kernel-patch" | "kut-patch" | "cover-letter" | "reply" | "other";

/** Which project a posting's patches are for, as far as the posting tells. */
export type LoreProject = "kernel" | "kut";

export interface LoreSeries {
	/** 1 unless the tag says `v2`, `v3`... */
	readonly version: number;
	/** 0 for a cover letter; 1 of 1 for a patch posted alone. */
	readonly index: number;
	readonly total: number;
}

export interface LorePosting {
	readonly messageId: string;
	/** The subject as `git am` would make it: no `Re:`, no `[PATCH ...]`. */
	readonly subject: string;
	readonly rawSubject: string;
	readonly date?: string;
	readonly kind: LorePostingKind;
	/** Present when the subject carries a `[PATCH ...]` or `[RFC ...]` tag. */
	readonly series?: LoreSeries;
	readonly files: readonly string[];
	/**
	 * Subjects (normalised) of the patches this posting stands for: a patch's own; a cover
	 * letter's patches 1..N from its thread; for a reply, the patch (or the series) it answers.
	 */
	readonly patchSubjects: readonly string[];
	readonly project?: LoreProject;
	readonly changeId?: string;
}

const collapse = (text: string) => text.replace(/\s+/g, " ").trim();

/** A subject taken apart the way `git mailinfo` cleans one: leading `Re:`s, `[...]` tags, `:` and blanks. */
function splitSubject(raw: string): { reply: boolean; tags: string[]; subject: string } {
	let rest = raw;
	let reply = false;
	const tags: string[] = [];
	for (;;) {
		if (/^re:/i.test(rest)) {
			reply = true;
			rest = rest.slice(3);
		} else if (/^[\s:]/.test(rest)) rest = rest.slice(1);
		else if (rest.startsWith("[") && rest.includes("]")) {
			const close = rest.indexOf("]");
			tags.push(rest.slice(1, close));
			rest = rest.slice(close + 1);
		} else break;
	}
	return { reply, tags, subject: collapse(rest) };
}

/** A posting's subject in the form `git am` gives its commit: how a re-posted series is matched. */
export function normalisePatchSubject(subject: string): string {
	// Most commit subjects are already in that form; a kernel's million of them are checked here.
	if (!/^(?:re:|[\s:[])/i.test(subject) && !/\s\s|[^\S ]|\s$/.test(subject)) return subject;
	return splitSubject(subject).subject;
}

interface Shape {
	readonly reply: boolean;
	readonly subject: string;
	readonly kutTag: boolean;
	/** Present when a `[PATCH ...]`/`[RFC ...]` tag is. */
	readonly series?: LoreSeries;
}

function shapeOf(message: LoreMessage): Shape {
	const { reply, tags, subject } = splitSubject(message.subject);
	const tag = ` ${tags.join(" ")} `;
	const kutTag = /kvm-unit-tests/i.test(tag);
	// `PATCHv2` is an older spelling of `PATCH v2`.
	if (!/\s(?:patch|rfc)(?:v\d+)?\s/i.test(tag)) return { reply, subject, kutTag };
	const position = /\s(\d+)\/(\d+)\s/.exec(tag); // `03/12` is 3 of 12: Number drops the zeros
	const version = /(?:\s|patch|rfc)v(\d+)\s/i.exec(tag);
	return {
		reply,
		subject,
		kutTag,
		series: {
			version: version === null ? 1 : Number(version[1]),
			index: position === null ? 1 : Number(position[1]),
			total: position === null ? 1 : Number(position[2]),
		},
	};
}

// Top-level entries only one of the two trees has. `lib/`, `scripts/`, `Makefile` and the like
// exist in both and decide nothing by themselves.
const KERNEL_TOP = new Set([
	"arch",
	"block",
	"certs",
	"crypto",
	"Documentation",
	"drivers",
	"fs",
	"include",
	"init",
	"io_uring",
	"ipc",
	"Kbuild",
	"Kconfig",
	"kernel",
	"LICENSES",
	"mm",
	"net",
	"rust",
	"samples",
	"security",
	"sound",
	"tools",
	"usr",
	"virt",
]);
const KUT_TOP = new Set([
	"arm",
	"ci",
	"configure",
	"errata.txt",
	"loongarch",
	"powerpc",
	"riscv",
	"run_tests.sh",
	"s390x",
	"x86",
]);
// KUT's per-architecture library and its own headers; the kernel's lib/ has neither.
const KUT_LIB = /^lib\/(?:x86|s390x|arm|arm64|powerpc|ppc64|riscv|loongarch|asm-generic)\/|^lib\/libcflat\.h$/;

/** Which tree a diff is for, from its paths; undefined when they say both or neither. */
export function projectOfFiles(files: readonly string[]): LoreProject | undefined {
	const top = (file: string) => file.split("/")[0] ?? "";
	const kernel = files.some((file) => KERNEL_TOP.has(top(file)));
	const kut = files.some(
		(file) => KUT_TOP.has(top(file)) || KUT_LIB.test(file) || path.posix.basename(file) === "unittests.cfg",
	);
	return kernel === kut ? undefined : kernel ? "kernel" : "kut";
}

function kindOf(message: LoreMessage, shape: Shape): LorePostingKind {
	if (shape.reply) return "reply";
	if (shape.series === undefined && !message.hasDiff) return message.inReplyTo === undefined ? "other" : "reply";
	if (shape.series?.index === 0) return "cover-letter";
	if (shape.kutTag) return "kut-patch";
	const project = projectOfFiles(message.files);
	if (project !== undefined) return project === "kernel" ? "kernel-patch" : "kut-patch";
	// KVM's own subjects start with "KVM:"; kvm-unit-tests' never do.
	if (shape.series !== undefined && /^KVM:/i.test(shape.subject)) return "kernel-patch";
	return "other";
}

/** The patches 1..N answering a cover letter, in order, one per index, of the cover's version. */
function seriesPatches(cover: LoreMessage, series: LoreSeries, thread: readonly LoreMessage[]): LoreMessage[] {
	const byIndex = new Map<number, LoreMessage>();
	for (const mail of thread) {
		const shape = shapeOf(mail);
		if (shape.reply || shape.series === undefined || shape.series.index === 0) continue;
		if (shape.series.total !== series.total || shape.series.version !== series.version) continue;
		if (mail.inReplyTo !== cover.messageId && !mail.references.includes(cover.messageId)) continue;
		if (!byIndex.has(shape.series.index)) byIndex.set(shape.series.index, mail);
	}
	return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, mail]) => mail);
}

/** What the patches a cover letter or a reply stands for are, and which project they are for. */
function patchesOf(patches: readonly LoreMessage[]): { subjects: string[]; project?: LoreProject } {
	const projects = new Set(patches.map((patch) => projectOfPatch(patch)).filter((p) => p !== undefined));
	const only = projects.size === 1 ? [...projects][0] : undefined;
	return { subjects: patches.map((patch) => shapeOf(patch).subject), ...(only === undefined ? {} : { project: only }) };
}

function projectOfPatch(patch: LoreMessage): LoreProject | undefined {
	const kind = kindOf(patch, shapeOf(patch));
	return kind === "kernel-patch" ? "kernel" : kind === "kut-patch" ? "kut" : undefined;
}

/** For a reply: the nearest mail above it in the thread that is a patch or a cover letter. */
function answered(message: LoreMessage, thread: readonly LoreMessage[]): LoreMessage | undefined {
	const byId = new Map(thread.map((mail) => [mail.messageId, mail]));
	const above = [...(message.inReplyTo === undefined ? [] : [message.inReplyTo]), ...[...message.references].reverse()];
	for (const id of above) {
		const mail = byId.get(id);
		if (mail === undefined) continue;
		const shape = shapeOf(mail);
		if (!shape.reply && shape.series !== undefined) return mail;
	}
	return undefined;
}

/**
 * What a mail is, as a posting. A cover letter's patches and a reply's patch are found in
 * `thread` (the thread's mbox); without it their `patchSubjects` are empty.
 */
export function describePosting(message: LoreMessage, thread?: readonly LoreMessage[]): LorePosting {
	const shape = shapeOf(message);
	const kind = kindOf(message, shape);
	let patchSubjects: string[] = [];
	let project: LoreProject | undefined;
	if (kind === "kernel-patch" || kind === "kut-patch") {
		patchSubjects = [shape.subject];
		project = kind === "kernel-patch" ? "kernel" : "kut";
	} else if (kind === "cover-letter" && shape.series !== undefined) {
		const patches = patchesOf(seriesPatches(message, shape.series, thread ?? []));
		patchSubjects = patches.subjects;
		project = shape.kutTag ? "kut" : (patches.project ?? (/^KVM:/i.test(shape.subject) ? "kernel" : undefined));
	} else if (kind === "reply" && thread !== undefined) {
		const parent = answered(message, thread);
		const parentShape = parent === undefined ? undefined : shapeOf(parent);
		if (parent !== undefined && parentShape?.series !== undefined) {
			const patches = patchesOf(
				parentShape.series.index === 0 ? seriesPatches(parent, parentShape.series, thread) : [parent],
			);
			patchSubjects = patches.subjects;
			project = parentShape.kutTag ? "kut" : patches.project;
		}
	}
	return {
		messageId: message.messageId,
		subject: shape.subject,
		rawSubject: message.subject,
		...(message.date === undefined ? {} : { date: message.date }),
		kind,
		...(shape.series === undefined ? {} : { series: shape.series }),
		files: message.files,
		patchSubjects,
		...(project === undefined ? {} : { project }),
		...(message.changeId === undefined ? {} : { changeId: message.changeId }),
	};
}
