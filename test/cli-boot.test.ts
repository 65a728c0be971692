// `kvm-matrix boot` as a user runs it: real QEMU, Debian's real kernel.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { runCli } from "./support/cli.js";
import { debianKernel } from "./support/debian-kernel.js";

const kernel = debianKernel();
const env = { XDG_CACHE_HOME: mkdtempSync(path.join(os.tmpdir(), "cli-boot-cache-")) };

test.serial("boot -- uname -r prints the guest's kernel release and exits 0", async (t) => {
	t.timeout(200_000);
	const run = await runCli(["boot", "--kernel", kernel.image, "--smp", "1", "--", "uname", "-r"], { env });
	t.is(run.stdout, `${kernel.release}\n`);
	t.is(run.exitCode, 0, run.stderr);
	// Only the fallback warning may be on stderr, and only as one line.
	t.true(
		run.stderr
			.split("\n")
			.filter(Boolean)
			.every((l) => l.startsWith("kvm-matrix boot: warning: KVM cannot boot")),
	);
});

test.serial("boot exits with the command's status, and --json prints the outcome", async (t) => {
	t.timeout(200_000);
	const run = await runCli(
		["boot", "--kernel", kernel.image, "--smp", "1", "--json", "--", "sh", "-c", "echo out; exit 5"],
		{
			env,
		},
	);
	t.is(run.exitCode, 5);
	const outcome = JSON.parse(run.stdout) as { kind: string; exitStatus: number; consoleLog: string };
	t.is(outcome.kind, "completed");
	t.is(outcome.exitStatus, 5);
	t.true(run.stderr.includes("out\n"));
});

test.serial("a kernel panic exits 123 with the summary and the trace on stderr", async (t) => {
	t.timeout(200_000);
	const run = await runCli(
		["boot", "--kernel", kernel.image, "--smp", "1", "--", "sh", "-c", "echo c > /proc/sysrq-trigger"],
		{
			env,
		},
	);
	t.is(run.exitCode, 123);
	t.regex(run.stderr, /^kvm-matrix boot: panic: Kernel panic - not syncing: sysrq triggered crash$/m);
	t.regex(run.stderr, /^ {2}\| .*Call Trace:/m);
	t.regex(run.stderr, /^kvm-matrix boot: console log: \/.*console\.log$/m);
});

const usage: [string[], string][] = [
	[["boot", "--kernel", "/boot/x"], "kvm-matrix boot: no guest command: give one after --, e.g. -- uname -r"],
	[
		["boot", "--kernel", "k", "--memory", "4 gigs", "--", "true"],
		'kvm-matrix boot: --memory: "4 gigs" is not a size (use e.g. 512M, 4G)',
	],
	[
		["boot", "--kernel", "k", "--timeout", "90", "--", "true"],
		'kvm-matrix boot: --timeout: duration "90" needs a unit, e.g. 90s',
	],
	[
		["boot", "--kernel", "k", "--accel", "hvf", "--", "true"],
		'kvm-matrix boot: --accel must be auto, kvm or tcg, not "hvf"',
	],
	[["boot", "--kernel", "k", "--add", "nocolon", "--", "true"], 'kvm-matrix boot: --add "nocolon" must be HOST:GUEST'],
	[["boot", "--", "true"], "kvm-matrix: required option '--kernel <file>' not specified (see kvm-matrix --help)"],
];
for (const [args, line] of usage) {
	test(`usage error, one line, exit 2: ${args.slice(1).join(" ")}`, async (t) => {
		const run = await runCli(args, { env });
		t.is(run.stderr, `${line}\n`);
		t.is(run.exitCode, 2);
	});
}

test("a missing kernel file exits 125 with one line saying so", async (t) => {
	const run = await runCli(["boot", "--kernel", "/nonexistent/bzImage", "--", "true"], { env });
	t.is(run.exitCode, 125);
	t.regex(run.stderr, /^kvm-matrix boot: qemu-error: kernel image not found: \/nonexistent\/bzImage$/m);
});

test("a module that does not exist is bad input: exit 2, one line", async (t) => {
	const run = await runCli(["boot", "--kernel", kernel.image, "--load", "no_such_mod", "--", "true"], { env });
	t.is(run.exitCode, 2);
	t.regex(run.stderr, /^kvm-matrix boot: module "no_such_mod" not found in the modules directory$/m);
});
