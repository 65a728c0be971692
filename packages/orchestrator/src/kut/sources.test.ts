import test from "ava";
import { depFileOf, imageName, kutEntrySources, parseDepFile, parseImageRules, testsForFiles } from "./sources.js";

// Written in the shapes of kvm-unit-tests' x86 Makefiles across its history (rules added per image
// in Makefile.common and Makefile.x86_64, pre-2016 rules that list the image's own object and the
// start-up object, continuations), with the lines around them that must not count.
const COMMON = `
all: directories test_cases
cflatobjs += lib/x86/apic.o
$(libcflat): CFLAGS += -ffreestanding -I $(SRCDIR)/lib
%.elf: LDFLAGS += $(arch_LDFLAGS)
%.elf: %.o $(FLATLIBS) $(SRCDIR)/x86/flat.lds $(cstart.o)
	$(LD) $(LDFLAGS) -T $(SRCDIR)/x86/flat.lds -o $@ $(filter %.o, $^) $(FLATLIBS)
$(TEST_DIR)/%.o: CFLAGS += -std=gnu99 -ffreestanding
realmode_bits := $(if $(call cc-option,-m16,""),16,32)
$(TEST_DIR)/realmode.elf: $(TEST_DIR)/realmode.o $(SRCDIR)/$(TEST_DIR)/realmode.lds
	$(LD) -m elf_i386 -nostdlib -o $@ $(filter %.o, $^)
$(TEST_DIR)/realmode.o: bits = $(realmode_bits)
$(TEST_DIR)/access_test.$(bin): $(TEST_DIR)/access.o
$(TEST_DIR)/vmx.$(bin): $(TEST_DIR)/access.o
$(TEST_DIR)/svm_npt.$(bin): $(TEST_DIR)/svm.o
$(TEST_DIR)/kvmclock_test.$(bin): $(TEST_DIR)/kvmclock.o
$(TEST_DIR)/hyperv_synic.$(bin) $(TEST_DIR)/hyperv_stimer.$(bin): $(TEST_DIR)/hyperv.o
# $(TEST_DIR)/commented.$(bin): $(TEST_DIR)/nothing.o
`;
const X86_64 = `
tests = $(TEST_DIR)/apic.$(exe) \\
	  $(TEST_DIR)/vmx.$(exe)
include $(SRCDIR)/$(TEST_DIR)/Makefile.common
$(TEST_DIR)/hyperv_clock.$(bin): $(TEST_DIR)/hyperv_clock.o
$(TEST_DIR)/vmx.$(bin): $(TEST_DIR)/vmx_tests.o
$(TEST_DIR)/svm.$(bin): $(TEST_DIR)/svm_tests.o
$(TEST_DIR)/svm_npt.$(bin): $(TEST_DIR)/svm_npt.o
$(TEST_DIR)/vmx.$(bin): CFLAGS += -DNOT_AN_OBJECT
$(TEST_DIR)/intel-iommu.o: CFLAGS += -fno-something
`;
const OLD = `
$(TEST_DIR)/access.elf: $(cstart.o) $(TEST_DIR)/access.o
$(TEST_DIR)/svm.elf: $(cstart.o) $(TEST_DIR)/svm.o
$(TEST_DIR)/kvmclock_test.elf: $(cstart.o) $(TEST_DIR)/kvmclock.o \\
				$(TEST_DIR)/kvmclock_test.o
x86/emulator.elf: x86/emulator.o x86/lib.o | x86/order-only.o
$(TEST_DIR)/pmu.flat: $(TEST_DIR)/pmu_helpers.o ; @true
$(TEST_DIR)/tsc.$(exe): $(TEST_DIR)/tsc_helpers.o
`;

const rulesTable: [string, string[], Record<string, string[]>][] = [
	[
		"today's layout: rules from both Makefiles add up; own object, patterns and variables left out",
		[COMMON, X86_64],
		{
			realmode: [],
			access_test: ["x86/access.o"],
			vmx: ["x86/access.o", "x86/vmx_tests.o"],
			svm_npt: ["x86/svm.o"],
			kvmclock_test: ["x86/kvmclock.o"],
			hyperv_synic: ["x86/hyperv.o"],
			hyperv_stimer: ["x86/hyperv.o"],
			hyperv_clock: [],
			svm: ["x86/svm_tests.o"],
			commented: [],
			apic: [],
		},
	],
	[
		"old layout: $(cstart.o) and the image's own object, a continuation, x86/ literals, | and ;",
		[OLD],
		{
			access: [],
			svm: [],
			kvmclock_test: ["x86/kvmclock.o"],
			emulator: ["x86/lib.o"],
			pmu: ["x86/pmu_helpers.o"],
			tsc: ["x86/tsc_helpers.o"],
		},
	],
	["CRLF line ends", ["$(TEST_DIR)/vmx.$(bin): \\\r\n\t$(TEST_DIR)/vmx_tests.o\r\n"], { vmx: ["x86/vmx_tests.o"] }],
	["no Makefile text", [], { vmx: [] }],
];

for (const [title, texts, expected] of rulesTable) {
	test(`parseImageRules: ${title}`, (t) => {
		const rules = parseImageRules(texts);
		for (const [image, objects] of Object.entries(expected)) t.deepEqual(rules.get(image) ?? [], objects, image);
	});
}

const depTable: [string, string, string[]][] = [
	[
		"-MMD -MP: the object's rule, then a phony rule per header",
		"x86/emulator.o: x86/emulator.c lib/libcflat.h x86/emulator64.c\nlib/libcflat.h:\nx86/emulator64.c:\n",
		["x86/emulator.c", "lib/libcflat.h", "x86/emulator64.c"],
	],
	[
		"continuations, as gcc wraps long lists",
		"x86/vmx_tests.o: x86/vmx_tests.c lib/libcflat.h \\\n lib/x86/processor.h x86/vmx.h \\\n x86/access.h\n\nlib/libcflat.h:\n",
		["x86/vmx_tests.c", "lib/libcflat.h", "lib/x86/processor.h", "x86/vmx.h", "x86/access.h"],
	],
	[
		"-MMD without -MP (older KUT): one rule",
		"x86/apic.o: x86/apic.c lib/libcflat.h\n",
		["x86/apic.c", "lib/libcflat.h"],
	],
	["escaped blanks, # and $ in paths", "a\\ b.o: a\\ b.c dir\\#1/x.h cost$$.h\n", ["a b.c", "dir#1/x.h", "cost$.h"]],
	[
		"-MD: absolute system headers kept as written",
		"/out/x86/cpuid_test.o: x86/cpuid_test.c /usr/include/stdc-predef.h \\\r\n include/kvm_util.h\r\n",
		["x86/cpuid_test.c", "/usr/include/stdc-predef.h", "include/kvm_util.h"],
	],
	["a comment first, and a repeated prerequisite", "# generated\nx.o: x.c x.h x.h\n", ["x.c", "x.h"]],
	["empty file", "", []],
];

for (const [title, text, expected] of depTable) {
	test(`parseDepFile: ${title}`, (t) => {
		t.deepEqual(parseDepFile(text), expected);
	});
}

test("imageName and depFileOf follow KUT's names", (t) => {
	t.is(imageName("vmx.flat"), "vmx");
	t.is(imageName("hyperv_stimer.efi"), "hyperv_stimer");
	t.is(depFileOf("x86/vmx_tests.o"), "x86/.vmx_tests.d");
});

const rules = parseImageRules([COMMON, X86_64]);
// A finished build's dependency files, as KUT's compiler would write them.
const BUILT: Record<string, string[]> = {
	"x86/vmx.o": ["x86/vmx.c", "lib/libcflat.h", "x86/vmx.h", "lib/x86/vm.h"],
	"x86/vmx_tests.o": ["x86/vmx_tests.c", "./x86/vmx.h", "x86/access.h", "lib/x86/processor.h"],
	"x86/access.o": ["x86/access.c", "x86/access.h", "lib/libcflat.h"],
	"x86/emulator.o": ["x86/emulator.c", "x86/emulator64.c", "lib/libcflat.h", "/usr/include/stdint.h"],
	"x86/apic.o": ["x86/apic.c", "lib/libcflat.h", "lib/x86/apic.h"],
};
const built = (object: string) => BUILT[object];
const none = () => undefined;

const entryTable: [string, string, Parameters<typeof kutEntrySources>[1], typeof built, string[], string][] = [
	[
		"vmx.flat from its build: three objects, their x86/ headers, no lib/",
		"vmx.flat",
		rules,
		built,
		["x86/access.c", "x86/access.h", "x86/vmx.c", "x86/vmx.h", "x86/vmx_tests.c"],
		"build",
	],
	[
		"emulator.flat: the #included .c counts",
		"emulator.flat",
		rules,
		built,
		["x86/emulator.c", "x86/emulator64.c"],
		"build",
	],
	[
		"vmx.flat unbuilt: each object's own .c",
		"vmx.flat",
		rules,
		none,
		["x86/access.c", "x86/vmx.c", "x86/vmx_tests.c"],
		"makefile",
	],
	["svm_npt.flat unbuilt", "svm_npt.flat", rules, none, ["x86/svm.c", "x86/svm_npt.c"], "makefile"],
	[
		"hyperv_stimer.flat half built: what is known, the rest by name",
		"hyperv_stimer.flat",
		rules,
		(o) => (o === "x86/hyperv_stimer.o" ? ["x86/hyperv_stimer.c", "x86/hyperv.h"] : undefined),
		["x86/hyperv.c", "x86/hyperv.h", "x86/hyperv_stimer.c"],
		"makefile",
	],
	["no Makefile and no build: the image's name", "vmx.flat", undefined, none, ["x86/vmx.c"], "image-name"],
	["no Makefile rules for the image, built", "apic.flat", new Map(), built, ["x86/apic.c"], "build"],
];

for (const [title, file, r, deps, files, basis] of entryTable) {
	test(`kutEntrySources: ${title}`, (t) => {
		t.deepEqual(kutEntrySources({ file }, r, deps), { files, basis });
	});
}

const ENTRIES = [
	{ name: "vmx", file: "vmx.flat" },
	{ name: "ept", file: "vmx.flat" },
	{ name: "access", file: "access_test.flat" },
	{ name: "emulator", file: "emulator.flat" },
	{ name: "apic-split", file: "apic.flat" },
];

const reverseTable: [string, string[], typeof built, string[]][] = [
	["a commit touching only x86/vmx_tests.c concerns every vmx.flat entry", ["x86/vmx_tests.c"], built, ["vmx", "ept"]],
	["x86/access.c is linked into vmx.flat and access_test.flat", ["x86/access.c"], built, ["vmx", "ept", "access"]],
	["unbuilt, the same answer from the Makefile", ["x86/access.c"], none, ["vmx", "ept", "access"]],
	["an #included .c maps to its includer", ["x86/emulator64.c"], built, ["emulator"]],
	["…which the Makefile alone cannot see", ["x86/emulator64.c"], none, []],
	["a shared lib/ header concerns no test", ["lib/libcflat.h", "lib/x86/processor.h"], built, []],
	["a header under x86/ concerns its includers", ["./x86/access.h"], built, ["vmx", "ept", "access"]],
	["files of no test", ["README.md", "x86/unittests.cfg"], built, []],
];

for (const [title, files, deps, expected] of reverseTable) {
	test(`testsForFiles: ${title}`, (t) => {
		t.deepEqual(testsForFiles(files, ENTRIES, rules, deps), expected);
	});
}
