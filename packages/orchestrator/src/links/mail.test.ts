import test from "ava";
import { diff, KERNEL_PATCH, mail, mbox, REPLY } from "../../../../test/support/lore-mails.js";
import { parseMbox, parseMessage } from "./mail.js";

test("headers: folded, encoded-words, ids, date, list", (t) => {
	const raw = [
		"From: =?UTF-8?q?Rados=C5=82aw_Biernacki?= <rad@example.org>",
		"Subject: [PATCH v2 1/2] KVM: x86: =?UTF-8?B?Zml4IMOpbXVsYXRpb24=?=",
		" =?UTF-8?B?IG9mIOKCrA==?= in the",
		"\temulator",
		"Date: Tue, 24 Feb 2026 17:20:49 -0800 (PST)",
		"Message-Id: <20260224.1-2-r@example.org>",
		"In-Reply-To: <20260224.1-1-r@example.org> (Radosław's message)",
		"References: <20260101.1-1-r@example.org>",
		" <20260224.1-1-r@example.org>",
		"List-Id: KVM list <kvm.vger.kernel.org>",
		"",
		"Body.",
	].join("\r\n");
	t.deepEqual(parseMessage(raw), {
		messageId: "20260224.1-2-r@example.org",
		subject: "[PATCH v2 1/2] KVM: x86: fix émulation of € in the emulator",
		date: "2026-02-25T01:20:49.000Z",
		from: "Radosław Biernacki <rad@example.org>",
		inReplyTo: "20260224.1-1-r@example.org",
		references: ["20260101.1-1-r@example.org", "20260224.1-1-r@example.org"],
		listId: "kvm.vger.kernel.org",
		files: [],
		hasDiff: false,
	});
});

test("a UTF-8 character split between two encoded-words is joined before decoding", (t) => {
	// "é" is C3 A9; a mailer may end one word after C3.
	const m = parseMessage("Subject: =?utf-8?Q?caf=C3?= =?utf-8?Q?=A9_au_lait?=\n\n");
	t.is(m.subject, "café au lait");
	t.is(parseMessage("Subject: a =?ISO-8859-1?Q?=E9?= b\n\n").subject, "a é b");
});

test("files come from diff --git and ---/+++ lines; quoted diffs in replies are not diffs", (t) => {
	const kernel = parseMessage(KERNEL_PATCH);
	t.deepEqual(kernel.files, ["arch/x86/kvm/lapic.c"]);
	t.true(kernel.hasDiff);
	t.is(kernel.subject, "[PATCH v4 3/7] KVM: x86: Don't drop the pending IPI when the vCPU is blocked");
	const reply = parseMessage(REPLY);
	t.false(reply.hasDiff);
	t.deepEqual(reply.files, []);
	// A rename, a new file, a path with " b/" in it, and a quilt-style diff without diff --git.
	const body = [
		"diff --git a/lib/x86/old.h b/lib/x86/new.h",
		"similarity index 90%",
		"diff --git a/x86/new.c b/x86/new.c",
		"new file mode 100644",
		"--- /dev/null",
		"+++ b/x86/new.c",
		"diff --git a/odd b/name.c b/odd b/name.c",
		"--- linux.orig/virt/kvm/kvm_main.c\t2026-01-01 00:00:00",
		"+++ linux/virt/kvm/kvm_main.c\t2026-01-01 00:00:00",
	].join("\n");
	t.deepEqual(parseMessage(`Subject: x\n\n${body}\n`).files, [
		"lib/x86/old.h",
		"lib/x86/new.h",
		"x86/new.c",
		"odd b/name.c",
		"virt/kvm/kvm_main.c",
	]);
});

test("a quoted-printable body is decoded, so soft-wrapped diff lines are whole", (t) => {
	const raw =
		"Subject: [PATCH] KVM: x86: x\nContent-Transfer-Encoding: quoted-printable\n\nA =3D B\ndiff --git a/arch/x86/kvm/x86.c b/arch/x8=\n6/kvm/x86.c\n";
	t.deepEqual(parseMessage(raw).files, ["arch/x86/kvm/x86.c"]);
});

test("b4's change-id is kept: it survives every re-posting of a series", (t) => {
	const m = parseMessage(
		"Subject: [PATCH v5 0/3] x\n\nText\n---\nbase-commit: abc\nchange-id: 20240101-apic-fixes-0a1b2c\n",
	);
	t.is(m.changeId, "20240101-apic-fixes-0a1b2c");
});

test("an mbox splits on From lines and unescapes >From", (t) => {
	const one = mail({ id: "a@x", subject: "[PATCH 1/2] a", body: "From here on\n>From quoted\nend\n" });
	const two = mail({ id: "b@x", subject: "[PATCH 2/2] b", body: diff("x86/a.c") });
	const text = mbox(one, two);
	t.true(text.includes("\n>From here on\n") && text.includes("\n>>From quoted\n"));
	const mails = parseMbox(text);
	t.deepEqual(
		mails.map((m) => m.messageId),
		["a@x", "b@x"],
	);
	t.deepEqual(mails[1]?.files, ["x86/a.c"]);
	// A single mail without a From line is an mbox of one.
	t.deepEqual(
		parseMbox(one).map((m) => m.messageId),
		["a@x"],
	);
});
