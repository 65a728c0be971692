// Classifying many failures asks git about kernels and fixes, not about failures: the number of
// git processes is bounded by the kernels and fixes involved (a PATH shim counts every one).
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CLI, REPO } from "./support/cli.js";
import { GIT_ENV, git } from "./support/git.js";

const TESTS = 1_000;
const FIXES = 5;
const KERNELS = ["master", "next", "queue", "stable"] as const;
const DIR = "tools/testing/selftests/kvm";
const id = (i: number) => `x86_64/t${String(i).padStart(4, "0")}`;
/** The posting of KVM fix `f`; the tests that need it link it, then their own posting. */
const postingOf = (f: number, patch: number) => `20260501000000.${f}-${patch}-dev@example.org`;

/**
 * master: 1,000 selftests, added 20 at a time; the first five groups each link a KVM fix. next:
 * master + the five fixes; queue: next + one more; stable: master + a cherry-pick of fix 0.
 */
async function kernelTree(): Promise<string> {
	const dir = mkdtempSync(path.join(os.tmpdir(), "gitq-kernel-"));
	await git(dir, "init", "-q", "-b", "master");
	const lines: string[] = [];
	let mark = 0;
	let time = 1_780_000_000;
	const commit = (ref: string, message: string, files: Record<string, string>, from?: string) => {
		mark++;
		time += 60;
		const data = Buffer.byteLength(message);
		lines.push(`commit refs/heads/${ref}`, `mark :${mark}`, `committer Dev <d@e.org> ${time} +0000`, `data ${data}`);
		lines.push(message);
		if (from !== undefined) lines.push(`from ${from}`);
		for (const [file, text] of Object.entries(files))
			lines.push(`M 644 inline ${file}`, `data ${Buffer.byteLength(text)}`, text);
		lines.push("");
		return `:${mark}`;
	};
	commit("master", "Initial", { "arch/x86/kvm/x86.c": "base" });
	for (let g = 0; g < TESTS / 20; g++) {
		const files: Record<string, string> = {};
		for (let i = g * 20; i < (g + 1) * 20; i++) files[`${DIR}/${id(i)}.c`] = `test ${i}`;
		commit(
			"master",
			`KVM: selftests: add tests ${g * 20}-${g * 20 + 19}\n\n${g < FIXES ? `Link: https://lore.kernel.org/r/${postingOf(g, 1)}\n` : ""}Link: https://lore.kernel.org/r/20260601000000.${g}-1-qa@example.org\nSigned-off-by: Dev <d@e.org>`,
			files,
		);
	}
	const tip = `:${mark}`;
	for (let f = 0; f < FIXES; f++)
		commit(
			"next",
			`KVM: x86: fix number ${f}\n\nLink: https://lore.kernel.org/r/${postingOf(f, 1)}\nSigned-off-by: Dev <d@e.org>`,
			{ [`arch/x86/kvm/fix${f}.c`]: `fix ${f}` },
			f === 0 ? tip : undefined,
		);
	commit("queue", "KVM: x86: queued", { "arch/x86/kvm/q.c": "q" }, `:${mark}`);
	commit(
		"stable",
		`KVM: x86: fix number 0\n\ncommit ${"0".repeat(40)} upstream.\n\nLink: https://lore.kernel.org/r/${postingOf(0, 1)}`,
		{ "arch/x86/kvm/fix0.c": "fix 0" },
		tip,
	);
	await execa("git", ["-C", dir, "fast-import", "--quiet"], { input: `${lines.join("\n")}\n`, env: GIT_ENV });
	await git(dir, "checkout", "-q", "master");
	return dir;
}

/** kselftest TAP, as the kselftest runner prints it: the tests of `failing` fail, the rest pass. */
function tap(failing: ReadonlySet<number>): string {
	const out = ["TAP version 13", `1..${TESTS}`];
	for (let i = 0; i < TESTS; i++) {
		out.push(`# selftests: kvm: ${id(i)}`);
		out.push(
			`${failing.has(i) ? "not ok" : "ok"} ${i + 1} selftests: kvm: ${id(i)}${failing.has(i) ? " # exit=1" : ""}`,
		);
	}
	return `${out.join("\n")}\n`;
}

/** A `git` first on PATH that logs each call, then runs the real one. */
function gitShim(dir: string): { readonly bin: string; readonly log: string } {
	const bin = path.join(dir, "bin");
	const log = path.join(dir, "git-calls.log");
	const real = "/usr/bin/git";
	mkdirSync(bin, { recursive: true });
	writeFileSync(path.join(bin, "git"), `#!/bin/sh\necho "$*" >> "${log}"\nexec ${real} "$@"\n`);
	chmodSync(path.join(bin, "git"), 0o755);
	writeFileSync(log, "");
	return { bin, log };
}

interface Row {
	kernel: string;
	test: string;
	verdict: string;
}

/** Classifies `perKernel` failures on each kernel on a fresh cache; the git calls it made and its verdicts. */
async function classify(kernel: string, perKernel: number, fixed: number) {
	const dir = mkdtempSync(path.join(os.tmpdir(), "gitq-run-"));
	writeFileSync(
		path.join(dir, "m.yaml"),
		`name: gitq\ntrees:\n  kvm: { path: ${kernel} }\nkernels:\n${KERNELS.map((k) => `  - { tree: kvm, ref: ${k} }`).join("\n")}\ntargets:\n  - { name: host, host: true }\nsuites:\n  selftests: { tree: kvm, ref: master }\n`,
	);
	const args: string[] = [];
	// Every kernel fails the same tests: `fixed` of each fix's group (tests that need a fix), the
	// rest from the groups that link none.
	const failing = new Set<number>();
	for (let g = 0; g < FIXES; g++) for (let j = 0; j < fixed; j++) failing.add(g * 20 + j);
	for (let i = FIXES * 20; failing.size < perKernel; i++) failing.add(i);
	KERNELS.forEach((k) => {
		writeFileSync(path.join(dir, `${k}.tap`), tap(failing));
		args.push("--results", `kvm@${k}=${path.join(dir, `${k}.tap`)}`);
	});
	const shim = gitShim(dir);
	const result = await execa("node", [CLI, "classify", "--matrix", path.join(dir, "m.yaml"), ...args, "--json"], {
		cwd: REPO,
		reject: false,
		env: { NO_COLOR: "1", KVM_MATRIX_CACHE: path.join(dir, "cache"), PATH: `${shim.bin}:${process.env.PATH ?? ""}` },
	});
	const calls = readFileSync(shim.log, "utf8")
		.split("\n")
		.filter((l) => l !== "");
	const rows =
		result.exitCode === 0 || result.exitCode === 1 ? (JSON.parse(result.stdout) as { results: Row[] }).results : [];
	return { result, calls, rows };
}

test("1,000 failures on 4 kernels start no more git processes than 100 failures do", async (t) => {
	t.timeout(300_000);
	const kernel = await kernelTree();
	const few = await classify(kernel, 25, 5);
	const many = await classify(kernel, 250, 20);
	t.true(few.rows.length === 100 && many.rows.length === 1_000, `${few.result.stderr}\n${many.result.stderr}`);
	// Real verdicts, not a short cut: master lacks every fix, stable all but the one it picked,
	// next and queue have them all.
	const of = (rows: readonly Row[], k: string, verdict: string) =>
		rows.filter((r) => r.kernel === `kvm@${k}` && r.verdict === verdict).length;
	t.is(of(many.rows, "master", "pending-fix"), 100);
	t.is(of(many.rows, "stable", "pending-fix"), 80);
	t.is(of(many.rows, "next", "pending-fix"), 0);
	t.is(of(many.rows, "queue", "pending-fix"), 0);
	// Failures do not cost git processes; kernels and fixes do, and only a few each.
	t.true(
		many.calls.length <= few.calls.length,
		`1,000 failures: ${many.calls.length} git calls; 100 failures: ${few.calls.length}\n${many.calls.join("\n")}`,
	);
	// Each kernel: its ref, its tests' names; each tree: its index, its tests' history; and git
	// only for what the in-memory graph cannot tell (nothing here).
	const bound = 6 * KERNELS.length + 2 * FIXES + 10;
	t.true(many.calls.length <= bound, `${many.calls.length} git calls > ${bound}:\n${many.calls.join("\n")}`);
});
