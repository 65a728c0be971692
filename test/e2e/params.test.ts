// The params axis for real: Debian's kernel booted under TCG with its KVM modules, once per
// parameter set. What KVM took is read back in the guest and recorded with the cell; with
// kvm_amd.nested=0 the nested SVM selftest skips; a parameter KVM does not have stops the cell
// before any test runs, as infra, in words.
import { readFileSync } from "node:fs";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CLI, REPO } from "../support/cli.js";
import { debianMatrix } from "../support/debian-matrix.js";

interface Cell {
	id: string;
	state: string;
	failure?: { reason?: string };
	results: { testId: string; status: string }[];
	notes?: string[];
	[key: string]: unknown;
}

test.serial(
	"two parameter sets boot the kernel twice; nested=0 makes the SVM selftest skip; a missing parameter is infra; Intel's skips on AMD",
	async (t) => {
		t.timeout(1_800_000);
		const { dir, matrix } = await debianMatrix(
			"params",
			`params:
  - { name: nested, kvm_intel: { nested: "1" }, kvm_amd: { nested: "1" } }
  - { name: no-nested, kvm_amd: { nested: "0" } }
  - { name: typo, kvm_amd: { nestd: "0" } }
  - { name: ept-off, kvm_intel: { ept: "0" } }
suites:
  selftests: { include: [x86_64/set_sregs_test, x86_64/svm_vmcall_test], timeout: 120s }
retries: 0
`,
		);
		const runDir = path.join(dir, "run");
		const run = await execa("node", [CLI, "run", matrix, "--run-dir", runDir], {
			reject: false,
			cwd: REPO,
			env: { NO_COLOR: "1" },
		});
		t.log(run.stdout);
		// A cell that could not run under its set is infra: reported, not red by default.
		t.is(run.exitCode, 0, run.stderr);
		const cells = (JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as { cells: Cell[] }).cells;
		const byId = new Map(cells.map((c) => [c.id, c]));
		t.deepEqual(
			[...byId.keys()],
			["debian/tcg/nested", "debian/tcg/no-nested", "debian/tcg/typo", "debian/tcg/ept-off"],
		);
		const statuses = (id: string) => Object.fromEntries((byId.get(id)?.results ?? []).map((r) => [r.testId, r.status]));
		t.deepEqual(statuses("debian/tcg/nested"), { "x86_64/set_sregs_test": "pass", "x86_64/svm_vmcall_test": "pass" });
		t.deepEqual(statuses("debian/tcg/no-nested"), {
			"x86_64/set_sregs_test": "pass",
			"x86_64/svm_vmcall_test": "skip",
		});
		t.true(byId.get("debian/tcg/no-nested")?.notes?.includes("parameter set no-nested: KVM took kvm_amd.nested=0"));
		// A set for both vendors runs on either: the other vendor's half does not apply, and says so.
		t.true(
			byId
				.get("debian/tcg/nested")
				?.notes?.includes(
					"parameter set nested: KVM took kvm_amd.nested=1; not for this CPU (AuthenticAMD): kvm_intel.nested=1",
				),
			JSON.stringify(byId.get("debian/tcg/nested")?.notes),
		);
		t.false((byId.get("debian/tcg/ept-off")?.notes ?? []).some((n) => n.startsWith("parameter set")));
		const typo = byId.get("debian/tcg/typo");
		t.is(typo?.state, "failed");
		t.regex(JSON.stringify(typo), /kvm_amd has no parameter nestd \(asked nestd=0\)/);
		t.false((typo?.results ?? []).some((r) => r.status === "pass" || r.status === "fail"));
		// Intel's parameter on the guest's AMD-like CPU (TCG's max): the set does not apply, so its tests skip.
		const ept = byId.get("debian/tcg/ept-off");
		t.is(ept?.state, "done");
		t.deepEqual(
			(ept?.results ?? []).map((r) => [r.testId, r.status, (r as { detail?: string }).detail]),
			["x86_64/set_sregs_test", "x86_64/svm_vmcall_test"].map((id) => [
				id,
				"skip",
				"kvm_intel.ept=0: for Intel CPUs, and this guest's CPU is AuthenticAMD",
			]),
		);
		t.regex(run.stdout, /exit 0, green: .*infra/);
	},
);
