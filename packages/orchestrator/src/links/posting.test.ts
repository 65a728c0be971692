import test from "ava";
import {
	COVER,
	COVER_ID,
	COVER_THREAD,
	diff,
	type Mail,
	mail,
	mbox,
	REPLIED_PATCH,
	REPLY,
	REVIEW,
	SERIES_SUBJECTS,
} from "../../../../test/support/lore-mails.js";
import { type LoreMessage, parseMbox, parseMessage } from "./mail.js";
import { describePosting, normalisePatchSubject, projectOfFiles } from "./posting.js";

const subjects: [string, string][] = [
	["[PATCH v3 2/5] KVM: x86: Fix it", "KVM: x86: Fix it"],
	["Re: [PATCH RFC v2 03/14] KVM: x86:   Fix\tit ", "KVM: x86: Fix it"],
	["RE: Re: [PATCH 5.15 1/2] KVM: x86: Fix it", "KVM: x86: Fix it"],
	["[kvm-unit-tests PATCH] [RESEND] x86/apic: Test it", "x86/apic: Test it"],
	["KVM: x86: No tag at all", "KVM: x86: No tag at all"],
	["[PATCH] x86: [brackets] inside stay", "x86: [brackets] inside stay"],
];
for (const [raw, expected] of subjects) {
	test(`normalisePatchSubject: ${raw}`, (t) => {
		t.is(normalisePatchSubject(raw), expected);
	});
}

type Expected = Pick<ReturnType<typeof describePosting>, "kind" | "subject"> &
	Partial<Pick<ReturnType<typeof describePosting>, "series" | "project">>;

const KUT_DIFF = diff("x86/apic.c");
const KERNEL_DIFF = diff("arch/x86/kvm/lapic.c");
const postings: [subject: string, body: string, extra: Partial<Mail>, expected: Expected][] = [
	[
		"[PATCH v3 2/5] KVM: x86: Fix it",
		KERNEL_DIFF,
		{},
		{
			kind: "kernel-patch",
			subject: "KVM: x86: Fix it",
			series: { version: 3, index: 2, total: 5 },
			project: "kernel",
		},
	],
	[
		"[PATCH RFC v2 03/14] KVM: x86: Fix it",
		KERNEL_DIFF,
		{},
		{ kind: "kernel-patch", subject: "KVM: x86: Fix it", series: { version: 2, index: 3, total: 14 } },
	],
	[
		"[PATCH 5.15 1/2] KVM: x86: Backport it",
		KERNEL_DIFF,
		{},
		{ kind: "kernel-patch", subject: "KVM: x86: Backport it", series: { version: 1, index: 1, total: 2 } },
	],
	[
		"[PATCHv2] KVM: x86: Old spelling",
		KERNEL_DIFF,
		{},
		{ kind: "kernel-patch", subject: "KVM: x86: Old spelling", series: { version: 2, index: 1, total: 1 } },
	],
	[
		"[PATCH] KVM: selftests: Add a test",
		diff("tools/testing/selftests/kvm/x86/a_test.c"),
		{},
		{ kind: "kernel-patch", subject: "KVM: selftests: Add a test" },
	],
	[
		"[kvm-unit-tests PATCH 2/3] x86/apic: Test it",
		KUT_DIFF,
		{},
		{ kind: "kut-patch", subject: "x86/apic: Test it", series: { version: 1, index: 2, total: 3 }, project: "kut" },
	],
	[
		"[PATCH kvm-unit-tests v2] lib: Share it",
		diff("lib/alloc.c"),
		{},
		{ kind: "kut-patch", subject: "lib: Share it", series: { version: 2, index: 1, total: 1 } },
	],
	// No tag naming the project: the paths do (KUT has x86/ at the top, lib/x86/, unittests.cfg).
	["[PATCH 1/2] nVMX: Test EP4TA", diff("x86/vmx_tests.c"), {}, { kind: "kut-patch", subject: "nVMX: Test EP4TA" }],
	["[PATCH] lib: Fix it", diff("lib/x86/processor.h"), {}, { kind: "kut-patch", subject: "lib: Fix it" }],
	["[PATCH] s390x: Fix it", diff("s390x/unittests.cfg"), {}, { kind: "kut-patch", subject: "s390x: Fix it" }],
	// lib/ and scripts/ exist in both trees: only "KVM:" names the kernel, else nothing is known.
	["[PATCH] KVM: Fix lib", diff("lib/string.c"), {}, { kind: "kernel-patch", subject: "KVM: Fix lib" }],
	["[PATCH] scripts: Fix it", diff("scripts/runtime.bash"), {}, { kind: "other", subject: "scripts: Fix it" }],
	[
		"[PATCH 0/9] KVM: SVM: Exit code fixes",
		"Cover.\n",
		{},
		{ kind: "cover-letter", subject: "KVM: SVM: Exit code fixes", series: { version: 1, index: 0, total: 9 } },
	],
	[
		"[PATCH v5 00/14] KVM: x86: Emulator MMIO fix",
		"Cover.\n",
		{},
		{ kind: "cover-letter", subject: "KVM: x86: Emulator MMIO fix", series: { version: 5, index: 0, total: 14 } },
	],
	[
		"[kvm-unit-tests PATCH 0/3] x86: APIC tests",
		"Cover.\n",
		{},
		{ kind: "cover-letter", subject: "x86: APIC tests", project: "kut" },
	],
	["Re: [PATCH] KVM: x86: Fix it", "Applied.\n", {}, { kind: "reply", subject: "KVM: x86: Fix it" }],
	// A reply with an untested diff in it is still a reply.
	["RE: [PATCH v2 1/3] KVM: x86: Fix it", KERNEL_DIFF, {}, { kind: "reply", subject: "KVM: x86: Fix it" }],
	["Some question", "What about this?\n", { inReplyTo: "x@y" }, { kind: "reply", subject: "Some question" }],
	// A fresh mail that is no patch: a bug report, an lkp report, a pull request.
	["[Bug 219787] New: VMX test fails", "Report.\n", {}, { kind: "other", subject: "New: VMX test fails" }],
	["[GIT PULL] KVM changes for 6.8", "Please pull.\n", {}, { kind: "other", subject: "KVM changes for 6.8" }],
];
for (const [subject, body, extra, expected] of postings) {
	test(`describePosting: ${subject}`, (t) => {
		const posting = describePosting(parseMessage(mail({ id: "m@x", subject, body, ...extra })));
		t.like(posting, expected);
		t.is(posting.rawSubject, subject);
		t.is(posting.messageId, "m@x");
	});
}

test("which tree a diff is for, from its paths", (t) => {
	t.is(projectOfFiles(["arch/x86/kvm/x86.c", "include/linux/kvm_host.h"]), "kernel");
	t.is(projectOfFiles(["x86/vmx.c", "lib/x86/vmx.h"]), "kut");
	t.is(projectOfFiles(["lib/libcflat.h"]), "kut");
	t.is(projectOfFiles(["Makefile", "scripts/x"]), undefined);
	t.is(projectOfFiles(["arch/x86/kvm/x86.c", "x86/vmx.c"]), undefined);
	t.is(projectOfFiles([]), undefined);
});

test("a cover letter's patchSubjects are its patches 1..N from the thread, in order", (t) => {
	const thread = parseMbox(COVER_THREAD);
	// The thread's order is not the series' order, and a reply and another version are ignored.
	const other = parseMessage(
		mail({
			id: "v2@x",
			subject: "[PATCH v2 01/14] KVM: x86: Not this version",
			inReplyTo: COVER_ID,
			body: KERNEL_DIFF,
		}),
	);
	const shuffled: LoreMessage[] = [...thread].reverse().concat(other);
	const posting = describePosting(parseMessage(COVER), shuffled);
	t.is(posting.kind, "cover-letter");
	t.is(posting.subject, "KVM: x86: Emulator MMIO fix and cleanups");
	t.deepEqual(posting.patchSubjects, SERIES_SUBJECTS);
	t.is(posting.project, "kernel");
	t.deepEqual(describePosting(parseMessage(COVER)).patchSubjects, []);
});

test("a reply's patchSubjects are the patch it answers, or the series under a cover letter", (t) => {
	const thread = parseMbox(mbox(REPLIED_PATCH, REPLY));
	const posting = describePosting(parseMessage(REPLY), thread);
	t.is(posting.kind, "reply");
	t.deepEqual(posting.patchSubjects, ['KVM: nVMX: Inject #GP, not #UD, if "generic" VMXON CR0/CR4 check fails']);
	t.is(posting.project, "kernel");
	const onCover = mail({ id: "r@x", subject: "Re: [PATCH 00/14] KVM: x86: Emulator", inReplyTo: COVER_ID });
	t.deepEqual(describePosting(parseMessage(onCover), parseMbox(COVER_THREAD)).patchSubjects, SERIES_SUBJECTS);
	const review = describePosting(parseMessage(REVIEW), parseMbox(COVER_THREAD));
	t.deepEqual(review.patchSubjects, ["KVM: x86: Fix emulated MMIO for ENTER"]);
});
