import test from "ava";
import { cellRegression } from "./cell-regression.js";
import { describeVerdict } from "./classify.js";

const built = { kernel: "kvm@next", sha: "a".repeat(40), run: "20261206-030000-nightly", built: true, booted: true };
const buildStop = {
	stage: "build",
	reason: "kernel build failed: arch/x86/kvm/x86.c:42:1: error: expected ';'",
	evidence: ["arch/x86/kvm/x86.c:42:1: error: expected ';'"],
};

test("a kernel build that fails where it built before is a build-regression, with the compiler's first error", (t) => {
	const v = cellRegression(buildStop, { sha: "b".repeat(40) }, [built]);
	t.is(v?.verdict, "build-regression");
	if (v === undefined) return;
	t.is(
		describeVerdict(v),
		`build-regression: built on kvm@next (${"a".repeat(12)}) in run 20261206-030000-nightly; commits ${"a".repeat(12)}..${"b".repeat(12)}; arch/x86/kvm/x86.c:42:1: error: expected ';'`,
	);
	// Never built before, or only failed there too: nothing new, the stop stays infra.
	t.is(cellRegression(buildStop, {}, []), undefined);
	t.is(cellRegression(buildStop, {}, [{ ...built, built: false, booted: false }]), undefined);
	// The harness's failures are not the kernel's.
	t.is(cellRegression({ ...buildStop, reason: "no space left on device" }, {}, [built]), undefined);
	t.is(cellRegression({ ...buildStop, stage: "checkout", reason: "git fetch failed" }, {}, [built]), undefined);
	t.is(cellRegression({ ...buildStop, resumable: true }, {}, [built]), undefined);
	// The machine stopped the compiler (out of memory, out of disk): not the sources' doing.
	t.is(
		cellRegression({ ...buildStop, evidence: ["gcc: fatal error: Killed signal terminated program cc1"] }, {}, [built]),
		undefined,
	);
	t.is(
		cellRegression({ ...buildStop, reason: "kernel build failed: No space left on device" }, {}, [built]),
		undefined,
	);
});

test("a boot that ends by the kernel's doing where it booted before is a boot-regression; a QEMU error is not", (t) => {
	const panic = {
		stage: "boot",
		reason: "panic: Kernel panic - not syncing: VFS: Unable to mount root fs",
		evidence: [],
	};
	const v = cellRegression(panic, { sha: "b".repeat(40) }, [built]);
	t.is(v?.verdict, "boot-regression");
	t.deepEqual(v?.evidence.lines, [panic.reason]);
	t.is(cellRegression(panic, {}, [{ ...built, booted: false }]), undefined);
	t.is(
		cellRegression({ ...panic, reason: "qemu-system-x86_64: failed to initialize kvm: No such file" }, {}, [built]),
		undefined,
	);
	t.is(
		cellRegression({ ...panic, reason: "hung: no output for 180s while booting" }, {}, [built])?.verdict,
		"boot-regression",
	);
	t.is(
		cellRegression(
			{ ...panic, reason: "boot-failed: the guest stopped before the payload started (QEMU exited with status 0)" },
			{},
			[built],
		)?.verdict,
		"boot-regression",
	);
	// Module parameters this CPU refuses, QEMU's own error: the machine's, not the kernel's.
	t.is(
		cellRegression(
			{ ...panic, reason: "boot-failed: module parameters do not hold, so the payload was not run: ept=0" },
			{},
			[built],
		),
		undefined,
	);
	t.is(
		cellRegression({ ...panic, reason: "qemu-error: qemu-system-x86_64: -accel kvm: No such file" }, {}, [built]),
		undefined,
	);
});
