import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import test from "ava";
import { runCli } from "./support/cli.js";

const DIR = fileURLToPath(new URL("fixtures/malformed", import.meta.url));

/**
 * Each file in fixtures/malformed is fixtures/base.yaml (which is valid) broken in one way, and
 * this is the one line `kvm-matrix validate` must print for it: the position of the offending
 * node and what is wrong, with nothing started and exit status 2.
 */
const CORPUS: [file: string, stderr: string][] = [
	["accel-bad.yaml", 'accel-bad.yaml:10:20: targets[0].qemu.accel: "hvf" is not one of: auto, kvm, tcg'],
	["bad-indent.yaml", "bad-indent.yaml:4:1: YAML: All mapping items must start at the same column"],
	["baseline-unknown.yaml", "baseline-unknown.yaml:10:11: baseline: kvm@queue is not one of the kernels"],
	["cmdline-string.yaml", 'cmdline-string.yaml:10:14: targets[0].cmdline: expected a list, got the string "kvm.ept=0"'],
	[
		"dup-kernel.yaml",
		'dup-kernel.yaml:8:5: kernels[1]: duplicate kernel "kvm@next" (same as kernels[0]); give one of them a distinct "name"',
	],
	["dup-key.yaml", "dup-key.yaml:2:1: duplicate key (each key may appear once in a map)"],
	["dup-target.yaml", 'dup-target.yaml:10:11: targets[1].name: duplicate target "default" (same as targets[0])'],
	["dup-tree.yaml", "dup-tree.yaml:4:3: duplicate key (each key may appear once in a map)"],
	["empty.yaml", "empty.yaml:1:1: the file is empty; a matrix needs name, kernels, targets and suites"],
	["exclude-everything.yaml", "exclude-everything.yaml:11:3: exclude: excludes every cell: nothing would run"],
	[
		"exclude-nothing.yaml",
		'exclude-nothing.yaml:11:15: exclude[0].kernel: "kvm@nxt" matches no kernel (did you mean "kvm@next"?); kernels: kvm@next',
	],
	[
		"fragment-bad.yaml",
		'fragment-bad.yaml:10:40: config.fragments[0]: "kvm guest" is neither an in-tree fragment (kvm_guest.config) nor a path (write ./kvm guest for a file)',
	],
	[
		"fragment-missing.yaml",
		`fragment-missing.yaml:10:40: config.fragments[0]: config file not found: ${DIR}/nope.config`,
	],
	[
		"hostile-kernel-name.yaml",
		'hostile-kernel-name.yaml:7:13: kernels[0].name: "x$(id)" is not a valid name (letters, digits, ".", "_" and "-"; no "..", "/" or spaces)',
	],
	[
		"hostile-ref-semicolon.yaml",
		'hostile-ref-semicolon.yaml:7:23: kernels[0].ref: "next;reboot" is not a usable git ref: use letters, digits and "._/+-" only',
	],
	[
		"hostile-ref-subshell.yaml",
		'hostile-ref-subshell.yaml:7:23: kernels[0].ref: "$(touch /tmp/pwned)" is not a usable git ref: use letters, digits and "._/+-" only',
	],
	[
		"hostile-target-dotdot.yaml",
		'hostile-target-dotdot.yaml:9:11: targets[0].name: "../../etc" is not a valid name (letters, digits, ".", "_" and "-"; no "..", "/" or spaces)',
	],
	[
		"hostile-target-slash.yaml",
		'hostile-target-slash.yaml:9:11: targets[0].name: "a/b" is not a valid name (letters, digits, ".", "_" and "-"; no "..", "/" or spaces)',
	],
	[
		"hostile-tree-name.yaml",
		'hostile-tree-name.yaml:3:3: trees.kvm;rm: "kvm;rm" is not a valid name (letters, digits, ".", "_" and "-"; no "..", "/" or spaces)',
	],
	[
		"hostile-url.yaml",
		'hostile-url.yaml:3:15: trees.kvm.url: url "--upload-pack=touch /tmp/x" must not start with "-"',
	],
	[
		"include-nothing.yaml",
		'include-nothing.yaml:14:15: include[0].target: "nested" matches no target; targets: default, ept-off',
	],
	["kernels-empty.yaml", "kernels-empty.yaml:6:10: kernels: list at least one kernel"],
	["kernels-map.yaml", "kernels-map.yaml:7:3: kernels: expected a list, got a map"],
	["list.yaml", "list.yaml:1:1: expected a map, got a list"],
	[
		"lore-not-http.yaml",
		'lore-not-http.yaml:10:7: lore: "ftp://lore.kernel.org/all" is not an http or https URL (e.g. https://lore.kernel.org/all)',
	],
	["memory-bad.yaml", 'memory-bad.yaml:10:21: targets[0].qemu.memory: "4 gigs" is not a size (use e.g. 512M, 4G)'],
	[
		"memory-no-unit.yaml",
		'memory-no-unit.yaml:10:21: targets[0].qemu.memory: size "4096" needs a unit, e.g. 4096M or 4096G',
	],
	["missing-targets.yaml", 'missing-targets.yaml:1:1: missing required key "targets"'],
	["name-number.yaml", "name-number.yaml:1:7: name: expected a string, got the number 42"],
	[
		"prebuilt-and-tree.yaml",
		"prebuilt-and-tree.yaml:8:47: kernels[1].prebuilt: a kernel is either built from tree/ref or prebuilt, not both",
	],
	["ref-dash.yaml", 'ref-dash.yaml:7:23: kernels[0].ref: "-next" is not a usable git ref: it starts with "-"'],
	["scalar.yaml", 'scalar.yaml:1:1: expected a map, got the string "just text"'],
	["retries-negative.yaml", "retries-negative.yaml:10:10: retries: retries must be 0 or more"],
	["smp-zero.yaml", "smp-zero.yaml:10:18: targets[0].qemu.smp: smp must be at least 1"],
	["suites-empty.yaml", "suites-empty.yaml:5:3: suites: name at least one suite: selftests or kut"],
	["tab-indent.yaml", "tab-indent.yaml:3:1: YAML: Tabs are not allowed as indentation"],
	["targets-empty.yaml", "targets-empty.yaml:8:10: targets: list at least one target"],
	[
		"timeout-bad.yaml",
		'timeout-bad.yaml:5:25: suites.selftests.timeout: "1.5m" is not a duration (use e.g. 90s, 2m, 1h30m, 500ms)',
	],
	["timeout-no-unit.yaml", 'timeout-no-unit.yaml:5:25: suites.selftests.timeout: duration "90" needs a unit, e.g. 90s'],
	["tree-no-source.yaml", "tree-no-source.yaml:3:8: trees.kvm: a tree needs a url, a path, or both"],
	[
		"unclosed-flow.yaml",
		"unclosed-flow.yaml:2:43: YAML: Flow map in block collection must be sufficiently indented and end with a }",
	],
	[
		"unknown-kernel-key.yaml",
		'unknown-kernel-key.yaml:7:18: kernels[0].reff: unknown key "reff" (did you mean "ref"?); expected one of: name, tree, ref, config, prebuilt, source',
	],
	[
		"unknown-qemu-key.yaml",
		'unknown-qemu-key.yaml:10:13: targets[0].qemu.cpus: unknown key "cpus" (did you mean "cpu"?); expected one of: cpu, smp, memory, accel',
	],
	[
		"unknown-top.yaml",
		'unknown-top.yaml:10:1: tragets: unknown key "tragets" (did you mean "targets"?); expected one of: name, trees, config, kernels, targets, params, suites, baseline, retries, known-issues, lore, bugzilla, exclude, include',
	],
	["unknown-tree.yaml", 'unknown-tree.yaml:7:13: kernels[0].tree: unknown tree "kvm-x68"; trees: kvm'],
];

test("the base of the corpus is itself valid, so each case fails for its own reason", async (t) => {
	const run = await runCli(["validate", "../base.yaml"], { cwd: DIR });
	t.is(run.stderr, "");
	t.is(run.exitCode, 0);
});

test("every file in the corpus has an expected message", (t) => {
	const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml"));
	t.deepEqual(files.sort(), CORPUS.map(([file]) => file).sort());
	t.true(CORPUS.length >= 25);
});

for (const [file, expected] of CORPUS) {
	test(`validate ${file}`, async (t) => {
		const run = await runCli(["validate", file], { cwd: DIR });
		t.is(run.stderr, `${expected}\n`);
		t.is(run.stdout, "");
		t.is(run.exitCode, 2);
	});
}

test("plan refuses a malformed matrix the same way, and prints no plan", async (t) => {
	const run = await runCli(["plan", "unknown-tree.yaml", "--json"], { cwd: DIR });
	t.is(run.stderr, 'unknown-tree.yaml:7:13: kernels[0].tree: unknown tree "kvm-x68"; trees: kvm\n');
	t.is(run.stdout, "");
	t.is(run.exitCode, 2);
});
