import test from "ava";
import { firstSplat, intermittentWords } from "./report-kind.js";

const text = (...lines: string[]) => [{ where: "description", lines }];

test("words that say a failure comes and goes, as reporters write them", (t) => {
	for (const line of [
		"the test fails with about 60% of failure chance",
		"It fails 3 out of 10 runs here",
		"vmx_preemption_timer_expiry_test fails sometimes",
		"the failure is intermittent on SPR",
		"it does not reproduce reliably; not 100% reproducible",
		"We see this occasionally on the nightly",
		"flaky on Icelake",
	])
		t.is(intermittentWords(text(line))?.text, line, line);
	for (const line of [
		"The test fails on 6.1",
		"FAIL: VMXON with CR0 bit 5 cleared should #GP, got '6'",
		"100% of the time",
	])
		t.is(intermittentWords(text(line)), undefined, line);
});

test("a kernel splat, with the task that was running when a log has one", (t) => {
	const { splat, fuzzed } = firstSplat([
		{ where: "title", lines: ["WARNING: CPU: 0 PID: 884 at arch/x86/kvm/../../../virt/kvm/kvm_main.c:3162"] },
		{
			where: "mail 1",
			lines: [
				"# selftests: kvm: hyperv_clock",
				"[   59.757297] WARNING: CPU: 0 PID: 884 at",
				"arch/x86/kvm/../../../virt/kvm/kvm_main.c:3162",
				"[   59.773531] CPU: 0 PID: 884 Comm: hyperv_clock Not tainted 5.17.0-rc8 #1",
			],
		},
	]);
	t.false(fuzzed);
	t.deepEqual(splat, { text: "WARNING: CPU: 0 PID: 884 at", where: "mail 1", line: 1, comm: "hyperv_clock" });
	const syzbot = firstSplat(
		text(
			"syzbot found the following issue on:",
			"WARNING: CPU: 0 PID: 12623 at arch/x86/kvm/mmu/tdp_mmu.c:943 f+0x2bd",
		),
	);
	t.true(syzbot.fuzzed);
	t.is(syzbot.splat?.comm, undefined);
	t.deepEqual(firstSplat(text("FAIL vmx (3 tests, 1 unexpected failures)")), { fuzzed: false });
});
