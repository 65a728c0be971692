// A matrix around Debian's prebuilt kernel and its KVM modules, with selftests built from the
// demo tree's `debian` branch (the source the kernel was packaged from): the real thing on a
// TCG guest, as CI can afford it. The demo tree is made once (`kvm-matrix demo-tree`).
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { CLI, REPO } from "./cli.js";

/** The matrix file in a fresh directory: `extra` lines go after the target (params, suites, ...). */
export async function debianMatrix(name: string, extra: string): Promise<{ dir: string; matrix: string }> {
	const demoTree = path.join(os.homedir(), ".cache/kvm-matrix/demo/linux");
	const tree = await execa("node", [CLI, "demo-tree", "--dir", demoTree], { reject: false, cwd: REPO });
	if (tree.exitCode !== 0) throw new Error(`kvm-matrix demo-tree failed: ${tree.stderr}`);
	const dir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
	const matrix = path.join(dir, "m.yaml");
	writeFileSync(
		matrix,
		`name: ${name}
trees:
  linux: { path: ${demoTree} }
kernels:
  - name: debian
    prebuilt: { kernel: /boot/vmlinuz-*-amd64, modules: /lib/modules }
    source: { tree: linux, ref: debian }
targets:
  - { name: tcg, qemu: { cpu: max, smp: 2, memory: 1G, accel: tcg } }
${extra}`,
	);
	return { dir, matrix };
}
