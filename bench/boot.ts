// Boot-to-first-result: the runner against a hand-written bare QEMU command line with the same
// kernel and initramfs. The runner's extra work (initramfs assembly, sockets, line parsing, log
// files) should cost at most 10% (ratio ≤ 1.10). Run: pnpm bench:boot [runs]
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { boot } from "@kvm-matrix/qemu-runner";
import { execa } from "execa";

const runs = Number(process.argv[2] ?? 3);
const image = readdirSync("/boot")
	.filter((f) => /^vmlinuz-.*-amd64$/.test(f))
	.sort()
	.map((f) => `/boot/${f}`)
	.at(-1);
if (image === undefined) {
	console.error("bench/boot: no Debian kernel in /boot (run scripts/setup.sh)");
	process.exit(2);
}
const scratch = mkdtempSync(path.join(os.tmpdir(), "bench-boot-"));
const cacheDir = path.join(scratch, "cache");
const payload = { kind: "script", text: `kvm-matrix-record '{"first":true}'\n` } as const;
const common = { kernel: image, smp: 2, memoryBytes: 2 ** 30, accel: "tcg", cacheDir } as const;

async function runnerOnce(i: number): Promise<{ ms: number; initrd: string }> {
	const workDir = path.join(scratch, `runner-${i}`);
	const start = performance.now();
	let first: number | undefined;
	const outcome = await boot({ ...common, payload, workDir }, { onRecord: () => (first ??= performance.now()) });
	if (first === undefined) throw new Error(`no record from the runner's boot: ${outcome.kind}: ${outcome.summary}`);
	return { ms: first - start, initrd: path.join(workDir, "initrd.img") };
}

async function bareOnce(initrd: string, i: number): Promise<number> {
	const records = path.join(scratch, `bare-${i}.records`);
	const start = performance.now();
	const qemu = execa(
		"qemu-system-x86_64",
		[
			...["-nodefaults", "-display", "none", "-no-reboot", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "1024M"],
			...["-kernel", image as string, "-initrd", initrd],
			...["-append", "console=ttyS0 rdinit=/init panic=-1 8250.nr_uarts=2"],
			...["-serial", "null", "-chardev", `file,id=r,path=${records}`, "-serial", "chardev:r"],
			...[
				"-device",
				"virtio-serial-pci",
				"-chardev",
				"null,id=o",
				"-device",
				"virtserialport,chardev=o,name=kvm-matrix.out",
			],
		],
		{ reject: false, stdin: "ignore" },
	);
	// The first line that is not one of the init's own records is the payload's first result.
	for (;;) {
		if (existsSync(records) && readFileSync(records, "utf8").includes('{"first":true}')) break;
		if (qemu.exitCode !== undefined && qemu.exitCode !== null) throw new Error("bare QEMU exited early");
		await new Promise((r) => setTimeout(r, 5));
	}
	const ms = performance.now() - start;
	qemu.kill("SIGKILL");
	await qemu;
	return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

await runnerOnce(-1); // warm the initramfs cache and the page cache
const runner: number[] = [];
const bare: number[] = [];
for (let i = 0; i < runs; i++) {
	const r = await runnerOnce(i);
	runner.push(r.ms);
	bare.push(await bareOnce(r.initrd, i));
}
const fmt = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(" ");
console.log(`kernel            ${image}`);
console.log(`runs              ${runs} (TCG, -cpu max, smp 2, 1 GiB)`);
console.log(`runner  (s)       ${fmt(runner)}   median ${(median(runner) / 1000).toFixed(2)}`);
console.log(`bare QEMU (s)     ${fmt(bare)}   median ${(median(bare) / 1000).toFixed(2)}`);
console.log(`ratio             ${(median(runner) / median(bare)).toFixed(3)}  (target ≤ 1.10)`);
