// The runner against real QEMU and Debian's real kernel (both installed by scripts/setup.sh).
// Serial: each boot is a TCG guest that wants both cores.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
	BootCancelledError,
	type BootOutcome,
	type BootRequest,
	boot,
	kernelRelease,
	sameValue,
} from "@kvm-matrix/qemu-runner";
import test from "ava";
import { execa } from "execa";
import { debianKernel } from "./support/debian-kernel.js";

const kernel = debianKernel();
const scratch = mkdtempSync(path.join(os.tmpdir(), "qemu-runner-test-"));
const cacheDir = path.join(scratch, "cache");
let boots = 0;

function request(payload: BootRequest["payload"], extra: Partial<BootRequest> = {}): BootRequest {
	return {
		kernel: kernel.image,
		payload,
		smp: 1,
		memoryBytes: 1024 * 2 ** 20,
		timeoutMs: 150_000,
		noOutputTimeoutMs: 60_000,
		cacheDir,
		workDir: path.join(scratch, `boot-${++boots}`),
		...extra,
	};
}
const sh = (script: string): BootRequest["payload"] => ({ kind: "command", argv: ["sh", "-c", script] });

async function run(req: BootRequest) {
	const payload: string[] = [];
	const kernelLines: string[] = [];
	const records: unknown[] = [];
	const outcome = await boot(req, {
		onConsoleLine: ({ source, line }) => (source === "payload" ? payload : kernelLines).push(line),
		onRecord: (r) => records.push(r),
	});
	return { outcome, payload, kernelLines, records };
}

/** QEMU processes still running whose command line mentions `text`. */
async function qemuMentioning(text: string): Promise<number> {
	const { stdout } = await execa("pgrep", ["-f", `qemu-system-x86_64.*${text}`], { reject: false });
	return stdout.trim() === "" ? 0 : stdout.trim().split("\n").length;
}

test.serial("uname -r: the payload's output comes back, status 0, on the accelerator that works here", async (t) => {
	t.timeout(200_000);
	const { outcome, payload } = await run(request({ kind: "command", argv: ["uname", "-r"] }));
	t.is(outcome.kind, "completed", outcome.summary);
	t.deepEqual(payload, [kernel.release]);
	t.is(outcome.kind === "completed" ? outcome.exitStatus : -1, 0);
	t.is(await kernelRelease(kernel.image), kernel.release);
	// FACTS.md: a Linux guest cannot boot under this machine's software KVM, so auto falls back, and says why.
	if (outcome.accel === "tcg") t.regex(outcome.accelWarning ?? "", /^KVM cannot boot a guest here \(.+\); using TCG/);
	t.true(readFileSync(outcome.consoleLog, "utf8").includes("Run /init as init process"));
	t.true(outcome.qemuCommand.some((arg) => arg === (outcome.accel === "tcg" ? "max" : "host")));
});

test.serial(
	"exit status, added files and payload records all arrive; console text cannot forge a record or a panic",
	async (t) => {
		t.timeout(200_000);
		const tool = path.join(scratch, "tool.sh");
		writeFileSync(tool, '#!/bin/sh\necho "tool ran with [$1]"\n', { mode: 0o755 });
		const script = [
			"/opt/tool.sh 'a b'",
			`kvm-matrix-record '{"test":"x86/cpuid_test","status":"pass"}'`,
			// Pretend to be the init's end record and a kernel panic, on the payload's own output:
			`echo '{"nonce":"0000","t":"exit","status":0}'`,
			"echo 'Kernel panic - not syncing: fake'",
			"echo '[    1.000000] Kernel panic - not syncing: fake' > /dev/ttyS1",
			"exit 7",
		].join("\n");
		const { outcome, payload, records } = await run(
			request({ kind: "script", text: script }, { files: [{ host: tool, guest: "/opt/tool.sh" }] }),
		);
		t.is(outcome.kind, "completed", outcome.summary);
		t.is(outcome.kind === "completed" ? outcome.exitStatus : -1, 7);
		t.true(payload.includes("tool ran with [a b]"));
		t.true(payload.includes("Kernel panic - not syncing: fake"));
		t.deepEqual(records, [{ test: "x86/cpuid_test", status: "pass" }]);
	},
);

test.serial("with Debian's KVM modules loaded under TCG -cpu max, the guest has a working /dev/kvm", async (t) => {
	t.timeout(200_000);
	const { outcome, payload } = await run(
		request(
			sh("test -c /dev/kvm && echo has-dev-kvm; grep -c svm /proc/cpuinfo; cat /sys/module/kvm_amd/parameters/nested"),
			{
				modules: [{ name: "kvm-amd", params: ["nested=1"] }],
				accel: "tcg",
			},
		),
	);
	t.is(outcome.kind, "completed", outcome.summary);
	t.is(payload[0], "has-dev-kvm");
	t.not(payload[1], "0");
	t.true(["1", "Y"].includes(payload[2] ?? ""), `nested=${payload[2]}`);
	t.false(readFileSync(outcome.consoleLog, "utf8").includes("could not load"));
});

test.serial("module parameters are read back before the payload, which runs only if they hold", async (t) => {
	t.timeout(400_000);
	const modules = [{ name: "kvm-amd", params: ["nested=0"] }];
	const held = await run(
		request(sh("echo ran"), {
			modules,
			accel: "tcg",
			requireModuleParams: [
				{ module: "kvm_amd", param: "nested", value: "0" },
				{ module: "kvm", param: "tdp_mmu", value: "Y" },
			],
		}),
	);
	t.is(held.outcome.kind, "completed", held.outcome.summary);
	t.deepEqual(held.payload, ["ran"]);
	t.deepEqual(
		held.outcome.moduleParams.map((r) => [r.module, r.param, r.got, r.holds]),
		[
			["kvm_amd", "nested", "0", true],
			["kvm", "tdp_mmu", "Y", true],
		],
	);
	// Asked for what the module was not given and a parameter it does not have: the payload never
	// runs, and the summary says each in words. The other vendor's module does not apply (TCG's max
	// CPU is AMD's), which is said but is no failure.
	const refused = await run(
		request(sh("echo ran"), {
			modules,
			accel: "tcg",
			requireModuleParams: [
				{ module: "kvm_amd", param: "nested", value: "1" },
				{ module: "kvm_amd", param: "no_such_param", value: "1" },
				{ module: "kvm_intel", param: "ept", value: "0" },
			],
		}),
	);
	t.is(refused.outcome.kind, "boot-failed");
	t.is(refused.outcome.paramsRefused, "mismatch");
	t.deepEqual(refused.payload, []);
	t.is(
		refused.outcome.summary,
		"module parameters do not hold, so the payload was not run: kvm_amd.nested is 0, not 1; kvm_amd has no parameter no_such_param (asked no_such_param=1)",
	);
	t.deepEqual(
		refused.outcome.moduleParams.map((r) => [r.module, r.missing, r.cpu, r.holds]),
		[
			["kvm_amd", undefined, undefined, false],
			["kvm_amd", "param", undefined, false],
			["kvm_intel", "vendor", "AuthenticAMD", true],
		],
	);
	// Nothing asked applies here: refused as such (the caller skips); KVM not up: refused as such.
	const intel = await run(
		request(sh("echo ran"), {
			modules,
			accel: "tcg",
			requireModuleParams: [{ module: "kvm_intel", param: "ept", value: "0" }],
		}),
	);
	t.is(intel.outcome.paramsRefused, "none-apply");
	t.deepEqual(intel.payload, []);
	const noKvm = await run(
		request(sh("echo ran"), {
			modules: [{ name: "kvm", params: [] }],
			accel: "tcg",
			requireModuleParams: [{ module: "kvm", param: "tdp_mmu", value: "on" }],
		}),
	);
	t.is(noKvm.outcome.paramsRefused, "no-kvm", noKvm.outcome.summary);
	t.regex(noKvm.outcome.summary, /^KVM did not come up under the module parameters \(no \/dev\/kvm\)/);
	t.deepEqual(noKvm.payload, []);
});

test("module parameter values compare as the kernel parses a bool", (t) => {
	const cases: [string, string, boolean][] = [
		["Y", "1", true],
		["Y", "on", true],
		["N", "off", true],
		["N", "false", true],
		["Y", "yes", true],
		["N", "1", false],
		["0", "0", true],
		["0", "N", false],
		["200000", "200000", true],
	];
	for (const [got, asked, same] of cases) t.is(sameValue(got, asked), same, `${got} vs ${asked}`);
});

test.serial("echo c > /proc/sysrq-trigger: a panic with its trace, within the time limit", async (t) => {
	t.timeout(200_000);
	const req = request(sh("echo c > /proc/sysrq-trigger; sleep 1000"), { timeoutMs: 120_000 });
	const { outcome } = await run(req);
	t.is(outcome.kind, "panic", outcome.summary);
	t.is(outcome.summary, "Kernel panic - not syncing: sysrq triggered crash");
	t.true(outcome.excerpt.some((l) => l.includes("sysrq_handle_crash")));
	// panic=-1 restarts before the kernel prints its "---[ end Kernel panic" line.
	t.true(outcome.excerpt.some((l) => l.includes("Call Trace:")));
	t.true(outcome.durationMs < 120_000 + 5_000);
	t.is(await qemuMentioning(req.workDir ?? "?"), 0);
});

test.serial("sleep 100000: hung after the no-output limit, and timeout under the overall limit", async (t) => {
	t.timeout(300_000);
	const hung = await run(request(sh("echo sleeping; sleep 100000"), { noOutputTimeoutMs: 15_000 }));
	t.is(hung.outcome.kind, "hung", hung.outcome.summary);
	t.is(hung.outcome.summary, "no output for 15s while the payload ran: the guest is hung");
	t.true(hung.outcome.durationMs < 150_000 + 5_000);
	t.true(hung.outcome.excerpt.length > 0);

	const ticking = request(sh("while :; do echo tick; sleep 1; done"), { timeoutMs: 40_000, noOutputTimeoutMs: 30_000 });
	const timeout = await run(ticking);
	t.is(timeout.outcome.kind, "timeout", timeout.outcome.summary);
	t.true(timeout.outcome.durationMs < 40_000 + 5_000, `${timeout.outcome.durationMs} ms`);
	t.true(timeout.outcome.excerpt.includes("tick"));
	t.is(await qemuMentioning(ticking.workDir ?? "?"), 0);
});

test.serial("a payload stuck while the kernel keeps printing is hung: only the payload shows progress", async (t) => {
	t.timeout(300_000);
	// What a soft lockup looks like from outside: kernel messages go on, the payload says nothing.
	const { outcome } = await run(
		request(sh("echo started; while :; do echo kernel-noise > /dev/kmsg; sleep 1; done"), {
			noOutputTimeoutMs: 12_000,
		}),
	);
	t.is(outcome.kind, "hung", outcome.summary);
	t.true(readFileSync(outcome.consoleLog, "utf8").includes("kernel-noise"));
});

test.serial("a 200 MB flood: the log is capped and marked, host memory stays bounded", async (t) => {
	t.timeout(400_000);
	const cap = 8 * 2 ** 20;
	const line = "x".repeat(99);
	let peak = 0;
	const before = process.memoryUsage().rss;
	const sampler = setInterval(() => {
		peak = Math.max(peak, process.memoryUsage().rss);
	}, 100);
	let lines = 0;
	const outcome = await boot(request(sh(`yes ${line} | head -c 200000000; echo flood-done`), { logCapBytes: cap }), {
		onConsoleLine: ({ source }) => {
			if (source === "payload") lines++;
		},
	}).finally(() => clearInterval(sampler));
	t.is(outcome.kind, "completed", outcome.summary);
	t.true(lines >= 2_000_000, `${lines} lines streamed`);
	t.true(outcome.truncated.console);
	const size = statSync(outcome.consoleLog).size;
	t.true(size <= cap + 200, `console.log is ${size} bytes`);
	const log = readFileSync(outcome.consoleLog, "utf8");
	t.regex(log, /\[kvm-matrix: log capped at 8388608 bytes; the rest is dropped\]\n/);
	t.regex(log, /\[kvm-matrix: \d+ bytes dropped\]\n$/);
	// Buffering the flood would need over 200 MB; measured growth stays far below.
	const growth = (peak - before) / 2 ** 20;
	t.log(`RSS before ${(before / 2 ** 20).toFixed(0)} MiB, peak ${(peak / 2 ** 20).toFixed(0)} MiB`);
	t.true(growth < 100, `RSS grew by ${growth.toFixed(0)} MiB`);
});

test.serial("an oops (WARN from a module) is classified with its trace; the command still finished", async (t) => {
	t.timeout(200_000);
	const dir = path.join(scratch, "warn-module");
	mkdirSync(dir);
	writeFileSync(
		path.join(dir, "warn.c"),
		'#include <linux/module.h>\n#include <linux/bug.h>\nstatic int __init kvmm_warn_init(void) { WARN(1, "kvm-matrix test"); return 0; }\nmodule_init(kvmm_warn_init);\nMODULE_LICENSE("GPL");\n',
	);
	writeFileSync(path.join(dir, "Makefile"), "obj-m := warn.o\n");
	await execa("make", ["-s", "-C", `/lib/modules/${kernel.release}/build`, `M=${dir}`, "modules"]);
	const { outcome } = await run(
		request(sh("insmod /warn.ko && echo loaded"), { files: [{ host: path.join(dir, "warn.ko"), guest: "/warn.ko" }] }),
	);
	t.is(outcome.kind, "oops", outcome.summary);
	t.is(outcome.kind === "oops" ? outcome.exitStatus : -1, 0);
	t.regex(
		outcome.summary,
		/^WARNING: CPU: \d+ PID: \d+ at .*warn\.c:3 kvmm_warn_init.*; the command exited with status 0$/,
	);
	t.true(outcome.excerpt.some((l) => l.includes("Call Trace:")));
	t.regex(outcome.excerpt.at(-1) ?? "", /---\[ end trace [0-9a-f]+ \]---/);
});

test.serial("a shared directory is readable in the guest and cannot be written", async (t) => {
	t.timeout(200_000);
	const shared = path.join(scratch, "shared");
	mkdirSync(shared);
	writeFileSync(path.join(shared, "hello.txt"), "from the host\n");
	const { outcome, payload } = await run(
		request(
			sh(
				"cat /host/hello.txt; echo x > /host/hello.txt && echo WROTE; touch /host/new && echo CREATED; mount | grep -c ' /host .*ro'",
			),
			{ shares: [{ host: shared, guest: "/host" }] },
		),
	);
	t.is(outcome.kind, "completed", outcome.summary);
	t.is(payload[0], "from the host");
	t.false(payload.includes("WROTE"));
	t.false(payload.includes("CREATED"));
	t.is(readFileSync(path.join(shared, "hello.txt"), "utf8"), "from the host\n");
	t.deepEqual(readdirSync(shared), ["hello.txt"]);
});

test.serial("aborting a boot kills QEMU and keeps the log", async (t) => {
	t.timeout(200_000);
	const controller = new AbortController();
	const req = request(sh("echo started; sleep 1000"), { signal: controller.signal });
	const pending = boot(req, {
		onConsoleLine: ({ line }) => {
			if (line === "started") controller.abort();
		},
	});
	const error = await t.throwsAsync(pending, { instanceOf: BootCancelledError });
	t.true(existsSync(error?.consoleLog ?? "/nonexistent"));
	t.is(await qemuMentioning(req.workDir ?? "?"), 0);
});

const failures: [string, Partial<BootRequest>, BootOutcome["kind"], RegExp][] = [
	[
		"a bad QEMU option",
		{ extraQemuArgs: ["-frobnicate"] },
		"qemu-error",
		/^qemu-system-x86_64: -frobnicate: invalid option$/,
	],
	["a CPU model QEMU does not know", { cpu: "no-such-cpu", accel: "tcg" }, "qemu-error", /no-such-cpu/],
	["a missing QEMU binary", { qemuBinary: "/nonexistent/qemu-system-x86_64" }, "qemu-error", /not found \(install it/],
	[
		"a missing kernel file",
		{ kernel: "/nonexistent/bzImage" },
		"qemu-error",
		/^kernel image not found: \/nonexistent\/bzImage$/,
	],
	["a file that is not a kernel", { kernel: "/etc/hostname", accel: "tcg" }, "qemu-error", /./],
];
for (const [what, extra, kind, message] of failures) {
	test.serial(`${what} is a ${kind} with QEMU's message`, async (t) => {
		const { outcome } = await run(request({ kind: "command", argv: ["true"] }, extra));
		t.is(outcome.kind, kind, outcome.summary);
		t.regex(outcome.summary, message);
	});
}
