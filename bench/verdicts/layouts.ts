// The first commit of each of a verdict case's trees, as files: a kernel release holding the files
// KVM fixes touch, and a kvm-unit-tests x86 layout where how tests map to sources is real
// (unittests.cfg, the Makefiles' extra-object rules) and the sources are stubs (it is never built).

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

const CFG_SECTIONS = {
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

/** A section of x86/unittests.cfg, named after the test source it runs. */
export type CfgSection = keyof typeof CFG_SECTIONS;

/** x86/unittests.cfg with every section but the `omit`ted ones. */
export function unittestsCfg(omit: readonly CfgSection[] = []): string {
	const sections = Object.entries(CFG_SECTIONS)
		.filter(([key]) => !omit.includes(key as CfgSection))
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

/** The KUT layout's files; `omit` leaves cfg sections out for a case to add. */
export function kutLayoutFiles(omit: readonly CfgSection[] = []): Record<string, string> {
	const files: Record<string, string> = {
		"x86/unittests.cfg": unittestsCfg(omit),
		"x86/Makefile.common": MAKEFILE_COMMON,
		"x86/Makefile.x86_64": MAKEFILE_X86_64,
		"lib/x86/processor.h": "#ifndef _X86_PROCESSOR_H_\n#define _X86_PROCESSOR_H_\n#endif\n",
		"run_tests.sh": "#!/usr/bin/env bash\n# not run by the benchmark\n",
	};
	for (const source of KUT_SOURCES) files[source] = cSource(source);
	return files;
}

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

/** The files of kernel release `version` (`6.2-rc2`): its top Makefile and the files KVM fixes touch. */
export function kernelReleaseFiles(version: string): Record<string, string> {
	const [major, rest = "0"] = version.split(".");
	const [minor = "0", rc] = rest.split("-");
	const files: Record<string, string> = {
		Makefile: `# SPDX-License-Identifier: GPL-2.0\nVERSION = ${major}\nPATCHLEVEL = ${minor}\nSUBLEVEL = 0\nEXTRAVERSION = ${rc === undefined ? "" : `-${rc}`}\nNAME = Baby Opossum Posse\n`,
	};
	for (const file of KERNEL_FILES) files[file] = `// SPDX-License-Identifier: GPL-2.0-only\n/* ${file} */\n`;
	return files;
}
