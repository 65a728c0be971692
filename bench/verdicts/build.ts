// The verdict benchmark's one builder: it turns a case, written as plain data (bench/verdicts/cases.ts),
// into small real git trees (a KVM kernel tree and a kvm-unit-tests tree, real commits with real
// trailers), the per-kernel `run_tests.sh` output and the matrix, and hands back what to run the CLI
// on and what it must answer. A commit a case names by `id` can be cited once it exists, as
// `{{sha:ID}}` or `{{sha12:ID}}`, in later commits' subjects, bodies and trailers, in label evidence
// and in lore mails' subjects and bodies.
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { type CfgSection, kernelReleaseFiles, kutLayoutFiles } from "./layouts.js";
import type { LoreMail, LoreThread } from "./lore-server.js";
import { LINUS, PAOLO, sob } from "./people.js";

export type VerdictName = "pending-fix" | "regression" | "still-failing" | "new-failure" | "known" | "flaky" | "infra";

/** What the result of `test` on `kernel` must be classified as; `evidence` strings must all appear in its evidence. */
export interface Label {
	/** `kvm@master`: the kernel id the CLI reports. */
	readonly kernel: string;
	/** `kut:vmx` */
	readonly test: string;
	readonly verdict: VerdictName;
	readonly evidence?: readonly string[];
	/** Strings the evidence must not hold (a patch the kernel has, another repository's commit). */
	readonly absent?: readonly string[];
}

/** A label as a case writes it: a kvm ref and a KUT test, as its `results` name them. */
export interface CaseLabel extends Omit<Label, "kernel" | "test"> {
	/** `master` for `kvm@master` */
	readonly ref: string;
	/** `vmx` for `kut:vmx` */
	readonly test: string;
}

export type KutStatus = "pass" | "fail" | "timeout";

/** One case: two trees, the result each kernel gave, the verdicts a careful maintainer would give. */
export interface VerdictCase {
	/** `01-cover-letter-link`: stable, sorts in the order of the list. */
	readonly name: string;
	/** The real shape it reproduces, in one line. */
	readonly shape: string;
	/** The kvm tree's history: the release on `master`, then each step in order. */
	readonly kvm: readonly [Release, ...Step[]];
	/** The KUT tree's history: its layout on `master`, then each step in order. */
	readonly kut: readonly [KutLayout, ...Step[]];
	/** kvm refs, as the matrix's kernels (the configured branches). */
	readonly kernels: readonly string[];
	readonly baseline?: string;
	/** ref → test → status; one `--results kvm@<ref>=FILE` per ref, in this order. */
	readonly results: Readonly<Record<string, Readonly<Record<string, KutStatus>>>>;
	/** Colour codes in the result files (some cases have them, as a terminal run would). */
	readonly colour?: boolean;
	/** Threads the lore stand-in serves; the CLI gets `--lore` only when this is present. */
	readonly lore?: readonly LoreThread[];
	/** What results must be classified as, in the order the benchmark prints them. */
	readonly labels: readonly CaseLabel[];
	/** Shas the case cites as rewritten: the build fails if a kvm commit starts with one. */
	readonly rewritten?: readonly string[];
	/**
	 * Another repository that a matrix of its own also calls `kvm`, classified first on the same
	 * cache (`results` as above): the case's own verdicts must come from its own history.
	 */
	readonly sameCacheBefore?: {
		readonly kvm: readonly [Release, ...Step[]];
		readonly kernels: readonly string[];
		readonly results: Readonly<Record<string, Readonly<Record<string, KutStatus>>>>;
		/** What that repository's own history answers: it must get its own answers too. */
		readonly labels: readonly CaseLabel[];
	};
}

/** The release commit `Linux <linux>` by Linus, holding the files KVM fixes touch; the tree's clock starts `at`. */
export interface Release {
	readonly linux: string;
	readonly at: string;
}

/** The commit holding KUT's layout (unittests.cfg less the `omit`ted sections, Makefiles, sources), an hour after `layoutAfter`. */
export interface KutLayout {
	readonly layoutAfter: string;
	readonly omit?: readonly CfgSection[];
}

/** A commit on the current branch, an hour after the tree's previous one unless `at` says otherwise. */
export interface Commit {
	/** A name for `cherryPick` and for `{{sha:ID}}` / `{{sha12:ID}}`; unique in the case. */
	readonly id?: string;
	readonly subject: string;
	/** Paragraphs between the subject and the trailers. */
	readonly body?: string;
	readonly trailers?: readonly string[];
	/** The first Signed-off-by's person by default, as the kernel's sign-off chain reads (else the tree's maintainer). */
	readonly author?: string;
	/** Who applied it: the last Signed-off-by's person by default (else the tree's maintainer). */
	readonly committer?: string;
	/** Files written with this content (relative paths). */
	readonly files?: Readonly<Record<string, string>>;
	/** Files that get one more line: the commit's change to them. */
	readonly touch?: readonly string[];
	/** When it was committed (ISO 8601); moved a minute past the previous commit if earlier. */
	readonly at?: string;
}

/** One step of a tree's history. */
export type Step =
	| Commit
	/** Work on `branch` from now on, (re)created at `from` when given. */
	| { readonly branch: string; readonly from?: string }
	/** Point the branch `mark` at HEAD, staying on the current branch. */
	| { readonly mark: string }
	/** `git cherry-pick -x` of the commit named `cherryPick` onto the current branch. */
	| { readonly cherryPick: string; readonly committer: string; readonly id?: string }
	/** An annotated tag at HEAD, as a release tag is. */
	| { readonly tag: string; readonly tagger: string };

/** A case once its trees exist: what to run the CLI on and what it must answer (shas filled in). */
export interface BuiltCase {
	readonly matrix: string;
	/** `--results KERNEL=FILE`, in this order. */
	readonly results: readonly { readonly kernel: string; readonly file: string }[];
	readonly lore?: readonly LoreThread[];
	readonly labels: readonly Label[];
	/** Classified first, on the same cache: another repository the matrix also calls `kvm`. */
	readonly before?: {
		readonly matrix: string;
		readonly results: BuiltCase["results"];
		readonly labels: readonly Label[];
	};
}

/** Builds the case's trees and files under `dir` (created empty for it; the matrix is named after `dir`). */
export async function buildCase(c: VerdictCase, dir: string): Promise<BuiltCase> {
	try {
		return await build(c, dir);
	} catch (error) {
		throw new Error(`case ${c.name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
	}
}

async function build(c: VerdictCase, dir: string): Promise<BuiltCase> {
	const shas = new Map<string, string>();
	const [release, ...kvmSteps] = c.kvm;
	const kvm = await kernelTree(path.join(dir, "kvm"), release);
	await runSteps(kvm, kvmSteps, shas);
	for (const prefix of c.rewritten ?? [])
		if (await kvm.hasPrefix(prefix))
			throw new Error(`a kvm commit starts with ${prefix}, which the case cites as rewritten`);
	const [layout, ...kutSteps] = c.kut;
	const kut = await kutTree(path.join(dir, "kut"), layout);
	await runSteps(kut, kutSteps, shas);
	let before: BuiltCase["before"];
	if (c.sameCacheBefore !== undefined) {
		const [otherRelease, ...otherSteps] = c.sameCacheBefore.kvm;
		const other = await kernelTree(path.join(dir, "kvm-other"), otherRelease);
		await runSteps(other, otherSteps, shas);
		const otherDir = path.join(dir, "other");
		mkdirSync(otherDir, { recursive: true });
		const kvmDir = path.join(dir, "kvm-other");
		const otherCase = { ...c, ...c.sameCacheBefore };
		before = {
			matrix: writeMatrix(otherDir, otherCase, { kvm: kvmDir, kut: path.join(dir, "kut") }),
			results: writeResults(otherDir, otherCase),
			labels: c.sameCacheBefore.labels.map((l) => label(l, (text) => fillShas(text, shas))),
		};
	}
	const fill = (text: string) => fillShas(text, shas);
	const mail = (m: LoreMail): LoreMail => ({ ...m, subject: fill(m.subject), body: fill(m.body) });
	return {
		matrix: writeMatrix(dir, c),
		results: writeResults(dir, c),
		labels: c.labels.map((l) => label(l, fill)),
		...(c.lore === undefined ? {} : { lore: c.lore.map((thread) => thread.map(mail)) }),
		...(before === undefined ? {} : { before }),
	};
}

/** A case's label as the CLI names things, its shas filled in. */
function label({ ref, test, verdict, evidence, absent }: CaseLabel, fill: (text: string) => string): Label {
	return {
		kernel: `kvm@${ref}`,
		test: `kut:${test}`,
		verdict,
		...(evidence === undefined ? {} : { evidence: evidence.map(fill) }),
		...(absent === undefined ? {} : { absent: absent.map(fill) }),
	};
}

async function runSteps(tree: GitTree, steps: readonly Step[], shas: Map<string, string>): Promise<void> {
	const fill = (text: string) => fillShas(text, shas);
	const name = (id: string | undefined, sha: string) => {
		if (id === undefined) return;
		if (shas.has(id)) throw new Error(`two commits are named ${id}`);
		shas.set(id, sha);
	};
	for (const step of steps) {
		if ("subject" in step) {
			const { subject, body, trailers = [] } = step;
			const filled = { subject: fill(subject), trailers: trailers.map(fill), ...(body && { body: fill(body) }) };
			name(step.id, await tree.commit({ ...step, ...filled }));
		} else if ("branch" in step)
			await tree.git(["switch", "-q", ...(step.from === undefined ? [step.branch] : ["-C", step.branch, step.from])]);
		else if ("mark" in step) await tree.git(["branch", "-f", step.mark, "HEAD"]);
		else if ("tag" in step) await tree.tag(step.tag, step.tagger);
		else name(step.id, await tree.cherryPickX(shaOf(step.cherryPick, shas), step.committer));
	}
}

function shaOf(id: string, shas: ReadonlyMap<string, string>): string {
	const sha = shas.get(id);
	if (sha === undefined) throw new Error(`no commit named ${id} before it is cited`);
	return sha;
}

/** `{{sha:ID}}` → the sha of the commit named ID, `{{sha12:ID}}` → its first 12 digits. */
function fillShas(text: string, shas: ReadonlyMap<string, string>): string {
	return text.replace(/\{\{(sha12|sha):([^}]+)\}\}/g, (_, kind: string, id: string) => {
		const sha = shaOf(id, shas);
		return kind === "sha12" ? sha.slice(0, 12) : sha;
	});
}

// ---------------------------------------------------------------------------------------------
// Git trees: real commits, fixed identities, increasing dates (so every run builds the same history).

/** git with no user or system configuration: the same commits on any machine. */
const GIT_BASE_ENV = { GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", GIT_TERMINAL_PROMPT: "0" };

function identity(person: string): { name: string; email: string } {
	const m = /^(.*?)\s*<([^>]+)>$/.exec(person);
	if (m === null) throw new Error(`not "Name <email>": ${person}`);
	return { name: m[1] ?? "", email: m[2] ?? "" };
}

class GitTree {
	#clock: number;
	readonly dir: string;
	readonly #maintainer: string;

	private constructor(dir: string, start: string, maintainer: string) {
		this.dir = dir;
		this.#clock = Date.parse(start) / 1000;
		this.#maintainer = maintainer;
	}

	static async init(dir: string, start: string, maintainer: string): Promise<GitTree> {
		mkdirSync(dir, { recursive: true });
		await execa("git", ["init", "-q", "-b", "master", dir], { env: GIT_BASE_ENV });
		return new GitTree(dir, start, maintainer);
	}

	async git(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<string> {
		const { stdout } = await execa("git", args, { cwd: this.dir, env: { ...GIT_BASE_ENV, ...env } });
		return stdout.trim();
	}

	/** The environment of one commit: its people and the next date of this tree's clock. */
	#commitEnv(author: string, committer: string, at?: string): Record<string, string> {
		const wanted = at === undefined ? this.#clock + 3600 : Date.parse(at) / 1000;
		this.#clock = Math.max(this.#clock + 60, wanted);
		const a = identity(author);
		const c = identity(committer);
		const date = `${this.#clock} +0000`;
		return {
			GIT_AUTHOR_NAME: a.name,
			GIT_AUTHOR_EMAIL: a.email,
			GIT_AUTHOR_DATE: date,
			GIT_COMMITTER_NAME: c.name,
			GIT_COMMITTER_EMAIL: c.email,
			GIT_COMMITTER_DATE: date,
		};
	}

	/** A commit on the current branch; its sha. */
	async commit(spec: Commit): Promise<string> {
		for (const [file, text] of Object.entries(spec.files ?? {})) {
			mkdirSync(path.dirname(path.join(this.dir, file)), { recursive: true });
			writeFileSync(path.join(this.dir, file), text);
		}
		for (const file of spec.touch ?? []) {
			const at = path.join(this.dir, file);
			if (!existsSync(at)) throw new Error(`${file}: no such file in ${this.dir}`);
			appendFileSync(at, `/* ${spec.subject.replaceAll("*/", "* /")} */\n`);
		}
		const message = [spec.subject, spec.body, (spec.trailers ?? []).join("\n")]
			.filter((part): part is string => part !== undefined && part !== "")
			.join("\n\n");
		await this.git(["add", "-A"]);
		const signers = (spec.trailers ?? []).flatMap((t) => /^Signed-off-by:\s*(.+)$/.exec(t)?.[1] ?? []);
		const author = spec.author ?? signers[0] ?? this.#maintainer;
		const env = this.#commitEnv(author, spec.committer ?? signers.at(-1) ?? this.#maintainer, spec.at);
		await execa("git", ["commit", "-q", "--allow-empty", "-F", "-"], {
			cwd: this.dir,
			env: { ...GIT_BASE_ENV, ...env },
			input: `${message}\n`,
		});
		return this.rev("HEAD");
	}

	/** `git cherry-pick -x`: the commit's message and trailers, plus `(cherry picked from commit ...)`. */
	async cherryPickX(sha: string, committer: string): Promise<string> {
		const author = await this.git(["log", "-1", "--format=%an <%ae>", sha]);
		const env = this.#commitEnv(author, committer);
		await this.git(["cherry-pick", "-x", sha], env);
		return this.rev("HEAD");
	}

	/** An annotated tag at HEAD, as a release tag is. */
	async tag(name: string, tagger: string): Promise<void> {
		const env = this.#commitEnv(tagger, tagger);
		await this.git(["tag", "-a", name, "-m", name], env);
	}

	async rev(ref: string): Promise<string> {
		return this.git(["rev-parse", "--verify", `${ref}^{commit}`]);
	}

	/** Whether any commit of the repository starts with `prefix`. */
	async hasPrefix(prefix: string): Promise<boolean> {
		return (await this.git(["rev-list", "--all"])).split("\n").some((sha) => sha.startsWith(prefix));
	}
}

// ---------------------------------------------------------------------------------------------
// The first commit of each tree.

/** A KUT tree on `master` with one commit holding the layout. */
async function kutTree(dir: string, layout: KutLayout): Promise<GitTree> {
	const kut = await GitTree.init(dir, layout.layoutAfter, PAOLO);
	const files = kutLayoutFiles(layout.omit);
	await kut.commit({ subject: "x86: Bring in the tests this case needs", files, trailers: [sob(PAOLO)] });
	return kut;
}

/** A kernel tree whose `master` is the release commit `Linux <version>`. */
async function kernelTree(dir: string, { linux: version, at }: Release): Promise<GitTree> {
	const kvm = await GitTree.init(dir, at, PAOLO);
	const files = kernelReleaseFiles(version);
	await kvm.commit({ subject: `Linux ${version}`, files, author: LINUS, committer: LINUS, at });
	return kvm;
}

// ---------------------------------------------------------------------------------------------
// What a case hands the CLI: the matrix and each kernel's run_tests.sh output.

/** Check counts per test, so status lines read like real ones. */
const CHECKS: Readonly<Record<string, number>> = {
	vmx: 430,
	ept: 8,
	vmx_apic_passthrough_tpr_threshold_test: 3,
	xapic: 64,
	x2apic: 66,
	svm: 71,
	emulator: 143,
	access: 2,
};

/** `run_tests.sh` output, with the colour codes KUT puts around the status word when `colour`. */
function runTestsOutput(statuses: Readonly<Record<string, KutStatus>>, colour: boolean): string {
	const paint = (code: number, word: string) => (colour ? `\u001b[${code}m${word}\u001b[0m` : word);
	return Object.entries(statuses)
		.map(([name, status]) => {
			const n = CHECKS[name] ?? 10;
			if (status === "pass") return `${paint(32, "PASS")} ${name} (${n} tests)`;
			if (status === "timeout") return `${paint(31, "FAIL")} ${name} (timeout; duration=60s)`;
			return `${paint(31, "FAIL")} ${name} (${n} tests, 1 unexpected failures)`;
		})
		.map((line) => `${line}\n`)
		.join("");
}

/** The matrix of a case built in `dir`, named after `dir`; its path. */
function writeMatrix(
	dir: string,
	c: Pick<VerdictCase, "kernels" | "baseline">,
	trees = { kvm: path.join(dir, "kvm"), kut: path.join(dir, "kut") },
): string {
	const name = path.basename(dir);
	const matrix = path.join(dir, "matrix.yaml");
	const lines = [
		`# The verdict benchmark's case ${name}.`,
		`name: verdicts-${name.replace(/^\d+-/, "")}`,
		"trees:",
		`  kvm: { path: ${JSON.stringify(trees.kvm)} }`,
		`  kut: { path: ${JSON.stringify(trees.kut)} }`,
		"kernels:",
		...c.kernels.map((ref) => `  - { tree: kvm, ref: ${ref} }`),
		"targets:",
		"  - { name: host, host: true }",
		"suites:",
		"  kut: { tree: kut, ref: master }",
		...(c.baseline === undefined ? [] : [`baseline: { tree: kvm, ref: ${c.baseline} }`]),
	];
	writeFileSync(matrix, `${lines.join("\n")}\n`);
	return matrix;
}

/** One `run_tests.sh` output file per kernel. */
function writeResults(dir: string, c: Pick<VerdictCase, "results" | "colour">): BuiltCase["results"] {
	return Object.entries(c.results).map(([ref, statuses]) => {
		const file = path.join(dir, `results-${ref.replaceAll("/", "_")}.txt`);
		writeFileSync(file, runTestsOutput(statuses, c.colour ?? false));
		return { kernel: `kvm@${ref}`, file };
	});
}
