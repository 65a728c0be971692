import { appendFileSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import fc from "fast-check";
import { commitFiles, git } from "../../../../test/support/git.js";
import { fixDependencies, locateFix } from "./fixes.js";
import { commitLine, type IndexedCommit, LinkIndex, parseCommitLine, parseLog, updateLinkIndex } from "./index.js";

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

test("where a test's fix stands: not in master, in next and (cherry-picked) stable; a posting applied nowhere", async (t) => {
	const { dir, fix } = await kernelTree();
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
	const deps = fixDependencies(testCommit);
	t.deepEqual(deps.messageIds, ["20251113225621.1688428-1-seanjc@google.com"]);
	const branches = { "kvm/master": "master", "kvm-x86/next": "next", "stable/6.1.y": "stable" };
	const at = (kernel: string, messageId = deps.messageIds[0] ?? "") =>
		locateFix({ repo: dir, index, messageId, kernel, branches });
	t.deepEqual(await at("master"), {
		kind: "not-contained",
		commit: fix,
		subject: "KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR",
		containedIn: ["kvm-x86/next", "stable/6.1.y"],
	});
	t.is((await at("next")).kind, "contained");
	t.is((await at("stable")).kind, "contained");
	t.deepEqual(await at("master", "20260301000000.999-1-someone@example.org"), {
		kind: "not-applied",
		messageId: "20260301000000.999-1-someone@example.org",
	});
});

test("a commit survives its store line, whatever its subject and ids hold", (t) => {
	const text = fc.string({ unit: fc.constantFrom("a", " ", "\t", "\n", "\u001f", "é", "(", '"') });
	const commit = fc.record({
		sha: fc.stringMatching(/^[0-9a-f]{40}$/),
		subject: text,
		messageIds: fc.array(text.filter((s) => s.length > 0)),
		bugs: fc.array(text.filter((s) => s.length > 0)),
		citations: fc.array(fc.record({ sha: fc.stringMatching(/^[0-9a-f]{12}$/), subject: text })),
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
