import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
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

/**
 * The demo's kernel tree: Debian's linux-source as a real git repository with two branches,
 * `debian` (the source as packaged) and `demo` (two real commits on top: a note, and an
 * EXTRAVERSION so the demo kernel's `uname -r` shows it is the one kvm-matrix built). Made once.
 */
export async function ensureDemoTree(dest: string, onStep: (what: string) => void = () => {}): Promise<string> {
	if (existsSync(path.join(dest, ".git"))) {
		const branches = await capture("git", ["-C", dest, "branch", "--format=%(refname:short)"]).catch(() => "");
		if (branches.split("\n").includes("demo")) return dest;
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
	await rm(dest, { recursive: true, force: true });
	await mkdir(path.dirname(dest), { recursive: true });
	await rename(work, dest);
	return dest;
}
