import { appendFileSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import fc from "fast-check";
import { commitFiles, git } from "../../../../test/support/git.js";
import { GitFactError, HistoryAnswers, isAncestor } from "./ancestry.js";
import { commitLine, type IndexedCommit, LinkIndex, parseCommitLine, parseLog, updateLinkIndex } from "./index.js";
import { branchesHaving, patchStatusIn } from "./patch-status.js";
import { isFixLink, typeLinks } from "./typing.js";

const commit = (dir: string, file: string, message: string) => commitFiles(dir, { [file]: `${message}\n` }, message);

/**
 * The seed's story as real history: a KVM fix (patch 2 of a series) lands in `next` only, is
 * cherry-picked into `stable`, and `master` does not have it. Another series was posted, never applied.
 */
async function kernelTree() {
	const dir = mkdtempSync(path.join(os.tmpdir(), "kvm-tree-"));
	await git(dir, "init", "-q", "-b", "master");
	await commit(dir, "base.c", "Initial");
	await git(dir, "checkout", "-q", "-b", "next");
	const fix = await commit(
		dir,
		"svm.c",
		"KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR\n\nLink: https://patch.msgid.link/20251113225621.1688428-2-seanjc@google.com\nSigned-off-by: Sean Christopherson <seanjc@google.com>",
	);
	await git(dir, "checkout", "-q", "-b", "stable", "master");
	await git(dir, "cherry-pick", "-x", fix);
	const picked = await git(dir, "rev-parse", "HEAD");
	await git(dir, "checkout", "-q", "master");
	return { dir, fix, picked };
}

test("the index maps message-ids and series to commits, and updates incrementally", async (t) => {
	const { dir, fix, picked } = await kernelTree();
	const cache = path.join(mkdtempSync(path.join(os.tmpdir(), "idx-")), "kvm.json");
	const index = await updateLinkIndex(dir, ["master", "next", "stable"], cache);
	t.is(index.size, 3);
	t.deepEqual([...index.commitsFor("20251113225621.1688428-2-seanjc@google.com").exact].sort(), [fix, picked].sort());
	// The test links the cover letter: the series' commits match.
	t.deepEqual(index.commitsFor("20251113225621.1688428-1-seanjc@google.com").series.length, 2);

	await git(dir, "checkout", "-q", "next");
	const later = await commit(
		dir,
		"x.c",
		"KVM: x86: later\n\nLink: https://lore.kernel.org/r/20260101000000.42-1-a@b.c",
	);
	const updated = await updateLinkIndex(dir, ["master", "next", "stable"], cache);
	t.is(updated.size, 4);
	t.deepEqual(updated.commitsFor("20260101000000.42-1-a@b.c").exact, [later]);
});

test("where a test's fix stands: not in master, in next and (cherry-picked) stable; git errors are unknowns", async (t) => {
	const { dir, fix, picked } = await kernelTree();
	const index = await updateLinkIndex(
		dir,
		["master", "next", "stable"],
		path.join(mkdtempSync(path.join(os.tmpdir(), "idx-")), "i.json"),
	);
	// A KUT commit as FACTS.md shows them: a link to the KVM series, then its own posting.
	const [testCommit] = parseLog(
		"aaaa\u0000x86/svm: Track and handle exit code as an unsigned 64-bit value\u0000x86/svm: ...\n\nLink: https://lore.kernel.org/all/20251113225621.1688428-1-seanjc@google.com\nLink: https://patch.msgid.link/20251230191342.4052363-1-seanjc@google.com\n\u001e",
	);
	if (testCommit === undefined) return t.fail();
	const links = await typeLinks(testCommit, { trees: [{ tree: "kvm", index }], testCommits: new Set() });
	const [dep] = links.filter(isFixLink);
	if (dep?.role !== "fix") return t.fail();
	t.is(links.length, 2);
	// One patch: the fix and its cherry-pick are one dependency.
	t.is(dep.patches.length, 1);
	const [patch] = dep.patches;
	if (patch === undefined) return t.fail();
	const history = new HistoryAnswers();
	const at = async (ref: string) => patchStatusIn(patch, { repo: dir, sha: await git(dir, "rev-parse", ref) }, history);
	t.deepEqual(await at("master"), { kind: "missing" });
	t.is((await at("next")).kind, "contained");
	t.deepEqual(await at("stable"), {
		kind: "contained",
		commit: { tree: "kvm", sha: picked, subject: "KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR" },
	});
	const branch = (name: string, ref: string) => ({ name, tree: "kvm", repo: dir, ref });
	t.deepEqual(
		await branchesHaving(
			patch,
			[branch("kvm/master", "master"), branch("kvm-x86/next", "next"), branch("stable/6.1.y", "stable")],
			history,
		),
		{
			in: [
				{ branch: "kvm-x86/next", sha: fix, cherryPick: false },
				{ branch: "stable/6.1.y", sha: picked, cherryPick: true },
			],
			notIn: ["kvm/master"],
			unknown: [],
		},
	);
	// A kernel commit the repository does not have: git cannot answer, and that is not "missing".
	const broken = await patchStatusIn(patch, { repo: dir, sha: "0".repeat(40) }, history);
	t.is(broken.kind, "unknown");
	t.regex(
		broken.kind === "unknown" ? broken.reason : "",
		/^could not tell whether 000000000000 contains [0-9a-f]{12}: /,
	);
	await t.throwsAsync(isAncestor(dir, fix, "0".repeat(40)), { instanceOf: GitFactError });
	t.false(await isAncestor(dir, fix, "master"));
});

test("a commit survives its store line, whatever its subject and ids hold", (t) => {
	const text = fc.string({ unit: fc.constantFrom("a", " ", "\t", "\n", "\u001f", "é", "(", '"') });
	const commit = fc.record({
		sha: fc.stringMatching(/^[0-9a-f]{40}$/),
		subject: text,
		messageIds: fc.array(text.filter((s) => s.length > 0)),
		bugs: fc.array(text.filter((s) => s.length > 0)),
		citations: fc.array(fc.record({ sha: fc.stringMatching(/^[0-9a-f]{12}$/), subject: text })),
		upstream: fc.array(fc.stringMatching(/^[0-9a-f]{40}$/)),
	});
	const flat = (s: string) => s.replaceAll("\t", " ").replaceAll("\n", " ").replaceAll("\u001f", " ");
	fc.assert(
		fc.property(commit, (c: IndexedCommit) => {
			t.deepEqual(parseCommitLine(commitLine(c)), {
				sha: c.sha,
				subject: flat(c.subject),
				messageIds: c.messageIds.map(flat),
				bugs: c.bugs.map(flat),
				citations: c.citations.map((x) => ({ sha: x.sha, subject: flat(x.subject) })),
				upstream: c.upstream,
			});
		}),
	);
});

test("the store is appended to, and a commit written twice (two runs at once) is found once", async (t) => {
	const { dir, fix } = await kernelTree();
	const store = path.join(mkdtempSync(path.join(os.tmpdir(), "idx-")), "kvm");
	await updateLinkIndex(dir, ["master", "next", "stable"], store);
	const lines = readFileSync(`${store}.links`, "utf8");
	t.is(lines.trim().split("\n").length, 3);
	appendFileSync(`${store}.links`, lines);
	const index = LinkIndex.fromLines(readFileSync(`${store}.links`, "utf8"), []);
	t.is(index.commitsFor("20251113225621.1688428-2-seanjc@google.com").exact.length, 2);
	t.is(index.commit(fix)?.subject, "KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR");
	t.deepEqual(index.commitsWithSubject("Initial").length, 1);
});
