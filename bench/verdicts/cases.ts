// The verdict benchmark's cases: each builds small real git trees (a KVM kernel tree and a
// kvm-unit-tests tree, real commits with real trailers) that reproduce one shape FACTS.md records
// from real history, writes the per-kernel `run_tests.sh` output and the matrix, and declares the
// verdicts a careful maintainer would give. `bench/verdicts.ts` runs them through the real CLI;
// `test/verdict-shapes.test.ts` runs the same cases, one ava test each.
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import type { LoreMail, LoreThread } from "./lore-server.js";

export type VerdictName = "pending-fix" | "regression" | "still-failing" | "new-failure" | "known" | "flaky" | "infra";

/** What the result of `test` on `kernel` must be classified as; `evidence` strings must all appear in its evidence. */
export interface Label {
	/** `kvm@master`: the kernel id the CLI reports. */
	readonly kernel: string;
	/** `kut:vmx` */
	readonly test: string;
	readonly verdict: VerdictName;
	readonly evidence?: readonly string[];
}

/** A case once its trees exist: what to run the CLI on and what it must answer. */
export interface BuiltCase {
	readonly matrix: string;
	/** `--results KERNEL=FILE`, in this order. */
	readonly results: readonly { readonly kernel: string; readonly file: string }[];
	/** Threads the lore stand-in serves; the CLI gets `--lore` only when this is present. */
	readonly lore?: readonly LoreThread[];
	readonly labels: readonly Label[];
}

export interface VerdictCase {
	/** `01-cover-letter-link`: stable, sorts in the order of the list. */
	readonly name: string;
	/** The real shape it reproduces, in one line. */
	readonly shape: string;
	/** Builds the case's trees and files under `dir` (created empty for it). */
	build(dir: string): Promise<BuiltCase>;
}

// ---------------------------------------------------------------------------------------------
// People, as they appear in real trailers.

const SEAN = "Sean Christopherson <seanjc@google.com>";
const PAOLO = "Paolo Bonzini <pbonzini@redhat.com>";
const THOMAS = "Thomas Huth <thuth@redhat.com>";
const MAXIM = "Maxim Levitsky <mlevitsk@redhat.com>";
const MATHIAS = "Mathias Krause <minipli@grsecurity.net>";
const CHAO = "Chao Gao <chao.gao@intel.com>";
const NAVEEN = "Naveen N Rao (AMD) <naveen@kernel.org>";
const MANALI = "Manali Shukla <manali.shukla@amd.com>";
const JIM = "Jim Mattson <jmattson@google.com>";
const GREG = "Greg Kroah-Hartman <gregkh@linuxfoundation.org>";
const LINUS = "Linus Torvalds <torvalds@linux-foundation.org>";

const sob = (person: string) => `Signed-off-by: ${person}`;

function identity(person: string): { name: string; email: string } {
	const m = /^(.*?)\s*<([^>]+)>$/.exec(person);
	if (m === null) throw new Error(`not "Name <email>": ${person}`);
	return { name: m[1] ?? "", email: m[2] ?? "" };
}

// ---------------------------------------------------------------------------------------------
// Git trees: real commits, fixed identities, increasing dates (so every run builds the same history).

/** git with no user or system configuration: the same commits on any machine. */
const GIT_BASE_ENV = { GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", GIT_TERMINAL_PROMPT: "0" };

export interface CommitSpec {
	readonly subject: string;
	/** Paragraphs between the subject and the trailers. */
	readonly body?: string;
	readonly trailers?: readonly string[];
	readonly author?: string;
	/** Who applied it; the tree's maintainer by default. */
	readonly committer?: string;
	/** Files written with this content (relative paths). */
	readonly files?: Readonly<Record<string, string>>;
	/** Files that get one more line: the commit's change to them. */
	readonly touch?: readonly string[];
	/** When it was committed (ISO 8601); moved a minute past the previous commit if earlier. */
	readonly at?: string;
}

export class GitTree {
	#clock: number;
	readonly dir: string;
	readonly #maintainer: string;

	private constructor(dir: string, start: string, maintainer: string) {
		this.dir = dir;
		this.#clock = Date.parse(start) / 1000;
		this.#maintainer = maintainer;
	}

	static async init(dir: string, start: string, maintainer: string): Promise<GitTree> {
		mkdirSync(dir, { recursive: true });
		await execa("git", ["init", "-q", "-b", "master", dir], { env: GIT_BASE_ENV });
		return new GitTree(dir, start, maintainer);
	}

	async git(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<string> {
		const { stdout } = await execa("git", args, { cwd: this.dir, env: { ...GIT_BASE_ENV, ...env } });
		return stdout.trim();
	}

	/** The environment of one commit: its people and the next date of this tree's clock. */
	#commitEnv(author: string, committer: string, at?: string): Record<string, string> {
		const wanted = at === undefined ? this.#clock + 3600 : Date.parse(at) / 1000;
		this.#clock = Math.max(this.#clock + 60, wanted);
		const a = identity(author);
		const c = identity(committer);
		const date = `${this.#clock} +0000`;
		return {
			GIT_AUTHOR_NAME: a.name,
			GIT_AUTHOR_EMAIL: a.email,
			GIT_AUTHOR_DATE: date,
			GIT_COMMITTER_NAME: c.name,
			GIT_COMMITTER_EMAIL: c.email,
			GIT_COMMITTER_DATE: date,
		};
	}

	/** A commit on the current branch; its sha. */
	async commit(spec: CommitSpec): Promise<string> {
		for (const [file, text] of Object.entries(spec.files ?? {})) {
			mkdirSync(path.dirname(path.join(this.dir, file)), { recursive: true });
			writeFileSync(path.join(this.dir, file), text);
		}
		for (const file of spec.touch ?? []) {
			const at = path.join(this.dir, file);
			if (!existsSync(at)) throw new Error(`${file}: no such file in ${this.dir}`);
			appendFileSync(at, `/* ${spec.subject.replaceAll("*/", "* /")} */\n`);
		}
		const message = [spec.subject, spec.body, (spec.trailers ?? []).join("\n")]
			.filter((part): part is string => part !== undefined && part !== "")
			.join("\n\n");
		await this.git(["add", "-A"]);
		const env = this.#commitEnv(spec.author ?? this.#maintainer, spec.committer ?? this.#maintainer, spec.at);
		await execa("git", ["commit", "-q", "--allow-empty", "-F", "-"], {
			cwd: this.dir,
			env: { ...GIT_BASE_ENV, ...env },
			input: `${message}\n`,
		});
		return this.rev("HEAD");
	}

	/** `git cherry-pick -x`: the commit's message and trailers, plus `(cherry picked from commit ...)`. */
	async cherryPickX(sha: string, committer: string): Promise<string> {
		const author = await this.git(["log", "-1", "--format=%an <%ae>", sha]);
		const env = this.#commitEnv(author, committer);
		await this.git(["cherry-pick", "-x", sha], env);
		return this.rev("HEAD");
	}

	/** A branch at `at` (HEAD by default), or moved there. */
	async branch(name: string, at = "HEAD"): Promise<void> {
		await this.git(["branch", "-f", name, at]);
	}

	/** Work on `name` from now on, creating it at `from` when given. */
	async switchTo(name: string, from?: string): Promise<void> {
		await this.git(from === undefined ? ["switch", "-q", name] : ["switch", "-q", "-C", name, from]);
	}

	/** An annotated tag at HEAD, as a release tag is. */
	async tag(name: string, tagger: string): Promise<void> {
		const env = this.#commitEnv(tagger, tagger);
		await this.git(["tag", "-a", name, "-m", name], env);
	}

	async rev(ref: string): Promise<string> {
		return this.git(["rev-parse", "--verify", `${ref}^{commit}`]);
	}

	async short(ref: string): Promise<string> {
		return (await this.rev(ref)).slice(0, 12);
	}

	/** Whether any commit of the repository starts with `prefix`. */
	async hasPrefix(prefix: string): Promise<boolean> {
		const all = await this.git(["rev-list", "--all"]);
		return all.split("\n").some((sha) => sha.startsWith(prefix));
	}
}

// ---------------------------------------------------------------------------------------------
// A kvm-unit-tests-shaped tree: how tests map to sources is real (unittests.cfg, the Makefiles'
// extra-object rules), the sources are stubs; it is never built.

const CFG_HEADER = `##############################################################################
# unittest configuration
#
# [unittest_name]
# file = <name>.flat		# Name of the flat file to be used.
# smp  = <num>			# Number of processors the VM will use
#				# during this test. Use $MAX_SMP to use
#				# the maximum the host supports. Defaults
#				# to one.
# extra_params = -append <params...>	# Additional parameters used.
# arch = i386|x86_64			# Select one if the test case is
#					# specific to only one.
# groups = <group_name1> <group_name2> ...	# Used to identify test cases
#						# with run_tests -g ...
#						# Specific useful groups:
#						# - nodefault: test is not run by default
# timeout = <duration>		# Duration of the test before it is killed
##############################################################################
`;

const CFG_ENTRIES: Readonly<Record<string, string>> = {
	apic: `[xapic]
file = apic.flat
smp = 2
qemu_params = -cpu qemu64,-x2apic,+tsc-deadline -machine pit=off
arch = x86_64
timeout = 60
groups = apic

[x2apic]
file = apic.flat
smp = 2
qemu_params = -cpu qemu64,+x2apic,+tsc-deadline
arch = x86_64
timeout = 30
groups = apic
`,
	emulator: `[emulator]
file = emulator.flat
`,
	access: `[access]
file = access_test.flat
arch = x86_64
`,
	svm: `[svm]
file = svm.flat
smp = 2
test_args = "-pause_filter_test"
qemu_params = -cpu max,+svm -m 4g
arch = x86_64
groups = svm
`,
	vmx: `[vmx]
file = vmx.flat
extra_params = -cpu max,+vmx -append "-exit_monitor_from_l2_test -ept_access* -vmx_smp* -vmx_vmcs_shadow_test -atomic_switch_overflow_msrs_test -vmx_init_signal_test -vmx_apic_passthrough_tpr_threshold_test -apic_reg_virt_test -virt_x2apic_mode_test -vmx_pf_exception_test -vmx_pf_exception_forced_emulation_test -vmx_pf_no_vpid_test -vmx_pf_invvpid_test -vmx_pf_vpid_test"
arch = x86_64
groups = vmx

[ept]
file = vmx.flat
test_args = "ept_access*"
qemu_params = -cpu max,host-phys-bits,+vmx -m 2560
arch = x86_64
groups = vmx
`,
	tprThreshold: `[vmx_apic_passthrough_tpr_threshold_test]
file = vmx.flat
test_args = "vmx_apic_passthrough_tpr_threshold_test"
qemu_params = -cpu max,+vmx -m 2048
arch = x86_64
groups = vmx
timeout = 10
`,
};

function unittestsCfg(omit: readonly string[]): string {
	const sections = Object.entries(CFG_ENTRIES)
		.filter(([key]) => !omit.includes(key))
		.map(([, text]) => text);
	return `${CFG_HEADER}\n${sections.join("\n")}`;
}

const MAKEFILE_COMMON = `#This is a make file with common rules for both x86 & x86-64

all: directories test_cases

cflatobjs += lib/x86/setup.o
cflatobjs += lib/x86/io.o
cflatobjs += lib/x86/smp.o
cflatobjs += lib/x86/vm.o
cflatobjs += lib/x86/apic.o
cflatobjs += lib/x86/desc.o
cflatobjs += lib/x86/isr.o

OBJDIRS += lib/x86

FLATLIBS = lib/libcflat.a

%.$(bin): %.o $(FLATLIBS) $(SRCDIR)/x86/flat.lds $(cstart.o)
\t$(LD) $(LDFLAGS) -T $(SRCDIR)/x86/flat.lds -o $@ $(filter %.o, $^) $(FLATLIBS)

tests-common = $(TEST_DIR)/vmexit.$(exe) $(TEST_DIR)/tsc.$(exe) \\
               $(TEST_DIR)/smptest.$(exe) $(TEST_DIR)/msr.$(exe) \\
               $(TEST_DIR)/emulator.$(exe) $(TEST_DIR)/apic.$(exe)

test_cases: $(tests-common) $(tests)

$(TEST_DIR)/%.o: CFLAGS += -std=gnu99 -ffreestanding -I $(SRCDIR)/lib -I $(SRCDIR)/lib/x86 -I lib

$(TEST_DIR)/access_test.$(bin): $(TEST_DIR)/access.o

$(TEST_DIR)/kvmclock_test.$(bin): $(TEST_DIR)/kvmclock.o

$(TEST_DIR)/hyperv_synic.$(bin): $(TEST_DIR)/hyperv.o
`;

const MAKEFILE_X86_64 = `cstart.o = $(TEST_DIR)/cstart64.o
bits = 64
ldarch = elf64-x86-64
COMMON_CFLAGS += -mno-red-zone -mno-sse -mno-sse2 $(fcf_protection_full)

tests = $(TEST_DIR)/access_test.$(exe) $(TEST_DIR)/idt_test.$(exe) \\
	  $(TEST_DIR)/xsave.$(exe) $(TEST_DIR)/pcid.$(exe)
tests += $(TEST_DIR)/svm.$(exe)
tests += $(TEST_DIR)/vmx.$(exe)

include $(SRCDIR)/$(TEST_DIR)/Makefile.common

$(TEST_DIR)/hyperv_clock.$(bin): $(TEST_DIR)/hyperv_clock.o

$(TEST_DIR)/vmx.$(bin): $(TEST_DIR)/vmx_tests.o
$(TEST_DIR)/vmx.$(bin): $(TEST_DIR)/access.o
$(TEST_DIR)/svm.$(bin): $(TEST_DIR)/svm_tests.o
$(TEST_DIR)/svm_npt.$(bin): $(TEST_DIR)/svm_npt.o
`;

const cSource = (file: string) => `#include "libcflat.h"\n#include "processor.h"\n\n/* ${file} */\n`;

const KUT_SOURCES = [
	"x86/vmx.c",
	"x86/vmx_tests.c",
	"x86/access.c",
	"x86/access_test.c",
	"x86/apic.c",
	"x86/svm.c",
	"x86/svm_tests.c",
	"x86/emulator.c",
];

/** A KUT tree on `master` with one commit holding the layout; `omit` leaves cfg entries for a case to add. */
async function kutTree(dir: string, start: string, omit: readonly string[] = []): Promise<GitTree> {
	const kut = await GitTree.init(path.join(dir, "kut"), start, PAOLO);
	const files: Record<string, string> = {
		"x86/unittests.cfg": unittestsCfg(omit),
		"x86/Makefile.common": MAKEFILE_COMMON,
		"x86/Makefile.x86_64": MAKEFILE_X86_64,
		"lib/x86/processor.h": "#ifndef _X86_PROCESSOR_H_\n#define _X86_PROCESSOR_H_\n#endif\n",
		"run_tests.sh": "#!/usr/bin/env bash\n# not run by the benchmark\n",
	};
	for (const source of KUT_SOURCES) files[source] = cSource(source);
	await kut.commit({ subject: "x86: Bring in the tests this case needs", files, trailers: [sob(PAOLO)] });
	return kut;
}

// ---------------------------------------------------------------------------------------------
// A KVM kernel tree: the files KVM fixes touch, on `master` at a release commit.

const KERNEL_FILES = [
	"arch/x86/kvm/lapic.c",
	"arch/x86/kvm/emulate.c",
	"arch/x86/kvm/x86.c",
	"arch/x86/kvm/pmu.c",
	"arch/x86/kvm/mmu/mmu.c",
	"arch/x86/kvm/svm/nested.c",
	"arch/x86/kvm/svm/svm.c",
	"arch/x86/kvm/svm/avic.c",
	"arch/x86/kvm/vmx/nested.c",
	"arch/x86/kvm/vmx/vmx.c",
];

/** A kernel tree whose `master` is the release commit `Linux <version>`. */
async function kernelTree(dir: string, version: string, at: string): Promise<GitTree> {
	const kvm = await GitTree.init(path.join(dir, "kvm"), at, PAOLO);
	const [major, rest = "0"] = version.split(".");
	const [minor = "0", rc] = rest.split("-");
	const files: Record<string, string> = {
		Makefile: `# SPDX-License-Identifier: GPL-2.0\nVERSION = ${major}\nPATCHLEVEL = ${minor}\nSUBLEVEL = 0\nEXTRAVERSION = ${rc === undefined ? "" : `-${rc}`}\nNAME = Baby Opossum Posse\n`,
	};
	for (const file of KERNEL_FILES) files[file] = `// SPDX-License-Identifier: GPL-2.0-only\n/* ${file} */\n`;
	await kvm.commit({ subject: `Linux ${version}`, files, author: LINUS, committer: LINUS, at });
	return kvm;
}

// ---------------------------------------------------------------------------------------------
// What a case hands the CLI: the matrix and each kernel's run_tests.sh output.

type KutStatus = "pass" | "fail" | "timeout";

/** Check counts per test, so status lines read like real ones. */
const CHECKS: Readonly<Record<string, number>> = {
	vmx: 430,
	ept: 8,
	vmx_apic_passthrough_tpr_threshold_test: 3,
	xapic: 64,
	x2apic: 66,
	svm: 71,
	emulator: 143,
	access: 2,
};

/** `run_tests.sh` output, with the colour codes KUT puts around the status word when `colour`. */
function runTestsOutput(statuses: Readonly<Record<string, KutStatus>>, colour: boolean): string {
	const paint = (code: number, word: string) => (colour ? `\u001b[${code}m${word}\u001b[0m` : word);
	return Object.entries(statuses)
		.map(([name, status]) => {
			const n = CHECKS[name] ?? 10;
			if (status === "pass") return `${paint(32, "PASS")} ${name} (${n} tests)`;
			if (status === "timeout") return `${paint(31, "FAIL")} ${name} (timeout; duration=60s)`;
			return `${paint(31, "FAIL")} ${name} (${n} tests, 1 unexpected failures)`;
		})
		.map((line) => `${line}\n`)
		.join("");
}

interface CaseFiles {
	/** The kvm tree's refs, as the matrix's kernels (the configured branches). */
	readonly kernels: readonly string[];
	readonly baseline?: string;
	/** ref → test → status; one `--results kvm@<ref>=FILE` per ref. */
	readonly results: Readonly<Record<string, Readonly<Record<string, KutStatus>>>>;
	readonly labels: readonly Label[];
	readonly lore?: readonly LoreThread[];
	/** Colour codes in the result files (some cases have them, as a terminal run would). */
	readonly colour?: boolean;
}

/** Writes the matrix and the result files of a case built in `dir` (named after the case). */
function caseFiles(dir: string, files: CaseFiles): BuiltCase {
	const name = path.basename(dir);
	const matrix = path.join(dir, "matrix.yaml");
	const lines = [
		`# The verdict benchmark's case ${name}.`,
		`name: verdicts-${name.replace(/^\d+-/, "")}`,
		"trees:",
		`  kvm: { path: ${JSON.stringify(path.join(dir, "kvm"))} }`,
		`  kut: { path: ${JSON.stringify(path.join(dir, "kut"))} }`,
		"kernels:",
		...files.kernels.map((ref) => `  - { tree: kvm, ref: ${ref} }`),
		"targets:",
		"  - { name: host, host: true }",
		"suites:",
		"  kut: { tree: kut, ref: master }",
		...(files.baseline === undefined ? [] : [`baseline: { tree: kvm, ref: ${files.baseline} }`]),
	];
	writeFileSync(matrix, `${lines.join("\n")}\n`);
	const results = Object.entries(files.results).map(([ref, statuses]) => {
		const file = path.join(dir, `results-${ref.replaceAll("/", "_")}.txt`);
		writeFileSync(file, runTestsOutput(statuses, files.colour ?? false));
		return { kernel: `kvm@${ref}`, file };
	});
	return {
		matrix,
		results,
		labels: files.labels,
		...(files.lore === undefined ? {} : { lore: files.lore }),
	};
}

// ---------------------------------------------------------------------------------------------
// Lore mails.

const mailDate = (iso: string) => new Date(iso).toUTCString().replace("GMT", "+0000");

/** A kernel patch as posted: its message, a diffstat and a diff of `file`. */
function kernelPatch(o: {
	readonly id: string;
	readonly from: string;
	readonly at: string;
	readonly subject: string;
	readonly file: string;
	readonly message: string;
}): LoreMail {
	const body = `${o.message}

${sob(o.from)}
---
 ${o.file} | 4 ++--
 1 file changed, 2 insertions(+), 2 deletions(-)

diff --git a/${o.file} b/${o.file}
index 3c6a2e1b0f4d..8e1f9a7c2b5d 100644
--- a/${o.file}
+++ b/${o.file}
@@ -1021,7 +1021,7 @@ static int kvm_apic_handle(struct kvm_lapic *apic, u32 reg)
 	u32 val;
 
-	if (!apic_x2apic_mode(apic))
+	if (!apic_x2apic_mode(apic) && !kvm_apic_hw_enabled(apic))
 		return 1;
-	val = kvm_lapic_get_reg(apic, reg);
+	val = kvm_lapic_get_reg64(apic, reg);
 	return 0;
-- 
2.39.0
`;
	return { messageId: o.id, from: o.from, date: mailDate(o.at), subject: o.subject, body };
}

/** A kvm-unit-tests patch as posted: `[kvm-unit-tests PATCH ...]`, a diff of a KUT file. */
function kutPatch(o: {
	readonly id: string;
	readonly from: string;
	readonly at: string;
	readonly subject: string;
	readonly file: string;
	readonly message: string;
}): LoreMail {
	const body = `${o.message}

${sob(o.from)}
---
 ${o.file} | 12 ++++++++++++
 1 file changed, 12 insertions(+)

diff --git a/${o.file} b/${o.file}
index 5d1e0c9a4b3f..a2c7e8f1d6b0 100644
--- a/${o.file}
+++ b/${o.file}
@@ -812,6 +812,18 @@ static void test_one(void)
 	report(ok, "first check");
+
+	report(check_again(), "the new check");
 }
-- 
2.39.0
`;
	return { messageId: o.id, from: o.from, date: mailDate(o.at), subject: o.subject, body };
}

function coverLetter(o: { readonly id: string; readonly from: string; readonly at: string; readonly subject: string }) {
	return {
		messageId: o.id,
		from: o.from,
		date: mailDate(o.at),
		subject: o.subject,
		body: "Fix a handful of bugs found by the tests that come with them, and clean up along the way.\n\n-- \n2.39.0\n",
	} satisfies LoreMail;
}

// ---------------------------------------------------------------------------------------------
// The cases.

const KUT_EXIT_CODE_SUBJECT = "x86/svm: Track and handle exit code as an unsigned 64-bit value";
const SVM_EXIT_ERR_FIX = "KVM: nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)";
const EXIT_CODE_STEM = "20251113225621.1688428";

/** The SVM exit_code series (patches 1 and 2 of 9) on the current branch of `kvm`; patch 1's sha. */
async function applyExitCodeSeries(kvm: GitTree): Promise<string> {
	const first = await kvm.commit({
		subject: SVM_EXIT_ERR_FIX,
		body: "Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR, as hardware does on a failed VMRUN:\nexit_code is a 64-bit value and L1 may check all of it.",
		author: SEAN,
		committer: SEAN,
		trailers: [
			'Fixes: 3d6368ef580a ("KVM: SVM: add VMRUN emulation")',
			"Cc: stable@vger.kernel.org",
			`Link: https://patch.msgid.link/${EXIT_CODE_STEM}-2-seanjc@google.com`,
			sob(SEAN),
		],
		touch: ["arch/x86/kvm/svm/nested.c"],
	});
	await kvm.commit({
		subject: "KVM: SVM: Treat exit_code as an unsigned 64-bit value through all of KVM",
		author: SEAN,
		committer: SEAN,
		trailers: [`Link: https://patch.msgid.link/${EXIT_CODE_STEM}-3-seanjc@google.com`, sob(SEAN)],
		touch: ["arch/x86/kvm/svm/svm.c", "arch/x86/kvm/svm/nested.c"],
	});
	return first;
}

/** The KUT commit that links the exit_code series' cover letter, then its own posting. */
const kutExitCodeCommit = (kut: GitTree) =>
	kut.commit({
		subject: KUT_EXIT_CODE_SUBJECT,
		body: "Track exit_code as a u64 so that tests can verify all 64 bits, e.g. that KVM sets\nexit_code_hi to -1 on a failed VMRUN.",
		author: SEAN,
		committer: SEAN,
		trailers: [
			`Link: https://lore.kernel.org/all/${EXIT_CODE_STEM}-1-seanjc@google.com`,
			"Link: https://patch.msgid.link/20251230191342.4052363-1-seanjc@google.com",
			sob(SEAN),
		],
		touch: ["x86/svm.c", "x86/svm_tests.c", "lib/x86/processor.h"],
	});

const coverLetterLink: VerdictCase = {
	name: "01-cover-letter-link",
	shape: "KUT links the KVM series' cover letter (-1-) and its own posting; patch -2- is the fix, in next only",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.18-rc5", "2025-11-09T22:00:00Z");
		await kvm.switchTo("next", "master");
		await applyExitCodeSeries(kvm);
		const kut = await kutTree(dir, "2025-12-01T00:00:00Z");
		await kutExitCodeCommit(kut);
		return caseFiles(dir, {
			kernels: ["master", "next"],
			results: { master: { svm: "fail", x2apic: "pass" }, next: { svm: "pass", x2apic: "pass" } },
			labels: [{ kernel: "kvm@master", test: "kut:svm", verdict: "pending-fix", evidence: ["exit_code", "kvm@next"] }],
		});
	},
};

const ownPostingOnly: VerdictCase = {
	name: "02-own-posting-only",
	shape: "KUT links only its own posting (Message-Id:); fails on master, passes on its ancestor next (the baseline)",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.5-rc7", "2023-08-20T21:00:00Z");
		await kvm.commit({
			subject: "KVM: x86: Advertise AMX-COMPLEX CPUID to userspace",
			author: "Tao Su <tao1.su@linux.intel.com>",
			trailers: [
				sob("Tao Su <tao1.su@linux.intel.com>"),
				"Message-Id: <20230802022954.193843-1-tao1.su@linux.intel.com>",
				sob(PAOLO),
			],
			touch: ["arch/x86/kvm/x86.c"],
		});
		await kvm.branch("next");
		await kvm.commit({
			subject: "KVM: x86: Rework emulated MMIO fragment bookkeeping",
			author: PAOLO,
			trailers: [sob(PAOLO)],
			touch: ["arch/x86/kvm/emulate.c", "arch/x86/kvm/x86.c"],
		});
		const kut = await kutTree(dir, "2023-08-01T00:00:00Z");
		await kut.commit({
			subject: "x86: emulator: Test MOVBE with an MMIO operand",
			author: THOMAS,
			trailers: [sob(THOMAS), "Message-Id: <20230822074906.7205-1-thuth@redhat.com>", sob(PAOLO)],
			touch: ["x86/emulator.c"],
		});
		return caseFiles(dir, {
			kernels: ["master", "next"],
			baseline: "next",
			colour: true,
			results: { master: { emulator: "fail" }, next: { emulator: "pass" } },
			labels: [{ kernel: "kvm@master", test: "kut:emulator", verdict: "regression", evidence: ["kvm@next"] }],
		});
	},
};

const EARLIER_POSTING = "20240907005440.500075-5-mlevitsk@redhat.com";
const VNMI_TEST = "nSVM: Add a test for nested NMI injection with vNMI";

/** A KUT commit re-posted by a maintainer that links its first author's earlier posting, then its own. */
const kutRepostedTest = (kut: GitTree) =>
	kut.commit({
		subject: VNMI_TEST,
		body: "Verify that an NMI injected by L1 into L2 is delivered once, and that the vNMI\nblocking state is carried across a nested VM-Exit.",
		author: MAXIM,
		committer: SEAN,
		trailers: [
			sob(MAXIM),
			`Link: https://lore.kernel.org/all/${EARLIER_POSTING}`,
			`Co-developed-by: ${SEAN}`,
			sob(SEAN),
			"Link: https://lore.kernel.org/r/20250215010946.1201353-11-seanjc@google.com",
		],
		touch: ["x86/svm_tests.c"],
	});

const earlierPostingOfTest: VerdictCase = {
	name: "03-earlier-posting-of-test",
	shape:
		"KUT links an earlier posting of the same test (a KUT patch, no kernel commit) + its own; passes on an ancestor",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.11", "2024-09-15T20:00:00Z");
		await kvm.switchTo("queue", "master");
		await kvm.commit({
			subject: "KVM: nSVM: Defer the vNMI pending flag to the next VMRUN",
			author: PAOLO,
			trailers: [sob(PAOLO)],
			touch: ["arch/x86/kvm/svm/nested.c"],
		});
		const kut = await kutTree(dir, "2024-09-01T00:00:00Z");
		await kutRepostedTest(kut);
		return caseFiles(dir, {
			kernels: ["master", "queue"],
			results: { master: { svm: "pass" }, queue: { svm: "fail" } },
			labels: [{ kernel: "kvm@queue", test: "kut:svm", verdict: "regression", evidence: ["kvm@master"] }],
		});
	},
};

const listReplyLink: VerdictCase = {
	name: "04-list-reply-link",
	shape:
		"KUT links replies on the list (<uuid>@grsecurity.net, aMahfvF1r39Xq6zK@intel.com/ # [1]) + its own; fails on the baseline too",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.15", "2025-05-25T21:00:00Z");
		await kvm.switchTo("next", "master");
		await kvm.commit({
			subject: "KVM: x86: Use kvm_lock_all_vcpus() instead of a custom implementation",
			author: MAXIM,
			trailers: [sob(MAXIM), "Message-ID: <20250512180407.659015-6-mlevitsk@redhat.com>", sob(PAOLO)],
			touch: ["arch/x86/kvm/x86.c"],
		});
		const kut = await kutTree(dir, "2025-06-01T00:00:00Z");
		await kut.commit({
			subject: "x86/emulator: Test far transfers through a 64-bit memory operand",
			body: "Far JMP and CALL through memory take a 16-bit selector and a 64-bit offset with\nREX.W; check that the emulator reads all ten bytes [1].",
			author: MATHIAS,
			committer: SEAN,
			trailers: [
				sob(MATHIAS),
				"Link: https://lore.kernel.org/kvm/6f5c2a0e-1c9e-4b8a-9d3f-27e5b4a1c8d0@grsecurity.net/",
				"Link: https://lore.kernel.org/all/aMahfvF1r39Xq6zK@intel.com/ # [1]",
				"Link: https://lore.kernel.org/r/20250609114517.2288913-3-minipli@grsecurity.net",
				sob(SEAN),
			],
			touch: ["x86/emulator.c"],
		});
		return caseFiles(dir, {
			kernels: ["master", "next"],
			baseline: "next",
			results: { master: { emulator: "fail" }, next: { emulator: "fail" } },
			labels: [{ kernel: "kvm@master", test: "kut:emulator", verdict: "still-failing", evidence: ["kvm@next"] }],
		});
	},
};

const bugReportsLinked: VerdictCase = {
	name: "05-bug-reports-linked",
	shape: "KUT links a bugzilla mail (%2F), closes an lkp report, + its own posting; one kernel, no baseline",
	async build(dir) {
		await kernelTree(dir, "6.14-rc4", "2025-02-23T21:00:00Z");
		const kut = await kutTree(dir, "2025-02-01T00:00:00Z");
		await kut.commit({
			subject: "x86/apic: Don't expect a TSC-deadline interrupt after the timer is disarmed",
			author: CHAO,
			committer: SEAN,
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
		});
		return caseFiles(dir, {
			kernels: ["master"],
			colour: true,
			results: { master: { x2apic: "fail", xapic: "pass" } },
			labels: [{ kernel: "kvm@master", test: "kut:x2apic", verdict: "new-failure" }],
		});
	},
};

/** A KUT commit whose body cites `commit <sha> ("subject")` across a line break, as the real one does. */
const kutCitingCommit = (kut: GitTree, sha12: string) =>
	kut.commit({
		subject: KUT_EXIT_CODE_SUBJECT,
		body: `Track exit_code as a u64 so that tests can verify all 64 bits.

Note, the SVM tests will fail when on KVM builds without commit ${sha12} ("KVM:
nSVM: Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR (failed VMRUN)").`,
		author: SEAN,
		committer: SEAN,
		trailers: ["Link: https://patch.msgid.link/20251230191342.4052363-1-seanjc@google.com", sob(SEAN)],
		touch: ["x86/svm.c", "x86/svm_tests.c"],
	});

const citedCommit: VerdictCase = {
	name: "06-cited-commit",
	shape: 'KUT body cites commit <sha12> ("KVM: nSVM: Set exit_code_hi ..."), no link to it; the commit is in next only',
	async build(dir) {
		const kvm = await kernelTree(dir, "6.18", "2025-11-30T21:00:00Z");
		await kvm.switchTo("next", "master");
		const fix = await applyExitCodeSeries(kvm);
		const kut = await kutTree(dir, "2025-12-01T00:00:00Z");
		await kutCitingCommit(kut, fix.slice(0, 12));
		return caseFiles(dir, {
			kernels: ["master", "next"],
			results: { master: { svm: "fail" } },
			labels: [
				{
					kernel: "kvm@master",
					test: "kut:svm",
					verdict: "pending-fix",
					evidence: [fix.slice(0, 12), "kvm@next"],
				},
			],
		});
	},
};

const citedCommitRebased: VerdictCase = {
	name: "07-cited-commit-rebased",
	shape:
		"KUT cites f402ecd7a8b6 with its subject, but that sha was rewritten: the fix exists in next under another sha",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.18", "2025-11-30T21:00:00Z");
		await kvm.switchTo("next", "master");
		const fix = await applyExitCodeSeries(kvm);
		if (await kvm.hasPrefix("f402ecd7a8b6")) throw new Error("a generated commit starts with the cited sha");
		const kut = await kutTree(dir, "2025-12-01T00:00:00Z");
		await kutCitingCommit(kut, "f402ecd7a8b6");
		return caseFiles(dir, {
			kernels: ["master", "next"],
			results: { master: { svm: "fail" } },
			labels: [
				{
					kernel: "kvm@master",
					test: "kut:svm",
					verdict: "pending-fix",
					evidence: [fix.slice(0, 12), "kvm@next"],
				},
			],
		});
	},
};

const TSC_FIX_ID = "20241128004344.4072099-4-seanjc@google.com";

const stableCherryPick: VerdictCase = {
	name: "08-stable-cherry-pick",
	shape: "the fix is in next and cherry-picked (-x, trailers kept) into stable; stable and next only share the release",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.12", "2024-11-17T22:00:00Z");
		await kvm.switchTo("next", "master");
		await kvm.commit({
			subject: "KVM: x86: Unconditionally set irr_pending when updating APICv state",
			author: SEAN,
			trailers: [sob(SEAN), "Message-ID: <20241106015135.2462147-1-seanjc@google.com>", sob(PAOLO)],
			touch: ["arch/x86/kvm/lapic.c"],
		});
		const fix = await kvm.commit({
			subject: "KVM: nVMX: Restore L1's TSC offset after a nested VM-Exit to userspace",
			author: SEAN,
			trailers: [
				"Cc: stable@vger.kernel.org",
				sob(SEAN),
				`Message-ID: <${TSC_FIX_ID}>`,
				`Link: https://lore.kernel.org/r/${TSC_FIX_ID}`,
				sob(PAOLO),
			],
			touch: ["arch/x86/kvm/vmx/nested.c"],
		});
		await kvm.switchTo("stable", "master");
		await kvm.commit({
			subject: "KVM: x86: Play nice with protected guests in complete_hypercall_exit()",
			author: SEAN,
			committer: GREG,
			trailers: [sob(SEAN), sob(GREG)],
			touch: ["arch/x86/kvm/x86.c"],
		});
		await kvm.cherryPickX(fix, GREG);
		await kvm.commit({
			subject: "KVM: nVMX: Defer the MSR bitmap merge until the next VM-Enter",
			author: JIM,
			committer: GREG,
			trailers: [sob(JIM), sob(GREG)],
			touch: ["arch/x86/kvm/vmx/nested.c"],
		});
		const kut = await kutTree(dir, "2024-11-20T00:00:00Z");
		await kut.commit({
			subject: "nVMX: Verify L1's TSC offset is restored after a nested VM-Exit",
			author: SEAN,
			committer: SEAN,
			trailers: [
				`Link: https://lore.kernel.org/all/${TSC_FIX_ID}`,
				"Link: https://lore.kernel.org/r/20241128005547.4077116-2-seanjc@google.com",
				sob(SEAN),
			],
			touch: ["x86/vmx_tests.c"],
		});
		return caseFiles(dir, {
			kernels: ["next", "stable"],
			baseline: "next",
			results: { next: { vmx: "pass" }, stable: { vmx: "fail" } },
			labels: [{ kernel: "kvm@stable", test: "kut:vmx", verdict: "regression", evidence: ["kvm@next"] }],
		});
	},
};

const AVIC_V4 = "20221001005915.2041842";
const AVIC_V5 = "20230106011306.85230";
const AVIC_SUBJECTS = [
	'KVM: x86: Blindly get current x2APIC reg value on "nodecode write" traps',
	'KVM: x86: Purge "highest ISR" cache when updating APICv state',
	'KVM: x86: Don\'t inhibit APICv/AVIC on xAPIC ID "change" if APIC is disabled',
	"KVM: x86: Inhibit APICv/AVIC if the optimized physical map is disabled",
	"KVM: x86: Honor architectural behavior for aliased 8-bit APIC IDs",
	'KVM: SVM: Flush the "current" TLB when activating AVIC',
	"KVM: x86: Track required APICv inhibits with variable, not callback",
];

/** v5 of the AVIC series as kvm.git applied it (`Message-Id:`, new ids); the sha of each patch. */
async function applyAvicV5(kvm: GitTree): Promise<string[]> {
	const shas: string[] = [];
	for (const [i, subject] of AVIC_SUBJECTS.entries()) {
		shas.push(
			await kvm.commit({
				subject,
				author: SEAN,
				trailers: [sob(SEAN), `Message-Id: <${AVIC_V5}-${i + 2}-seanjc@google.com>`, sob(PAOLO)],
				touch: [i === 5 ? "arch/x86/kvm/svm/avic.c" : "arch/x86/kvm/lapic.c"],
			}),
		);
	}
	return shas;
}

/** v4 of the AVIC series as lore has it: the cover letter, then seven patches. */
function avicV4Thread(): LoreThread {
	const from = SEAN;
	return [
		coverLetter({
			id: `${AVIC_V4}-1-seanjc@google.com`,
			from,
			at: "2022-10-01T00:59:15Z",
			subject: "[PATCH v4 0/7] KVM: x86: AVIC and local APIC fixes+cleanups",
		}),
		...AVIC_SUBJECTS.map((subject, i) =>
			kernelPatch({
				id: `${AVIC_V4}-${i + 2}-seanjc@google.com`,
				from,
				at: `2022-10-01T00:59:${String(16 + i).padStart(2, "0")}Z`,
				subject: `[PATCH v4 ${i + 1}/7] ${subject}`,
				file: i === 5 ? "arch/x86/kvm/svm/avic.c" : "arch/x86/kvm/lapic.c",
				message: "Fix the APIC state KVM computes when the guest changes its APIC mode.",
			}),
		),
	];
}

const v4LinkedV5Applied: VerdictCase = {
	name: "09-v4-linked-v5-applied",
	shape: "KUT links patch 3/7 of v4; v5 (new ids, same subjects) is applied in queue only; lore knows v4",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.2-rc2", "2023-01-01T22:00:00Z");
		await kvm.switchTo("queue", "master");
		const v5 = await applyAvicV5(kvm);
		const kut = await kutTree(dir, "2022-09-01T00:00:00Z");
		const ownId = "20221001011301.2077739-3-seanjc@google.com";
		const kutSubject = "x86/apic: Test that xAPIC ID writes are ignored while the APIC is disabled";
		await kut.commit({
			subject: kutSubject,
			author: SEAN,
			trailers: [
				sob(SEAN),
				`Link: https://lore.kernel.org/all/${AVIC_V4}-4-seanjc@google.com`,
				`Link: https://lore.kernel.org/r/${ownId}`,
				sob(PAOLO),
			],
			touch: ["x86/apic.c"],
		});
		const fix = (v5[2] ?? "").slice(0, 12);
		return caseFiles(dir, {
			kernels: ["master", "queue"],
			results: { master: { x2apic: "fail", xapic: "pass" } },
			lore: [
				avicV4Thread(),
				[
					kutPatch({
						id: ownId,
						from: SEAN,
						at: "2022-10-01T01:13:04Z",
						subject: `[kvm-unit-tests PATCH 2/9] ${kutSubject}`,
						file: "x86/apic.c",
						message: "Depends on the KVM fix in [PATCH v4 3/7].",
					}),
				],
			],
			labels: [{ kernel: "kvm@master", test: "kut:x2apic", verdict: "pending-fix", evidence: [fix, "kvm@queue"] }],
		});
	},
};

const TIMER_FIX = "20260113-apic-tscdeadline-v2";
const TIMER_HASH = "4f1e2d3c@kernel.org";
const TIMER_KUT_ID = "20260120-apic-tscdeadline-test-v1-1-9a8b7c6d@kernel.org";

/** Cases 10 and 11: the test links a b4-posted KVM patch that no configured tree has applied. */
async function postedNotApplied(dir: string, withLore: boolean): Promise<BuiltCase> {
	const kvm = await kernelTree(dir, "6.19-rc4", "2026-01-04T22:00:00Z");
	await kvm.switchTo("next", "master");
	await kvm.commit({
		subject: "KVM: x86: Drop the unused kvm_apic_timer_armed() helper",
		author: SEAN,
		trailers: ["Link: https://patch.msgid.link/20260108171237.1203917-1-seanjc@google.com", sob(SEAN)],
		touch: ["arch/x86/kvm/lapic.c"],
	});
	const kut = await kutTree(dir, "2026-01-10T00:00:00Z");
	const kutSubject = "x86/apic: Test TSC-deadline re-arm after a write while the timer is masked";
	await kut.commit({
		subject: kutSubject,
		author: NAVEEN,
		committer: SEAN,
		trailers: [
			sob(NAVEEN),
			`Link: https://lore.kernel.org/all/${TIMER_FIX}-3-${TIMER_HASH}`,
			`Link: https://patch.msgid.link/${TIMER_KUT_ID}`,
			sob(SEAN),
		],
		touch: ["x86/apic.c"],
	});
	const subjects = [
		"KVM: x86: Move TSC-deadline timer state into struct kvm_timer",
		"KVM: x86: Cancel the hrtimer when the TSC-deadline MSR is cleared",
		"KVM: x86: Re-arm the TSC-deadline timer when LVTT is unmasked",
		"KVM: x86: Drop the redundant apic_timer_expired() check",
	];
	const thread: LoreThread = [
		coverLetter({
			id: `${TIMER_FIX}-0-${TIMER_HASH}`,
			from: NAVEEN,
			at: "2026-01-13T10:20:00Z",
			subject: "[PATCH v2 0/4] KVM: x86: TSC-deadline timer fixes",
		}),
		...subjects.map((subject, i) =>
			kernelPatch({
				id: `${TIMER_FIX}-${i + 1}-${TIMER_HASH}`,
				from: NAVEEN,
				at: `2026-01-13T10:20:0${i + 1}Z`,
				subject: `[PATCH v2 ${i + 1}/4] ${subject}`,
				file: "arch/x86/kvm/lapic.c",
				message: "Re-arm the timer from the saved deadline so that no expiry is lost.",
			}),
		),
	];
	const own: LoreThread = [
		kutPatch({
			id: TIMER_KUT_ID,
			from: NAVEEN,
			at: "2026-01-20T09:00:00Z",
			subject: `[kvm-unit-tests PATCH] ${kutSubject}`,
			file: "x86/apic.c",
			message: "Needs the KVM series at [PATCH v2 3/4].",
		}),
	];
	return caseFiles(dir, {
		kernels: ["master", "next"],
		results: { master: { xapic: "fail", x2apic: "pass" } },
		...(withLore ? { lore: [thread, own] } : {}),
		labels: [
			withLore
				? {
						kernel: "kvm@master",
						test: "kut:xapic",
						verdict: "pending-fix",
						evidence: ["not applied in any configured tree"],
					}
				: {
						kernel: "kvm@master",
						test: "kut:xapic",
						verdict: "new-failure",
						evidence: ["not found in any configured tree"],
					},
		],
	});
}

const postedNotAppliedLore: VerdictCase = {
	name: "10-posted-not-applied-lore",
	shape: "KUT links a KVM patch (b4 id) that lore has and no configured tree applied; --lore",
	build(dir) {
		return postedNotApplied(dir, true);
	},
};

const postedNotAppliedNoLore: VerdictCase = {
	name: "11-posted-not-applied-no-lore",
	shape: "the same link as case 10 without --lore: nothing says it is a KVM patch",
	build(dir) {
		return postedNotApplied(dir, false);
	},
};

const fixPostedAfterTest: VerdictCase = {
	name: "12-fix-posted-after-test",
	shape: "the vmx bug: KUT (x86/vmx.c) links only itself; the KVM fix was posted 25 minutes later, is in queue",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.1-rc4", "2022-11-06T22:00:00Z");
		await kvm.commit({
			subject: "KVM: x86: Use SRCU to protect zap in __kvm_set_or_clear_apicv_inhibit()",
			author: SEAN,
			trailers: [sob(SEAN), "Message-Id: <20221110223043.2178224-1-seanjc@google.com>", sob(PAOLO)],
			touch: ["arch/x86/kvm/x86.c"],
		});
		await kvm.branch("next-old");
		await kvm.switchTo("queue", "next-old");
		await kvm.commit({
			subject: "KVM: nVMX: Don't use Enlightened MSR Bitmap for L3",
			author: "Vitaly Kuznetsov <vkuznets@redhat.com>",
			trailers: [
				sob("Vitaly Kuznetsov <vkuznets@redhat.com>"),
				"Message-Id: <20221129123930.1111122-1-vkuznets@redhat.com>",
				sob(PAOLO),
			],
			touch: ["arch/x86/kvm/vmx/vmx.c"],
		});
		await kvm.commit({
			subject: 'KVM: nVMX: Inject #GP, not #UD, if "generic" VMXON CR0/CR4 check fails',
			body: 'Inject #GP for if VMXON is attempting with a CR0/CR4 that fails the\ngeneric "is CRx valid" check, but passes the CR4.VMXE check, i.e. for\nthe CR0.PE=0 case.',
			author: SEAN,
			trailers: [
				'Fixes: c7d855c2aff2 ("KVM: nVMX: Inject #UD if VMXON is attempted with incompatible CR0/CR4")',
				sob(SEAN),
				"Link: https://lore.kernel.org/r/20221006001956.329314-1-seanjc@google.com",
				sob(PAOLO),
			],
			touch: ["arch/x86/kvm/vmx/nested.c"],
		});
		const kut = await kutTree(dir, "2022-10-01T00:00:00Z");
		await kut.commit({
			subject: 'nVMX: Expect #GP on VMXON with "generic" invalid CR0/CR4 bits',
			author: SEAN,
			at: "2022-10-05T23:54:56Z",
			trailers: [sob(SEAN), "Link: https://lore.kernel.org/r/20221005235456.3145298-1-seanjc@google.com", sob(PAOLO)],
			touch: ["x86/vmx.c"],
		});
		return caseFiles(dir, {
			kernels: ["next-old", "queue"],
			results: { "next-old": { vmx: "fail", ept: "pass" }, queue: { vmx: "pass", ept: "pass" } },
			labels: [{ kernel: "kvm@next-old", test: "kut:vmx", verdict: "pending-fix", evidence: ["kvm@queue"] }],
		});
	},
};

const xapicV5Applied: VerdictCase = {
	name: "13-xapic-v5-applied",
	shape:
		"the xapic bug: KUT (x86/apic.c) links only its own series; the fixes landed as v5 after v6.1; kvm-x86-next has them",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.1", "2022-12-11T22:00:00Z");
		await kvm.tag("v6.1", LINUS);
		await kvm.switchTo("kvm-x86-next", "v6.1");
		await kvm.commit({
			subject: "KVM: x86: Remove unused argument in gpc_unmap_khva()",
			author: "Michal Luczaj <mhal@rbox.co>",
			committer: SEAN,
			trailers: [sob("Michal Luczaj <mhal@rbox.co>"), sob(SEAN)],
			touch: ["arch/x86/kvm/x86.c"],
		});
		await applyAvicV5(kvm);
		const kut = await kutTree(dir, "2022-09-01T00:00:00Z");
		await kut.commit({
			subject: "x86/apic: Test logical flat mode IPIs to more than one vCPU",
			author: SEAN,
			at: "2022-10-01T01:13:03Z",
			trailers: [sob(SEAN), "Link: https://lore.kernel.org/r/20221001011301.2077739-6-seanjc@google.com", sob(PAOLO)],
			touch: ["x86/apic.c"],
		});
		await kut.commit({
			subject: "x86/apic: Don't assume the APIC ID matches the vCPU index",
			author: SEAN,
			trailers: [sob(SEAN), "Link: https://lore.kernel.org/r/20221001011301.2077739-7-seanjc@google.com", sob(PAOLO)],
			touch: ["x86/apic.c"],
		});
		return caseFiles(dir, {
			kernels: ["v6.1", "kvm-x86-next"],
			colour: true,
			results: { "v6.1": { xapic: "timeout", x2apic: "pass" }, "kvm-x86-next": { xapic: "pass", x2apic: "pass" } },
			labels: [{ kernel: "kvm@v6.1", test: "kut:xapic", verdict: "pending-fix", evidence: ["kvm@kvm-x86-next"] }],
		});
	},
};

const regressionBesidePendingFix: VerdictCase = {
	name: "14-regression-beside-pending-fix",
	shape:
		"one matrix: svm pending-fix on master as in case 1; vmx fails on next, passes on master (its ancestor, the baseline)",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.18-rc5", "2025-11-09T22:00:00Z");
		await kvm.switchTo("next", "master");
		await applyExitCodeSeries(kvm);
		await kvm.commit({
			subject: "KVM: nVMX: Drop the redundant vmcs12 sync on nested VM-Enter",
			author: CHAO,
			committer: SEAN,
			trailers: [sob(CHAO), "Link: https://lore.kernel.org/kvm/20251120081523.913421-2-chao.gao@intel.com/", sob(SEAN)],
			touch: ["arch/x86/kvm/vmx/nested.c"],
		});
		const kut = await kutTree(dir, "2025-12-01T00:00:00Z");
		await kutExitCodeCommit(kut);
		await kut.commit({
			subject: "nVMX: Verify vmcs12 guest state after a nested VM-Enter that fails late",
			author: CHAO,
			committer: SEAN,
			trailers: [sob(CHAO), "Link: https://patch.msgid.link/20251222090211.1128763-1-chao.gao@intel.com", sob(SEAN)],
			touch: ["x86/vmx_tests.c"],
		});
		return caseFiles(dir, {
			kernels: ["master", "next"],
			baseline: "master",
			results: { master: { svm: "fail", vmx: "pass" }, next: { svm: "pass", vmx: "fail" } },
			labels: [
				{ kernel: "kvm@master", test: "kut:svm", verdict: "pending-fix", evidence: ["exit_code", "kvm@next"] },
				{ kernel: "kvm@next", test: "kut:vmx", verdict: "regression", evidence: ["kvm@master"] },
			],
		});
	},
};

const missingFixContradicted: VerdictCase = {
	name: "15-missing-fix-contradicted-by-baseline",
	shape: "the linked KVM fix is in neither the kernel nor the baseline, and the baseline passed",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.8", "2024-03-10T21:00:00Z");
		await kvm.commit({
			subject: "KVM: x86: Clean up partially uninit integer in emulator_read_write()",
			author: PAOLO,
			trailers: [sob(PAOLO)],
			touch: ["arch/x86/kvm/emulate.c"],
		});
		await kvm.branch("next");
		await kvm.commit({
			subject: "KVM: nVMX: Rework the nested MSR bitmap merge",
			author: JIM,
			trailers: [sob(JIM), "Message-Id: <20240315201414.3329177-3-jmattson@google.com>", sob(PAOLO)],
			touch: ["arch/x86/kvm/vmx/nested.c"],
		});
		await kvm.switchTo("queue", "next");
		await kvm.commit({
			subject: "KVM: nVMX: Add a missing consistency check on VM-Entry MSR-load addresses",
			author: SEAN,
			trailers: [sob(SEAN), "Message-Id: <20240322212321.860253-4-seanjc@google.com>", sob(PAOLO)],
			touch: ["arch/x86/kvm/vmx/nested.c"],
		});
		const kut = await kutTree(dir, "2024-03-01T00:00:00Z");
		await kut.commit({
			subject: "nVMX: Test VM-Entry with a misaligned MSR-load address",
			author: SEAN,
			trailers: [
				sob(SEAN),
				"Link: https://lore.kernel.org/kvm/20240322212321.860253-4-seanjc@google.com/",
				"Link: https://lore.kernel.org/r/20240322213314.867081-2-seanjc@google.com",
				sob(PAOLO),
			],
			touch: ["x86/vmx_tests.c"],
		});
		return caseFiles(dir, {
			kernels: ["master", "next", "queue"],
			baseline: "next",
			results: { master: { vmx: "fail" }, next: { vmx: "pass" } },
			labels: [{ kernel: "kvm@master", test: "kut:vmx", verdict: "regression", evidence: ["kvm@next"] }],
		});
	},
};

const ep4taVmxTestsOnly: VerdictCase = {
	name: "16-ep4ta-vmx-tests-only",
	shape:
		"EP4TA: KUT touches only x86/vmx_tests.c, links KVM's [PATCH v2 5/5] and its own posting; `ept` (vmx.flat) fails",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.5", "2023-08-27T21:00:00Z");
		await kvm.switchTo("next", "master");
		const stem = "20230729005200.1057358";
		const subjects = [
			"KVM: x86/mmu: Add helper to convert root hpa to shadow page",
			"KVM: x86/mmu: Harden new PGD against roots without shadow pages",
			"KVM: x86/mmu: Harden TDP MMU iteration against root w/o shadow page",
			"KVM: x86/mmu: Use dummy root, backed by zero page, for !visible guest roots",
		];
		for (const [i, subject] of subjects.entries()) {
			await kvm.commit({
				subject,
				author: SEAN,
				committer: SEAN,
				trailers: [sob(SEAN), `Link: https://lore.kernel.org/r/${stem}-${i + 3}-seanjc@google.com`, sob(SEAN)],
				touch: ["arch/x86/kvm/mmu/mmu.c"],
			});
		}
		const kut = await kutTree(dir, "2023-09-01T00:00:00Z");
		await kut.commit({
			subject: "nVMX: Add a testcase for running L2 with EP4TA that points at MMIO",
			author: SEAN,
			committer: SEAN,
			trailers: [
				`Link: https://lore.kernel.org/all/${stem}-6-seanjc@google.com`,
				"Link: https://lore.kernel.org/r/20230911182013.333559-4-seanjc@google.com",
				sob(SEAN),
			],
			touch: ["x86/vmx_tests.c"],
		});
		return caseFiles(dir, {
			kernels: ["master", "next"],
			results: { master: { vmx: "pass", ept: "fail" } },
			labels: [
				{ kernel: "kvm@master", test: "kut:ept", verdict: "pending-fix", evidence: ["Use dummy root", "kvm@next"] },
			],
		});
	},
};

const ownSeriesLinks: VerdictCase = {
	name: "17-own-series-links",
	shape: "KUT (a b4 series) links patches -1- and -3- of its own series, then its own posting -2-; baseline passes",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.13", "2025-01-19T22:00:00Z");
		await kvm.commit({
			subject: "KVM: VMX: Reject KVM_RUN if userspace forces emulation during nested VM-Enter",
			author: SEAN,
			trailers: [sob(SEAN), "Link: https://lore.kernel.org/r/20250201015518.689704-9-seanjc@google.com", sob(SEAN)],
			touch: ["arch/x86/kvm/vmx/nested.c"],
		});
		await kvm.branch("next");
		await kvm.commit({
			subject: "KVM: VMX: Refresh the TPR threshold only on a TPR write from L2",
			author: PAOLO,
			trailers: [sob(PAOLO)],
			touch: ["arch/x86/kvm/vmx/vmx.c", "arch/x86/kvm/lapic.c"],
		});
		const kut = await kutTree(dir, "2025-01-10T00:00:00Z", ["tprThreshold"]);
		const stem = "20250114-vmx-tpr-threshold-v2";
		await kut.commit({
			subject: "nVMX: Add a test for the TPR threshold with APIC pass-through",
			body: "Uses the APIC helpers added earlier in this series [1][2].",
			author: MANALI,
			committer: SEAN,
			trailers: [
				sob(MANALI),
				`Link: https://lore.kernel.org/r/${stem}-1-5d2c8e1f@amd.com # [1]`,
				`Link: https://lore.kernel.org/r/${stem}-3-5d2c8e1f@amd.com # [2]`,
				`Link: https://lore.kernel.org/r/${stem}-2-5d2c8e1f@amd.com`,
				sob(SEAN),
			],
			files: { "x86/unittests.cfg": unittestsCfg([]) },
			touch: ["x86/vmx_tests.c"],
		});
		return caseFiles(dir, {
			kernels: ["master", "next"],
			baseline: "next",
			results: {
				master: { vmx_apic_passthrough_tpr_threshold_test: "fail" },
				next: { vmx_apic_passthrough_tpr_threshold_test: "pass" },
			},
			labels: [
				{
					kernel: "kvm@master",
					test: "kut:vmx_apic_passthrough_tpr_threshold_test",
					verdict: "regression",
					evidence: ["kvm@next"],
				},
			],
		});
	},
};

const divergedKernels: VerdictCase = {
	name: "18-diverged-kernels",
	shape: "fails on next, passes on fixes, neither an ancestor of the other, no baseline",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.16", "2025-07-27T21:00:00Z");
		await kvm.switchTo("next", "master");
		await kvm.commit({
			subject: "KVM: x86: Convert vcpu_run()'s immediate exit param into a generic bitmap",
			author: SEAN,
			committer: SEAN,
			trailers: [sob(SEAN), "Link: https://lore.kernel.org/r/20250805190526.1453366-2-seanjc@google.com", sob(SEAN)],
			touch: ["arch/x86/kvm/x86.c", "arch/x86/kvm/emulate.c"],
		});
		await kvm.switchTo("fixes", "master");
		await kvm.commit({
			subject: "KVM: x86: Don't (re)check L1 intercepts when completing userspace I/O",
			author: SEAN,
			trailers: [sob(SEAN), "Message-ID: <20250715190638.1899116-1-seanjc@google.com>", sob(PAOLO)],
			touch: ["arch/x86/kvm/emulate.c"],
		});
		const kut = await kutTree(dir, "2025-07-01T00:00:00Z");
		await kut.commit({
			subject: "x86/emulator: Test string I/O to an emulated port with REP",
			author: MATHIAS,
			committer: SEAN,
			trailers: [
				sob(MATHIAS),
				"Link: https://patch.msgid.link/20250716102441.1903418-1-minipli@grsecurity.net",
				sob(SEAN),
			],
			touch: ["x86/emulator.c"],
		});
		return caseFiles(dir, {
			kernels: ["next", "fixes"],
			results: { next: { emulator: "fail" }, fixes: { emulator: "pass" } },
			labels: [{ kernel: "kvm@next", test: "kut:emulator", verdict: "new-failure" }],
		});
	},
};

const earlierPostingOnLore: VerdictCase = {
	name: "19-earlier-posting-on-lore",
	shape: "case 3's earlier posting, served by lore as a [kvm-unit-tests PATCH] (a/x86/...); one kernel, --lore",
	async build(dir) {
		await kernelTree(dir, "6.11", "2024-09-15T20:00:00Z");
		const kut = await kutTree(dir, "2024-09-01T00:00:00Z");
		await kutRepostedTest(kut);
		return caseFiles(dir, {
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
			labels: [{ kernel: "kvm@master", test: "kut:svm", verdict: "new-failure" }],
		});
	},
};

const fixContained: VerdictCase = {
	name: "20-fix-contained",
	shape: "the linked KVM fix is in the kernel under test; it still fails, no baseline",
	async build(dir) {
		const kvm = await kernelTree(dir, "6.18-rc5", "2025-11-09T22:00:00Z");
		await applyExitCodeSeries(kvm);
		await kvm.switchTo("next", "master");
		await kvm.commit({
			subject: "KVM: SVM: Drop the now-unused avic_vm_id_bitmap",
			author: SEAN,
			committer: SEAN,
			trailers: ["Link: https://patch.msgid.link/20251204002617.2340611-4-seanjc@google.com", sob(SEAN)],
			touch: ["arch/x86/kvm/svm/avic.c"],
		});
		const kut = await kutTree(dir, "2025-12-01T00:00:00Z");
		await kutExitCodeCommit(kut);
		return caseFiles(dir, {
			kernels: ["master", "next"],
			results: { master: { svm: "fail" } },
			labels: [{ kernel: "kvm@master", test: "kut:svm", verdict: "new-failure" }],
		});
	},
};

/** Every case, in order. */
export const CASES: readonly VerdictCase[] = [
	coverLetterLink,
	ownPostingOnly,
	earlierPostingOfTest,
	listReplyLink,
	bugReportsLinked,
	citedCommit,
	citedCommitRebased,
	stableCherryPick,
	v4LinkedV5Applied,
	postedNotAppliedLore,
	postedNotAppliedNoLore,
	fixPostedAfterTest,
	xapicV5Applied,
	regressionBesidePendingFix,
	missingFixContradicted,
	ep4taVmxTestsOnly,
	ownSeriesLinks,
	divergedKernels,
	earlierPostingOnLore,
	fixContained,
];
