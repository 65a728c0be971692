import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { withLock } from "../paths/lock.js";
import { capture, runCommand } from "../proc/run.js";

export const LINUX_SOURCE_DIR = "/usr/src";

/** Debian's linux-source tarball (`linux-source-6.1.tar.xz`), the newest if several. */
export function findLinuxSource(dir = LINUX_SOURCE_DIR): string | undefined {
	const tarballs = existsSync(dir) ? readdirSync(dir).filter((f) => /^linux-source-[\d.]+\.tar\.xz$/.test(f)) : [];
	const newest = tarballs.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).at(-1);
	return newest === undefined ? undefined : path.join(dir, newest);
}

const FIXED_DATE = "2026-01-01T00:00:00Z";
const env = {
	GIT_AUTHOR_NAME: "kvm-matrix",
	GIT_AUTHOR_EMAIL: "kvm-matrix@localhost",
	GIT_COMMITTER_NAME: "kvm-matrix",
	GIT_COMMITTER_EMAIL: "kvm-matrix@localhost",
	GIT_AUTHOR_DATE: FIXED_DATE,
	GIT_COMMITTER_DATE: FIXED_DATE,
};

/** Bumped whenever the demo branch's story changes, so an older tree in a cache is made again. */
const STORY_TAG = "kvm-matrix-demo-story-2";

interface StoryCommit {
	readonly subject: string;
	readonly body: string;
	/** Each file's text is replaced once; a `from` that is not found is a bug in the story. */
	readonly edits: readonly { readonly file: string; readonly from: string; readonly to: string }[];
}

// The verdict story the demo shows (issue 6). Real kernel changes with the trailers maintainers
// apply: a KVM fix and the selftest that needs it (linked to the fix's posting), then a change
// that breaks an existing selftest. Debian's kernel lacks all three; run against the demo
// branch's selftests, it fails the new test for want of the fix (pending-fix), while the demo
// kernel fails cpuid_test, which passes on Debian's (regression). The message-ids are made up:
// these patches were never posted, and the demo says so.
const FIX_SERIES = "20260107101500.4100";
const STORY: readonly StoryCommit[] = [
	{
		subject: "KVM: x86: Reject KVM_SET_SREGS with reserved CR8 bits set",
		body: `KVM_SET_SREGS hands CR8 to kvm_set_cr8() and ignores its verdict, so
userspace that sets a reserved bit gets success while the value is
silently dropped.  Check CR8 with the rest of the incoming state, before
anything is changed, as KVM_SET_SREGS does for CR0 and CR4.

Link: https://lore.kernel.org/r/${FIX_SERIES}-2-dev@example.org`,
		edits: [
			{
				file: "arch/x86/kvm/x86.c",
				from: "\treturn kvm_is_valid_cr4(vcpu, sregs->cr4) &&\n\t       kvm_is_valid_cr0(vcpu, sregs->cr0);\n}",
				to: "\tif (sregs->cr8 & CR8_RESERVED_BITS)\n\t\treturn false;\n\n\treturn kvm_is_valid_cr4(vcpu, sregs->cr4) &&\n\t       kvm_is_valid_cr0(vcpu, sregs->cr0);\n}",
			},
		],
	},
	{
		subject: "KVM: selftests: Verify KVM_SET_SREGS rejects reserved CR8 bits",
		body: `Setting a reserved CR8 bit through KVM_SET_SREGS must fail and leave the
vCPU's state alone.  This needs the KVM fix from the same series [1].

Link: https://lore.kernel.org/all/${FIX_SERIES}-0-dev@example.org # [1]
Link: https://lore.kernel.org/r/${FIX_SERIES}-3-dev@example.org`,
		edits: [
			{
				file: "tools/testing/selftests/kvm/x86_64/set_sregs_test.c",
				from: "\ttest_cr4_feature_bit(vcpu, &sregs, X86_CR4_PKE);\n\tkvm_vm_free(vm);\n",
				to: `\ttest_cr4_feature_bit(vcpu, &sregs, X86_CR4_PKE);

\t/* Verify reserved CR8 bits are rejected and nothing is changed. */
\t{
\t\tstruct kvm_sregs bad;

\t\tvcpu_sregs_get(vcpu, &sregs);
\t\tmemcpy(&bad, &sregs, sizeof(bad));
\t\tbad.cr8 = 0x10;
\t\trc = _vcpu_sregs_set(vcpu, &bad);
\t\tTEST_ASSERT(rc, "KVM allowed reserved CR8 bits (0x%llx)", bad.cr8);
\t\tvcpu_sregs_get(vcpu, &bad);
\t\tTEST_ASSERT(!memcmp(&bad, &sregs, sizeof(bad)), "KVM modified sregs");
\t}
\tkvm_vm_free(vm);
`,
			},
		],
	},
	{
		subject: "KVM: x86: Compare only the CPUID layout when it is set again after KVM_RUN",
		body: `VMMs that re-use vCPU fds for CPU hot-plug set CPUID again after KVM_RUN,
and some of them recompute feature words that differ in bits KVM does not
care about.  Accept a table with the same leaves in the same order.

Link: https://lore.kernel.org/r/20260110093000.5150-1-dev@example.org`,
		edits: [
			{
				file: "arch/x86/kvm/cpuid.c",
				from: "\t\t    e2[i].flags != orig->flags ||\n\t\t    e2[i].eax != orig->eax || e2[i].ebx != orig->ebx ||\n\t\t    e2[i].ecx != orig->ecx || e2[i].edx != orig->edx)\n",
				to: "\t\t    e2[i].flags != orig->flags)\n",
			},
		],
	},
];

/**
 * The demo's kernel tree: Debian's linux-source as a real git repository with two branches,
 * `debian` (the source as packaged) and `demo`: a note, an EXTRAVERSION so the demo kernel's
 * `uname -r` shows it is the one kvm-matrix built, and the verdict story above. Made once.
 */
export async function ensureDemoTree(dest: string, onStep: (what: string) => void = () => {}): Promise<string> {
	// Two demos set up at once must not delete each other's work: one makes the tree, the other
	// waits and then finds it made.
	await mkdir(path.dirname(dest), { recursive: true });
	return withLock(dest, () => makeDemoTree(dest, onStep), { onWait: onStep, what: "the demo tree" });
}

async function makeDemoTree(dest: string, onStep: (what: string) => void): Promise<string> {
	if (existsSync(path.join(dest, ".git"))) {
		const tags = await capture("git", ["-C", dest, "tag", "--list", STORY_TAG]).catch(() => "");
		if (tags.trim() === STORY_TAG) return dest;
		onStep(`${dest} predates the current demo story: making it again`);
	}
	const tarball = findLinuxSource();
	if (tarball === undefined)
		throw new Error("no /usr/src/linux-source-*.tar.xz: install linux-source (scripts/setup.sh)");
	const work = `${dest}.partial`;
	await rm(work, { recursive: true, force: true });
	await mkdir(work, { recursive: true });
	onStep(`extracting ${tarball}`);
	await runCommand("tar", ["-xf", tarball, "-C", work, "--strip-components=1"]);
	// Debian's packaging ignores every top-level entry ("/*" then "!/debian/"): drop those rules.
	const gitignore = path.join(work, ".gitignore");
	const rules = (await readFile(gitignore, "utf8")).split("\n");
	await writeFile(gitignore, rules.filter((l) => l !== "/*" && l !== "!/debian/").join("\n"));
	const git = (...args: string[]) => runCommand("git", ["-C", work, ...args], { env });
	onStep("committing the source to a git repository (about a minute)");
	await git("init", "-q", "-b", "debian");
	await git("add", "-A");
	const version = path.basename(tarball).replace(/^linux-source-|\.tar\.xz$/g, "");
	await git("commit", "-q", "-m", `Linux ${version} as packaged by Debian (linux-source)`);
	await git("checkout", "-q", "-b", "demo");
	const doc = path.join(work, "Documentation/virt/kvm/kvm-matrix-demo.rst");
	await writeFile(
		doc,
		"The kvm-matrix demo branch\n==========================\n\nBuilt and booted by kvm-matrix's demo.\n",
	);
	await git("add", doc);
	await git("commit", "-q", "-m", "Documentation: KVM: describe the kvm-matrix demo branch");
	const makefile = path.join(work, "Makefile");
	const text = await readFile(makefile, "utf8");
	await writeFile(makefile, text.replace(/^EXTRAVERSION =.*$/m, "EXTRAVERSION = -kvm-matrix-demo"));
	await git(
		"commit",
		"-q",
		"-am",
		"kbuild: mark the kvm-matrix demo kernel in its release\n\nSo that `uname -r` in the guest shows that the kernel under test is the one built from this branch.",
	);
	for (const commit of STORY) {
		for (const edit of commit.edits) {
			const file = path.join(work, edit.file);
			const before = await readFile(file, "utf8");
			if (!before.includes(edit.from)) throw new Error(`demo story: ${edit.file} does not have the expected text`);
			await writeFile(file, before.replace(edit.from, edit.to));
		}
		await git("commit", "-q", "-am", `${commit.subject}\n\n${commit.body}`);
	}
	await git("tag", STORY_TAG);
	await rm(dest, { recursive: true, force: true });
	await mkdir(path.dirname(dest), { recursive: true });
	await rename(work, dest);
	return dest;
}
