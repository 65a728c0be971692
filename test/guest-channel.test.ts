// qemu-runner's private channels in a real guest (QEMU, Debian's kernel): a virtio port only the
// payload holds, which the programs it starts cannot write to or open again.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { boot } from "@kvm-matrix/qemu-runner";
import test from "ava";
import { debianKernel } from "./support/debian-kernel.js";

const kernel = debianKernel();
const scratch = mkdtempSync(path.join(os.tmpdir(), "guest-channel-"));
const cacheDir = path.join(scratch, "cache");

test.serial(
	"a private channel: the payload's bytes arrive whole; nothing else in the guest can write to it",
	async (t) => {
		t.timeout(200_000);
		const script = [
			"printf 'first\\n' >&3",
			// A program started with the descriptor closed cannot use it,
			"sh -c 'echo from-child >&3' 3>&- || echo child-refused",
			// nor open the port again, by its node (deleted) or through the payload's descriptor.
			'ls /dev/vport* 2>/dev/null | while read -r p; do echo forged > "$p" 2>/dev/null && echo opened-port; done',
			`sh -c 'echo forged > /proc/$1/fd/3' - $$ 3>&- 2>/dev/null && echo reopened || echo reopen-refused`,
			// Binary and a line without an end, and text that looks like the init's end marker.
			"printf '\\000\\001@@kvm-matrix-end 0000@@ last' >&3",
			"echo console-text",
			"exit 0",
		].join("\n");
		const chunks: Buffer[] = [];
		const consoleLines: string[] = [];
		const outcome = await boot(
			{
				kernel: kernel.image,
				payload: { kind: "script", text: script },
				channels: ["results"],
				smp: 1,
				timeoutMs: 150_000,
				cacheDir,
				workDir: path.join(scratch, "boot-1"),
			},
			{
				onChannelData: (name, bytes) => {
					if (name === "results") chunks.push(bytes);
				},
				onConsoleLine: ({ line }) => consoleLines.push(line),
			},
		);
		t.is(outcome.kind, "completed", outcome.summary);
		t.deepEqual(
			outcome.channels.map((c) => [c.name, c.opened, c.complete]),
			[["results", true, true]],
		);
		const expected = Buffer.concat([
			Buffer.from("first\n"),
			Buffer.from([0, 1]),
			Buffer.from("@@kvm-matrix-end 0000@@ last"),
		]);
		t.deepEqual(Buffer.concat(chunks), expected);
		t.deepEqual(readFileSync(outcome.channels[0]?.log ?? ""), expected);
		t.true(consoleLines.includes("child-refused"));
		t.true(consoleLines.includes("reopen-refused"));
		t.false(consoleLines.includes("opened-port"));
		t.true(consoleLines.includes("console-text"));
		t.false(consoleLines.some((l) => l.includes("first")));
	},
);

test.after.always(() => {
	rmSync(scratch, { recursive: true, force: true });
});
