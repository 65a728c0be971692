// Mails as lore serves them, for the verdict benchmark's cases: kernel and kvm-unit-tests patches
// as posted (message, sign-off, diffstat, diff) and series cover letters.
import type { LoreMail } from "./lore-server.js";
import { sob } from "./people.js";

/** A patch as posted to a list. */
export interface Posting {
	readonly id: string;
	readonly from: string;
	readonly at: string;
	/** As posted: `[PATCH v4 3/7] KVM: x86: ...` */
	readonly subject: string;
	readonly file: string;
	readonly message: string;
}

/** The change a posted patch makes to its file: diffstat, blob ids, hunk. */
interface Change {
	readonly stat: string;
	readonly index: string;
	readonly hunk: string;
}

const mailDate = (iso: string) => new Date(iso).toUTCString().replace("GMT", "+0000");

/** A patch as posted: its message, a diffstat and a diff of its file. */
function patchMail(o: Posting, change: Change): LoreMail {
	const body = `${o.message}

${sob(o.from)}
---
 ${o.file} | ${change.stat}

diff --git a/${o.file} b/${o.file}
index ${change.index} 100644
--- a/${o.file}
+++ b/${o.file}
${change.hunk}-- 
2.39.0
`;
	return { messageId: o.id, from: o.from, date: mailDate(o.at), subject: o.subject, body };
}

/** A kernel patch as posted: a fix to a function of `file`. */
export const kernelPatch = (o: Posting) =>
	patchMail(o, {
		stat: "4 ++--\n 1 file changed, 2 insertions(+), 2 deletions(-)",
		index: "3c6a2e1b0f4d..8e1f9a7c2b5d",
		hunk: `@@ -1021,7 +1021,7 @@ static int kvm_apic_handle(struct kvm_lapic *apic, u32 reg)
 \tu32 val;
 
-\tif (!apic_x2apic_mode(apic))
+\tif (!apic_x2apic_mode(apic) && !kvm_apic_hw_enabled(apic))
 \t\treturn 1;
-\tval = kvm_lapic_get_reg(apic, reg);
+\tval = kvm_lapic_get_reg64(apic, reg);
 \treturn 0;
`,
	});

/** A kvm-unit-tests patch as posted (`[kvm-unit-tests PATCH ...]`): a new check in a KUT file. */
export const kutPatch = (o: Posting) =>
	patchMail(o, {
		stat: "12 ++++++++++++\n 1 file changed, 12 insertions(+)",
		index: "5d1e0c9a4b3f..a2c7e8f1d6b0",
		hunk: `@@ -812,6 +812,18 @@ static void test_one(void)
 \treport(ok, "first check");
+
+\treport(check_again(), "the new check");
 }
`,
	});

export function coverLetter(o: Omit<Posting, "file" | "message">): LoreMail {
	return {
		messageId: o.id,
		from: o.from,
		date: mailDate(o.at),
		subject: o.subject,
		body: "Fix a handful of bugs found by the tests that come with them, and clean up along the way.\n\n-- \n2.39.0\n",
	};
}
