// A small kernel-shaped git tree (tuxmake's fakelinux idea): its Makefile implements the targets
// kvm-matrix calls (tinyconfig, <fragment>.config, olddefconfig, bzImage, headers) and honours
// O=; "building" copies Debian's real kernel, so cells built from it boot for real. Its KVM
// selftests are tiny C programs compiled statically by the tree's own Makefile, each exercising
// one outcome. Branches: master (good), broken (the build fails), slow (the build never ends).
// With FAKELINUX_BUILD_LOG in make's environment, each `make bzImage` appends a line to that file:
// how tests count real builds.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { debianKernel } from "./debian-kernel.js";

const MERGE_CONFIG_CACHE = path.join(os.tmpdir(), "kvm-matrix-test-merge_config.sh");

/** The kernel's real scripts/kconfig/merge_config.sh, from Debian's linux-source (extracted once). */
async function mergeConfigScript(): Promise<string> {
	if (!existsSync(MERGE_CONFIG_CACHE)) {
		const tarball = (
			await execa("sh", ["-c", "ls /usr/src/linux-source-*.tar.xz | sort -V | tail -n 1"])
		).stdout.trim();
		if (tarball === "") throw new Error("no /usr/src/linux-source-*.tar.xz: run scripts/setup.sh");
		const top = path.basename(tarball, ".tar.xz");
		const { stdout } = await execa("tar", [
			"-xOf",
			tarball,
			"--occurrence=1",
			`${top}/scripts/kconfig/merge_config.sh`,
		]);
		writeFileSync(`${MERGE_CONFIG_CACHE}.${process.pid}`, `${stdout}\n`);
		await execa("mv", [`${MERGE_CONFIG_CACHE}.${process.pid}`, MERGE_CONFIG_CACHE]);
	}
	return MERGE_CONFIG_CACHE;
}

const TOP_MAKEFILE = (kernel: string) => `O ?= .
.PHONY: tinyconfig defconfig olddefconfig bzImage headers
tinyconfig defconfig:
\t@mkdir -p $(O)
\t@printf '# base $@\\nCONFIG_64BIT=y\\n' > $(O)/.config
%.config:
\t@cat kernel/configs/$@ >> $(O)/.config
olddefconfig:
\t@true
bzImage:
\t@if [ -n "$$FAKELINUX_BUILD_LOG" ]; then echo "$(O)" >> "$$FAKELINUX_BUILD_LOG"; fi
\t@if [ -e FAIL_BUILD ]; then echo "kernel/fail.c:3:1: error: expected ';' before '}' token" >&2; exit 2; fi
\t@if [ -e SLOW_BUILD ]; then sleep 300 & echo $$! > $(O)/sleep.pid; wait; fi
\t@mkdir -p $(O)/arch/x86/boot
\t@echo "  CC      kernel/a.o"; echo "  CC      kernel/b.o"; echo "  LD      vmlinux"
\t@cp ${kernel} $(O)/arch/x86/boot/bzImage
\t@sh scripts/fakelinux-marks.sh $(O)/arch/x86/boot/bzImage
headers:
\t@mkdir -p $(O)/usr/include/linux && echo '/* fake */' > $(O)/usr/include/linux/kvm.h
`;

// How this fake kernel can behave differently at different commits though its image is always
// Debian's: each "fakelinux: fixes bit N" comment under arch/ sets bit N of the image's root_dev
// (setup header offset 0x1FC), which the booted kernel shows in /sys/kernel/boot_params/data. A
// test program reads it as "does the kernel I run on have fix N". The kernel never uses root_dev
// here: an initramfs with /init is never asked for a root device.
const MARKS_SCRIPT = `#!/bin/sh
bits=0
for b in $(grep -rhoE 'fakelinux: fixes bit [0-9]+' arch 2>/dev/null | sed 's/.* //'); do
	bits=$((bits | (1 << b)))
done
[ "$bits" -eq 0 ] && exit 0
printf "$(printf '\\\\%03o\\\\%03o' $((bits & 255)) $((bits >> 8)))" | dd of="$1" bs=1 seek=508 conv=notrunc status=none
`;

/** C for a test program: whether the kernel it runs on carries "fakelinux: fixes bit N" (see MARKS_SCRIPT). */
export const KERNEL_HAS_FIX = `static int kernel_has_fix(int bit) {
	unsigned char b[2] = { 0, 0 };
	FILE *f = fopen("/sys/kernel/boot_params/data", "rb");
	if (!f) return 0;
	if (fseek(f, 0x1fc, SEEK_SET) != 0 || fread(b, 1, 2, f) != 2) b[0] = b[1] = 0;
	fclose(f);
	return ((b[0] | b[1] << 8) >> bit) & 1;
}
`;

const SELFTESTS_MAKEFILE = `OUTPUT ?= $(CURDIR)
TEST_GEN_PROGS := x86_64/pass_test x86_64/skip_test x86_64/tap_test x86_64/fail_test x86_64/panic_test x86_64/after_panic_test x86_64/broken_test
TEST_GEN_PROGS := $(patsubst %,$(OUTPUT)/%,$(TEST_GEN_PROGS))
all: $(TEST_GEN_PROGS)
$(OUTPUT)/%: %.c
\t@mkdir -p $(dir $@)
\t$(CC) $(EXTRA_CFLAGS) $(KHDR_INCLUDES) $< -o $@ $(LDFLAGS)
`;

const TESTS: Record<string, string> = {
	pass_test: 'int main(void) { puts("all good"); return 0; }',
	skip_test: 'int main(void) { puts("1..0 # SKIP - Requirement not met: kvm_cpu_has(X86_FEATURE_VMX)"); return 4; }',
	tap_test:
		'int main(void) { puts("TAP version 13\\n1..3\\nok 1 caps.read\\nnot ok 2 caps.write\\nok 3 caps.lbr # SKIP no LBR"); return 1; }',
	fail_test:
		'int main(void) { puts("==== Test Assertion Failure ===="); puts("  x86_64/fail_test.c:1: false"); return 254; }',
	panic_test:
		'int main(void) { FILE *f = fopen("/proc/sysrq-trigger", "w"); if (!f) return 1; fputc(\'c\', f); fclose(f); sleep(60); return 0; }',
	after_panic_test: 'int main(void) { puts("ran in a fresh boot"); return 0; }',
	broken_test: "int main(void) { return 0 }",
};

const env = {
	GIT_AUTHOR_NAME: "T",
	GIT_AUTHOR_EMAIL: "t@example.org",
	GIT_COMMITTER_NAME: "T",
	GIT_COMMITTER_EMAIL: "t@example.org",
};

export interface FakeLinuxOptions {
	/**
	 * Words added to the selftests Makefile's TEST_GEN_PROGS, each on a line of its own
	 * (`TEST_GEN_PROGS += <word>`, lines 3, 4, ...) and written as make reads them (`$$` for `$`),
	 * with no source: names a tree should not be trusted with.
	 */
	readonly injectTestNames?: readonly string[];
	/** More selftests, `x86_64/<name>` → the body of a C file (stdio.h, stdlib.h, string.h, fcntl.h, dirent.h and unistd.h included). */
	readonly extraTests?: Readonly<Record<string, string>>;
}

export async function fakeLinux(options: FakeLinuxOptions = {}): Promise<string> {
	const dir = mkdtempSync(path.join(os.tmpdir(), "fakelinux-"));
	const write = (rel: string, text: string) => {
		mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
		writeFileSync(path.join(dir, rel), text);
	};
	const extra = Object.keys(options.extraTests ?? {}).map((name) => `x86_64/${name}`);
	const [first = "", ...rest] = SELFTESTS_MAKEFILE.split("\n");
	const [list = "", ...after] = rest;
	const selftestsMakefile = [
		first,
		extra.length === 0 ? list : `${list} ${extra.join(" ")}`,
		...(options.injectTestNames ?? []).map((word) => `TEST_GEN_PROGS += ${word}`),
		...after,
	].join("\n");
	write("Makefile", TOP_MAKEFILE(debianKernel().image));
	write("scripts/fakelinux-marks.sh", MARKS_SCRIPT);
	write("scripts/kconfig/merge_config.sh", "");
	await execa("cp", [await mergeConfigScript(), path.join(dir, "scripts/kconfig/merge_config.sh")]);
	chmodSync(path.join(dir, "scripts/kconfig/merge_config.sh"), 0o755);
	write("kernel/configs/kvm_guest.config", "CONFIG_VIRTIO=y\nCONFIG_KVM=m\n");
	write("tools/testing/selftests/kvm/Makefile", selftestsMakefile);
	write("tools/testing/selftests/kvm/config", "CONFIG_KVM=y\n");
	write("tools/testing/selftests/kvm/settings", "timeout=30\n");
	for (const [name, body] of Object.entries(TESTS)) {
		write(`tools/testing/selftests/kvm/x86_64/${name}.c`, `#include <stdio.h>\n#include <unistd.h>\n${body}\n`);
	}
	for (const [name, body] of Object.entries(options.extraTests ?? {})) {
		const headers = ["stdio.h", "stdlib.h", "string.h", "fcntl.h", "dirent.h", "unistd.h"];
		write(
			`tools/testing/selftests/kvm/x86_64/${name}.c`,
			`${headers.map((h) => `#include <${h}>`).join("\n")}\n${body}\n`,
		);
	}
	const git = (...args: string[]) => execa("git", args, { cwd: dir, env });
	await git("init", "-q", "-b", "master");
	await git("add", "-A");
	await git("commit", "-q", "-m", "fakelinux");
	for (const [branch, marker] of [
		["broken", "FAIL_BUILD"],
		["slow", "SLOW_BUILD"],
	] as const) {
		await git("checkout", "-q", "-b", branch, "master");
		write(marker, "");
		await git("add", marker);
		await git("commit", "-q", "-m", `${branch}: ${marker}`);
	}
	await git("checkout", "-q", "master");
	return dir;
}

/**
 * The verdict story on the fakelinux tree, as real commits (DESIGN.md, the maintainers' thread):
 * `story-next` carries a KVM fix (patch 2 of a series); `story-master` does not, but carries the
 * test commit that links the fix's series (cover letter) and its own posting, and a commit that
 * breaks regress_test, which passes on story-next: one pending fix, one real regression.
 */
export async function fakeLinuxWithStory(): Promise<string> {
	const dir = await fakeLinux();
	const write = (rel: string, text: string) => {
		mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
		writeFileSync(path.join(dir, rel), text);
	};
	const git = (...args: string[]) => execa("git", args, { cwd: dir, env });
	const kvmTests = "tools/testing/selftests/kvm";
	await git("checkout", "-q", "-b", "story-base", "master");
	write(`${kvmTests}/x86_64/regress_test.c`, '#include <stdio.h>\nint main(void) { puts("fine"); return 0; }\n');
	const makefile = (await execa("cat", [path.join(dir, kvmTests, "Makefile")])).stdout;
	write(
		`${kvmTests}/Makefile`,
		`${makefile.replace("x86_64/broken_test", "x86_64/broken_test x86_64/regress_test")}\n`,
	);
	await git("add", "-A");
	await git("commit", "-q", "-m", "KVM: selftests: add regress_test");
	await git("checkout", "-q", "-b", "story-next", "story-base");
	write("arch/x86/kvm/x86.c", "/* the fix */\n");
	await git("add", "-A");
	await git(
		"commit",
		"-q",
		"-m",
		"KVM: x86: Fix the thing fail_test checks\n\nLink: https://patch.msgid.link/20260101000000.4242-2-dev@example.org",
	);
	await git("checkout", "-q", "-b", "story-master", "story-base");
	const failTest = (await execa("cat", [path.join(dir, kvmTests, "x86_64/fail_test.c")])).stdout;
	write(`${kvmTests}/x86_64/fail_test.c`, `${failTest}\n/* checks the thing */\n`);
	await git("add", "-A");
	await git(
		"commit",
		"-q",
		"-m",
		"KVM: selftests: check the thing in fail_test\n\nLink: https://lore.kernel.org/all/20260101000000.4242-1-dev@example.org\nLink: https://lore.kernel.org/r/20260102000000.777-1-qa@example.org",
	);
	write(`${kvmTests}/x86_64/regress_test.c`, '#include <stdio.h>\nint main(void) { puts("broken"); return 1; }\n');
	await git("add", "-A");
	await git("commit", "-q", "-m", "KVM: selftests: a change that breaks regress_test");
	await git("checkout", "-q", "master");
	return dir;
}
