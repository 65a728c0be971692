// The Link: index store on disk: shared by runs that update it at once, and by runs that died
// while writing it.
import {
	appendFileSync,
	closeSync,
	existsSync,
	mkdtempSync,
	openSync,
	readFileSync,
	readSync,
	truncateSync,
	writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import test from "ava";
import { execa } from "execa";
import { LinkIndex, loadLinkIndex, updateLinkIndex, updateLinkStore } from "./index.js";

const env = {
	GIT_AUTHOR_NAME: "T",
	GIT_AUTHOR_EMAIL: "t@example.org",
	GIT_COMMITTER_NAME: "T",
	GIT_COMMITTER_EMAIL: "t@example.org",
};

/** A repository of `count` commits on master, each linking its own posting. */
async function history(count: number): Promise<string> {
	const dir = mkdtempSync(path.join(os.tmpdir(), "store-repo-"));
	await execa("git", ["init", "-q", "-b", "master", dir]);
	for (let i = 0; i < count; i++) await commit(dir, i);
	return dir;
}

const commit = (dir: string, i: number) =>
	execa(
		"git",
		[
			"-C",
			dir,
			"commit",
			"-q",
			"--allow-empty",
			"-m",
			`KVM: change ${i}\n\nLink: https://lore.kernel.org/r/2026-${i}-dev@example.org`,
		],
		{ env },
	);

const store = () => path.join(mkdtempSync(path.join(os.tmpdir(), "store-")), "links", "kvm");
const lines = (s: string) => readFileSync(`${s}.links`, "utf8");

test("two updates at once index each commit once", async (t) => {
	const repo = await history(20);
	const s = store();
	const added = await Promise.all([updateLinkStore(repo, ["master"], s), updateLinkStore(repo, ["master"], s)]);
	t.deepEqual(
		[...added].sort((a, b) => a - b),
		[0, 20],
	);
	t.is(lines(s).trim().split("\n").length, 20);
	t.is((await loadLinkIndex(s)).skippedLines, 0);
});

test("a line cut short by a killed writer is dropped on read and cut off before the next append", async (t) => {
	const repo = await history(3);
	const s = store();
	await updateLinkStore(repo, ["master"], s);
	const before = lines(s);
	// A writer killed in the middle of its next line.
	appendFileSync(`${s}.links`, before.split("\n")[0]?.slice(0, 50) ?? "");
	const read = await loadLinkIndex(s);
	t.is(read.size, 3);
	t.is(read.skippedLines, 0);
	await commit(repo, 3);
	t.is(await updateLinkStore(repo, ["master"], s), 1);
	const after = lines(s);
	t.true(after.startsWith(before));
	t.is(after.trim().split("\n").length, 4);
	const index = await loadLinkIndex(s);
	t.is(index.commitsFor("2026-3-dev@example.org").exact.length, 1);
	t.is(index.skippedLines, 0);
});

test("a garbled or truncated store is rebuilt from history, not a crash", async (t) => {
	const repo = await history(5);
	const s = store();
	await updateLinkIndex(repo, ["master"], s);
	writeFileSync(`${s}.links`, "\u0000\u0001 not a store line\nneither is this\n");
	writeFileSync(`${s}.tips`, "zzz\n");
	const index = await updateLinkIndex(repo, ["master"], s);
	t.is(index.size, 5);
	t.is(index.skippedLines, 0);
	t.is(index.commitsFor("2026-4-dev@example.org").exact.length, 1);
	// Cut in the middle of a line, the tips still vouching for all five: rebuilt, none lost.
	truncateSync(`${s}.links`, 100);
	const again = await updateLinkIndex(repo, ["master"], s);
	t.is(again.size, 5);
	t.is(again.skippedLines, 0);
});

/**
 * A tree with every kind of reference the tables answer for, and subjects that are not ASCII
 * (a line's place in the store is in bytes, a subject's characters are not).
 */
async function referencingTree(): Promise<{ readonly repo: string; readonly fix: string; readonly picked: string }> {
	const repo = await history(2);
	const say = async (message: string) => {
		await execa("git", ["-C", repo, "commit", "-q", "--allow-empty", "-m", message], { env });
		return (await execa("git", ["-C", repo, "rev-parse", "HEAD"])).stdout;
	};
	await say(
		"KVM: x86: Fix Zoë's lapic timer — really\n\nLink: https://lore.kernel.org/r/20260102101500.4242-2-zoe@example.org",
	);
	const fix = await say(
		"[PATCH v3 1/2] KVM: SVM: Ünmask the right bit\n\nCloses: https://bugzilla.kernel.org/show_bug.cgi?id=219009\nLink: https://patch.msgid.link/20260103101500.4343-1-u@example.org",
	);
	await say("KVM: x86: plain, no references");
	const picked = await say(
		`KVM: SVM: Ünmask the right bit\n\ncommit ${fix} upstream.\n\nFixes: ${fix.slice(0, 12)} ("x")`,
	);
	return { repo, fix, picked };
}

/** Every question the index answers, asked of `index`. */
function answers(index: Awaited<ReturnType<typeof loadLinkIndex>>, fix: string, picked: string) {
	const graph = index.graph;
	return {
		size: index.size,
		ids: [
			"20260102101500.4242-2-zoe@example.org",
			"20260102101500.4242-1-zoe@example.org",
			"20260103101500.4343-1-u@example.org",
			"2026-1-dev@example.org",
		].map((id) => index.commitsFor(id)),
		picks: index.commitsPickedFrom(fix),
		subjects: [
			"KVM: SVM: Ünmask the right bit",
			"KVM: x86: Fix Zoë's lapic timer — really",
			"KVM: change 1",
			"none",
		].map((s) => index.commitsWithSubject(s)),
		patchSubject: index.commitsWithPatchSubject("[PATCH v5 1/2] KVM: SVM: Ünmask the right bit"),
		prefixes: [fix.slice(0, 12), fix.slice(0, 6), picked, "deadbeef"].map((p) => index.commitByPrefix(p)),
		graph: [
			graph.isAncestor(fix, picked),
			graph.isAncestor(picked, fix),
			graph.count(fix, picked),
			graph.mergeBase(fix, picked),
		],
	};
}

test("the tables saved beside the store answer every question as the store does", async (t) => {
	const { repo, fix, picked } = await referencingTree();
	const s = store();
	const built = await updateLinkIndex(repo, ["master"], s);
	t.false(built.fromSavedTables);
	t.true(existsSync(`${s}.tables`));
	const saved = await loadLinkIndex(s);
	t.true(saved.fromSavedTables);
	const expected = answers(built, fix, picked);
	t.deepEqual(answers(saved, fix, picked), expected);
	// And as the store's text read whole into memory does (the tables built lazily there).
	t.deepEqual(answers(LinkIndex.fromLines(readFileSync(`${s}.links`, "utf8"), []), fix, picked), expected);
	// What the answers are, so that both agreeing on nothing cannot pass.
	t.deepEqual(expected.picks, [picked]);
	t.deepEqual(
		expected.subjects[0],
		[fix, picked].filter((c) => c !== fix),
	);
	t.is(expected.subjects[1]?.length, 1);
	// In store order, newest first.
	t.deepEqual(expected.patchSubject, [picked, fix]);
	t.is(expected.prefixes[0]?.subject, "[PATCH v3 1/2] KVM: SVM: Ünmask the right bit");
	t.deepEqual(expected.prefixes[0]?.bugs, ["bugzilla.kernel.org#219009"]);
	t.deepEqual(expected.ids[1]?.series.length, 1);
	t.deepEqual(expected.graph, [true, false, 2, fix]);
	t.deepEqual(saved.tips, built.tips);
});

test("saved tables that are stale, torn or altered are not used: the store is read again", async (t) => {
	const { repo, fix, picked } = await referencingTree();
	const s = store();
	const expected = answers(await updateLinkIndex(repo, ["master"], s), fix, picked);
	const tables = `${s}.tables`;
	const whole = readFileSync(tables);
	// Bytes changed in the arrays (16 in a row: more than the padding between two arrays).
	const altered = Buffer.from(whole);
	const middle = Math.floor(altered.length / 2);
	for (let i = middle; i < middle + 16; i++) altered[i] = (altered[i] ?? 0) ^ 0xff;
	writeFileSync(tables, altered);
	let index = await loadLinkIndex(s);
	t.false(index.fromSavedTables);
	t.deepEqual(answers(index, fix, picked), expected);
	// Read again, saved again, and used.
	t.true((await loadLinkIndex(s)).fromSavedTables);
	// Torn: cut in the middle.
	writeFileSync(tables, whole.subarray(0, Math.floor(whole.length / 2)));
	index = await loadLinkIndex(s);
	t.false(index.fromSavedTables);
	t.deepEqual(answers(index, fix, picked), expected);
	// Stale: the store grew since.
	await commit(repo, 99);
	const grown = await updateLinkIndex(repo, ["master"], s);
	t.false(grown.fromSavedTables);
	t.is(grown.size, expected.size + 1);
	t.is(grown.commitsFor("2026-99-dev@example.org").exact.length, 1);
	t.true((await loadLinkIndex(s)).fromSavedTables);
	// Another file in its place.
	writeFileSync(tables, "not tables\n");
	t.is((await loadLinkIndex(s)).size, expected.size + 1);
});

test("a store that grew has its saved tables joined with the lines appended, answering as a whole build", async (t) => {
	const { repo, fix, picked } = await referencingTree();
	const s = store();
	await updateLinkIndex(repo, ["master"], s);
	// A nightly later: a merge of a topic branch, a second backport of the old fix, another
	// patch of an old series, and a commit that cites the old fix by a short sha.
	const run = (...args: string[]) => execa("git", ["-C", repo, ...args], { env });
	await run("checkout", "-q", "-b", "topic", `${fix}~1`);
	await run(
		"commit",
		"-q",
		"--allow-empty",
		"-m",
		"KVM: x86: topic work\n\nLink: https://lore.kernel.org/r/20260103101500.4343-2-u@example.org",
	);
	await run("checkout", "-q", "master");
	await run("merge", "-q", "--no-ff", "-m", "Merge branch 'topic'", "topic");
	await run(
		"commit",
		"-q",
		"--allow-empty",
		"-m",
		`KVM: SVM: Ünmask the right bit\n\n(cherry picked from commit ${fix})`,
	);
	await run("commit", "-q", "--allow-empty", "-m", `KVM: x86: follow-up\n\nFixes: ${fix.slice(0, 12)} ("Ünmask")`);
	const grown = await updateLinkIndex(repo, ["master"], s);
	t.is(grown.tablesFrom, "joined");
	const whole = LinkIndex.fromLines(readFileSync(`${s}.links`, "utf8"), []);
	t.deepEqual(answers(grown, fix, picked), answers(whole, fix, picked));
	const all = (await execa("git", ["-C", repo, "rev-list", "--all"])).stdout.split("\n");
	for (const a of all)
		for (const b of all) {
			t.is(grown.graph.isAncestor(a, b), whole.graph.isAncestor(a, b));
			t.is(grown.graph.count(a, b), whole.graph.count(a, b));
			t.is(grown.graph.mergeBase(a, b), whole.graph.mergeBase(a, b));
		}
	// Joined answers, not only equal ones: the new backport and the series' second patch.
	t.is(grown.commitsPickedFrom(fix).length, 2);
	t.is(grown.commitsFor("20260103101500.4343-1-u@example.org").series.length, 1);
	t.is(grown.commitsWithSubject("KVM: SVM: Ünmask the right bit").length, 2);
	// Saved again as joined, and read back as it is.
	const again = await loadLinkIndex(s);
	t.true(again.fromSavedTables);
	t.deepEqual(answers(again, fix, picked), answers(whole, fix, picked));
});

test("saved tables are not joined with a store rewritten under the same name", async (t) => {
	const { repo, fix, picked } = await referencingTree();
	const s = store();
	await updateLinkIndex(repo, ["master"], s);
	// The same length, other bytes before the end (a store edited in place): made again.
	const before = readFileSync(`${s}.links`);
	const lines = before.toString("utf8").split("\n");
	const swapped = [lines[1], lines[0], ...lines.slice(2)].join("\n");
	writeFileSync(`${s}.links`, swapped);
	t.is(Buffer.byteLength(swapped), before.length);
	const index = await loadLinkIndex(s);
	t.is(index.tablesFrom, "store");
	t.deepEqual(answers(index, fix, picked), answers(LinkIndex.fromLines(swapped, []), fix, picked));
});

/** A full collection, finalizers run: what a long run does sooner or later. */
async function collectGarbage(): Promise<void> {
	setFlagsFromString("--expose-gc");
	const gc = runInNewContext("gc") as () => void;
	for (let i = 0; i < 3; i++) {
		gc();
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

test("the store's descriptor is closed only with the index that reads it, never under another file", async (t) => {
	const { repo, fix, picked } = await referencingTree();
	const s = store();
	await updateLinkIndex(repo, ["master"], s);
	await commit(repo, 7);
	// Joined: the saved tables' index is made on the way, over the same descriptor, and dropped.
	const grown = await updateLinkIndex(repo, ["master"], s);
	t.is(grown.tablesFrom, "joined");
	const expected = answers(grown, fix, picked);
	// Other indexes made and dropped, their descriptors closed in turn.
	for (let i = 0; i < 5; i++) await loadLinkIndex(s);
	await collectGarbage();
	// Files opened since got the numbers the dropped ones had: still theirs, still readable.
	const other = path.join(path.dirname(s), "other.txt");
	writeFileSync(other, "still mine\n");
	const fd = openSync(other, "r");
	await collectGarbage();
	const buffer = Buffer.alloc(64);
	t.is(buffer.toString("utf8", 0, readSync(fd, buffer, 0, 64, 0)), "still mine\n");
	closeSync(fd);
	// And the kept index still reads its store.
	t.deepEqual(answers(grown, fix, picked), expected);
});
