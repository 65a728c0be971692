// One cache, many matrices: every matrix calls its kernel tree `linux`, and two of them may mean two
// repositories. Each must get verdicts from its own history, run one after the other or at once,
// with the tree given as a URL (a mirror in the cache) or as a path (the user's clone). Real git,
// the real CLI (`classify --results`).
import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { runCli } from "./support/cli.js";
import { commitFiles, git } from "./support/git.js";

const FIX_ID = "20260401101010.4242-2-seanjc@google.com";
const COVER_ID = "20260401101010.4242-1-seanjc@google.com";

/**
 * A kernel repository: master, and next = master + one commit. In `linked`, that commit is the KVM
 * fix the KUT test links (patch 2 of the series whose cover letter it links); in the other it is
 * an unrelated change, and nothing carries the fix's message-id.
 */
async function kernel(kind: "linked" | "other") {
	const dir = mkdtempSync(path.join(os.tmpdir(), `identity-${kind}-`));
	await git(dir, "init", "-q", "-b", "master");
	await commitFiles(dir, { "arch/x86/kvm/x86.c": `${kind}\n` }, `Initial (${kind})`);
	await git(dir, "checkout", "-q", "-b", "next");
	const next =
		kind === "linked"
			? await commitFiles(
					dir,
					{ "arch/x86/kvm/svm/nested.c": "fix\n" },
					`KVM: nSVM: Set exit_code_hi on a failed VMRUN\n\nLink: https://patch.msgid.link/${FIX_ID}`,
				)
			: await commitFiles(dir, { "arch/x86/kvm/mmu.c": "other\n" }, "KVM: x86/mmu: Unrelated cleanup");
	await git(dir, "checkout", "-q", "master");
	return { dir, next };
}

/** A kvm-unit-tests-shaped tree whose svm test links the fix's cover letter, then its own posting. */
async function kut() {
	const dir = mkdtempSync(path.join(os.tmpdir(), "identity-kut-"));
	await git(dir, "init", "-q", "-b", "master");
	await commitFiles(dir, { "x86/unittests.cfg": "[svm]\nfile = svm.flat\n", "x86/svm.c": "int main;\n" }, "x86: svm");
	await commitFiles(
		dir,
		{ "x86/svm.c": "int main; /* exit_code_hi */\n" },
		`x86/svm: Check exit_code_hi on a failed VMRUN\n\nLink: https://lore.kernel.org/all/${COVER_ID}\nLink: https://patch.msgid.link/20260402000000.77-1-qa@example.org`,
	);
	return dir;
}

function matrixFile(dir: string, name: string, linux: string, kutDir: string): string {
	const file = path.join(dir, `${name}.yaml`);
	writeFileSync(
		file,
		`name: ${name}
trees:
  linux: ${linux}
  kut: { path: ${kutDir} }
kernels:
  - { tree: linux, ref: master }
  - { tree: linux, ref: next }
targets:
  - { name: host, host: true }
suites:
  kut: { tree: kut, ref: master }
`,
	);
	return file;
}

interface Row {
	readonly kernel: string;
	readonly test: string;
	readonly verdict: string;
	readonly evidence: string;
}

async function setup(form: "url" | "path") {
	const [a, b, kutDir] = await Promise.all([kernel("linked"), kernel("other"), kut()]);
	const work = mkdtempSync(path.join(os.tmpdir(), "identity-work-"));
	const results = path.join(work, "master.out");
	writeFileSync(results, "FAIL svm (71 tests, 1 unexpected failures)\n");
	const tree = (dir: string) => (form === "url" ? `{ url: "file://${dir}" }` : `{ path: ${dir} }`);
	return {
		a,
		b,
		work,
		cache: path.join(work, "cache"),
		matrixA: matrixFile(work, "a", tree(a.dir), kutDir),
		matrixB: matrixFile(work, "b", tree(b.dir), kutDir),
		results,
	};
}

type Setup = Awaited<ReturnType<typeof setup>>;

async function classify(s: Setup, matrix: string, cache = s.cache): Promise<Row> {
	const run = await runCli(["classify", "--results", `linux@master=${s.results}`, "--matrix", matrix, "--json"], {
		env: { KVM_MATRIX_CACHE: cache },
	});
	if (run.exitCode !== 0 && run.exitCode !== 1) throw new Error(`classify: exit ${run.exitCode}: ${run.stderr}`);
	const rows = (JSON.parse(run.stdout) as { results: Row[] }).results;
	const row = rows.find((r) => r.test === "kut:svm");
	if (row === undefined) throw new Error(run.stdout);
	return row;
}

/** A's kernel has the fix on next: pending-fix naming A's commit. B's has nothing the test links. */
function assertOwnHistories(t: import("ava").ExecutionContext, s: Setup, a: Row, b: Row) {
	t.is(a.verdict, "pending-fix", a.evidence);
	t.true(
		a.evidence.startsWith(
			`needs ${s.a.next.slice(0, 12)} ("KVM: nSVM: Set exit_code_hi on a failed VMRUN"), in linux@next`,
		),
		a.evidence,
	);
	t.is(b.verdict, "new-failure", b.evidence);
	t.false(b.evidence.includes(s.a.next.slice(0, 12)), b.evidence);
	t.false(b.evidence.includes("could not tell"), b.evidence);
}

for (const form of ["url", "path"] as const) {
	test(`two matrices call different repositories "linux" (${form}): one after the other, each gets its own history`, async (t) => {
		t.timeout(120_000);
		const s = await setup(form);
		const a = await classify(s, s.matrixA);
		const b = await classify(s, s.matrixB);
		assertOwnHistories(t, s, a, b);
		// And the other order, on a second cache.
		const other = path.join(s.work, "cache-2");
		const b2 = await classify(s, s.matrixB, other);
		const a2 = await classify(s, s.matrixA, other);
		assertOwnHistories(t, s, a2, b2);
		if (form === "url") {
			// Two mirrors, one per URL, in the one cache.
			t.is(readdirSync(path.join(s.cache, "mirrors")).filter((d) => d.endsWith(".git")).length, 2);
		}
		// Two Link: indexes, one per repository: neither is rebuilt for the other's runs.
		t.is(readdirSync(path.join(s.cache, "links")).filter((f) => f.endsWith(".links")).length, 2);
	});

	test(`two matrices call different repositories "linux" (${form}): at the same time, each gets its own history`, async (t) => {
		t.timeout(120_000);
		const s = await setup(form);
		const [a, b] = await Promise.all([classify(s, s.matrixA), classify(s, s.matrixB)]);
		assertOwnHistories(t, s, a, b);
	});
}

test("a repository replaced under the same path: the index starts again, never an infra verdict", async (t) => {
	t.timeout(120_000);
	const s = await setup("path");
	t.is((await classify(s, s.matrixA)).verdict, "pending-fix");
	// Another repository where A was: the index's commits are gone from it.
	const aside = `${s.a.dir}.aside`;
	renameSync(s.a.dir, aside);
	await git(path.dirname(s.b.dir), "clone", "-q", "--no-local", s.b.dir, s.a.dir);
	await git(s.a.dir, "branch", "-q", "next", "origin/next");
	const again = await classify(s, s.matrixA);
	t.is(again.verdict, "new-failure", again.evidence);
	t.false(again.evidence.includes(s.a.next.slice(0, 12)), again.evidence);
	rmSync(aside, { recursive: true, force: true });
});
