import test from "ava";
import { FaultScanner, stripTimestamp } from "./scan.js";

// Shapes from real 6.1 kernels: `echo c > /proc/sysrq-trigger`, a WARN_ON, a NULL dereference.
const SYSRQ = `[    5.101010] sysrq: Trigger a crash
[    5.101500] Kernel panic - not syncing: sysrq triggered crash
[    5.102000] CPU: 0 PID: 71 Comm: sh Not tainted 6.1.0-56-amd64 #1  Debian 6.1.158-1
[    5.102100] Call Trace:
[    5.102200]  <TASK>
[    5.102300]  dump_stack_lvl+0x44/0x5c
[    5.102400]  panic+0x118/0x2ed
[    5.102500]  sysrq_handle_crash+0x16/0x20
[    5.102600]  </TASK>
[    5.102700] Kernel Offset: 0x2a400000 from 0xffffffff81000000
[    5.102800] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---`.split("\n");

const WARN = `[   12.000000] ------------[ cut here ]------------
[   12.000001] WARNING: CPU: 1 PID: 300 at arch/x86/kvm/x86.c:10537 kvm_arch_vcpu_ioctl_run+0x1234/0x1500 [kvm]
[   12.000002] Modules linked in: kvm_amd kvm irqbypass
[   12.000003] Call Trace:
[   12.000004]  <TASK>
[   12.000005]  kvm_vcpu_ioctl+0x2ab/0x6f0 [kvm]
[   12.000006]  </TASK>
[   12.000007] ---[ end trace 0000000000000000 ]---`.split("\n");

const feed = (lines: readonly string[], scanner = new FaultScanner()) => {
	for (const line of lines) scanner.push(line);
	return scanner;
};

test("stripTimestamp removes the printk time only", (t) => {
	t.is(stripTimestamp("[    5.101500] Kernel panic - x"), "Kernel panic - x");
	t.is(stripTimestamp("plain [1.0] text"), "plain [1.0] text");
});

test("a sysrq crash is a panic, with the lines before it and the trace to its end marker", (t) => {
	const panic = feed(["[    1.0] boot noise", ...SYSRQ, "[    6.0] after"]).panic;
	t.is(panic?.headline, "Kernel panic - not syncing: sysrq triggered crash");
	t.true(panic?.complete);
	t.is(panic?.excerpt.at(-1), SYSRQ.at(-1));
	t.true(panic?.excerpt.includes("[    5.101010] sysrq: Trigger a crash"));
	t.true(panic?.excerpt.some((l) => l.includes("sysrq_handle_crash")));
	t.false(panic?.excerpt.includes("[    6.0] after"));
});

test("a WARNING with a call trace is an oops, captured to its end marker", (t) => {
	const s = feed(["[ 11.0] fine", ...WARN, "[ 13.0] later"]);
	t.is(s.panic, undefined);
	t.is(s.oops?.headline.slice(0, 36), "WARNING: CPU: 1 PID: 300 at arch/x86");
	t.deepEqual(s.oops?.excerpt, WARN.slice(1));
	t.is(s.oopsCount, 1);
});

test("an oops followed by a panic is a panic whose excerpt starts at the oops", (t) => {
	const s = feed([
		"[ 1.0] BUG: kernel NULL pointer dereference, address: 0000000000000000",
		"[ 1.1] Oops: 0002 [#1] PREEMPT SMP NOPTI",
		"[ 1.2] Call Trace:",
		"[ 1.3] Kernel panic - not syncing: Fatal exception",
		"[ 1.4] ---[ end Kernel panic - not syncing: Fatal exception ]---",
	]);
	t.is(s.panic?.headline, "Kernel panic - not syncing: Fatal exception");
	t.is(s.panic?.excerpt[0], "[ 1.0] BUG: kernel NULL pointer dereference, address: 0000000000000000");
	t.is(s.panic?.excerpt.length, 5);
});

test("ordinary output mentioning panics is not a fault", (t) => {
	const s = feed(["test: checking that the kernel does not panic", "PASS: no WARNING: seen", "echo BUG: x"]);
	t.is(s.panic, undefined);
	t.is(s.oops, undefined);
});

test("an excerpt without an end marker stops at its line limit", (t) => {
	const s = feed(["WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x1", ...Array.from({ length: 500 }, (_, i) => `line ${i}`)]);
	t.is(s.oops?.excerpt.length, 120);
	t.true(s.oops?.complete);
});
