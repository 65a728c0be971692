// The environment blocks of real KVM reports: labelled fields that say which repository, branch,
// commit, tag or version each piece of software was built from. Intel's QA template gives three
// (the kernel's, QEMU's, kvm-unit-tests'), each `... source: URL` / `Branch:` / `Commit:` [/ `Tag:`];
// its short form says `KVM commit/branch: 332d2c1d/next`; lkp says `commit: <sha> ("subject")` over
// `<URL> <branch>` (or `base: <URL> <branch>`) and `[test failed on linux-next/master <sha>]`;
// syzbot says `HEAD commit:` and `git tree:`; LKFT says `git repo:`/`git_repo:`, `git branch:`,
// `git commit:`/`git_sha:`, `git describe:`, `kernel:`. Reading them by label tells the kernel's
// commit from QEMU's and KUT's, which prose patterns cannot. Pure: lines in, blocks out.
import type { EnvFields } from "./types.js";

/** Whose software a block describes. */
export type BlockOwner = "kernel" | "qemu" | "kut" | "other";

/** A block of one piece of software: whose it is, and what its fields say (`EnvFields`). */
export interface EnvBlock extends EnvFields {
	readonly owner: BlockOwner;
}

interface Draft {
	owner: BlockOwner;
	/** Begun by a labelled field (`... source:`, `KVM commit/branch:`, `HEAD commit:`), not a bare `commit:`. */
	labelled: boolean;
	repo?: string;
	branch?: string;
	commit?: string;
	tag?: string;
	describe?: string;
	version?: string;
	lines: string[];
}

const HEX = "[0-9a-f]{7,40}";
const URL = String.raw`(?:https?|git|ssh)://\S+`;

/** Who a label or a URL speaks of. */
export function ownerOf(words: string): BlockOwner {
	if (/qemu/i.test(words)) return "qemu";
	if (/kvm[-_ ]?unit[-_ ]?tests?|\bkut\b/i.test(words)) return "kut";
	// A guest's kernel, or a commit a fix, a bisection or a revert names, is not the kernel under test.
	if (
		/\bguest\b|\bfix(?:ed|es)?\b|\bbad\b|\bgood\b|\bbisect|\brevert|\bculprit\b|\bfirst\b|\blast\b|\bbase\b|\bparent\b/i.test(
			words,
		)
	)
		return "other";
	return "kernel";
}

/** Repository words a label can carry: `KVM commit/branch`, `kvm.git next branch commit id`. */
function repoOfLabel(label: string): { repo?: string; branch?: string } {
	if (ownerOf(label) !== "kernel") return {};
	const git = /\b(kvm-x86|kvm|linux-next|linux|torvalds)(?:\.git)?\b(?:\s+(next|queue|master|fixes)\s+branch)?/i.exec(
		label,
	);
	if (git === null) return {};
	const word = (git[1] ?? "").toLowerCase();
	return {
		repo: word === "torvalds" ? "linux" : word,
		...(git[2] === undefined ? {} : { branch: git[2].toLowerCase() }),
	};
}

const FIELDS: readonly {
	readonly re: RegExp;
	/** Starts a block of its own (a new label), rather than adding to the one being read. */
	readonly starts: boolean;
	readonly read: (m: RegExpExecArray, next: string | undefined) => Partial<Draft> & { consumesNext?: boolean };
}[] = [
	{
		// `Host kernel source: URL`, with the URL on the next line in some reports.
		re: new RegExp(String.raw`^((?:[\w.+/-]+ ){0,5})source\s*:\s*(${URL})?\s*$`, "i"),
		starts: true,
		read: (m, next) => {
			const url = m[2] ?? (next !== undefined && new RegExp(`^${URL}$`).test(next) ? next : undefined);
			const owner = ownerOf(`${m[1] ?? ""} ${url ?? ""}`);
			return {
				owner,
				...(url === undefined ? {} : { repo: url }),
				consumesNext: m[2] === undefined && url !== undefined,
			};
		},
	},
	{
		// `KVM commit/branch: 332d2c1d/next`, `Qemu commit/branch: a7ddb48b/master`.
		re: new RegExp(String.raw`^((?:[\w.+/-]+ ){0,5}[\w.+/-]+)\s+commit\s*/\s*branch\s*:\s*(${HEX})\s*/\s*(\S+)`, "i"),
		starts: true,
		read: (m) => ({ owner: ownerOf(m[1] ?? ""), ...repoOfLabel(m[1] ?? ""), commit: m[2] ?? "", branch: m[3] ?? "" }),
	},
	{
		// syzbot: `HEAD commit:    d3e1ee0e67e7 Add linux-next specific files for 20230421`.
		re: new RegExp(String.raw`^HEAD commit\s*:\s*(${HEX})\b`, "i"),
		starts: true,
		read: (m) => ({ owner: "kernel", commit: m[1] ?? "" }),
	},
	{
		// lkp: `commit: <sha> ("subject")`, the tested commit; its tree follows the subject.
		re: new RegExp(String.raw`^commit\s*:\s*(${HEX})\s+\("`, "i"),
		starts: true,
		read: (m) => ({ owner: "kernel", commit: m[1] ?? "" }),
	},
	{
		// lkp: the tested commit's tree and branch, alone on its line under it.
		re: new RegExp(String.raw`^(${URL})\s+([\w./-]+)\s*$`),
		starts: false,
		read: (m) => ({ repo: m[1] ?? "", branch: m[2] ?? "" }),
	},
	{
		// `Kernel commit: 02b0d3b9`, `kvm-unit-tests commit: 201b9e8b...`, `kvm.git next branch commit id: e9e6...`.
		re: new RegExp(
			String.raw`^((?:[\w.+/-]+ ){0,5}[\w.+/-]*[A-Za-z][\w.+/-]*)\s+commit(?:[ _-]?id)?\s*:\s*(${HEX})\b`,
			"i",
		),
		starts: true,
		read: (m) => ({ owner: ownerOf(m[1] ?? ""), ...repoOfLabel(m[1] ?? ""), commit: m[2] ?? "" }),
	},
	{
		// lkp on a patch: `base: https://git.kernel.org/cgit/virt/kvm/kvm.git linux-next`.
		re: new RegExp(String.raw`^base\s*:\s*(${URL})\s+([\w./-]+)\s*$`, "i"),
		starts: false,
		read: (m) => ({ repo: m[1] ?? "", branch: m[2] ?? "" }),
	},
	{
		// LKFT and syzbot: `git repo: URL`, `git_repo: URL`, `git tree: linux-next`, `git tree: URL branch`.
		re: /^git[ _](?:repo|tree)\s*:\s*(\S+)(?:\s+([\w./-]+))?\s*$/i,
		starts: false,
		read: (m) => ({ owner: ownerOf(m[1] ?? ""), repo: m[1] ?? "", ...(m[2] === undefined ? {} : { branch: m[2] }) }),
	},
	{
		re: /^(?:git[ _])?(?:branch|ref)\s*:\s*(\S+)\s*$/i,
		starts: false,
		read: (m) => ({ branch: (m[1] ?? "").replace(/^refs\/heads\//, "") }),
	},
	{
		re: new RegExp(String.raw`^(?:git[ _])?(?:commit(?:[ _]id)?|sha1?)\s*:\s*(${HEX})\b`, "i"),
		starts: false,
		read: (m) => ({ commit: m[1] ?? "" }),
	},
	{ re: /^tag\s*:\s*(v?\d\S*)\s*$/i, starts: false, read: (m) => ({ tag: m[1] ?? "" }) },
	{ re: /^(?:git[ _])?describe\s*:\s*(\S+)\s*$/i, starts: false, read: (m) => ({ describe: m[1] ?? "" }) },
	{ re: /^kernel(?:[ _]version)?\s*:\s*(\d+\.\d\S*)\s*$/i, starts: false, read: (m) => ({ version: m[1] ?? "" }) },
];

const MAX_FIELD_LINE = 300;

// lkp: `[test failed on linux-next/master 6906a84c482f098d31486df8dc98cead21cce2d0]`.
const TEST_FAILED_ON = new RegExp(String.raw`\[test failed on ([\w.-]+)/([\w./-]+?) (${HEX})\]`, "i");

/** Every environment block of one text, in order; `lines` are already cleaned of quoting. */
export function envBlocks(lines: readonly string[], where: string): EnvBlock[] {
	const blocks: EnvBlock[] = [];
	let draft: Draft | undefined;
	// A bare `commit: X` or `sha: X` says no more than the sha alone does: it is no block.
	const close = () => {
		const named = draft?.repo ?? draft?.branch ?? draft?.tag ?? draft?.describe ?? draft?.version;
		if (draft !== undefined && (named !== undefined || (draft.labelled && draft.commit !== undefined)))
			blocks.push(finish(draft, where));
		draft = undefined;
	};
	for (let i = 0; i < lines.length; i++) {
		const line = (lines[i] ?? "").trim();
		// A field is a short line: a long one (a log pasted on one line) is read by nothing here,
		// so no pattern costs more than the line's length.
		if (line.length > MAX_FIELD_LINE) {
			close();
			continue;
		}
		if (line === "") {
			close();
			continue;
		}
		const failedOn = TEST_FAILED_ON.exec(line);
		if (failedOn !== null) {
			close();
			blocks.push(
				finish(
					{
						owner: "kernel",
						labelled: true,
						repo: failedOn[1] ?? "",
						branch: failedOn[2] ?? "",
						commit: failedOn[3] ?? "",
						lines: [line],
					},
					where,
				),
			);
			continue;
		}
		let matched = false;
		for (const field of FIELDS) {
			const m = field.re.exec(line);
			if (m === null) continue;
			const next = lines[i + 1]?.trim();
			const { consumesNext, ...got } = field.read(m, next);
			// A field that the block already has starts another block (LKFT lists one kernel per
			// block; a template lists three).
			const clash =
				draft !== undefined && Object.keys(got).some((k) => k !== "owner" && draft?.[k as keyof Draft] !== undefined);
			if (field.starts || draft === undefined || clash) {
				close();
				draft = { owner: got.owner ?? "kernel", labelled: field.starts, lines: [] };
			}
			const d = draft as Draft;
			Object.assign(d, { ...got, owner: field.starts ? (got.owner ?? d.owner) : d.owner });
			d.lines.push(line);
			if (consumesNext === true && next !== undefined) {
				d.lines.push(next);
				i++;
			}
			matched = true;
			break;
		}
		// A line that is no field ends the block (a block is a run of fields), unless it goes on
		// with a subject an lkp `commit:` line opened: `("KVM: x86: Drop guest` / `CPUID ...")`.
		if (!matched) {
			const open = draft?.lines.at(-1);
			if (draft !== undefined && open !== undefined && /\("[^"]*$/.test(open)) draft.lines.push(line);
			else close();
		}
	}
	close();
	return blocks;
}

function finish(d: Draft, where: string): EnvBlock {
	return {
		owner: d.owner,
		...(d.repo === undefined ? {} : { repo: d.repo }),
		...(d.branch === undefined ? {} : { branch: d.branch }),
		...(d.commit === undefined ? {} : { commit: d.commit.toLowerCase() }),
		...(d.tag === undefined ? {} : { tag: d.tag }),
		...(d.describe === undefined ? {} : { describe: d.describe }),
		...(d.version === undefined ? {} : { version: d.version }),
		text: d.lines.join(" / "),
		where,
	};
}
