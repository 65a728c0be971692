import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { selftestEntrySources, selftestSources } from "./sources.js";

const KVM = "tools/testing/selftests/kvm";

// Dependency files in the shape the kernels' `-MD` (since 6.4) and `-MD -MP` builds write: make runs
// in the selftests directory, so the test and its own headers are relative to it, tools headers
// climb out through $(top_srcdir), system and exported headers are absolute.
const MAINLINE = `/cache/selftests/abc/out/x86/nested_test.o: x86/nested_test.c \\
 /usr/include/stdc-predef.h include/kvm_util.h include/x86/processor.h \\
 ../../../../tools/include/linux/bitmap.h x86/nested_helpers.h \\
 /cache/selftests/abc/headers/usr/include/linux/kvm.h \\
 lib/x86/inline.c x86/../x86/shared_body.c
include/kvm_util.h:
x86/nested_helpers.h:
`;
const OUT_OF_TREE = `/o/x86_64/cpuid_test.o: /w/linux/tools/testing/selftests/kvm/x86_64/cpuid_test.c \\
 /w/linux/tools/testing/selftests/kvm/include/test_util.h \\
 /w/linux/tools/testing/selftests/kvm/x86_64/cpuid_helpers.h \\
 /w/linux/tools/testing/selftests/../../../tools/include/linux/compiler.h
`;
const TOP_LEVEL = `/o/dirty_log_test.o: dirty_log_test.c include/kvm_util.h lib/kvm_util.c x86/stray.h
`;

const table: [string, string, string | undefined, string[], string][] = [
	[
		"6.1 writes no dependency file: the test's .c",
		"x86_64/cpuid_test",
		undefined,
		[`${KVM}/x86_64/cpuid_test.c`],
		"image-name",
	],
	[
		"mainline: its own directory's files, never lib/, include/ or headers outside",
		"x86/nested_test",
		MAINLINE,
		[`${KVM}/x86/nested_helpers.h`, `${KVM}/x86/nested_test.c`, `${KVM}/x86/shared_body.c`],
		"build",
	],
	[
		"absolute paths are cut at the selftests directory",
		"x86_64/cpuid_test",
		OUT_OF_TREE,
		[`${KVM}/x86_64/cpuid_helpers.h`, `${KVM}/x86_64/cpuid_test.c`],
		"build",
	],
	[
		"a test at the top of kvm/: lib/ and include/ still excluded",
		"dirty_log_test",
		TOP_LEVEL,
		[`${KVM}/dirty_log_test.c`, `${KVM}/x86/stray.h`],
		"build",
	],
];

for (const [title, id, dep, files, basis] of table) {
	test(`selftestEntrySources: ${title}`, (t) => {
		t.deepEqual(selftestEntrySources(id, dep), { files, basis });
	});
}

test("selftestSources reads <outputDir>/<id>.d when the build wrote one", async (t) => {
	const out = mkdtempSync(path.join(os.tmpdir(), "selftests-out-"));
	mkdirSync(path.join(out, "x86"));
	writeFileSync(path.join(out, "x86", "nested_test.d"), MAINLINE);
	const request = { repo: "/nonexistent", sha: "abc" };
	t.is((await selftestSources({ ...request, id: "x86/nested_test", outputDir: out })).basis, "build");
	t.deepEqual(await selftestSources({ ...request, id: "x86/cpuid_test", outputDir: out }), {
		files: [`${KVM}/x86/cpuid_test.c`],
		basis: "image-name",
	});
	t.is((await selftestSources({ ...request, id: "x86/nested_test" })).basis, "image-name");
});
