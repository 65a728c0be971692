import test from "ava";
import { parseBugArg, reportFromBugzilla, reportFromText } from "./report.js";

const KERNEL = "https://bugzilla.kernel.org";

test("bug numbers and URLs", (t) => {
	const cases: [string, ReturnType<typeof parseBugArg>][] = [
		["216812", { base: KERNEL, id: "216812" }],
		[" 216812\n", { base: KERNEL, id: "216812" }],
		[`${KERNEL}/show_bug.cgi?id=216812`, { base: KERNEL, id: "216812" }],
		[`${KERNEL}/show_bug.cgi?id=216812#c3`, { base: KERNEL, id: "216812" }],
		["https://bugs.example.org/bugzilla/show_bug.cgi?id=5", { base: "https://bugs.example.org/bugzilla", id: "5" }],
		["http://127.0.0.1:8080/show_bug.cgi?format=multiple&id=7", { base: "http://127.0.0.1:8080", id: "7" }],
		[`${KERNEL}/216812`, { base: KERNEL, id: "216812" }],
		["https://host/5", { base: "https://host", id: "5" }],
		["https://host/bz/5/", { base: "https://host/bz", id: "5" }],
		[
			`${KERNEL}/show_bug.cgi?id=kvm-alias`,
			{ error: `${KERNEL}/show_bug.cgi?id=kvm-alias: no bug number in its id= parameter` },
		],
		[
			"bug216812",
			{ error: `"bug216812" is not a bug number or bugzilla URL (e.g. 216812 or ${KERNEL}/show_bug.cgi?id=216812)` },
		],
		[
			"ftp://host/5",
			{ error: `"ftp://host/5" is not a bug number or bugzilla URL (e.g. 216812 or ${KERNEL}/show_bug.cgi?id=216812)` },
		],
		[
			"https://host/buglist.cgi",
			{
				error: `"https://host/buglist.cgi" is not a bug number or bugzilla URL (e.g. 216812 or ${KERNEL}/show_bug.cgi?id=216812)`,
			},
		],
	];
	for (const [arg, want] of cases) t.deepEqual(parseBugArg(arg, `${KERNEL}/`), want, arg);
});

// ---------------------------------------------------------------------------------------------
// Bugzilla 5 REST answers, in the shapes bugzilla.kernel.org serves

const KUT_LOG = [
	"timeout -k 1s --foreground 90s /usr/bin/qemu-system-x86_64 --no-reboot -nodefaults -device pc-testdev -machine accel=kvm -kernel x86/vmx.flat -smp 1 -cpu max,+vmx -append vmx_apic_passthrough_tpr_threshold_test # -initrd /tmp/tmp.Xo5mfxdW1k",
	"enabling apic",
	"PASS: Basic VMX test",
	"FAIL: vmx_apic_passthrough_tpr_threshold_test: TPR threshold VM-exit",
	"SUMMARY: 2 tests, 1 unexpected failures",
	"FAIL vmx_apic_passthrough_tpr_threshold_test (2 tests, 1 unexpected failures)",
	"",
].join("\n");

const b64 = (data: string | Uint8Array) => Buffer.from(data).toString("base64");

const BUG = {
	bugs: [
		{
			id: 216812,
			summary: "kvm-unit-tests vmx_apic_passthrough_tpr_threshold_test fails on 6.1",
			product: "Virtualization",
			component: "kvm",
			status: "NEW",
		},
	],
	faults: [],
};

const COMMENTS = {
	bugs: {
		"216812": {
			comments: [
				{
					id: 1,
					bug_id: 216812,
					count: 0,
					text: "Since 6.1-rc1 vmx_apic_passthrough_tpr_threshold_test fails.",
					creator: "reporter@example.org",
					creation_time: "2022-12-14T10:00:00Z",
					attachment_id: null,
					is_private: false,
				},
				{
					id: 2,
					count: 1,
					text: "Created attachment 303\nkvm-unit-tests log",
					creator: "reporter@example.org",
					attachment_id: 303,
				},
				{ id: 3, count: 2, text: "", creator: "bot@example.org", attachment_id: null },
				{ id: 4, count: 3, text: "Bisected to commit 0123456789ab.", creator: "seanjc@google.com" },
			],
		},
	},
	comments: {},
};

const ATTACHMENTS = {
	bugs: {
		"216812": [
			{
				id: 303,
				file_name: "kut.log",
				content_type: "text/plain",
				summary: "kvm-unit-tests log",
				is_obsolete: 0,
				data: b64(KUT_LOG),
			},
			{
				id: 304,
				file_name: "config.gz",
				content_type: "application/gzip",
				summary: "kernel config",
				is_obsolete: 0,
				data: b64(Uint8Array.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0xff, 0xfe, 0x00])),
			},
			{
				id: 305,
				file_name: "old.log",
				content_type: "text/plain",
				summary: "first log",
				is_obsolete: 1,
				data: b64("FAIL: an old failure\n"),
			},
			{
				id: 306,
				file_name: "dmesg",
				content_type: "application/octet-stream",
				summary: "dmesg",
				is_obsolete: 0,
				data: b64("[    0.000000] Linux version 6.1.0-rc1 (gcc 12)\n"),
			},
		],
	},
	attachments: {},
};

test("REST answers: description, comments, then current text attachments; binary and obsolete ones skipped", (t) => {
	t.deepEqual(reportFromBugzilla(`${KERNEL}/`, "216812", BUG, COMMENTS, ATTACHMENTS), {
		source: "bugzilla",
		id: "216812",
		url: `${KERNEL}/show_bug.cgi?id=216812`,
		title: "kvm-unit-tests vmx_apic_passthrough_tpr_threshold_test fails on 6.1",
		texts: [
			{ where: "description", text: "Since 6.1-rc1 vmx_apic_passthrough_tpr_threshold_test fails." },
			{ where: "comment 1", text: "Created attachment 303\nkvm-unit-tests log" },
			{ where: "comment 3", text: "Bisected to commit 0123456789ab." },
			{ where: "attachment 303 (kut.log)", text: KUT_LOG },
			{ where: "attachment 306 (dmesg)", text: "[    0.000000] Linux version 6.1.0-rc1 (gcc 12)\n" },
		],
	});
	// Without the attachment answer, the comments alone.
	const bare = reportFromBugzilla(KERNEL, "216812", BUG, COMMENTS);
	t.deepEqual("error" in bare ? bare.error : bare.texts.map((text) => text.where), [
		"description",
		"comment 1",
		"comment 3",
	]);
});

test("a text over 1 MiB is cut, and says so", (t) => {
	// 1 MiB falls inside an é: the half character is dropped, not read as U+FFFD.
	const huge = `a${"é".repeat(2 ** 19)}FAIL: past the cut\n`;
	const comments = { bugs: { "5": { comments: [{ count: 0, text: huge }] } } };
	const report = reportFromBugzilla(KERNEL, "5", { bugs: [{ id: 5, summary: "s" }] }, comments);
	if ("error" in report) return t.fail(report.error);
	const [text] = report.texts;
	t.is(text?.where, "description (cut to its first 1 MiB)");
	t.is(Buffer.byteLength(text?.text ?? ""), 2 ** 20 - 1);
	t.is(text?.text, `a${"é".repeat(2 ** 19 - 1)}`);
});

test("bugzilla's refusals and shapes it never serves", (t) => {
	const missing = { error: true, code: 101, message: "Bug #9 does not exist.", documentation: "https://..." };
	const comments = { bugs: { "9": { comments: [] } } };
	t.deepEqual(reportFromBugzilla(KERNEL, "9", missing, missing), { error: `bug 9 not found on ${KERNEL}` });
	t.deepEqual(reportFromBugzilla(KERNEL, "9", { bugs: [], faults: [] }, comments), {
		error: `bug 9 not found on ${KERNEL}`,
	});
	t.deepEqual(
		reportFromBugzilla(
			KERNEL,
			"9",
			{ error: true, code: 102, message: "You are not authorized to access bug #9." },
			{},
		),
		{ error: `${KERNEL}: You are not authorized to access bug #9. (bugzilla error 102)` },
	);
	t.deepEqual(reportFromBugzilla(KERNEL, "9", { bugs: [{ id: "9" }] }, comments), {
		error: `${KERNEL}: the bug answer is not bugzilla's shape at bugs.0.id: Invalid input: expected number, received string`,
	});
	t.deepEqual(reportFromBugzilla(KERNEL, "9", { bugs: [{ id: 9 }] }, { bugs: { "8": { comments: [] } } }), {
		error: `${KERNEL}: the comment answer has no comments of bug 9`,
	});
	t.deepEqual(reportFromBugzilla(KERNEL, "9", { bugs: [{ id: 9 }] }, comments, { bugs: { "9": [{ id: 1 }] } }), {
		error: `${KERNEL}: the attachment answer is not bugzilla's shape at bugs.9.0.file_name: Invalid input: expected string, received undefined`,
	});
});

// ---------------------------------------------------------------------------------------------
// Saved files

test("a saved REST report, in both accepted shapes", (t) => {
	const saved = JSON.stringify({ bug: BUG, comments: COMMENTS, attachments: ATTACHMENTS, base: KERNEL });
	const report = reportFromText(saved, "bug.json");
	if ("error" in report) return t.fail(report.error);
	t.is(report.url, `${KERNEL}/show_bug.cgi?id=216812`);
	t.deepEqual(
		report.texts.map((text) => text.where),
		["description", "comment 1", "comment 3", "attachment 303 (kut.log)", "attachment 306 (dmesg)"],
	);

	const merged = reportFromText(JSON.stringify({ ...BUG, comments: COMMENTS }, null, 2), "bug.json");
	t.deepEqual(merged, {
		source: "bugzilla",
		id: "216812",
		title: "kvm-unit-tests vmx_apic_passthrough_tpr_threshold_test fails on 6.1",
		texts: [
			{ where: "description", text: "Since 6.1-rc1 vmx_apic_passthrough_tpr_threshold_test fails." },
			{ where: "comment 1", text: "Created attachment 303\nkvm-unit-tests log" },
			{ where: "comment 3", text: "Bisected to commit 0123456789ab." },
		],
	});

	t.deepEqual(reportFromText(JSON.stringify(BUG), "bug.json"), {
		error: 'bug.json: no "comments" answer (save {"bug": ..., "comments": ..., "attachments": ...})',
	});
	t.deepEqual(reportFromText('{"error":true,"code":101,"message":"Bug #9 does not exist."}', "bug.json"), {
		error: "bug.json: bugzilla said: Bug #9 does not exist. (bugzilla error 101)",
	});
	// JSON that is not meant for bugzilla is text like any other.
	t.deepEqual(reportFromText('{"kernel": "6.1"}\n', "notes.json"), {
		source: "text",
		texts: [{ where: "notes.json", text: '{"kernel": "6.1"}\n' }],
	});
});

const BUGZILLA_MAIL = [
	"Return-Path: <bugzilla-daemon@kernel.org>",
	"From: bugzilla-daemon@kernel.org",
	"To: kvm@vger.kernel.org",
	"Subject: [Bug 216812] New: kvm-unit-tests vmx fails =?UTF-8?Q?on_6=2E1=E2=80=91rc1?=",
	"Date: Wed, 14 Dec 2022 10:00:00 +0000",
	"Message-ID: <bug-216812-28872@https.bugzilla.kernel.org/>",
	"Content-Type: text/plain; charset=UTF-8",
	"Content-Transfer-Encoding: quoted-printable",
	"MIME-Version: 1.0",
	"",
	"https://bugzilla.kernel.org/show_bug.cgi?id=3D216812",
	"",
	"            Bug ID: 216812",
	"           Summary: kvm-unit-tests vmx fails on 6.1",
	"",
	"FAIL: vmx_apic_passthrough_tpr_threshold_test: TPR threshold VM-exit =E2=80=94 a=",
	"nd then the guest hangs",
	"",
].join("\r\n");

test("a bugzilla mail with a quoted-printable body", (t) => {
	t.deepEqual(reportFromText(BUGZILLA_MAIL, "bug.eml"), {
		source: "mail",
		id: "216812",
		url: "https://bugzilla.kernel.org/show_bug.cgi?id=216812",
		title: "kvm-unit-tests vmx fails on 6.1‑rc1",
		texts: [
			{
				where: "mail 1: [Bug 216812] New: kvm-unit-tests vmx fails on 6.1‑rc1",
				text: [
					"https://bugzilla.kernel.org/show_bug.cgi?id=216812",
					"",
					"            Bug ID: 216812",
					"           Summary: kvm-unit-tests vmx fails on 6.1",
					"",
					"FAIL: vmx_apic_passthrough_tpr_threshold_test: TPR threshold VM-exit — and then the guest hangs",
					"",
				].join("\n"),
			},
		],
	});
});

test("an mbox of two mails, one of them multipart and latin-1 base64", (t) => {
	const mbox = [
		"From mboxrd@z Thu Jan  1 00:00:00 1970",
		"From: Tester <qa@example.org>",
		"Subject: KVM: selftests: x86_64/cpuid_test fails",
		"Message-ID: <1@example.org>",
		"",
		"==== Test Assertion Failure ====",
		"  x86_64/cpuid_test.c:64: e1->function == e2->function",
		">From the log above it is clear.",
		"",
		"From mboxrd@z Thu Jan  1 00:00:00 1970",
		"From: Sean <seanjc@google.com>",
		"Subject: Re: KVM: selftests: x86_64/cpuid_test fails",
		'Content-Type: multipart/alternative; boundary="=_b1"',
		"",
		"preamble",
		"--=_b1",
		"Content-Type: text/html",
		"",
		"<p>html</p>",
		"--=_b1",
		"Content-Type: text/plain; charset=iso-8859-1",
		"Content-Transfer-Encoding: base64",
		"",
		b64(Uint8Array.from([...Buffer.from("Reproduced on 6.2 "), 0xe9, 0x0a])),
		"--=_b1--",
		"",
	].join("\n");
	t.deepEqual(reportFromText(mbox, "thread.mbox"), {
		source: "mail",
		title: "KVM: selftests: x86_64/cpuid_test fails",
		texts: [
			{
				where: "mail 1: KVM: selftests: x86_64/cpuid_test fails",
				text: [
					"==== Test Assertion Failure ====",
					"  x86_64/cpuid_test.c:64: e1->function == e2->function",
					"From the log above it is clear.",
					"",
				].join("\n"),
			},
			{ where: "mail 2: Re: KVM: selftests: x86_64/cpuid_test fails", text: "Reproduced on 6.2 é\n" },
		],
	});
});

test("plain text, and input that is not a report", (t) => {
	t.deepEqual(reportFromText(KUT_LOG, "kut.log"), { source: "text", texts: [{ where: "kut.log", text: KUT_LOG }] });
	// A log's `FAIL: x` lines look like headers, but a mail needs From or Subject among them.
	const log = "FAIL: xapic\nSUMMARY: 2 tests\n\nmore\n";
	t.deepEqual(reportFromText(log, "-"), { source: "text", texts: [{ where: "-", text: log }] });
	t.deepEqual(reportFromText(" \n\t\n", "empty.txt"), { error: "empty.txt: empty" });
	t.deepEqual(reportFromText("", "-"), { error: "-: empty" });
	t.deepEqual(reportFromText("ELF\u0002\u0001\u0000\u0000", "vmlinux"), {
		error: "vmlinux: binary data, not a bug report",
	});
	t.deepEqual(reportFromText(Buffer.from([0x1f, 0x8b, 0x08, 0xff, 0xfe, 0xfd, 0x80]).toString("utf8"), "log.gz"), {
		error: "log.gz: binary data, not a bug report",
	});
	t.deepEqual(reportFromText("From: a@b\nSubject: nothing\n\n \n", "empty.eml"), {
		error: "empty.eml: a mail without text",
	});
});
