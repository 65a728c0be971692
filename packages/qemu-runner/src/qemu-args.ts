import { channelPortName } from "./channel.js";
import { OUTPUT_PORT_NAME } from "./initramfs/init-script.js";
import type { UsedAccel } from "./types.js";

export interface QemuArgsInput {
	readonly accel: UsedAccel;
	readonly cpu: string;
	readonly smp: number;
	readonly memoryBytes: number;
	readonly kernel: string;
	readonly initrd: string;
	readonly cmdline: readonly string[];
	readonly recordSocket: string;
	readonly outputSocket: string;
	readonly shares: readonly { readonly host: string; readonly tag: string }[];
	/** Private channels, each a virtio-serial port on its own Unix socket. */
	readonly channels?: readonly { readonly name: string; readonly socket: string }[];
}

/** The kernel command line every boot gets; the request's additions come after, so they win. */
export const BASE_CMDLINE = ["console=ttyS0", "rdinit=/init", "panic=-1", "8250.nr_uarts=2"] as const;

/**
 * QEMU's arguments (without the binary). ttyS0 is the console on QEMU's stdout; ttyS1 is the
 * record channel on a Unix socket; a virtio-serial port carries the payload's output, and one
 * more port each private channel; shares are 9p, read-only. `-no-reboot` turns the guest's reboot after a panic (panic=-1) into
 * QEMU exiting, so a panic ends the boot at once.
 */
export function qemuArgs(input: QemuArgsInput): string[] {
	const megabytes = Math.max(1, Math.floor(input.memoryBytes / 2 ** 20));
	const args = [
		"-nodefaults",
		"-no-user-config",
		"-display",
		"none",
		"-no-reboot",
		"-accel",
		input.accel,
		"-cpu",
		input.cpu,
		"-smp",
		String(input.smp),
		"-m",
		`${megabytes}M`,
		"-kernel",
		input.kernel,
		"-initrd",
		input.initrd,
		"-append",
		[...BASE_CMDLINE, ...input.cmdline].join(" "),
		"-chardev",
		"stdio,id=console,signal=off",
		"-serial",
		"chardev:console",
		"-chardev",
		`socket,id=records,path=${input.recordSocket}`,
		"-serial",
		"chardev:records",
		"-device",
		"virtio-serial-pci,id=vser",
		"-chardev",
		`socket,id=output,path=${input.outputSocket}`,
		"-device",
		`virtserialport,bus=vser.0,chardev=output,name=${OUTPUT_PORT_NAME}`,
	];
	for (const [i, channel] of (input.channels ?? []).entries()) {
		args.push(
			"-chardev",
			`socket,id=channel${i},path=${channel.socket}`,
			"-device",
			`virtserialport,bus=vser.0,chardev=channel${i},name=${channelPortName(channel.name)}`,
		);
	}
	for (const share of input.shares) {
		args.push(
			"-virtfs",
			`local,path=${share.host.replaceAll(",", ",,")},mount_tag=${share.tag},security_model=none,readonly=on,multidevs=remap`,
		);
	}
	return args;
}
