import test from "ava";
import { payloadScript, shellQuote } from "./initramfs/init-script.js";
import { BASE_CMDLINE, qemuArgs } from "./qemu-args.js";

const input = {
	accel: "tcg" as const,
	cpu: "max",
	smp: 2,
	memoryBytes: 1536 * 2 ** 20,
	kernel: "/boot/vmlinuz",
	initrd: "/w/initrd.img",
	cmdline: ["kvm.enable_pmu=0"],
	recordSocket: "/s/r",
	outputSocket: "/s/o",
	shares: [{ host: "/data,with,commas", tag: "kvmm0" }],
};

const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

test("qemuArgs: accelerator, CPU, memory in MiB, kernel, initrd and cmdline additions last", (t) => {
	const args = qemuArgs(input);
	t.is(after(args, "-accel"), "tcg");
	t.is(after(args, "-cpu"), "max");
	t.is(after(args, "-smp"), "2");
	t.is(after(args, "-m"), "1536M");
	t.is(after(args, "-kernel"), "/boot/vmlinuz");
	t.is(after(args, "-initrd"), "/w/initrd.img");
	t.is(after(args, "-append"), [...BASE_CMDLINE, "kvm.enable_pmu=0"].join(" "));
	t.true(args.includes("-no-reboot"));
});

test("qemuArgs: console on stdio, records on ttyS1, payload output on a named virtio port", (t) => {
	const args = qemuArgs(input);
	const serials = args.flatMap((a, i) => (a === "-serial" ? [args[i + 1]] : []));
	t.deepEqual(serials, ["chardev:console", "chardev:records"]);
	t.true(args.includes("socket,id=records,path=/s/r"));
	t.true(args.includes("virtserialport,bus=vser.0,chardev=output,name=kvm-matrix.out"));
});

test("qemuArgs: each private channel is a named virtio port of its own on its own socket", (t) => {
	const args = qemuArgs({ ...input, channels: [{ name: "results", socket: "/s/c0" }] });
	t.true(args.includes("socket,id=channel0,path=/s/c0"));
	t.true(args.includes("virtserialport,bus=vser.0,chardev=channel0,name=kvm-matrix.ch.results"));
	t.false(qemuArgs(input).some((a) => a.includes("kvm-matrix.ch.")));
});

test("qemuArgs: shares are read-only 9p, with commas in paths escaped", (t) => {
	t.is(
		after(qemuArgs(input), "-virtfs"),
		"local,path=/data,,with,,commas,mount_tag=kvmm0,security_model=none,readonly=on,multidevs=remap",
	);
});

test("shellQuote survives quotes, spaces and $()", (t) => {
	t.is(shellQuote("a b"), "'a b'");
	t.is(shellQuote("it's"), "'it'\\''s'");
	t.is(payloadScript({ kind: "command", argv: ["echo", "$(id)", "x'y"] }), "'echo' '$(id)' 'x'\\''y'\n");
	t.is(payloadScript({ kind: "script", text: "echo hi\n" }), "echo hi\n");
});
