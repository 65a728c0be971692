// The generated kernel history's layout: what each commit of each branch does. Pure, and O(1) for
// any master commit, so a million-commit history is streamed without being held in memory, and the
// results generator knows from a test's number alone where the fix it was added with landed.
//
// master: N commits. Commit 0 adds the KVM sources; in the first 55 % each selftest is added by one
// commit (5 % of them right after a separate KVM fix, patch 1/2 and 2/2 of one posting); after the
// stable branch point (90 %) come 100 more fix + test pairs; the rest are KVM changes, every 211th
// one in the second half also touching an existing selftest, and a merge of a 3-commit topic
// branch every 25,000 commits. next = master + 300 (75 fix + test pairs), queue = next + 100 (25
// pairs), fixes = master + 20; stable (from 90 %) and lts (from 60 %) carry backports of master's
// later commits, among them half (stable) and a quarter (lts) of the late fixes.

export const TEST_COUNT = 10_000;
const TESTS_PER_DIR = 100;
export const SELFTESTS_DIR = "tools/testing/selftests/kvm";

/** KVM's x86 sources as a kernel tree has them: what changes and fixes touch. */
export const KVM_FILES: readonly string[] = [
	"cpuid.c",
	"cpuid.h",
	"debugfs.c",
	"emulate.c",
	"hyperv.c",
	"hyperv.h",
	"i8254.c",
	"i8259.c",
	"ioapic.c",
	"irq.c",
	"irq_comm.c",
	"kvm_cache_regs.h",
	"kvm_emulate.h",
	"kvm_onhyperv.c",
	"lapic.c",
	"lapic.h",
	"mmu.h",
	"mmu/mmu.c",
	"mmu/mmu_internal.h",
	"mmu/page_track.c",
	"mmu/paging_tmpl.h",
	"mmu/spte.c",
	"mmu/spte.h",
	"mmu/tdp_iter.c",
	"mmu/tdp_mmu.c",
	"mtrr.c",
	"pmu.c",
	"pmu.h",
	"reverse_cpuid.h",
	"smm.c",
	"svm/avic.c",
	"svm/hyperv.c",
	"svm/nested.c",
	"svm/pmu.c",
	"svm/sev.c",
	"svm/svm.c",
	"svm/svm.h",
	"trace.h",
	"vmx/capabilities.h",
	"vmx/hyperv.c",
	"vmx/nested.c",
	"vmx/pmu_intel.c",
	"vmx/posted_intr.c",
	"vmx/sgx.c",
	"vmx/vmcs12.c",
	"vmx/vmx.c",
	"vmx/vmx.h",
	"x86.c",
	"x86.h",
	"xen.c",
].map((f) => `arch/x86/kvm/${f}`);

/** `x86_64/g03/test_00312`: 100 directories of 100, so no tree fast-import rewrites is large. */
export const testId = (k: number): string =>
	`x86_64/g${String(Math.floor(k / TESTS_PER_DIR)).padStart(2, "0")}/test_${String(k).padStart(5, "0")}`;
export const testFile = (k: number): string => `${SELFTESTS_DIR}/${testId(k)}.c`;
export const kvmFileOf = (n: number): string => KVM_FILES[n % KVM_FILES.length] as string;

/** Where the KVM fix a test was added with landed; undefined for the 95 % added alone. */
export type FixHome = "master" | "master-late" | "next" | "queue";

export function fixHomeOf(k: number): FixHome | undefined {
	if (k % 20 !== 7) return undefined;
	const sub = Math.floor(k / 20) % 10;
	if (sub <= 5) return "master";
	if (sub <= 7) return "master-late";
	if (sub === 8) return "next";
	return Math.floor(k / 200) % 2 === 0 ? "queue" : "next";
}

/** Of the late fixes: backported to stable (half) and to lts (a quarter). */
export const backportedToStable = (k: number): boolean => Math.floor(k / 200) % 2 === 0;
export const backportedToLts = (k: number): boolean => Math.floor(k / 400) % 2 === 0;

const testsWhere = (wanted: (home: FixHome | undefined) => boolean) =>
	Array.from({ length: TEST_COUNT }, (_, k) => k).filter((k) => wanted(fixHomeOf(k)));

/** What one commit does, by kind. `n` numbers KVM changes across all branches (their messages). */
export type CommitPlan =
	| { readonly kind: "initial" }
	| { readonly kind: "change"; readonly n: number; readonly touchesTest?: number }
	| { readonly kind: "fix"; readonly k: number }
	| { readonly kind: "test"; readonly k: number }
	| { readonly kind: "merge"; readonly n: number };

type Event = { readonly kind: "fix" | "test"; readonly k: number };
const pairsOf = (tests: readonly number[]): Event[] =>
	tests.flatMap((k): Event[] =>
		fixHomeOf(k) === undefined
			? [{ kind: "test", k }]
			: [
					{ kind: "fix", k },
					{ kind: "test", k },
				],
	);

export const MIN_COMMITS = 20_000;
export const NEXT_COMMITS = 300;
export const QUEUE_COMMITS = 100;
export const FIXES_COMMITS = 20;
/** master commits between merges of a topic branch, and each topic's length. */
const MERGE_EVERY = 25_000;
export const TOPIC_COMMITS = 3;

/** A window of commit slots with events spread evenly over it, the rest plain changes. */
class Spread {
	constructor(
		readonly start: number,
		readonly length: number,
		readonly events: readonly Event[],
	) {
		if (events.length > length) throw new RangeError(`${events.length} events do not fit in ${length} commits`);
	}
	slotOf(e: number): number {
		return this.start + Math.floor((e * this.length) / this.events.length);
	}
	/** The event at slot `i`, if one is there (the inverse of slotOf, in O(1)). */
	at(i: number): Event | undefined {
		const offset = i - this.start;
		if (offset < 0 || offset >= this.length) return undefined;
		const e = Math.ceil((offset * this.events.length) / this.length);
		return e < this.events.length && this.slotOf(e) === i ? this.events[e] : undefined;
	}
}

export class History {
	readonly stableBase: number;
	readonly ltsBase: number;
	private readonly early: Spread;
	private readonly late: Spread;
	private readonly next: Spread;
	private readonly queue: Spread;

	constructor(readonly commits: number) {
		if (!Number.isInteger(commits) || commits < MIN_COMMITS)
			throw new RangeError(
				`--commits ${commits}: at least ${MIN_COMMITS.toLocaleString("en")} (one per selftest, twice over)`,
			);
		this.stableBase = Math.floor(commits * 0.9);
		this.ltsBase = Math.floor(commits * 0.6);
		this.early = new Spread(
			1,
			Math.floor(commits * 0.55) - 1,
			pairsOf(testsWhere((h) => h === undefined || h === "master")),
		);
		this.late = new Spread(
			this.stableBase + 1,
			commits - this.stableBase - 2,
			pairsOf(testsWhere((h) => h === "master-late")),
		);
		this.next = new Spread(0, NEXT_COMMITS, pairsOf(testsWhere((h) => h === "next")));
		this.queue = new Spread(0, QUEUE_COMMITS, pairsOf(testsWhere((h) => h === "queue")));
	}

	/** Numbers for the KVM changes off master, past every master index. */
	private get branchBase(): number {
		return this.commits;
	}

	master(i: number): CommitPlan {
		if (i === 0) return { kind: "initial" };
		const event = this.early.at(i) ?? this.late.at(i);
		if (event !== undefined) return event;
		if (this.commits >= 2 * MERGE_EVERY && i % MERGE_EVERY === MERGE_EVERY / 2) return { kind: "merge", n: i };
		// The second half's changes sometimes touch a selftest too; every test exists by then.
		const touches = i >= this.early.start + this.early.length && i % 211 === 0;
		return touches ? { kind: "change", n: i, touchesTest: (i * 7919) % TEST_COUNT } : { kind: "change", n: i };
	}

	/** The topic branch merged at master commit `i`: it starts from master commit i - 10. */
	topic(i: number, t: number): CommitPlan {
		return { kind: "change", n: this.branchBase + 1_000 + Math.floor(i / MERGE_EVERY) * TOPIC_COMMITS + t };
	}

	nextCommit(j: number): CommitPlan {
		return this.next.at(j) ?? { kind: "change", n: this.branchBase + j };
	}

	queueCommit(j: number): CommitPlan {
		return this.queue.at(j) ?? { kind: "change", n: this.branchBase + NEXT_COMMITS + j };
	}

	fixesCommit(j: number): CommitPlan {
		return { kind: "change", n: this.branchBase + NEXT_COMMITS + QUEUE_COMMITS + j };
	}

	/**
	 * The master commits a maintenance branch from `base` carries as backports, oldest first: the
	 * late fixes `wanted` picks and about `count` plain changes spread over what came after `base`.
	 */
	backports(base: number, count: number, wanted: (k: number) => boolean): number[] {
		const step = Math.max(1, Math.floor((this.commits - base - 1) / count));
		const picked: number[] = [];
		for (let i = base + 1; i < this.commits; i++) {
			const c = this.master(i);
			if (c.kind === "fix" && fixHomeOf(c.k) === "master-late" && wanted(c.k)) picked.push(i);
			else if (c.kind === "change" && c.touchesTest === undefined && (i - base) % step === 0) picked.push(i);
		}
		return picked;
	}

	stableBackports(): number[] {
		return this.backports(this.stableBase, 450, backportedToStable);
	}

	ltsBackports(): number[] {
		return this.backports(this.ltsBase, 300, backportedToLts);
	}
}
