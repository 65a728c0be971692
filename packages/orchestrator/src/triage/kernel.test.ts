// Which kernel a report's clues resolve to, in the order the issue sets: the kernel's block (its
// commit, its tag, mainline's master at a release, its branch), any commit, an exact release, tree
// words, and bugzilla's Tree: field last. Real git repositories; their URLs are what the matrix says.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { commitFiles, git } from "../../../../test/support/git.js";
import { projectOf, resolveReportedKernel, type TreeRepos } from "./kernel.js";
import type { KernelClue } from "./types.js";

async function repo(branches: readonly string[], tags: readonly string[]) {
	const dir = mkdtempSync(path.join(os.tmpdir(), "triage-kernel-"));
	await git(dir, "init", "-q", "-b", "master");
	for (const tag of tags) {
		await commitFiles(dir, { Makefile: `${tag}\n` }, `Linux ${tag}`);
		await git(dir, "tag", tag);
	}
	for (const b of branches) await git(dir, "branch", b);
	return dir;
}

const MAINLINE = "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git";
const KVM = "https://git.kernel.org/pub/scm/virt/kvm/kvm.git";
const STABLE = "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git";

async function trees(): Promise<{ trees: TreeRepos; kvmDir: string }> {
	const [kvmDir, linuxDir, stableDir] = await Promise.all([
		repo(["next", "queue"], ["v6.0", "v6.1-rc4", "v6.1"]),
		repo([], ["v6.0", "v6.1-rc4", "v6.1"]),
		repo(["linux-6.1.y"], ["v6.1", "v6.1.12"]),
	]);
	const tree = (name: string, url: string, dir: string) => [name, { source: { name, url }, repo: dir }] as const;
	return {
		kvmDir,
		trees: new Map([tree("kvm", KVM, kvmDir), tree("linux", MAINLINE, linuxDir), tree("stable", STABLE, stableDir)]),
	};
}

const where = "description";
const resolved = async (clues: KernelClue[], t: TreeRepos) => {
	const r = await resolveReportedKernel(clues, t);
	return "kernel" in r
		? `${r.kernel.tree}@${r.kernel.ref}${r.kernel.approximate ? " ~" : ""}`
		: `none: ${r.tried.join("; ")}`;
};

test("a kernel block: its commit when a tree has it, else its tag, else mainline's master at a release, else its branch", async (t) => {
	const { trees: tr, kvmDir } = await trees();
	const queue = await git(kvmDir, "rev-parse", "queue");
	const block = (b: Partial<Extract<KernelClue, { kind: "block" }>>): KernelClue => ({
		kind: "block",
		text: "",
		where,
		...b,
	});
	t.is(
		await resolved([block({ repo: KVM, branch: "next", commit: queue.slice(0, 8) })], tr),
		`kvm@${queue.slice(0, 8)}`,
	);
	// The QA template's kvm.git next at a commit no tree has: kvm's next as it is now, said to be approximate.
	const unknown = [
		block({ repo: KVM, branch: "next", commit: "d72cf8ff" }),
		{ kind: "release", version: "6.1-rc4", text: "6.1.0-rc4", where, field: true } as const,
	];
	t.is(await resolved(unknown, tr), "kvm@next ~");
	const answer = await resolveReportedKernel(unknown, tr);
	t.deepEqual("kernel" in answer ? answer.kernel.unused : [], [
		"kernel block (): commit d72cf8ff: in none of kvm, linux, stable",
	]);
	t.is(
		await resolved([block({ repo: MAINLINE, branch: "master", commit: "4b0986a3", tag: "v6.0" })], tr),
		"linux@v6.0",
	);
	// Mainline's master at "Kernel Version: 6.1" is the tag v6.1; a release from prose does not say so.
	const atRelease = [block({ repo: MAINLINE, branch: "master", commit: "830b3c68" })];
	t.is(
		await resolved([...atRelease, { kind: "release", version: "6.1", text: "6.1", where, field: true }], tr),
		"linux@v6.1 ~",
	);
	t.is(await resolved([...atRelease, { kind: "release", version: "6.1", text: "v6.1", where }], tr), "linux@master ~");
	// stable-rc holds stable's branches.
	t.is(
		await resolved(
			[
				block({
					repo: "https://git.kernel.org/cgit/linux/kernel/git/stable/linux-stable-rc.git",
					branch: "linux-6.1.y",
				}),
			],
			tr,
		),
		"stable@linux-6.1.y ~",
	);
});

test("without a block: an exact release's tag (mainline's first), tree words, then bugzilla's Tree: field", async (t) => {
	const { trees: tr } = await trees();
	const tree: KernelClue = {
		kind: "branch",
		repo: "linux",
		branch: "master",
		text: "Tree: Mainline",
		where,
		weak: true,
	};
	const words: KernelClue = { kind: "branch", repo: "kvm", branch: "queue", text: "kvm/queue", where };
	t.is(await resolved([{ kind: "release", version: "6.1", text: "6.1", where }, words, tree], tr), "linux@v6.1");
	t.is(await resolved([{ kind: "release", version: "6.1.12", text: "6.1.12", where }], tr), "stable@v6.1.12");
	t.is(await resolved([words, tree], tr), "kvm@queue ~");
	t.is(await resolved([tree], tr), "linux@master ~");
	t.regex(
		await resolved([{ kind: "release", version: "5.4", text: "5.4", where }], tr),
		/^none: 5\.4: no tag v5\.4 in kvm, linux, stable$/,
	);
});

test("a report's repository words and URLs name projects, whatever the spelling", (t) => {
	for (const [text, project] of [
		["https://git.kernel.org/cgit/linux/kernel/git/torvalds/linux.git", "mainline"],
		["https://gitlab.com/Linaro/lkft/mirrors/torvalds/linux-mainline", "mainline"],
		["upstream", "mainline"],
		["git://git.kernel.org/pub/scm/virt/kvm/kvm.git", "kvm"],
		["https://github.com/kvm-x86/linux.git", "kvm-x86"],
		["linux-next", "linux-next"],
		["https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git/", "stable"],
	] as const)
		t.is(projectOf(text), project, text);
});
