// Link typing, table-driven on the real shapes of FACTS.md ("Link: trailers in real history",
// "Verdicts on real history"): only a link that resolves to a kernel commit is a fix.
import test from "ava";
import { commitLine, type IndexedCommit, LinkIndex, parseLog } from "./index.js";
import type { LoreAnswer } from "./lore.js";
import type { LorePosting } from "./posting.js";
import { type TypedLink, targetText, typeLinks } from "./typing.js";

const sha = (n: number) => n.toString(16).padStart(40, "0");
const kernelCommit = (n: number, subject: string, ...ids: string[]): IndexedCommit => ({
	sha: sha(n),
	subject,
	messageIds: ids,
	bugs: [],
	citations: [],
	upstream: [],
});

// A kvm-x86-like history: the SVM exit_code series (patches 2..), the EP4TA fix, the ENTER/MMIO fix,
// and the xapic fixes applied as v5 with new message-ids.
const KERNEL = [
	kernelCommit(
		1,
		"KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)",
		"20251113225621.1688428-2-seanjc@google.com",
	),
	kernelCommit(
		2,
		"KVM: SVM: Treat exit_code as an unsigned 64-bit value",
		"20251113225621.1688428-3-seanjc@google.com",
	),
	kernelCommit(
		3,
		"KVM: x86/mmu: Use dummy root, backed by zero page, for !visible guest roots",
		"20230729005200.1057358-6-seanjc@google.com",
	),
	kernelCommit(4, "KVM: x86: Fix emulated MMIO with ENTER", "20260225012049.920665-2-seanjc@google.com"),
	kernelCommit(
		5,
		"KVM: x86: Inject #GP if WRMSR sets reserved bits in APIC Self-IPI",
		"20230106011306.85230-3-seanjc@google.com",
	),
	{
		...kernelCommit(
			6,
			'KVM: nVMX: Inject #GP, not #UD, if "generic" VMXON CR0/CR4 check fails',
			"20221006001956.329314-1-seanjc@google.com",
		),
	},
];
const index = LinkIndex.fromLines(KERNEL.map(commitLine).join("\n"), []);
const trees = [{ tree: "kvm-x86", index }];

const kut = (subject: string, body: string): IndexedCommit => {
	const [c] = parseLog(`${"f".repeat(40)}\u0000${subject}\u0000${subject}\n\n${body}\n\u001e`);
	if (c === undefined) throw new Error("no commit");
	return c;
};

const roles = (links: readonly TypedLink[]) => links.map((l) => `${l.role} ${targetText(l.target)}`);
const offline = (c: IndexedCommit) => typeLinks(c, { trees, testCommits: new Set([c.sha]) });

const cases: [string, IndexedCommit, string[]][] = [
	[
		"a cover letter link matches its series; the last link is the test's own posting",
		kut(
			"x86/svm: Track and handle exit code as an unsigned 64-bit value",
			"Link: https://lore.kernel.org/all/20251113225621.1688428-1-seanjc@google.com\nLink: https://patch.msgid.link/20251230191342.4052363-1-seanjc@google.com",
		),
		["fix 20251113225621.1688428-1-seanjc@google.com", "own-posting 20251230191342.4052363-1-seanjc@google.com"],
	],
	[
		"EP4TA: a patch of the KVM series, then the own posting",
		kut(
			"nVMX: Add a testcase for running L2 with EP4TA that points at MMIO",
			"Link: https://lore.kernel.org/all/20230729005200.1057358-6-seanjc@google.com\nLink: https://lore.kernel.org/r/20230911182013.333559-4-seanjc@google.com",
		),
		["fix 20230729005200.1057358-6-seanjc@google.com", "own-posting 20230911182013.333559-4-seanjc@google.com"],
	],
	[
		"an earlier posting of the test by its first author is unresolved, not a fix",
		kut(
			"nVMX: test the thing",
			"Link: https://lore.kernel.org/all/20240907005440.500075-5-mlevitsk@redhat.com\nLink: https://lore.kernel.org/r/20250215012032.1206409-4-seanjc@google.com",
		),
		[
			"unresolved 20240907005440.500075-5-mlevitsk@redhat.com",
			"own-posting 20250215012032.1206409-4-seanjc@google.com",
		],
	],
	[
		"a reply on the list, with a ' # [1]' comment, is unresolved",
		kut(
			"x86/pmu: fix a check",
			"Link: https://lore.kernel.org/kvm/aMahfvF1r39Xq6zK@intel.com/ # [1]\nMessage-ID: <20250301000000.1234-2-dapeng1.mi@linux.intel.com>",
		),
		["unresolved aMahfvF1r39Xq6zK@intel.com", "own-posting 20250301000000.1234-2-dapeng1.mi@linux.intel.com"],
	],
	[
		"bug trackers, lkp reports and lore copies of bugzilla mails are bug reports",
		kut(
			"x86: fix the build",
			"Closes: https://lore.kernel.org/all/202502271500.28201544-lkp@intel.com\nLink: https://lore.kernel.org/all/bug-219787-28872@https.bugzilla.kernel.org%2F\nLink: https://bugzilla.kernel.org/show_bug.cgi?id=216812\nMessage-Id: <20250301000000.77-1-thuth@redhat.com>",
		),
		[
			"bug-report 202502271500.28201544-lkp@intel.com",
			"bug-report bug-219787-28872@https.bugzilla.kernel.org",
			"own-posting 20250301000000.77-1-thuth@redhat.com",
			"bug-report bugzilla.kernel.org#216812",
		],
	],
	[
		"patches of the test's own series are its own series",
		kut(
			"x86/apic: test 2 of 3",
			"Link: https://lore.kernel.org/r/20221001005915.2041642-1-seanjc@google.com\nLink: https://lore.kernel.org/r/20221001005915.2041642-3-seanjc@google.com\nLink: https://lore.kernel.org/r/20221001005915.2041642-2-seanjc@google.com",
		),
		[
			"own-series 20221001005915.2041642-1-seanjc@google.com",
			"own-series 20221001005915.2041642-3-seanjc@google.com",
			"own-posting 20221001005915.2041642-2-seanjc@google.com",
		],
	],
	[
		"a commit whose only link is the KVM patch itself: a fix, not an own posting",
		kut("x86: test the ENTER fix", "Link: https://patch.msgid.link/20260225012049.920665-2-seanjc@google.com"),
		["fix 20260225012049.920665-2-seanjc@google.com"],
	],
	[
		"a cited commit is a fix by its sha prefix",
		kut(
			"x86/svm: expect exit_code_hi",
			`Note, the SVM tests will fail when on KVM builds without commit ${sha(1).slice(0, 12)} ("KVM: nSVM:\nSet exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)").\n\nMessage-Id: <20251230191342.4052363-2-seanjc@google.com>`,
		),
		[
			"own-posting 20251230191342.4052363-2-seanjc@google.com",
			`fix commit ${sha(1).slice(0, 12)} ("KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)")`,
		],
	],
	[
		"a cited commit whose sha a rebase rewrote is still found by its subject",
		kut(
			"x86/svm: expect exit_code_hi",
			'Needs commit 0123456789ab ("KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)").\n\nLink: https://lore.kernel.org/r/20251230191342.4052363-3-seanjc@google.com',
		),
		[
			"own-posting 20251230191342.4052363-3-seanjc@google.com",
			'fix commit 0123456789ab ("KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)")',
		],
	],
	[
		"the vmx bug shape: the test links only its own posting",
		kut(
			'nVMX: Expect #GP on VMXON with "generic" invalid CR0/CR4 bits',
			"Link: https://lore.kernel.org/r/20221006000314.73240-2-seanjc@google.com",
		),
		["own-posting 20221006000314.73240-2-seanjc@google.com"],
	],
];

for (const [name, commit, expected] of cases) {
	test(name, async (t) => {
		t.deepEqual(roles(await offline(commit)), expected);
	});
}

test("a citation matched by subject carries the commit it found; by sha, its cherry-picks too", async (t) => {
	const [bySubject] = (await offline(cases[8]?.[1] as IndexedCommit)).filter((l) => l.role === "fix");
	t.deepEqual(
		bySubject?.role === "fix"
			? [bySubject.matchedBy, bySubject.patches.flatMap((p) => p.commits).map((c) => c.sha)]
			: [],
		["subject", [sha(1)]],
	);
	const [bySha] = (await offline(cases[7]?.[1] as IndexedCommit)).filter((l) => l.role === "fix");
	t.is(bySha?.role === "fix" ? bySha.matchedBy : undefined, "sha");
});

test("the test's own commits are never its fix (selftests live in the kernel tree)", async (t) => {
	const selftest = kut(
		"KVM: selftests: check it",
		"Link: https://patch.msgid.link/20260225012049.920665-2-seanjc@google.com",
	);
	const links = await typeLinks(selftest, { trees, testCommits: new Set([selftest.sha, sha(4)]) });
	t.deepEqual(roles(links), ["own-posting 20260225012049.920665-2-seanjc@google.com"]);
});

const posting = (over: Partial<LorePosting>): LorePosting =>
	({
		messageId: "x@y",
		subject: "s",
		rawSubject: "s",
		kind: "other",
		files: [],
		patchSubjects: [],
		...over,
	}) as LorePosting;

test("with lore: a KUT patch is an earlier posting, a reply a reply, a v4 patch finds its applied v5 by subject, a KVM patch applied nowhere is posted", async (t) => {
	const answers: Record<string, LoreAnswer> = {
		"20240907005440.500075-5-mlevitsk@redhat.com": {
			kind: "found",
			posting: posting({ kind: "kut-patch", subject: "nVMX: test the thing" }),
		},
		"aMahfvF1r39Xq6zK@intel.com": {
			kind: "found",
			posting: posting({ kind: "reply", subject: "Re: [PATCH] x86/pmu" }),
		},
		"20221222023457.1764-4-seanjc@google.com": {
			kind: "found",
			posting: posting({
				kind: "kernel-patch",
				subject: "KVM: x86: Inject #GP if WRMSR sets reserved bits in APIC Self-IPI",
				rawSubject: "[PATCH v4 3/27] KVM: x86: Inject #GP if WRMSR sets reserved bits in APIC Self-IPI",
			}),
		},
		"20260301000000.4242-1-someone@example.org": {
			kind: "found",
			posting: posting({ kind: "kernel-patch", subject: "KVM: x86: Never applied", date: "2026-03-01T00:00:00.000Z" }),
		},
		"20260302000000.4343-1-gone@example.org": { kind: "unavailable", reason: "lore.example: timed out after 10 s" },
	};
	const lore = async (id: string): Promise<LoreAnswer> => answers[id] ?? { kind: "not-found" };
	const commit = kut(
		"x86: many links",
		[
			"Link: https://lore.kernel.org/all/20240907005440.500075-5-mlevitsk@redhat.com",
			"Link: https://lore.kernel.org/kvm/aMahfvF1r39Xq6zK@intel.com/",
			"Link: https://lore.kernel.org/r/20221222023457.1764-4-seanjc@google.com",
			"Link: https://lore.kernel.org/r/20260301000000.4242-1-someone@example.org",
			"Link: https://lore.kernel.org/r/20260302000000.4343-1-gone@example.org",
			"Link: https://lore.kernel.org/r/20260303000000.9999-1-nobody@example.org",
			"Link: https://lore.kernel.org/r/20260310000000.1-1-qa@example.org",
		].join("\n"),
	);
	const links = await typeLinks(commit, { trees, testCommits: new Set([commit.sha]), lore });
	t.deepEqual(roles(links), [
		"earlier-posting 20240907005440.500075-5-mlevitsk@redhat.com",
		"reply aMahfvF1r39Xq6zK@intel.com",
		"fix 20221222023457.1764-4-seanjc@google.com",
		"posted 20260301000000.4242-1-someone@example.org",
		"unresolved 20260302000000.4343-1-gone@example.org",
		"unresolved 20260303000000.9999-1-nobody@example.org",
		"own-posting 20260310000000.1-1-qa@example.org",
	]);
	const v5 = links[2];
	t.deepEqual(v5?.role === "fix" ? [v5.matchedBy, v5.patches.flatMap((p) => p.commits).map((c) => c.sha)] : [], [
		"subject",
		[sha(5)],
	]);
	const unavailable = links[4];
	t.is(
		unavailable?.role === "unresolved" ? unavailable.note : "",
		"not found in any configured tree; lore: lore.example: timed out after 10 s",
	);
});

// ---- patches: what the review of per-patch dependencies found --------------------------------

const patchesOfLink = (links: readonly TypedLink[]) =>
	links.flatMap((l) => (l.role === "fix" ? l.patches.map((p) => p.commits.map((c) => c.sha)) : []));

test("a backport of the test's own commit (a stable selftest, same Link:, same subject) is no fix", async (t) => {
	const own = "20250101000000.1111-1-dev@example.org";
	const test = { ...kernelCommit(20, "KVM: selftests: Add a test of the thing", own) };
	const backport = { ...kernelCommit(21, "KVM: selftests: Add a test of the thing", own), upstream: [sha(20)] };
	const mainline = LinkIndex.fromLines(commitLine(test), []);
	const stable = LinkIndex.fromLines(commitLine(backport), []);
	const links = await typeLinks(test, {
		trees: [
			{ tree: "linux", index: mainline },
			{ tree: "stable", index: stable },
		],
		testCommits: new Set([sha(20)]),
		testSubjects: new Set(["KVM: selftests: Add a test of the thing"]),
	});
	t.deepEqual(roles(links), [`own-posting ${own}`]);
});

test("a series whose every patch also carries its cover letter's link: one patch each, by its own message-id", async (t) => {
	const cover = "20260101000000.2222-1-seanjc@google.com";
	const commits = [2, 3].map((n) => ({
		...kernelCommit(30 + n, `KVM: x86: Fix part ${n}`, cover, `20260101000000.2222-${n}-seanjc@google.com`),
	}));
	const idx = LinkIndex.fromLines(commits.map(commitLine).join("\n"), []);
	const links = await typeLinks(
		kut(
			"x86: test the parts",
			`Link: https://lore.kernel.org/r/${cover}\nLink: https://lore.kernel.org/r/20260102000000.1-1-qa@example.org`,
		),
		{
			trees: [{ tree: "kvm", index: idx }],
			testCommits: new Set(),
		},
	);
	t.deepEqual(patchesOfLink(links), [[sha(32)], [sha(33)]]);
});

test("a backport found by subject must not carry another posting's message-id; a series' selftests are not its fix", async (t) => {
	const stem = "20260201000000.3333";
	const fix = kernelCommit(40, "KVM: x86: Fix typo", `${stem}-2-seanjc@google.com`);
	const other = kernelCommit(41, "KVM: x86: Fix typo", "20190101000000.9-1-someone@example.org");
	const plainBackport = kernelCommit(42, "KVM: x86: Fix typo");
	const selftest = kernelCommit(43, "KVM: selftests: Cover the typo", `${stem}-3-seanjc@google.com`);
	const idx = LinkIndex.fromLines([fix, other, plainBackport, selftest].map(commitLine).join("\n"), []);
	const links = await typeLinks(
		kut(
			"x86: typo test",
			`Link: https://lore.kernel.org/r/${stem}-1-seanjc@google.com\nLink: https://lore.kernel.org/r/20260202000000.1-1-qa@example.org`,
		),
		{
			trees: [{ tree: "kvm", index: idx }],
			testCommits: new Set(),
		},
	);
	t.deepEqual(patchesOfLink(links), [[sha(40), sha(42)]]);
});
