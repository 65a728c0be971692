// What each planned commit says and writes: kernel-shaped messages (subjects by area, bodies,
// trailers at the densities bench/link-index.ts uses: about a third with a Link to the posting,
// some Message-Id, Fixes, Closes and citations), and the one or two tiny files it touches.
// Deterministic: a backport regenerates its original's message from the plan alone.
import { GREG, LINUS, PAOLO, SEAN, sob } from "../verdicts/people.js";
import { type CommitPlan, KVM_FILES, kvmFileOf, testFile, testId } from "./history.js";

export interface CommitText {
	readonly author: string;
	readonly message: string;
	/** Path and content of each file the commit writes. */
	readonly files: readonly (readonly [string, string])[];
}

const PEOPLE = [
	"Ada Lindqvist <ada.lindqvist@example.org>",
	"Bartosz Wrona <bwrona@example.com>",
	"Chen Yufei <yufei.chen@example.net>",
	"Dana Okafor <dokafor@example.org>",
	"Emil Sørensen <emil@example.dk>",
	"Farah Haddad <farah.haddad@example.com>",
	"Gil Tzur <gtzur@example.co.il>",
	"Hana Mori <hana.mori@example.jp>",
	"Ivo Marković <ivo@example.hr>",
	"Jun Park <junpark@example.kr>",
	"Kirsi Laine <kirsi.laine@example.fi>",
	"Luis Ortega <lortega@example.es>",
];
const AREAS = ["x86", "x86/mmu", "VMX", "nVMX", "SVM", "nSVM", "x86/pmu", "SEV", "x86/xen", "Hyper-V", "LAPIC"];
const VERBS = ["Drop", "Rework", "Open code", "Rename", "Harden", "Consolidate", "WARN on", "Skip", "Move", "Cache"];
const OBJECTS = [
	"the stale MMIO SPTE check",
	"nested VM-Enter consistency checks",
	"the PV EOI bookkeeping",
	"CPUID leaf 0x24 handling",
	"the posted-interrupt descriptor update",
	"PMU counter reprogramming",
	"guest PAT emulation",
	"the TDP MMU root refcount",
	"the emulator's far-jump path",
	"XSAVE state validation",
	"SMM state save",
];

const person = (n: number) => PEOPLE[n % PEOPLE.length] as string;
const pick = <T>(list: readonly T[], n: number) => list[n % list.length] as T;
const hex = (n: number, width: number) =>
	(Math.imul(n, 2654435761) >>> 0).toString(16).padStart(8, "0").repeat(5).slice(0, width);
const mailUser = (who: string) => (who.match(/<([^@]+)@/)?.[1] ?? "dev").replace(/[^a-z0-9.]/gi, "");
const maintainer = (n: number) => (n % 3 === 0 ? PAOLO : SEAN);

/** git send-email's message-id stem for posting number `n` by `who`: `<YYYYMMDDhhmmss>.<pid>`. */
function postingStem(n: number): string {
	const d = new Date(Date.UTC(2020, 0, 1) + n * 61_000);
	const p = (x: number, w = 2) => String(x).padStart(w, "0");
	return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${10_000 + (n % 90_000)}`;
}
const msgid = (stem: string, index: number, who: string) => `${stem}-${index}-${mailUser(who)}@example.org`;
const lore = (id: string) => `Link: https://lore.kernel.org/r/${id}`;

/** Patch 1/2 (the KVM fix) and 2/2 (the test) of the posting that added selftest `k`. */
export const fixMessageId = (k: number) => msgid(postingStem(5_000_000 + k), 1, person(k));
export const testMessageId = (k: number) => msgid(postingStem(5_000_000 + k), 2, person(k));

function change(n: number, touchesTest: number | undefined): CommitText {
	const who = person(n * 7);
	const file = kvmFileOf(n);
	const subject =
		touchesTest === undefined
			? `KVM: ${pick(AREAS, n)}: ${pick(VERBS, n >> 2)} ${pick(OBJECTS, n >> 4)} (${n})`
			: `KVM: selftests: Tighten the asserts in test_${String(touchesTest).padStart(5, "0")} (${n})`;
	const lines = [subject, "", `Change ${n} of ${file}: explain what was wrong and why this is the fix.`, ""];
	if (n % 23 === 0)
		lines.push(`This undoes part of commit ${hex(n, 12)} ("KVM: ${pick(AREAS, n + 1)}: older change").`, "");
	if (n % 7 === 0) lines.push(`Fixes: ${hex(n * 3, 12)} ("KVM: ${pick(AREAS, n)}: ${pick(OBJECTS, n)} rework")`);
	lines.push(sob(who));
	if (n % 4 === 1) lines.push(`Reviewed-by: ${person(n + 5)}`);
	// Patches of one posting share a stem: eight commits in a row are one series.
	const series = msgid(postingStem(n >> 3), (n & 7) + 1, who);
	if (n % 3 === 0) lines.push(lore(series));
	else if (n % 3 === 1 && n % 2 === 0) lines.push(`Message-Id: <${series}>`);
	if (n % 101 === 0) lines.push(`Closes: https://bugzilla.kernel.org/show_bug.cgi?id=${200_000 + (n % 50_000)}`);
	lines.push(sob(maintainer(n)));
	const files: [string, string][] = [[file, `/* ${file}: change ${n} */\n`]];
	if (touchesTest !== undefined) files.push([testFile(touchesTest), `/* ${testId(touchesTest)}: change ${n} */\n`]);
	return { author: who, message: `${lines.join("\n")}\n`, files };
}

function fix(k: number): CommitText {
	const who = person(k);
	const file = kvmFileOf(k * 3 + 1);
	const lines = [
		`KVM: ${pick(AREAS, k)}: Don't corrupt ${pick(OBJECTS, k)} on a failed VM-Enter (${k})`,
		"",
		"The state is written before the checks that can fail, so a failed entry leaves it",
		"half-updated. Write it only once the entry can no longer fail.",
		"",
		`Fixes: ${hex(k * 5, 12)} ("KVM: ${pick(AREAS, k)}: ${pick(OBJECTS, k + 3)} rework")`,
		sob(who),
		lore(fixMessageId(k)),
		sob(maintainer(k)),
	];
	return { author: who, message: `${lines.join("\n")}\n`, files: [[file, `/* ${file}: fix for test ${k} */\n`]] };
}

function test(k: number, withFix: boolean): CommitText {
	const who = person(k);
	const name = `test_${String(k).padStart(5, "0")}`;
	const lines = [`KVM: selftests: Add ${name} for ${pick(OBJECTS, k)}`, ""];
	if (withFix) {
		lines.push("Verify the fix in the previous patch: the state survives a failed VM-Enter.", "");
		lines.push(sob(who), lore(fixMessageId(k)), lore(testMessageId(k)), sob(maintainer(k)));
	} else {
		lines.push(`Cover ${pick(OBJECTS, k)} from userspace.`, "", sob(who));
		if (k % 3 === 0) lines.push(lore(msgid(postingStem(7_000_000 + k), 1, who)));
		lines.push(sob(maintainer(k)));
	}
	const source = `// SPDX-License-Identifier: GPL-2.0-only\n/* ${testId(k)} */\nint main(void) { return 0; }\n`;
	return { author: who, message: `${lines.join("\n")}\n`, files: [[testFile(k), source]] };
}

export function commitText(plan: CommitPlan, withFix: (k: number) => boolean): CommitText {
	switch (plan.kind) {
		case "initial":
			return {
				author: LINUS,
				message: "Import the KVM x86 sources and selftests Makefile\n",
				files: [
					...KVM_FILES.map((f): [string, string] => [f, `/* ${f} */\n`]),
					["tools/testing/selftests/kvm/Makefile", "include Makefile.kvm\n"],
				],
			};
		case "change":
			return change(plan.n, plan.touchesTest);
		case "fix":
			return fix(plan.k);
		case "test":
			return test(plan.k, withFix(plan.k));
		case "merge":
			return {
				author: PAOLO,
				message: `Merge tag 'kvm-x86-${pick(AREAS, plan.n).toLowerCase().replace("/", "-")}-${plan.n}' of https://github.com/kvm-x86/linux into HEAD\n\nKVM x86 changes for this cycle.\n\n${sob(PAOLO)}\n`,
				files: [],
			};
	}
}

/** A stable backport, as stable's scripts write it: `commit <sha> upstream.` under the subject. */
export function stableBackport(original: CommitText, sha: string): CommitText {
	const [subject, ...rest] = original.message.split("\n");
	return {
		...original,
		message: `${subject}\n\ncommit ${sha} upstream.\n${rest.join("\n")}${sob("Sasha Levin <sashal@kernel.org>")}\n${sob(GREG)}\n`,
	};
}

/** A backport made with `git cherry-pick -x`. */
export function cherryPick(original: CommitText, sha: string): CommitText {
	return { ...original, message: `${original.message}(cherry picked from commit ${sha})\n` };
}
