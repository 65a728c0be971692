import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { AccelProbeCancelledError, chooseAccel, judgeProbe } from "./accel.js";
import type { BootOutcome, OutcomeKind } from "./types.js";

/** A probe's outcome as boot() reports it; only kind, summary, excerpt and exitStatus matter here. */
function outcome(kind: OutcomeKind, summary: string, extra: { excerpt?: string[]; exitStatus?: number } = {}) {
	return {
		kind,
		accel: "kvm",
		durationMs: 1,
		consoleLog: "/dev/null",
		recordsLog: "/dev/null",
		channels: [],
		truncated: { console: false, records: false },
		summary,
		excerpt: extra.excerpt ?? [summary],
		qemuCommand: [],
		moduleParams: [],
		...(extra.exitStatus === undefined ? {} : { exitStatus: extra.exitStatus }),
	} as BootOutcome;
}

const COMPLETED = outcome("completed", "the payload exited with 0", { exitStatus: 0 });
const MSR_ABORT = outcome("qemu-error", "QEMU exited with 134", {
	excerpt: [
		"qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0",
		"qemu-system-x86_64: ../target/i386/kvm/kvm.c:3202: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.",
	],
});
const PANIC = outcome("panic", "Kernel panic - not syncing: VFS: Unable to mount root fs");

test("what a probe says, and how far it reaches", (t) => {
	const table: [BootOutcome, ReturnType<typeof judgeProbe>["scope"], boolean][] = [
		[COMPLETED, "host", true],
		[outcome("oops", "WARNING in some driver", { exitStatus: 0 }), "host", true],
		[outcome("oops", "BUG: unable to handle page fault"), "kernel", false],
		[MSR_ABORT, "host", false],
		[outcome("qemu-error", "qemu-system-x86_64: Could not access KVM kernel module: Permission denied"), "host", false],
		[outcome("qemu-error", "qemu-system-x86_64: linux kernel too old to load a ram disk"), "kernel", false],
		[PANIC, "kernel", false],
		[outcome("boot-failed", "the payload never started"), "kernel", false],
		[outcome("timeout", "not finished after 60 s (booting)"), "none", false],
		[outcome("hung", "no output for 20 s (booting)"), "none", false],
	];
	for (const [probe, scope, usable] of table) {
		const verdict = judgeProbe(probe);
		t.is(verdict.scope, scope, probe.summary);
		t.is(verdict.usable, usable, probe.summary);
	}
});

/** A cache directory, a writable stand-in for /dev/kvm, a QEMU binary and two kernels. */
function host() {
	const dir = mkdtempSync(path.join(os.tmpdir(), "accel-"));
	const file = (name: string, text: string) => {
		writeFileSync(path.join(dir, name), text);
		return path.join(dir, name);
	};
	return {
		cacheDir: path.join(dir, "cache"),
		qemuBinary: file("qemu", "qemu"),
		kvmDevice: file("kvm", ""),
		broken: file("broken-bzImage", "a kernel that panics"),
		good: file("good-bzImage", "a kernel that boots"),
		cpu: undefined,
	};
}

/** A probe that answers from a table by kernel, counting its calls. */
function probes(answers: Record<string, BootOutcome>) {
	const calls: string[] = [];
	return {
		calls,
		for: (kernel: string) => async () => {
			calls.push(path.basename(kernel));
			const answer = answers[path.basename(kernel)];
			if (answer === undefined) throw new Error(`no answer for ${kernel}`);
			return answer;
		},
	};
}

test("a kernel that panics under KVM does not turn KVM off for the next kernel", async (t) => {
	const h = host();
	const p = probes({ "broken-bzImage": PANIC, "good-bzImage": COMPLETED });
	const first = await chooseAccel({ ...h, kernel: h.broken, probe: p.for(h.broken) });
	t.is(first.accel, "tcg");
	t.regex(first.warning ?? "", /ended in panic/);
	// The same broken kernel again: its own answer is remembered.
	t.is((await chooseAccel({ ...h, kernel: h.broken, probe: p.for(h.broken) })).accel, "tcg");
	// Another kernel is probed, boots, and from then on KVM is known good for every kernel.
	t.is((await chooseAccel({ ...h, kernel: h.good, probe: p.for(h.good) })).accel, "kvm");
	t.is((await chooseAccel({ ...h, kernel: h.broken, probe: p.for(h.broken) })).accel, "kvm");
	t.deepEqual(p.calls, ["broken-bzImage", "good-bzImage"]);
});

test("a kernel rebuilt in place is a new kernel for the probe", async (t) => {
	const h = host();
	const p = probes({ "broken-bzImage": PANIC });
	await chooseAccel({ ...h, kernel: h.broken, probe: p.for(h.broken) });
	writeFileSync(h.broken, "the same path, fixed and longer");
	utimesSync(h.broken, new Date(), new Date(Date.now() + 5_000));
	await chooseAccel({ ...h, kernel: h.broken, probe: p.for(h.broken) });
	t.is(p.calls.length, 2);
});

test("KVM that QEMU cannot start a guest on is the host's answer, for every kernel", async (t) => {
	const h = host();
	const p = probes({ "broken-bzImage": MSR_ABORT, "good-bzImage": COMPLETED });
	t.is((await chooseAccel({ ...h, kernel: h.broken, probe: p.for(h.broken) })).accel, "tcg");
	const other = await chooseAccel({ ...h, kernel: h.good, probe: p.for(h.good) });
	t.is(other.accel, "tcg");
	t.regex(other.warning ?? "", /failed to set MSR|qemu-error/);
	t.deepEqual(p.calls, ["broken-bzImage"]);
});

test("a probe that timed out is not remembered", async (t) => {
	const h = host();
	const p = probes({ "good-bzImage": outcome("hung", "no output for 20 s (booting)") });
	t.is((await chooseAccel({ ...h, kernel: h.good, probe: p.for(h.good) })).accel, "tcg");
	t.is((await chooseAccel({ ...h, kernel: h.good, probe: p.for(h.good) })).accel, "tcg");
	t.is(p.calls.length, 2);
});

test("the probe gets the signal; cancelled, it is not remembered", async (t) => {
	const h = host();
	const stop = new AbortController();
	let seen: AbortSignal | undefined;
	// A probe that, like boot(), stops its QEMU when the signal aborts and then reports what it saw.
	const probe = async (signal: AbortSignal | undefined) => {
		seen = signal;
		stop.abort();
		return outcome("qemu-error", "QEMU was killed (kvm: interrupted)");
	};
	await t.throwsAsync(chooseAccel({ ...h, kernel: h.good, signal: stop.signal, probe }), {
		instanceOf: AccelProbeCancelledError,
	});
	t.is(seen, stop.signal);
	const p = probes({ "good-bzImage": COMPLETED });
	t.is((await chooseAccel({ ...h, kernel: h.good, probe: p.for(h.good) })).accel, "kvm");
	t.is(p.calls.length, 1, "the cancelled probe's answer was kept");
	// Already cancelled, and nothing known: no probe at all.
	const fresh = host();
	await t.throwsAsync(
		chooseAccel({ ...fresh, kernel: fresh.good, signal: AbortSignal.abort(), probe: p.for(fresh.good) }),
		{ instanceOf: AccelProbeCancelledError },
	);
	t.is(p.calls.length, 1);
});

test("a damaged cache file is no answer, not a crash", async (t) => {
	const h = host();
	const p = probes({ "good-bzImage": COMPLETED });
	await chooseAccel({ ...h, kernel: h.good, probe: p.for(h.good) });
	writeFileSync(path.join(h.cacheDir, "accel-probe-v2.json"), '{"version":2,"records":{"x":');
	t.is((await chooseAccel({ ...h, kernel: h.good, probe: p.for(h.good) })).accel, "kvm");
	t.is(p.calls.length, 2);
});
