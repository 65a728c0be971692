// The real thing, as CI can afford it: Debian's prebuilt kernel booted under QEMU with its KVM
// modules, running real KVM selftests built from Debian's linux-source (6.1) by kvm-matrix.
import { readFileSync } from "node:fs";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CLI, REPO } from "./support/cli.js";
import { debianMatrix } from "./support/debian-matrix.js";

test.serial("real KVM selftests pass inside a TCG guest running Debian's kernel", async (t) => {
	t.timeout(1_200_000);
	const { dir, matrix } = await debianMatrix(
		"real",
		"suites:\n  selftests: { include: [x86_64/set_sregs_test, x86_64/sync_regs_test], timeout: 120s }\n",
	);
	const runDir = path.join(dir, "run");
	const run = await execa("node", [CLI, "run", matrix, "--run-dir", runDir], {
		reject: false,
		cwd: REPO,
		env: { NO_COLOR: "1" },
	});
	t.is(run.exitCode, 0, run.stderr);
	const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as {
		cells: { id: string; state: string; results: { testId: string; status: string; logPath: string }[] }[];
	};
	const cell = results.cells[0];
	t.is(cell?.state, "done");
	t.deepEqual(
		cell?.results.map((r) => [r.testId, r.status]),
		[
			["x86_64/set_sregs_test", "pass"],
			["x86_64/sync_regs_test", "pass"],
		],
	);
	// The guest really had KVM: the tests open /dev/kvm and create VMs; a missing KVM is a skip.
	t.false(readFileSync(cell?.results[0]?.logPath ?? "", "utf8").includes("SKIP"));
	t.regex(run.stdout, /debian\/tcg {2}2 pass, 0 fail, 0 skip/);
});
