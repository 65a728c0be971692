/**
 * Mails for the lore tests, built in the shapes git send-email and public-inbox give them: the
 * mail parser, the posting rules and the client are tested on the same patches, cover letter,
 * thread and replies.
 */

export interface Mail {
	readonly id: string;
	readonly subject: string;
	readonly body?: string;
	readonly inReplyTo?: string;
	readonly references?: readonly string[];
	readonly date?: string;
}

export function mail(m: Mail): string {
	const refs = m.references ?? (m.inReplyTo === undefined ? [] : [m.inReplyTo]);
	return [
		"From: Sean Christopherson <seanjc@google.com>",
		"To: Paolo Bonzini <pbonzini@redhat.com>",
		"Cc: kvm@vger.kernel.org",
		`Subject: ${m.subject}`,
		`Date: ${m.date ?? "Tue, 24 Feb 2026 17:20:49 -0800"}`,
		`Message-ID: <${m.id}>`,
		...(m.inReplyTo === undefined ? [] : [`In-Reply-To: <${m.inReplyTo}>`]),
		...(refs.length === 0 ? [] : [`References: ${refs.map((r) => `<${r}>`).join("\n ")}`]),
		"List-Id: <kvm.vger.kernel.org>",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=UTF-8",
		"",
		m.body ?? "",
	].join("\n");
}

/** An mboxrd as public-inbox writes it: a `From mboxrd@z` line before each mail, `From ` escaped. */
export const mbox = (...mails: string[]) =>
	mails.map((m) => `From mboxrd@z Thu Jan  1 00:00:00 1970\n${m.replace(/^(>*From )/gm, ">$1")}\n`).join("\n");

export const diff = (...files: string[]) =>
	files
		.map(
			(file) =>
				`diff --git a/${file} b/${file}\nindex 1111111..2222222 100644\n--- a/${file}\n+++ b/${file}\n@@ -1,3 +1,4 @@\n context\n+added\n context\n`,
		)
		.join("");

export const patchBody = (text: string, ...files: string[]) =>
	`${text}\n\nSigned-off-by: Sean Christopherson <seanjc@google.com>\n---\n ${files[0]} | 1 +\n 1 file changed\n\n${diff(...files)}-- \n2.53.0\n`;

export const KERNEL_PATCH = mail({
	id: "20260101000000.1000-4-seanjc@google.com",
	subject: "[PATCH v4 3/7] KVM: x86: Don't drop the pending\n IPI when the vCPU is blocked",
	inReplyTo: "20260101000000.1000-1-seanjc@google.com",
	body: patchBody("Keep the IPI.", "arch/x86/kvm/lapic.c"),
});

export const KUT_PATCH = mail({
	id: "20260102000000.2000-3-thuth@redhat.com",
	subject: "[kvm-unit-tests PATCH 2/3] x86/apic: Test logical flat mode IPIs",
	inReplyTo: "20260102000000.2000-1-thuth@redhat.com",
	body: patchBody("Test them.", "x86/apic.c", "x86/unittests.cfg"),
});

export const REPLY = mail({
	id: "aF1d7rh_vbr8cr7j@google.com",
	subject: 'Re: [PATCH] KVM: nVMX: Inject #GP, not #UD, if "generic" VMXON CR0/CR4 check fails',
	inReplyTo: "20221006001956.329314-1-seanjc@google.com",
	body: "On Thu, Oct 06, 2022, Someone wrote:\n> diff --git a/arch/x86/kvm/vmx/nested.c b/arch/x86/kvm/vmx/nested.c\n> --- a/arch/x86/kvm/vmx/nested.c\n\nApplied, thanks.\n",
});

export const REPLIED_PATCH = mail({
	id: "20221006001956.329314-1-seanjc@google.com",
	subject: '[PATCH] KVM: nVMX: Inject #GP, not #UD, if "generic" VMXON CR0/CR4 check fails',
	body: patchBody("Inject #GP.", "arch/x86/kvm/vmx/nested.c"),
});

export const COVER_ID = "20260225012049.920665-1-seanjc@google.com";
export const COVER = mail({
	id: COVER_ID,
	subject: "[PATCH 00/14] KVM: x86: Emulator MMIO fix and cleanups",
	body: "Fix ENTER with emulated MMIO, then clean up.\n\nSean Christopherson (14):\n  KVM: x86: Fix ENTER\n\n arch/x86/kvm/emulate.c | 40 ++++-----\n 1 file changed\n\nbase-commit: 0123456789ab\n",
});
export const SERIES_SUBJECTS = Array.from({ length: 14 }, (_, i) =>
	i === 0 ? "KVM: x86: Fix emulated MMIO for ENTER" : `KVM: x86: Emulator cleanup number ${i + 1}`,
);
export const SERIES = SERIES_SUBJECTS.map((subject, i) =>
	mail({
		id: `20260225012049.920665-${i + 2}-seanjc@google.com`,
		subject: `[PATCH ${String(i + 1).padStart(2, "0")}/14] ${subject}`,
		inReplyTo: COVER_ID,
		body: patchBody(`Patch ${i + 1}.\nFrom the emulator's point of view this is fine.`, "arch/x86/kvm/emulate.c"),
	}),
);
export const REVIEW = mail({
	id: "review-1@amd.com",
	subject: "Re: [PATCH 01/14] KVM: x86: Fix emulated MMIO for ENTER",
	inReplyTo: "20260225012049.920665-2-seanjc@google.com",
	references: [COVER_ID, "20260225012049.920665-2-seanjc@google.com"],
	body: "Reviewed-by: A Reviewer <r@amd.com>\n",
});
export const COVER_THREAD = mbox(COVER, ...SERIES, REVIEW);
