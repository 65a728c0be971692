import test from "ava";
import fc from "fast-check";
import { citationsOf, normaliseMessageId, referenceFromUrl, referencesOf, seriesOf } from "./trailers.js";

// Every URL shape FACTS.md found in real kvm-unit-tests and KVM history.
const urls: [string, ReturnType<typeof referenceFromUrl>][] = [
	[
		"https://lore.kernel.org/r/20240208204844.119326-5-thuth@redhat.com",
		{ kind: "message-id", id: "20240208204844.119326-5-thuth@redhat.com" },
	],
	[
		"https://lore.kernel.org/kvm/20230911182013.333559-4-seanjc@google.com/",
		{ kind: "message-id", id: "20230911182013.333559-4-seanjc@google.com" },
	],
	[
		"https://lore.kernel.org/all/20230729005200.1057358-6-seanjc@google.com",
		{ kind: "message-id", id: "20230729005200.1057358-6-seanjc@google.com" },
	],
	[
		"https://patch.msgid.link/20251230191342.4052363-1-seanjc@google.com",
		{ kind: "message-id", id: "20251230191342.4052363-1-seanjc@google.com" },
	],
	[
		"https://lore.kernel.org/all/20251113225621.1688428-1-seanjc@google.com # [1]",
		{ kind: "message-id", id: "20251113225621.1688428-1-seanjc@google.com" },
	],
	[
		"https://lore.kernel.org/all/bug-219787-28872@https.bugzilla.kernel.org%2F",
		{ kind: "message-id", id: "bug-219787-28872@https.bugzilla.kernel.org" },
	],
	[
		"https://lore.kernel.org/all/202502271500.28201544-lkp@intel.com",
		{ kind: "message-id", id: "202502271500.28201544-lkp@intel.com" },
	],
	["https://lore.kernel.org/r/aF1d7rh_vbr8cr7j@google.com", { kind: "message-id", id: "aF1d7rh_vbr8cr7j@google.com" }],
	[
		"https://lore.kernel.org/kvm/20230817-x86-v2-3-0a1b2c3d@kernel.org/T/#u",
		{ kind: "message-id", id: "20230817-x86-v2-3-0a1b2c3d@kernel.org" },
	],
	["https://lore.kernel.org/r/20240101000000.1-1-a%40b.c", { kind: "message-id", id: "20240101000000.1-1-a@b.c" }],
	["https://bugzilla.kernel.org/show_bug.cgi?id=219787", { kind: "bug", tracker: "bugzilla.kernel.org", id: "219787" }],
	[
		"https://gitlab.com/qemu-project/qemu/-/issues/1234",
		{ kind: "bug", tracker: "gitlab.com/qemu-project/qemu", id: "1234" },
	],
	["https://github.com/kvm-x86/linux/issues/7", { kind: "bug", tracker: "github.com/kvm-x86/linux", id: "7" }],
	["https://docs.kernel.org/virt/kvm/api.html", { kind: "url", url: "https://docs.kernel.org/virt/kvm/api.html" }],
];
for (const [url, expected] of urls) {
	test(`link: ${url}`, (t) => {
		t.deepEqual(referenceFromUrl(url), expected);
	});
}

test("Message-Id trailers in either spelling, with or without <>", (t) => {
	t.is(normaliseMessageId("<20230822074906.7205-1-thuth@redhat.com>"), "20230822074906.7205-1-thuth@redhat.com");
	const message = `x86/svm: Track and handle exit code as an unsigned 64-bit value

Note, the SVM tests will fail when on KVM builds without commit f402ecd7a8b6 ("KVM: nSVM: Set
exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)").

Link: https://lore.kernel.org/all/20251113225621.1688428-1-seanjc@google.com
Message-ID: <20230822074906.7205-1-thuth@redhat.com>
Message-Id: <20230207002156.521736-2-seanjc@google.com>
Closes: https://bugzilla.kernel.org/show_bug.cgi?id=219787
Link: https://patch.msgid.link/20251230191342.4052363-1-seanjc@google.com
Signed-off-by: Sean Christopherson <seanjc@google.com>`;
	t.deepEqual(referencesOf(message), [
		{ kind: "message-id", id: "20251113225621.1688428-1-seanjc@google.com" },
		{ kind: "message-id", id: "20230822074906.7205-1-thuth@redhat.com" },
		{ kind: "message-id", id: "20230207002156.521736-2-seanjc@google.com" },
		{ kind: "bug", tracker: "bugzilla.kernel.org", id: "219787" },
		{ kind: "message-id", id: "20251230191342.4052363-1-seanjc@google.com" },
	]);
	t.deepEqual(citationsOf(message), [
		{ sha: "f402ecd7a8b6", subject: "KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)" },
	]);
});

const series: [string, ReturnType<typeof seriesOf>][] = [
	["20251113225621.1688428-1-seanjc@google.com", { stem: "20251113225621.1688428-*-seanjc@google.com", index: 1 }],
	["20251113225621.1688428-2-seanjc@google.com", { stem: "20251113225621.1688428-*-seanjc@google.com", index: 2 }],
	["20260225012049.920665-2-seanjc@google.com", { stem: "20260225012049.920665-*-seanjc@google.com", index: 2 }],
	["20240111-topic-v2-3-0a1b2c3d@kernel.org", { stem: "20240111-topic-v2-*-0a1b2c3d@kernel.org", index: 3 }],
	[
		"20230817-x86-pmu-fixes-v1-0-deadbeef@kernel.org",
		{ stem: "20230817-x86-pmu-fixes-v1-*-deadbeef@kernel.org", index: 0 },
	],
	["aF1d7rh_vbr8cr7j@google.com", undefined],
	["CALMp9eR9zSqAwJ0XJ1NSbD5SvhBR2Hht+5zk_UEaASVXW2yrbw@mail.gmail.com", undefined],
	["cover.1700000000.git.seanjc@google.com", undefined],
];
for (const [id, expected] of series) {
	test(`series of ${id}`, (t) => {
		t.deepEqual(seriesOf(id), expected);
	});
}

test("a cover letter and a patch of the same posting share a stem; another posting does not", (t) => {
	const cover = seriesOf("20260225012049.920665-1-seanjc@google.com");
	const patch = seriesOf("20260225012049.920665-2-seanjc@google.com");
	const other = seriesOf("20260225012049.920666-2-seanjc@google.com");
	t.is(cover?.stem, patch?.stem);
	t.not(other?.stem, patch?.stem);
});

test("citationsOf finds what the one-pattern reading found, without its quadratic rescans", (t) => {
	const old = (message: string) =>
		message.includes("commit")
			? [...message.replace(/\s*\n\s*/g, " ").matchAll(/\bcommit ([0-9a-f]{12,40}) \("(.+?)"\)/g)].map((m) => ({
					sha: m[1] ?? "",
					subject: m[2] ?? "",
				}))
			: [];
	const piece = fc.constantFrom(
		"commit ",
		"0123456789ab",
		' ("',
		'")',
		'"',
		")",
		"x",
		" ",
		"\n",
		'commit 0123456789ab ("',
	);
	fc.assert(
		fc.property(fc.array(piece, { maxLength: 16 }), (pieces) => {
			const message = pieces.join("");
			t.deepEqual(citationsOf(message), old(message));
		}),
	);
	t.deepEqual(citationsOf('commit 0123456789ab ("a") and commit 0123456789ac ("b ("c")")'), [
		{ sha: "0123456789ab", subject: "a" },
		{ sha: "0123456789ac", subject: 'b ("c' },
	]);
});
