// The verdict benchmark's cases, as data. Each describes small real git trees (a KVM kernel tree
// and a kvm-unit-tests tree, real commits with real trailers) that reproduce one shape FACTS.md
// records from real history, what `run_tests.sh` said on each kernel, and the verdicts a careful
// maintainer would give. `buildCase` (./build.ts) turns a case into its trees and files;
// `bench/verdicts.ts` runs them through the real CLI, `test/verdict-shapes.test.ts` one ava test
// each. A commit named by `id` is cited as `{{sha:ID}}` or `{{sha12:ID}}` in later commits, label
// evidence and lore mails.
import type { Commit, Step, VerdictCase } from "./build.js";
import { unittestsCfg } from "./layouts.js";
import { coverLetter, kernelPatch, kutPatch } from "./lore-mails.js";
import type { LoreThread } from "./lore-server.js";
import {
	CHAO,
	GREG,
	JIM,
	LINUS,
	MANALI,
	MATHIAS,
	MAXIM,
	MICHAL,
	NAVEEN,
	PAOLO,
	SEAN,
	sob,
	TAO,
	THOMAS,
	VITALY,
} from "./people.js";

// ---------------------------------------------------------------------------------------------
// Commits and mails more than one case uses.

const EXIT_CODE_STEM = "20251113225621.1688428";

/** The SVM exit_code series (patches 1 and 2 of 9); patch 1, the fix, is `exit-err-fix`. */
const EXIT_CODE_SERIES: readonly Step[] = [
	{
		id: "exit-err-fix",
		subject: "KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)",
		body: "Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR, as hardware does on a failed VMRUN:\nexit_code is a 64-bit value and L1 may check all of it.",
		trailers: [
			'Fixes: 3d6368ef580a ("KVM: SVM: add VMRUN emulation")',
			"Cc: stable@vger.kernel.org",
			`Link: https://patch.msgid.link/${EXIT_CODE_STEM}-2-seanjc@google.com`,
			sob(SEAN),
		],
		touch: ["arch/x86/kvm/svm/nested.c"],
	},
	{
		id: "exit-code-u64",
		subject: "KVM: SVM: Treat exit_code as an unsigned 64-bit value through all of KVM",
		trailers: [`Link: https://patch.msgid.link/${EXIT_CODE_STEM}-3-seanjc@google.com`, sob(SEAN)],
		touch: ["arch/x86/kvm/svm/svm.c", "arch/x86/kvm/svm/nested.c"],
	},
];

const KUT_EXIT_CODE_SUBJECT = "x86/svm: Track and handle exit code as an unsigned 64-bit value";

/** The KUT commit that links the exit_code series' cover letter, then its own posting. */
const KUT_EXIT_CODE: Commit = {
	subject: KUT_EXIT_CODE_SUBJECT,
	body: "Track exit_code as a u64 so that tests can verify all 64 bits, e.g. that KVM sets\nexit_code_hi to -1 on a failed VMRUN.",
	trailers: [
		`Link: https://lore.kernel.org/all/${EXIT_CODE_STEM}-1-seanjc@google.com`,
		"Link: https://patch.msgid.link/20251230191342.4052363-1-seanjc@google.com",
		sob(SEAN),
	],
	touch: ["x86/svm.c", "x86/svm_tests.c", "lib/x86/processor.h"],
};

/** The same test as applied, its body citing `commit <sha12> ("subject")` across a line break. */
const kutCitingExitErrFix = (sha12: string): Commit => ({
	subject: KUT_EXIT_CODE_SUBJECT,
	body: `Track exit_code as a u64 so that tests can verify all 64 bits.

Note, the SVM tests will fail when on KVM builds without commit ${sha12} ("KVM:
nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)").`,
	trailers: ["Link: https://patch.msgid.link/20251230191342.4052363-1-seanjc@google.com", sob(SEAN)],
	touch: ["x86/svm.c", "x86/svm_tests.c"],
});

const EARLIER_POSTING = "20240907005440.500075-5-mlevitsk@redhat.com";
const VNMI_TEST = "nSVM: Add a test for nested NMI injection with vNMI";

/** A KUT commit re-posted by a maintainer that links its first author's earlier posting, then its own. */
const KUT_REPOSTED_TEST: Commit = {
	subject: VNMI_TEST,
	body: "Verify that an NMI injected by L1 into L2 is delivered once, and that the vNMI\nblocking state is carried across a nested VM-Exit.",
	trailers: [
		sob(MAXIM),
		`Link: https://lore.kernel.org/all/${EARLIER_POSTING}`,
		`Co-developed-by: ${SEAN}`,
		sob(SEAN),
		"Link: https://lore.kernel.org/r/20250215010946.1201353-11-seanjc@google.com",
	],
	touch: ["x86/svm_tests.c"],
};

const AVIC_V4 = "20221001005915.2041842";
const AVIC_SUBJECTS = [
	'KVM: x86: Blindly get current x2APIC reg value on "nodecode write" traps',
	'KVM: x86: Purge "highest ISR" cache when updating APICv state',
	'KVM: x86: Don\'t inhibit APICv/AVIC on xAPIC ID "change" if APIC is disabled',
	"KVM: x86: Inhibit APICv/AVIC if the optimized physical map is disabled",
	"KVM: x86: Honor architectural behavior for aliased 8-bit APIC IDs",
	'KVM: SVM: Flush the "current" TLB when activating AVIC',
	"KVM: x86: Track required APICv inhibits with variable, not callback",
];
const avicFile = (i: number) => (i === 5 ? "arch/x86/kvm/svm/avic.c" : "arch/x86/kvm/lapic.c");

/** v5 of the AVIC series as kvm.git applied it (`Message-Id:`, new ids); patch N/7 is `avic-v5-N`. */
const AVIC_V5_SERIES: readonly Step[] = AVIC_SUBJECTS.map((subject, i) => ({
	id: `avic-v5-${i + 1}`,
	subject,
	trailers: [sob(SEAN), `Message-Id: <20230106011306.85230-${i + 2}-seanjc@google.com>`, sob(PAOLO)],
	touch: [avicFile(i)],
}));

/** v4 of the AVIC series as lore has it: the cover letter, then seven patches. */
const AVIC_V4_THREAD: LoreThread = [
	coverLetter({
		id: `${AVIC_V4}-1-seanjc@google.com`,
		from: SEAN,
		at: "2022-10-01T00:59:15Z",
		subject: "[PATCH v4 0/7] KVM: x86: AVIC and local APIC fixes+cleanups",
	}),
	...AVIC_SUBJECTS.map((subject, i) =>
		kernelPatch({
			id: `${AVIC_V4}-${i + 2}-seanjc@google.com`,
			from: SEAN,
			at: `2022-10-01T00:59:${String(16 + i).padStart(2, "0")}Z`,
			subject: `[PATCH v4 ${i + 1}/7] ${subject}`,
			file: avicFile(i),
			message: "Fix the APIC state KVM computes when the guest changes its APIC mode.",
		}),
	),
];

const AVIC_KUT_ID = "20221001011301.2077739-3-seanjc@google.com";
const AVIC_KUT_SUBJECT = "x86/apic: Test that xAPIC ID writes are ignored while the APIC is disabled";

const TIMER_FIX = "20260113-apic-tscdeadline-v2";
const TIMER_HASH = "4f1e2d3c@kernel.org";
const TIMER_KUT_ID = "20260120-apic-tscdeadline-test-v1-1-9a8b7c6d@kernel.org";
const TIMER_KUT_SUBJECT = "x86/apic: Test TSC-deadline re-arm after a write while the timer is masked";
const TIMER_SUBJECTS = [
	"KVM: x86: Move TSC-deadline timer state into struct kvm_timer",
	"KVM: x86: Cancel the hrtimer when the TSC-deadline MSR is cleared",
	"KVM: x86: Re-arm the TSC-deadline timer when LVTT is unmasked",
	"KVM: x86: Drop the redundant apic_timer_expired() check",
];

/** Cases 10 and 11: the test links a b4-posted KVM patch that no configured tree has applied. */
const POSTED_NOT_APPLIED = {
	kvm: [
		{ linux: "6.19-rc4", at: "2026-01-04T22:00:00Z" },
		{ branch: "next", from: "master" },
		{
			subject: "KVM: x86: Drop the unused kvm_apic_timer_armed() helper",
			committer: PAOLO,
			trailers: ["Link: https://patch.msgid.link/20260108171237.1203917-1-seanjc@google.com", sob(SEAN)],
			touch: ["arch/x86/kvm/lapic.c"],
		},
	],
	kut: [
		{ layoutAfter: "2026-01-10T00:00:00Z" },
		{
			subject: TIMER_KUT_SUBJECT,
			trailers: [
				sob(NAVEEN),
				`Link: https://lore.kernel.org/all/${TIMER_FIX}-3-${TIMER_HASH}`,
				`Link: https://patch.msgid.link/${TIMER_KUT_ID}`,
				sob(SEAN),
			],
			touch: ["x86/apic.c"],
		},
	],
	kernels: ["master", "next"],
	results: { master: { xapic: "fail", x2apic: "pass" } },
} as const satisfies Partial<VerdictCase>;

/** Case 10's lore: the KVM series the test needs, and the test's own posting. */
const TIMER_THREADS: readonly LoreThread[] = [
	[
		coverLetter({
			id: `${TIMER_FIX}-0-${TIMER_HASH}`,
			from: NAVEEN,
			at: "2026-01-13T10:20:00Z",
			subject: "[PATCH v2 0/4] KVM: x86: TSC-deadline timer fixes",
		}),
		...TIMER_SUBJECTS.map((subject, i) =>
			kernelPatch({
				id: `${TIMER_FIX}-${i + 1}-${TIMER_HASH}`,
				from: NAVEEN,
				at: `2026-01-13T10:20:0${i + 1}Z`,
				subject: `[PATCH v2 ${i + 1}/4] ${subject}`,
				file: "arch/x86/kvm/lapic.c",
				message: "Re-arm the timer from the saved deadline so that no expiry is lost.",
			}),
		),
	],
	[
		kutPatch({
			id: TIMER_KUT_ID,
			from: NAVEEN,
			at: "2026-01-20T09:00:00Z",
			subject: `[kvm-unit-tests PATCH] ${TIMER_KUT_SUBJECT}`,
			file: "x86/apic.c",
			message: "Needs the KVM series at [PATCH v2 3/4].",
		}),
	],
];

const EP4TA_SUBJECTS = [
	"KVM: x86/mmu: Add helper to convert root hpa to shadow page",
	"KVM: x86/mmu: Harden new PGD against roots without shadow pages",
	"KVM: x86/mmu: Harden TDP MMU iteration against root w/o shadow page",
	"KVM: x86/mmu: Use dummy root, backed by zero page, for !visible guest roots",
];

const TPR_STEM = "20250114-vmx-tpr-threshold-v2";
const TSC_FIX_ID = "20241128004344.4072099-4-seanjc@google.com";

// ---------------------------------------------------------------------------------------------
// The cases, in order.

export const CASES: readonly VerdictCase[] = [
	{
		name: "01-cover-letter-link",
		shape: "KUT links the KVM series' cover letter (-1-) and its own posting; patch -2- is the fix, in next only",
		kvm: [{ linux: "6.18-rc5", at: "2025-11-09T22:00:00Z" }, { branch: "next", from: "master" }, ...EXIT_CODE_SERIES],
		kut: [{ layoutAfter: "2025-12-01T00:00:00Z" }, KUT_EXIT_CODE],
		kernels: ["master", "next"],
		results: { master: { svm: "fail", x2apic: "pass" }, next: { svm: "pass", x2apic: "pass" } },
		labels: [{ ref: "master", test: "svm", verdict: "pending-fix", evidence: ["exit_code", "kvm@next"] }],
	},
	{
		name: "02-own-posting-only",
		shape: "KUT links only its own posting (Message-Id:); fails on master, passes on its ancestor next (the baseline)",
		kvm: [
			{ linux: "6.5-rc7", at: "2023-08-20T21:00:00Z" },
			{
				subject: "KVM: x86: Advertise AMX-COMPLEX CPUID to userspace",
				trailers: [sob(TAO), "Message-Id: <20230802022954.193843-1-tao1.su@linux.intel.com>", sob(PAOLO)],
				touch: ["arch/x86/kvm/x86.c"],
			},
			{ mark: "next" },
			{
				subject: "KVM: x86: Rework emulated MMIO fragment bookkeeping",
				trailers: [sob(PAOLO)],
				touch: ["arch/x86/kvm/emulate.c", "arch/x86/kvm/x86.c"],
			},
		],
		kut: [
			{ layoutAfter: "2023-08-01T00:00:00Z" },
			{
				subject: "x86: emulator: Test MOVBE with an MMIO operand",
				trailers: [sob(THOMAS), "Message-Id: <20230822074906.7205-1-thuth@redhat.com>", sob(PAOLO)],
				touch: ["x86/emulator.c"],
			},
		],
		kernels: ["master", "next"],
		baseline: "next",
		colour: true,
		results: { master: { emulator: "fail" }, next: { emulator: "pass" } },
		labels: [{ ref: "master", test: "emulator", verdict: "regression", evidence: ["kvm@next"] }],
	},
	{
		name: "03-earlier-posting-of-test",
		shape:
			"KUT links an earlier posting of the same test (a KUT patch, no kernel commit) + its own; passes on an ancestor",
		kvm: [
			{ linux: "6.11", at: "2024-09-15T20:00:00Z" },
			{ branch: "queue", from: "master" },
			{
				subject: "KVM: nSVM: Defer the vNMI pending flag to the next VMRUN",
				trailers: [sob(PAOLO)],
				touch: ["arch/x86/kvm/svm/nested.c"],
			},
		],
		kut: [{ layoutAfter: "2024-09-01T00:00:00Z" }, KUT_REPOSTED_TEST],
		kernels: ["master", "queue"],
		results: { master: { svm: "pass" }, queue: { svm: "fail" } },
		labels: [{ ref: "queue", test: "svm", verdict: "regression", evidence: ["kvm@master"] }],
	},
	{
		name: "04-list-reply-link",
		shape:
			"KUT links replies on the list (<uuid>@grsecurity.net, aMahfvF1r39Xq6zK@intel.com/ # [1]) + its own; fails on the baseline too",
		kvm: [
			{ linux: "6.15", at: "2025-05-25T21:00:00Z" },
			{ branch: "next", from: "master" },
			{
				subject: "KVM: x86: Use kvm_lock_all_vcpus() instead of a custom implementation",
				trailers: [sob(MAXIM), "Message-ID: <20250512180407.659015-6-mlevitsk@redhat.com>", sob(PAOLO)],
				touch: ["arch/x86/kvm/x86.c"],
			},
		],
		kut: [
			{ layoutAfter: "2025-06-01T00:00:00Z" },
			{
				subject: "x86/emulator: Test far transfers through a 64-bit memory operand",
				body: "Far JMP and CALL through memory take a 16-bit selector and a 64-bit offset with\nREX.W; check that the emulator reads all ten bytes [1].",
				trailers: [
					sob(MATHIAS),
					"Link: https://lore.kernel.org/kvm/6f5c2a0e-1c9e-4b8a-9d3f-27e5b4a1c8d0@grsecurity.net/",
					"Link: https://lore.kernel.org/all/aMahfvF1r39Xq6zK@intel.com/ # [1]",
					"Link: https://lore.kernel.org/r/20250609114517.2288913-3-minipli@grsecurity.net",
					sob(SEAN),
				],
				touch: ["x86/emulator.c"],
			},
		],
		kernels: ["master", "next"],
		baseline: "next",
		results: { master: { emulator: "fail" }, next: { emulator: "fail" } },
		labels: [{ ref: "master", test: "emulator", verdict: "still-failing", evidence: ["kvm@next"] }],
	},
	{
		name: "05-bug-reports-linked",
		shape: "KUT links a bugzilla mail (%2F), closes an lkp report, + its own posting; one kernel, no baseline",
		kvm: [{ linux: "6.14-rc4", at: "2025-02-23T21:00:00Z" }],
		kut: [
			{ layoutAfter: "2025-02-01T00:00:00Z" },
			{
				subject: "x86/apic: Don't expect a TSC-deadline interrupt after the timer is disarmed",
				trailers: [
					"Reported-by: kernel test robot <lkp@intel.com>",
					"Closes: https://lore.kernel.org/all/202502271500.28201544-lkp@intel.com",
					"Link: https://bugzilla.kernel.org/show_bug.cgi?id=219787",
					"Link: https://lore.kernel.org/all/bug-219787-28872@https.bugzilla.kernel.org%2F",
					sob(CHAO),
					"Link: https://lore.kernel.org/r/20250304141327.1912043-1-chao.gao@intel.com",
					sob(SEAN),
				],
				touch: ["x86/apic.c"],
			},
		],
		kernels: ["master"],
		colour: true,
		results: { master: { x2apic: "fail", xapic: "pass" } },
		labels: [{ ref: "master", test: "x2apic", verdict: "new-failure" }],
	},
	{
		name: "06-cited-commit",
		shape:
			'KUT body cites commit <sha12> ("KVM: nSVM: Set exit_code_hi ..."), no link to it; the commit is in next only',
		kvm: [{ linux: "6.18", at: "2025-11-30T21:00:00Z" }, { branch: "next", from: "master" }, ...EXIT_CODE_SERIES],
		kut: [{ layoutAfter: "2025-12-01T00:00:00Z" }, kutCitingExitErrFix("{{sha12:exit-err-fix}}")],
		kernels: ["master", "next"],
		results: { master: { svm: "fail" } },
		labels: [{ ref: "master", test: "svm", verdict: "pending-fix", evidence: ["{{sha12:exit-err-fix}}", "kvm@next"] }],
	},
	{
		name: "07-cited-commit-rebased",
		shape:
			"KUT cites f402ecd7a8b6 with its subject, but that sha was rewritten: the fix exists in next under another sha",
		kvm: [{ linux: "6.18", at: "2025-11-30T21:00:00Z" }, { branch: "next", from: "master" }, ...EXIT_CODE_SERIES],
		rewritten: ["f402ecd7a8b6"],
		kut: [{ layoutAfter: "2025-12-01T00:00:00Z" }, kutCitingExitErrFix("f402ecd7a8b6")],
		kernels: ["master", "next"],
		results: { master: { svm: "fail" } },
		labels: [{ ref: "master", test: "svm", verdict: "pending-fix", evidence: ["{{sha12:exit-err-fix}}", "kvm@next"] }],
	},
	{
		name: "08-stable-cherry-pick",
		shape:
			"the fix is in next and cherry-picked (-x, trailers kept) into stable; stable and next only share the release",
		kvm: [
			{ linux: "6.12", at: "2024-11-17T22:00:00Z" },
			{ branch: "next", from: "master" },
			{
				subject: "KVM: x86: Unconditionally set irr_pending when updating APICv state",
				trailers: [sob(SEAN), "Message-ID: <20241106015135.2462147-1-seanjc@google.com>", sob(PAOLO)],
				touch: ["arch/x86/kvm/lapic.c"],
			},
			{
				id: "tsc-fix",
				subject: "KVM: nVMX: Restore L1's TSC offset after a nested VM-Exit to userspace",
				trailers: [
					"Cc: stable@vger.kernel.org",
					sob(SEAN),
					`Message-ID: <${TSC_FIX_ID}>`,
					`Link: https://lore.kernel.org/r/${TSC_FIX_ID}`,
					sob(PAOLO),
				],
				touch: ["arch/x86/kvm/vmx/nested.c"],
			},
			{ branch: "stable", from: "master" },
			{
				subject: "KVM: x86: Play nice with protected guests in complete_hypercall_exit()",
				trailers: [sob(SEAN), sob(GREG)],
				touch: ["arch/x86/kvm/x86.c"],
			},
			{ cherryPick: "tsc-fix", committer: GREG },
			{
				subject: "KVM: nVMX: Defer the MSR bitmap merge until the next VM-Enter",
				trailers: [sob(JIM), sob(GREG)],
				touch: ["arch/x86/kvm/vmx/nested.c"],
			},
		],
		kut: [
			{ layoutAfter: "2024-11-20T00:00:00Z" },
			{
				subject: "nVMX: Verify L1's TSC offset is restored after a nested VM-Exit",
				trailers: [
					`Link: https://lore.kernel.org/all/${TSC_FIX_ID}`,
					"Link: https://lore.kernel.org/r/20241128005547.4077116-2-seanjc@google.com",
					sob(SEAN),
				],
				touch: ["x86/vmx_tests.c"],
			},
		],
		kernels: ["next", "stable"],
		baseline: "next",
		results: { next: { vmx: "pass" }, stable: { vmx: "fail" } },
		labels: [{ ref: "stable", test: "vmx", verdict: "regression", evidence: ["kvm@next"] }],
	},
	{
		name: "09-v4-linked-v5-applied",
		shape: "KUT links patch 3/7 of v4; v5 (new ids, same subjects) is applied in queue only; lore knows v4",
		kvm: [{ linux: "6.2-rc2", at: "2023-01-01T22:00:00Z" }, { branch: "queue", from: "master" }, ...AVIC_V5_SERIES],
		kut: [
			{ layoutAfter: "2022-09-01T00:00:00Z" },
			{
				subject: AVIC_KUT_SUBJECT,
				trailers: [
					sob(SEAN),
					`Link: https://lore.kernel.org/all/${AVIC_V4}-4-seanjc@google.com`,
					`Link: https://lore.kernel.org/r/${AVIC_KUT_ID}`,
					sob(PAOLO),
				],
				touch: ["x86/apic.c"],
			},
		],
		kernels: ["master", "queue"],
		results: { master: { x2apic: "fail", xapic: "pass" } },
		lore: [
			AVIC_V4_THREAD,
			[
				kutPatch({
					id: AVIC_KUT_ID,
					from: SEAN,
					at: "2022-10-01T01:13:04Z",
					subject: `[kvm-unit-tests PATCH 2/9] ${AVIC_KUT_SUBJECT}`,
					file: "x86/apic.c",
					message: "Depends on the KVM fix in [PATCH v4 3/7].",
				}),
			],
		],
		labels: [{ ref: "master", test: "x2apic", verdict: "pending-fix", evidence: ["{{sha12:avic-v5-3}}", "kvm@queue"] }],
	},
	{
		...POSTED_NOT_APPLIED,
		name: "10-posted-not-applied-lore",
		shape: "KUT links a KVM patch (b4 id) that lore has and no configured tree applied; --lore",
		lore: TIMER_THREADS,
		labels: [
			{ ref: "master", test: "xapic", verdict: "pending-fix", evidence: ["not applied in any configured tree"] },
		],
	},
	{
		...POSTED_NOT_APPLIED,
		name: "11-posted-not-applied-no-lore",
		shape: "the same link as case 10 without --lore: nothing says it is a KVM patch",
		labels: [
			{
				ref: "master",
				test: "xapic",
				verdict: "new-failure",
				evidence: ["1 link unresolved: kvm-matrix explain kut:xapic --all"],
			},
		],
	},
	{
		name: "12-fix-posted-after-test",
		shape: "the vmx bug: KUT (x86/vmx.c) links only itself; the KVM fix was posted 25 minutes later, is in queue",
		kvm: [
			{ linux: "6.1-rc4", at: "2022-11-06T22:00:00Z" },
			{
				subject: "KVM: x86: Use SRCU to protect zap in __kvm_set_or_clear_apicv_inhibit()",
				trailers: [sob(SEAN), "Message-Id: <20221110223043.2178224-1-seanjc@google.com>", sob(PAOLO)],
				touch: ["arch/x86/kvm/x86.c"],
			},
			{ mark: "next-old" },
			{ branch: "queue", from: "next-old" },
			{
				subject: "KVM: nVMX: Don't use Enlightened MSR Bitmap for L3",
				trailers: [sob(VITALY), "Message-Id: <20221129123930.1111122-1-vkuznets@redhat.com>", sob(PAOLO)],
				touch: ["arch/x86/kvm/vmx/vmx.c"],
			},
			{
				subject: 'KVM: nVMX: Inject #GP, not #UD, if "generic" VMXON CR0/CR4 check fails',
				body: 'Inject #GP for if VMXON is attempting with a CR0/CR4 that fails the\ngeneric "is CRx valid" check, but passes the CR4.VMXE check, i.e. for\nthe CR0.PE=0 case.',
				trailers: [
					'Fixes: c7d855c2aff2 ("KVM: nVMX: Inject #UD if VMXON is attempted with incompatible CR0/CR4")',
					sob(SEAN),
					"Link: https://lore.kernel.org/r/20221006001956.329314-1-seanjc@google.com",
					sob(PAOLO),
				],
				touch: ["arch/x86/kvm/vmx/nested.c"],
			},
		],
		kut: [
			{ layoutAfter: "2022-10-01T00:00:00Z" },
			{
				subject: 'nVMX: Expect #GP on VMXON with "generic" invalid CR0/CR4 bits',
				at: "2022-10-05T23:54:56Z",
				trailers: [sob(SEAN), "Link: https://lore.kernel.org/r/20221005235456.3145298-1-seanjc@google.com", sob(PAOLO)],
				touch: ["x86/vmx.c"],
			},
		],
		kernels: ["next-old", "queue"],
		results: { "next-old": { vmx: "fail", ept: "pass" }, queue: { vmx: "pass", ept: "pass" } },
		labels: [{ ref: "next-old", test: "vmx", verdict: "pending-fix", evidence: ["kvm@queue"] }],
	},
	{
		name: "13-xapic-v5-applied",
		shape:
			"the xapic bug: KUT (x86/apic.c) links only its own series; the fixes landed as v5 after v6.1; kvm-x86-next has them",
		kvm: [
			{ linux: "6.1", at: "2022-12-11T22:00:00Z" },
			{ tag: "v6.1", tagger: LINUS },
			{ branch: "kvm-x86-next", from: "v6.1" },
			{
				subject: "KVM: x86: Remove unused argument in gpc_unmap_khva()",
				trailers: [sob(MICHAL), sob(SEAN)],
				touch: ["arch/x86/kvm/x86.c"],
			},
			...AVIC_V5_SERIES,
		],
		kut: [
			{ layoutAfter: "2022-09-01T00:00:00Z" },
			{
				subject: "x86/apic: Test logical flat mode IPIs to more than one vCPU",
				at: "2022-10-01T01:13:03Z",
				trailers: [sob(SEAN), "Link: https://lore.kernel.org/r/20221001011301.2077739-6-seanjc@google.com", sob(PAOLO)],
				touch: ["x86/apic.c"],
			},
			{
				subject: "x86/apic: Don't assume the APIC ID matches the vCPU index",
				trailers: [sob(SEAN), "Link: https://lore.kernel.org/r/20221001011301.2077739-7-seanjc@google.com", sob(PAOLO)],
				touch: ["x86/apic.c"],
			},
		],
		kernels: ["v6.1", "kvm-x86-next"],
		colour: true,
		results: { "v6.1": { xapic: "timeout", x2apic: "pass" }, "kvm-x86-next": { xapic: "pass", x2apic: "pass" } },
		labels: [{ ref: "v6.1", test: "xapic", verdict: "pending-fix", evidence: ["kvm@kvm-x86-next"] }],
	},
	{
		name: "14-regression-beside-pending-fix",
		shape:
			"one matrix: svm pending-fix on master as in case 1; vmx fails on next, passes on master (its ancestor, the baseline)",
		kvm: [
			{ linux: "6.18-rc5", at: "2025-11-09T22:00:00Z" },
			{ branch: "next", from: "master" },
			...EXIT_CODE_SERIES,
			{
				subject: "KVM: nVMX: Drop the redundant vmcs12 sync on nested VM-Enter",
				trailers: [
					sob(CHAO),
					"Link: https://lore.kernel.org/kvm/20251120081523.913421-2-chao.gao@intel.com/",
					sob(SEAN),
				],
				touch: ["arch/x86/kvm/vmx/nested.c"],
			},
		],
		kut: [
			{ layoutAfter: "2025-12-01T00:00:00Z" },
			KUT_EXIT_CODE,
			{
				subject: "nVMX: Verify vmcs12 guest state after a nested VM-Enter that fails late",
				trailers: [sob(CHAO), "Link: https://patch.msgid.link/20251222090211.1128763-1-chao.gao@intel.com", sob(SEAN)],
				touch: ["x86/vmx_tests.c"],
			},
		],
		kernels: ["master", "next"],
		baseline: "master",
		results: { master: { svm: "fail", vmx: "pass" }, next: { svm: "pass", vmx: "fail" } },
		labels: [
			{ ref: "master", test: "svm", verdict: "pending-fix", evidence: ["exit_code", "kvm@next"] },
			{ ref: "next", test: "vmx", verdict: "regression", evidence: ["kvm@master"] },
		],
	},
	{
		name: "15-missing-fix-contradicted-by-baseline",
		shape: "the linked KVM fix is in neither the kernel nor the baseline, and the baseline passed",
		kvm: [
			{ linux: "6.8", at: "2024-03-10T21:00:00Z" },
			{
				subject: "KVM: x86: Clean up partially uninit integer in emulator_read_write()",
				trailers: [sob(PAOLO)],
				touch: ["arch/x86/kvm/emulate.c"],
			},
			{ mark: "next" },
			{
				subject: "KVM: nVMX: Rework the nested MSR bitmap merge",
				trailers: [sob(JIM), "Message-Id: <20240315201414.3329177-3-jmattson@google.com>", sob(PAOLO)],
				touch: ["arch/x86/kvm/vmx/nested.c"],
			},
			{ branch: "queue", from: "next" },
			{
				subject: "KVM: nVMX: Add a missing consistency check on VM-Entry MSR-load addresses",
				trailers: [sob(SEAN), "Message-Id: <20240322212321.860253-4-seanjc@google.com>", sob(PAOLO)],
				touch: ["arch/x86/kvm/vmx/nested.c"],
			},
		],
		kut: [
			{ layoutAfter: "2024-03-01T00:00:00Z" },
			{
				subject: "nVMX: Test VM-Entry with a misaligned MSR-load address",
				trailers: [
					sob(SEAN),
					"Link: https://lore.kernel.org/kvm/20240322212321.860253-4-seanjc@google.com/",
					"Link: https://lore.kernel.org/r/20240322213314.867081-2-seanjc@google.com",
					sob(PAOLO),
				],
				touch: ["x86/vmx_tests.c"],
			},
		],
		kernels: ["master", "next", "queue"],
		baseline: "next",
		results: { master: { vmx: "fail" }, next: { vmx: "pass" } },
		labels: [{ ref: "master", test: "vmx", verdict: "regression", evidence: ["kvm@next"] }],
	},
	{
		name: "16-ep4ta-vmx-tests-only",
		shape:
			"EP4TA: KUT touches only x86/vmx_tests.c, links KVM's [PATCH v2 5/5] and its own posting; `ept` (vmx.flat) fails",
		kvm: [
			{ linux: "6.5", at: "2023-08-27T21:00:00Z" },
			{ branch: "next", from: "master" },
			...EP4TA_SUBJECTS.map((subject, i) => ({
				subject,
				trailers: [
					sob(SEAN),
					`Link: https://lore.kernel.org/r/20230729005200.1057358-${i + 3}-seanjc@google.com`,
					sob(SEAN),
				],
				touch: ["arch/x86/kvm/mmu/mmu.c"],
			})),
		],
		kut: [
			{ layoutAfter: "2023-09-01T00:00:00Z" },
			{
				subject: "nVMX: Add a testcase for running L2 with EP4TA that points at MMIO",
				trailers: [
					"Link: https://lore.kernel.org/all/20230729005200.1057358-6-seanjc@google.com",
					"Link: https://lore.kernel.org/r/20230911182013.333559-4-seanjc@google.com",
					sob(SEAN),
				],
				touch: ["x86/vmx_tests.c"],
			},
		],
		kernels: ["master", "next"],
		results: { master: { vmx: "pass", ept: "fail" } },
		labels: [{ ref: "master", test: "ept", verdict: "pending-fix", evidence: ["Use dummy root", "kvm@next"] }],
	},
	{
		name: "17-own-series-links",
		shape: "KUT (a b4 series) links patches -1- and -3- of its own series, then its own posting -2-; baseline passes",
		kvm: [
			{ linux: "6.13", at: "2025-01-19T22:00:00Z" },
			{
				subject: "KVM: VMX: Reject KVM_RUN if userspace forces emulation during nested VM-Enter",
				committer: PAOLO,
				trailers: [sob(SEAN), "Link: https://lore.kernel.org/r/20250201015518.689704-9-seanjc@google.com", sob(SEAN)],
				touch: ["arch/x86/kvm/vmx/nested.c"],
			},
			{ mark: "next" },
			{
				subject: "KVM: VMX: Refresh the TPR threshold only on a TPR write from L2",
				trailers: [sob(PAOLO)],
				touch: ["arch/x86/kvm/vmx/vmx.c", "arch/x86/kvm/lapic.c"],
			},
		],
		kut: [
			{ layoutAfter: "2025-01-10T00:00:00Z", omit: ["tprThreshold"] },
			{
				subject: "nVMX: Add a test for the TPR threshold with APIC pass-through",
				body: "Uses the APIC helpers added earlier in this series [1][2].",
				trailers: [
					sob(MANALI),
					`Link: https://lore.kernel.org/r/${TPR_STEM}-1-5d2c8e1f@amd.com # [1]`,
					`Link: https://lore.kernel.org/r/${TPR_STEM}-3-5d2c8e1f@amd.com # [2]`,
					`Link: https://lore.kernel.org/r/${TPR_STEM}-2-5d2c8e1f@amd.com`,
					sob(SEAN),
				],
				files: { "x86/unittests.cfg": unittestsCfg() },
				touch: ["x86/vmx_tests.c"],
			},
		],
		kernels: ["master", "next"],
		baseline: "next",
		results: {
			master: { vmx_apic_passthrough_tpr_threshold_test: "fail" },
			next: { vmx_apic_passthrough_tpr_threshold_test: "pass" },
		},
		labels: [
			{ ref: "master", test: "vmx_apic_passthrough_tpr_threshold_test", verdict: "regression", evidence: ["kvm@next"] },
		],
	},
	{
		name: "18-diverged-kernels",
		shape: "fails on next, passes on fixes, neither an ancestor of the other, no baseline",
		kvm: [
			{ linux: "6.16", at: "2025-07-27T21:00:00Z" },
			{ branch: "next", from: "master" },
			{
				subject: "KVM: x86: Convert vcpu_run()'s immediate exit param into a generic bitmap",
				trailers: [sob(SEAN), "Link: https://lore.kernel.org/r/20250805190526.1453366-2-seanjc@google.com", sob(SEAN)],
				touch: ["arch/x86/kvm/x86.c", "arch/x86/kvm/emulate.c"],
			},
			{ branch: "fixes", from: "master" },
			{
				subject: "KVM: x86: Don't (re)check L1 intercepts when completing userspace I/O",
				trailers: [sob(SEAN), "Message-ID: <20250715190638.1899116-1-seanjc@google.com>", sob(PAOLO)],
				touch: ["arch/x86/kvm/emulate.c"],
			},
		],
		kut: [
			{ layoutAfter: "2025-07-01T00:00:00Z" },
			{
				subject: "x86/emulator: Test string I/O to an emulated port with REP",
				trailers: [
					sob(MATHIAS),
					"Link: https://patch.msgid.link/20250716102441.1903418-1-minipli@grsecurity.net",
					sob(SEAN),
				],
				touch: ["x86/emulator.c"],
			},
		],
		kernels: ["next", "fixes"],
		results: { next: { emulator: "fail" }, fixes: { emulator: "pass" } },
		labels: [{ ref: "next", test: "emulator", verdict: "new-failure" }],
	},
	{
		name: "19-earlier-posting-on-lore",
		shape: "case 3's earlier posting, served by lore as a [kvm-unit-tests PATCH] (a/x86/...); one kernel, --lore",
		kvm: [{ linux: "6.11", at: "2024-09-15T20:00:00Z" }],
		kut: [{ layoutAfter: "2024-09-01T00:00:00Z" }, KUT_REPOSTED_TEST],
		kernels: ["master"],
		results: { master: { svm: "fail" } },
		lore: [
			[
				kutPatch({
					id: EARLIER_POSTING,
					from: MAXIM,
					at: "2024-09-07T00:54:44Z",
					subject: `[kvm-unit-tests PATCH 4/5] ${VNMI_TEST}`,
					file: "x86/svm_tests.c",
					message: "Add a test that L1 can inject an NMI into L2 with vNMI enabled.",
				}),
			],
		],
		labels: [{ ref: "master", test: "svm", verdict: "new-failure" }],
	},
	{
		name: "20-fix-contained",
		shape: "the linked KVM fix is in the kernel under test; it still fails, no baseline",
		kvm: [
			{ linux: "6.18-rc5", at: "2025-11-09T22:00:00Z" },
			...EXIT_CODE_SERIES,
			{ branch: "next", from: "master" },
			{
				subject: "KVM: SVM: Drop the now-unused avic_vm_id_bitmap",
				trailers: ["Link: https://patch.msgid.link/20251204002617.2340611-4-seanjc@google.com", sob(SEAN)],
				touch: ["arch/x86/kvm/svm/avic.c"],
			},
		],
		kut: [{ layoutAfter: "2025-12-01T00:00:00Z" }, KUT_EXIT_CODE],
		kernels: ["master", "next"],
		results: { master: { svm: "fail" } },
		labels: [{ ref: "master", test: "svm", verdict: "new-failure" }],
	},
	{
		name: "21-series-partly-in-stable",
		shape:
			"KUT links the exit_code series' cover letter; stable backports patch 1 (commit X upstream.) and lacks patch 2",
		kvm: [
			{ linux: "6.18", at: "2025-11-30T21:00:00Z" },
			{ branch: "next", from: "master" },
			...EXIT_CODE_SERIES,
			{ branch: "stable", from: "master" },
			{
				subject: "KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)",
				body: "commit {{sha:exit-err-fix}} upstream.\n\nSet exit_code_hi to -1 when synthesizing SVM_EXIT_ERR, as hardware does on a failed VMRUN.",
				trailers: [sob(SEAN), sob(GREG)],
				touch: ["arch/x86/kvm/svm/nested.c"],
			},
		],
		kut: [{ layoutAfter: "2025-12-01T00:00:00Z" }, KUT_EXIT_CODE],
		kernels: ["master", "next", "stable"],
		results: { stable: { svm: "fail" }, next: { svm: "pass" } },
		labels: [
			{
				ref: "stable",
				test: "svm",
				verdict: "pending-fix",
				evidence: [
					'{{sha12:exit-code-u64}} ("KVM: SVM: Treat exit_code as an unsigned 64-bit value through all of KVM")',
					"kvm@next",
				],
				absent: ["{{sha12:exit-err-fix}}", "Set exit_code_hi"],
			},
		],
	},
	{
		name: "22-tree-name-shared-on-one-cache",
		shape:
			"another matrix's tree, also called kvm, holds the fix the test links; it is classified first on the same cache",
		sameCacheBefore: {
			kvm: [
				{ linux: "6.18", at: "2025-11-30T21:00:00Z" },
				{ branch: "next", from: "master" },
				...EXIT_CODE_SERIES.map((step) => ("id" in step ? { ...step, id: `other-${step.id}` } : step)),
			],
			kernels: ["master", "next"],
			results: { master: { svm: "fail" } },
			labels: [
				{
					ref: "master",
					test: "svm",
					verdict: "pending-fix",
					evidence: ["{{sha12:other-exit-err-fix}}", "kvm@next"],
				},
			],
		},
		kvm: [
			{ linux: "6.18", at: "2025-11-30T22:00:00Z" },
			{ branch: "next", from: "master" },
			{
				subject: "KVM: SVM: Drop the now-unused avic_vm_id_bitmap",
				trailers: ["Link: https://patch.msgid.link/20251204002617.2340611-4-seanjc@google.com", sob(SEAN)],
				touch: ["arch/x86/kvm/svm/avic.c"],
			},
		],
		kut: [{ layoutAfter: "2025-12-01T00:00:00Z" }, KUT_EXIT_CODE],
		kernels: ["master", "next"],
		results: { master: { svm: "fail" } },
		labels: [
			{
				ref: "master",
				test: "svm",
				verdict: "new-failure",
				absent: ["{{sha12:other-exit-err-fix}}", "{{sha12:other-exit-code-u64}}", "could not tell"],
			},
		],
	},
];
