// A FIXTURE, not kvm-unit-tests: a small git repository shaped like upstream KUT as FACTS.md
// documents it, because KUT cannot be installed here. Its `configure`, `Makefile`,
// `x86/unittests.cfg`, `x86/run` and `run_tests.sh` follow KUT's interface (options, environment,
// a log directory whose SUMMARY holds only BUILD_HEAD, status lines with colour codes, check-level
// TAP under -t, exit codes); its "images" are small native programs that print real-format check
// lines instead of booting under QEMU.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { git } from "./git.js";

const CONFIGURE = `#!/usr/bin/env bash
# Fixture configure: accepts KUT's --arch option and writes config.mak.
arch=$(uname -m)
for opt in "$@"; do
	case "$opt" in
	--arch=*) arch=\${opt#--arch=} ;;
	*) echo "Unknown option '$opt'" >&2; exit 1 ;;
	esac
done
[ "$arch" = x86_64 ] || [ "$arch" = i386 ] || { echo "arch $arch is not supported!" >&2; exit 1; }
# As KUT's, SRCDIR is absolute: headers found through -I $(SRCDIR)/lib are absolute in .d files.
printf 'SRCDIR=%s\\nARCH=%s\\nTEST_DIR=x86\\n' "$(cd "$(dirname "$0")"; pwd)" "$arch" > config.mak
`;

// The build as KUT's: the top Makefile sets the dependency-file flags and includes the arch's
// Makefile, which names the images and includes x86/Makefile.common with the pattern rules. Every
// image links its own <image>.o (`%.elf: %.o`) plus what a `$(TEST_DIR)/<image>.$(bin):` rule adds;
// each object writes x86/.<obj>.d (-MMD -MP), real compiler output. The images are native programs:
// <image>.elf is linked with $(CC) and <image>.flat is a copy of it.
const MAKEFILE = `ifeq ($(wildcard config.mak),)
$(error run ./configure first. See ./configure -h)
endif
include config.mak
autodepend-flags = -MMD -MP -MF $(dir $*).$(notdir $*).d
CFLAGS += -O1 -I $(SRCDIR)/lib $(autodepend-flags)
all:
include $(TEST_DIR)/Makefile.x86_64
-include $(TEST_DIR)/.*.d
clean: arch_clean
`;

const MAKEFILE_X86_64 = `exe = flat
bin = elf

tests = $(TEST_DIR)/pass.$(exe) $(TEST_DIR)/fail.$(exe) \\
	$(TEST_DIR)/skip.$(exe) $(TEST_DIR)/hang.$(exe)
tests += $(TEST_DIR)/crash.$(exe)
tests += $(TEST_DIR)/flaky.$(exe)
tests += $(TEST_DIR)/vmx.$(exe)

include $(TEST_DIR)/Makefile.common

$(TEST_DIR)/vmx.$(bin): $(TEST_DIR)/vmx_tests.o
`;

const MAKEFILE_COMMON = `all: test_cases

.PRECIOUS: %.elf %.o

%.o: %.c
	$(CC) $(CFLAGS) -c -o $@ $<

%.elf: %.o
	$(CC) -o $@ $(filter %.o, $^)

%.flat: %.elf
	cp $< $@

tests-common = $(TEST_DIR)/emulator.$(exe)

test_cases: $(tests-common) $(tests)

$(TEST_DIR)/%.o: CFLAGS += -std=gnu99

arch_clean:
	rm -f $(TEST_DIR)/*.o $(TEST_DIR)/*.elf $(TEST_DIR)/*.flat $(TEST_DIR)/.*.d
`;

// Each "image" prints check lines and a SUMMARY as KUT's libcflat does, then exits the way
// x86/run reports a test: 0 pass, 77 skip, non-zero fail; hang and crash never reach SUMMARY.
const IMAGES: Record<string, string> = {
	pass: `int main(int c, char **v) { for (int i = 1; i < c; i++) printf("PASS: arg %s\\n", v[i]); puts("PASS: apic: x2apic mode"); puts("PASS: apic: tsc deadline"); printf("SUMMARY: %d tests\\n", c + 1); return 0; }`,
	fail: `int main(void) { puts("PASS: msr: MSR_IA32_SYSENTER_CS"); puts("FAIL: msr: MSR_IA32_TSC_ADJUST"); puts("SKIP: msr: MSR_K7_HWCR"); puts("SUMMARY: 3 tests, 1 unexpected failures, 1 skipped"); return 1; }`,
	skip: `int main(void) { puts("SKIP: vmx not supported"); puts("SUMMARY: 1 tests, 1 skipped"); return 77; }`,
	hang: `int main(void) { puts("PASS: started"); fflush(stdout); for (;;) sleep(1); }`,
	crash: `int main(void) { puts("PASS: before the crash"); fflush(stdout); raise(SIGSEGV); return 0; }`,
	// Fails the first time it runs in a tree and passes from then on, as a racy test might.
	flaky: `int main(void) { if (access(".flaky-ran", F_OK) != 0) { fclose(fopen(".flaky-ran", "w")); puts("FAIL: flaky: first run"); puts("SUMMARY: 1 tests, 1 unexpected failures"); return 1; } puts("PASS: flaky: rerun"); puts("SUMMARY: 1 tests"); return 0; }`,
};

// Sources shaped like KUT's multi-object images: vmx.flat links vmx.o and vmx_tests.o (which share
// x86/vmx.h), emulator.c #includes emulator64.c, and lib/libcflat.h is included by every image.
const SOURCES: Record<string, string> = {
	"lib/libcflat.h": `/* FIXTURE: shared by every image, as KUT's lib/libcflat.h is. */
#include <stdio.h>
static inline void report_pass(const char *what) { printf("PASS: %s\\n", what); }
`,
	"x86/vmx.h": `struct vmx_test { const char *name; };
extern const struct vmx_test vmx_tests[];
`,
	"x86/vmx.c": `#include <string.h>
#include "libcflat.h"
#include "vmx.h"
/* Runs every test of vmx_tests[], or only the one named by the first argument. */
int main(int argc, char **argv) {
	int n = 0;
	for (const struct vmx_test *t = vmx_tests; t->name; t++) {
		if (argc > 1 && strcmp(argv[1], t->name) != 0) continue;
		report_pass(t->name);
		n++;
	}
	printf("SUMMARY: %d tests\\n", n);
	return 0;
}
`,
	"x86/vmx_tests.c": `#include "libcflat.h"
#include "vmx.h"
const struct vmx_test vmx_tests[] = { { "vmx_basic" }, { "ept_access_test" }, { "vmx_apic_passthrough" }, { 0 } };
`,
	"x86/emulator.c": `#include "libcflat.h"
#include "emulator64.c"
int main(void) { report_pass("emulator: mov"); emulator64_tests(); puts("SUMMARY: 2 tests"); return 0; }
`,
	"x86/emulator64.c": `static void emulator64_tests(void) { report_pass("emulator: movq"); }
`,
};

// Entries on the multi-object images; only with { sharedImages: true }, because other tests count
// the default entries. Three share vmx.flat, as 18 of real KUT's do.
const SHARED_IMAGE_ENTRIES = `
[vmx]
file = vmx.flat
groups = vmx nodefault

[ept]
file = vmx.flat
test_args = "ept_access_test"
groups = vmx nodefault

[vmx_apic]
file = vmx.flat
test_args = "vmx_apic_passthrough"
groups = vmx nodefault

[emulator]
file = emulator.flat
groups = nodefault
`;

const UNITTESTS_CFG = `##############################################################################
# kvm-matrix FIXTURE unittests.cfg (KUT's format)
##############################################################################

[pass]
file = pass.flat

[pass-args]
file = pass.flat
smp = $MAX_SMP
test_args = "one two"
qemu_params = """-cpu max \\
  -m 256"""
groups = args

[fail]
file = fail.flat
smp = 2
extra_params = -cpu qemu64

[skip]
file = skip.flat
arch = x86_64

[timeout]
file = hang.flat
timeout = 2s

[crash]
file = crash.flat

[kvm-only]
file = pass.flat
accel = kvm

[checked]
file = pass.flat
check = /nonexistent/kvm/parameters/ept=Y

[manual]
file = pass.flat
groups = nodefault manual

[i386-only]
file = pass.flat
arch = i386

[disabled]
file = pass.flat
disabled_if = [[ "$ACCEL" = tcg ]]

[machine-q35]
file = pass.flat
machine = q35

[flaky]
file = flaky.flat
groups = flaky nodefault
`;

const X86_RUN = `#!/usr/bin/env bash
# Fixture x86/run: x86/run <image> [-smp N] [-append ARGS] [QEMU options...]; honours TIMEOUT
# and ACCEL like KUT's; exit 0 pass, 77 skip, 124 timeout, 128+n killed by signal n.
image=$1; shift
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	-append) args=($2); shift 2 ;;
	*) shift ;;
	esac
done
echo "timeout -k 1s --foreground \${TIMEOUT:-90s} qemu-system-x86_64 -accel \${ACCEL:-kvm} -kernel $image # fixture"
timeout -k 1s --foreground "\${TIMEOUT:-90s}" "./$image" "\${args[@]}"
`;

const RUN_TESTS = `#!/usr/bin/env bash
# Fixture run_tests.sh: run_tests.sh [-h] [-v] [-a] [-g group] [-j N] [-t] [-l] [tests...]
# Reads x86/unittests.cfg, decides and words skips as KUT's runtime.bash does, writes
# <unittest_log_dir>/<name>.log and SUMMARY (BUILD_HEAD only), prints coloured status lines; with -t,
# check-level TAP 13 instead: one line per check line of a test's output, numbered as they come.
source config.mak
: "\${MAX_SMP:=$(nproc)}"
log_dir=\${unittest_log_dir:-logs}
only_group= run_all= tap= tests=() jobs=1
while getopts "hvag:j:tl" opt; do
	case $opt in
	g) only_group=$OPTARG ;;
	j) jobs=$OPTARG ;;
	a) run_all=yes ;;
	t) tap=yes ;;
	h) echo "Usage: $0 [-h] [-v] [-a] [-g group] [-j N] [-t] [-l]"; exit 0 ;;
	*) ;;
	esac
done
shift $((OPTIND - 1))
tests=("$@")
[ -d "$log_dir" ] && rm -rf "$log_dir.old" && mv "$log_dir" "$log_dir.old"
mkdir -p "$log_dir"
echo "BUILD_HEAD=$(git rev-parse --short=8 HEAD 2>/dev/null)" > "$log_dir/SUMMARY"
result() { # status name text
	local colour=32; [ "$1" = FAIL ] && colour=31; [ "$1" = SKIP ] && colour=33
	echo -e "\\e[\${colour}m$1\\e[0m $2 $3"
}
# Under -t, status lines go to /dev/null and TAP goes to descriptor 3; each TAP line carries the
# placeholder NUM until number_tap, reading them all in the order they arrive, numbers them.
tap_line() { # ok|"not ok" name text
	[ "$tap" = yes ] && echo "$1 NUM - $2: $3" >&3
	return 0
}
log_output() { # name log: the test's output into its log; under -t each check line also as TAP
	if [ "$tap" != yes ]; then cat >> "$2"; return; fi
	local line
	while read -r line; do
		line=\${line%$'\\r'}
		case "$line" in
		PASS*) tap_line ok "$1" "\${line#??????}" ;;
		FAIL*) tap_line "not ok" "$1" "\${line#??????}" ;;
		SKIP*) tap_line ok "$1" "\${line#??????} # skip" ;;
		esac
		printf '%s\\n' "$line"
	done >> "$2"
}
number_tap() {
	if [ "$tap" != yes ]; then cat; return; fi
	local count=0 line
	while IFS= read -r line; do
		if [[ "$line" == "ok NUM - "* || "$line" == "not ok NUM - "* ]]; then
			count=$((count + 1)); line=\${line/ NUM / $count }
		fi
		printf '%s\\n' "$line"
	done
	echo "1..$count"
}
run_one() {
	local name=$1 file=$2 smp=$3 test_args=$4 opts=$5 arch=$6 machine=$7 check=$8 accel=$9 timeout=\${10} disabled_if=\${11} groups=\${12}
	[ \${#tests[@]} -gt 0 ] && [[ " \${tests[*]} " != *" $name "* ]] && return
	if [ -n "$only_group" ] && [[ " $groups " != *" $only_group "* ]]; then return; fi
	if [ -z "$only_group" ] && [[ " $groups " == *" nodefault "* ]] && [ "$run_all" != yes ]; then result SKIP "$name" "(test marked as manual run only)"; return; fi
	if [ -n "$arch" ] && [ "$arch" != "$ARCH" ]; then result SKIP "$name" "($arch only)"; return; fi
	if [ -n "$machine" ] && [ -n "$MACHINE" ] && [ "$machine" != "$MACHINE" ]; then result SKIP "$name" "($machine only)"; return; fi
	if [ -n "$accel" ] && [ -n "$ACCEL" ] && [[ ! "$ACCEL" =~ ^$accel(,|$) ]]; then result SKIP "$name" "($accel only, but ACCEL=$ACCEL)"; return; fi
	[ -n "$ACCEL" ] && accel=$ACCEL
	if [[ "$disabled_if" ]] && (eval $disabled_if); then result SKIP "$name" "(disabled because: $disabled_if)"; return; fi
	for c in $check; do
		local p=\${c%%=*} v=\${c#*=}
		if ! [ -f "$p" ] || [ "$(cat "$p")" != "$v" ]; then result SKIP "$name" "($p not equal to $v)"; return; fi
	done
	[ -f "x86/$file" ] || { result SKIP "$name" "(Test file 'x86/$file' not found)"; return; }
	eval "smp=$smp"
	local log="$log_dir/$name.log"
	# As KUT's runtime.bash: the TIMEOUT environment variable overrides the cfg entry's timeout.
	timeout=\${TIMEOUT:-\${timeout:-90s}}
	TIMEOUT=$timeout ACCEL=$accel eval "x86/run x86/$file -smp $smp \${test_args:+-append $test_args} $opts" 2>&1 < /dev/null | log_output "$name" "$log"
	local ret=\${PIPESTATUS[0]}
	local summary=$(tail -5 "$log" | grep '^SUMMARY: ' | sed 's/^SUMMARY: /(/;s/$/)/')
	# A test that did not end by itself gets a TAP line of its own after its checks' lines.
	if [ $ret -eq 0 ]; then result PASS "$name" "$summary"
	elif [ $ret -eq 77 ]; then result SKIP "$name" "$summary"
	elif [ $ret -eq 124 ]; then
		result FAIL "$name" "(timeout; duration=$timeout)"
		tap_line "not ok" "$name" "timeout; duration=$timeout"
	elif [ $ret -gt 127 ]; then
		local signame=SIG$(kill -l $((ret - 128)))
		result FAIL "$name" "(terminated on $signame)"
		tap_line "not ok" "$name" "terminated on $signame"
	elif [ $ret -eq 127 ] && [ "$tap" = yes ]; then tap_line "not ok" "$name" aborted
	else result FAIL "$name" "$summary"
	fi
}
[ "$tap" = yes ] && echo "TAP version 13"
(
exec 3>&1
[ "$tap" = yes ] && exec > /dev/null
name= file= smp=1 test_args= opts= arch= machine= check= accel= timeout= disabled_if= groups=
flush() {
	[ -n "$name" ] || return 0
	if [ "$jobs" -gt 1 ]; then
		# -j N: up to N tests at once, as KUT's run_tests.sh does.
		while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
		run_one "$name" "$file" "$smp" "$test_args" "$opts" "$arch" "$machine" "$check" "$accel" "$timeout" "$disabled_if" "$groups" &
	else
		run_one "$name" "$file" "$smp" "$test_args" "$opts" "$arch" "$machine" "$check" "$accel" "$timeout" "$disabled_if" "$groups"
	fi
}
# Its own descriptor, as KUT does: a test reading stdin must not eat the config.
exec {cfg}<x86/unittests.cfg
while IFS= read -r -u $cfg line || [ -n "$line" ]; do
	if [[ "$line" =~ ^\\[(.*)\\]$ ]]; then next=\${BASH_REMATCH[1]}; flush; name=$next; file= smp=1 test_args= opts= arch= machine= check= accel= timeout= disabled_if= groups=
	elif [[ "$line" =~ ^file\\ *=\\ *(.*)$ ]]; then file=\${BASH_REMATCH[1]}
	elif [[ "$line" =~ ^smp\\ *=\\ *(.*)$ ]]; then smp=\${BASH_REMATCH[1]}
	elif [[ "$line" =~ ^test_args\\ *=\\ *(.*)$ ]]; then test_args=\${BASH_REMATCH[1]}
	elif [[ "$line" =~ ^(extra_params|qemu_params)\\ *=\\ *'"""'(.*)$ ]]; then
		opts=\${BASH_REMATCH[2]}
		while [[ "$opts" != *'"""' ]] && IFS= read -r -u $cfg line; do opts="\${opts%\\\\} $line"; done
		opts=\${opts%'"""'}; opts=\${opts//\\\\/}
	elif [[ "$line" =~ ^(extra_params|qemu_params)\\ *=\\ *(.*)$ ]]; then opts=\${BASH_REMATCH[2]}
	elif [[ "$line" =~ ^arch\\ *=\\ *(.*)$ ]]; then arch=\${BASH_REMATCH[1]}
	elif [[ "$line" =~ ^machine\\ *=\\ *(.*)$ ]]; then machine=\${BASH_REMATCH[1]}
	elif [[ "$line" =~ ^check\\ *=\\ *(.*)$ ]]; then check=\${BASH_REMATCH[1]}
	elif [[ "$line" =~ ^accel\\ *=\\ *(.*)$ ]]; then accel=\${BASH_REMATCH[1]}
	elif [[ "$line" =~ ^timeout\\ *=\\ *(.*)$ ]]; then timeout=\${BASH_REMATCH[1]}
	elif [[ "$line" =~ ^disabled_if\\ *=\\ *(.*)$ ]]; then disabled_if=\${BASH_REMATCH[1]}
	elif [[ "$line" =~ ^groups\\ *=\\ *(.*)$ ]]; then groups=\${BASH_REMATCH[1]}
	fi
done
flush
wait
) | number_tap
# As KUT's: the status says whether run_tests.sh ran, not how its tests did.
exit 0
`;

export interface KutFixtureOptions {
	/** Adds the entries on the multi-object images (`[vmx]`, `[ept]`, `[vmx_apic]` on vmx.flat, `[emulator]`). */
	readonly sharedImages?: boolean;
	/** Text appended to x86/unittests.cfg as it is: sections a tree should not be trusted with. */
	readonly extraCfg?: string;
	/** More images, `x86/<name>.flat` → the body of its C file (headers as the others'), built like them. */
	readonly extraImages?: Readonly<Record<string, string>>;
	/** Files written over the fixture's own, whole (`x86/vmx.c` → its text): an image that behaves otherwise. */
	readonly sources?: Readonly<Record<string, string>>;
}

export async function kutFixture(options: KutFixtureOptions = {}): Promise<string> {
	const dir = mkdtempSync(path.join(os.tmpdir(), "kut-fixture-"));
	const write = (rel: string, text: string, mode = 0o644) => {
		mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
		writeFileSync(path.join(dir, rel), text);
		chmodSync(path.join(dir, rel), mode);
	};
	write("README.md", "FIXTURE shaped like kvm-unit-tests, generated by kvm-matrix's tests.\n");
	write("configure", CONFIGURE, 0o755);
	write("Makefile", MAKEFILE);
	const extraImages = Object.entries(options.extraImages ?? {});
	write(
		"x86/Makefile.x86_64",
		// Before Makefile.common is included: its rules read `tests` as they are defined.
		MAKEFILE_X86_64.replace(
			"\ninclude ",
			`\n${extraImages.map(([name]) => `tests += $(TEST_DIR)/${name}.$(exe)\n`).join("")}include `,
		),
	);
	write("x86/Makefile.common", MAKEFILE_COMMON);
	write("run_tests.sh", RUN_TESTS, 0o755);
	write("x86/run", X86_RUN, 0o755);
	write(
		"x86/unittests.cfg",
		UNITTESTS_CFG + (options.sharedImages ? SHARED_IMAGE_ENTRIES : "") + (options.extraCfg ?? ""),
	);
	write(".gitignore", "config.mak\n*.flat\n*.elf\n*.o\n.*.d\nlogs*\n.flaky-ran\n");
	for (const [name, body] of [...Object.entries(IMAGES), ...extraImages]) {
		write(
			`x86/${name}.c`,
			`#include <signal.h>\n#include <stdio.h>\n#include <unistd.h>\n#include "libcflat.h"\n${body}\n`,
		);
	}
	for (const [file, text] of Object.entries({ ...SOURCES, ...options.sources })) write(file, text);
	await git(dir, "init", "-q", "-b", "master");
	await git(dir, "add", "-A");
	await git(dir, "commit", "-q", "-m", "kut fixture");
	return dir;
}

/**
 * Commits a change to one source file of the fixture (a comment appended, so it still builds),
 * with `message` as the whole commit message (subject, body, trailers); returns the new commit.
 */
export async function commitSourceChange(dir: string, file: string, message: string): Promise<string> {
	const target = path.join(dir, file);
	writeFileSync(target, `${readFileSync(target, "utf8")}/* changed: ${message.split("\n")[0]} */\n`);
	await git(dir, "add", "--", file);
	await git(dir, "commit", "-q", "-m", message);
	return git(dir, "rev-parse", "HEAD");
}

/**
 * A matrix running the fixture at `repo` on this machine's kernel (a `host` target), with the given
 * `kut` suite line and any further top-level lines, in a fresh directory.
 */
export function hostMatrix(repo: string, name: string, suite: string, extra = ""): { dir: string; file: string } {
	const dir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
	const file = path.join(dir, "m.yaml");
	writeFileSync(
		file,
		`name: ${name}
trees:
  kut: { path: ${repo} }
kernels:
  - { name: running, prebuilt: { kernel: /boot/vmlinuz-*-amd64 } }
targets:
  - { name: host, host: true }
suites:
  kut: ${suite}
${extra}`,
	);
	return { dir, file };
}
