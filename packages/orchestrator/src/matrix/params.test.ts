import test from "ava";
import { selectCells } from "../plan/cells.js";
import { builtinModuleParams, kvmModules, requiredParams } from "../selftests/run.js";
import { parseMatrix } from "./parse.js";

const options = { label: "m.yaml", file: "/work/m.yaml", baseDir: "/work", homeDir: "/home/u", exists: () => true };

const matrix = (params: string, extra = "") => `name: m
trees:
  kvm: { url: https://example.org/kvm.git }
suites:
  selftests: {}
kernels:
  - { tree: kvm, ref: next }
  - { tree: kvm, ref: queue }
targets:
  - name: default
  - { name: big, modparams: { kvm: { halt_poll_ns: "5" } } }
params:
${params}
${extra}`;

const errors = (text: string) => {
	const result = parseMatrix(text, options);
	return result.ok ? [] : result.error.map((e) => `${e.line}:${e.col}: ${e.message}`);
};

test("params: named sets and ranges expand, in order, crossed with kernels × targets", (t) => {
	const result = parseMatrix(
		matrix(`  - { name: default }
  - { name: ept-off, kvm_intel: { ept: "0" } }
  - { kvm: { halt_poll_ns: [0, 200000] } }
  - { name: pmu, kvm: { enable_pmu: [true, false] }, kvm-amd: { nested: 1 } }`),
		options,
	);
	if (!result.ok) return t.fail(JSON.stringify(result.error));
	const m = result.value;
	t.deepEqual(m.params, [
		{ name: "default", modules: {} },
		{ name: "ept-off", modules: { kvm_intel: { ept: "0" } } },
		{ name: "halt_poll_ns-0", modules: { kvm: { halt_poll_ns: "0" } } },
		{ name: "halt_poll_ns-200000", modules: { kvm: { halt_poll_ns: "200000" } } },
		{ name: "pmu-1", modules: { kvm: { enable_pmu: "1" }, kvm_amd: { nested: "1" } } },
		{ name: "pmu-0", modules: { kvm: { enable_pmu: "0" }, kvm_amd: { nested: "1" } } },
	]);
	const cells = selectCells(m).cells;
	t.is(cells.length, 2 * 2 * 6);
	t.deepEqual(
		cells.slice(0, 3).map((c) => c.id),
		["kvm@next/default/default", "kvm@next/default/ept-off", "kvm@next/default/halt_poll_ns-0"],
	);
	// The set goes on top of the target's own parameters; the target is named target/set.
	const big = cells.find((c) => c.id === "kvm@queue/big/halt_poll_ns-200000");
	t.deepEqual(big?.target.moduleParams, { kvm: { halt_poll_ns: "200000" } });
	t.is(big?.target.name, "big/halt_poll_ns-200000");
	t.is(big?.target.params, "halt_poll_ns-200000");
	t.deepEqual(cells.find((c) => c.id === "kvm@queue/big/default")?.target.moduleParams, {
		kvm: { halt_poll_ns: "5" },
	});
});

test("params: exclude and include take a params glob, matched with the target's own name", (t) => {
	const result = parseMatrix(
		matrix(
			`  - { name: default }
  - { name: ept-off, kvm_intel: { ept: "0" } }
  - { name: npt-off, kvm_amd: { npt: "0" } }`,
			`exclude:
  - { params: "*-off" }
  - { kernel: kvm@queue, target: big }
include:
  - { kernel: kvm@next, target: big, params: npt-off }
`,
		),
		options,
	);
	if (!result.ok) return t.fail(JSON.stringify(result.error));
	t.deepEqual(
		selectCells(result.value).cells.map((c) => c.id),
		["kvm@next/default/default", "kvm@next/big/default", "kvm@next/big/npt-off", "kvm@queue/default/default"],
	);
});

test("params: no axis leaves cell ids as they were", (t) => {
	const result = parseMatrix(matrix("  []").replace("params:\n  []\n", ""), options);
	if (!result.ok) return t.fail(JSON.stringify(result.error));
	t.false("params" in result.value);
	t.deepEqual(
		selectCells(result.value).cells.map((c) => c.id),
		["kvm@next/default", "kvm@next/big", "kvm@queue/default", "kvm@queue/big"],
	);
});

test("params: unknown modules, bad values, empty ranges and duplicates are FILE:LINE:COL errors", (t) => {
	t.deepEqual(errors(matrix(`  - { name: x, kvm_intl: { ept: "0" } }`)), [
		'13:16: params[0].kvm_intl: unknown KVM module "kvm_intl" (params name kvm, kvm_intel, kvm_amd)',
	]);
	t.deepEqual(errors(matrix(`  - { name: x, kvm_intel: { ept: "0 1" } }`)), [
		"13:34: params[0].kvm_intel.ept: a parameter value is one word without spaces, quotes or commas",
	]);
	t.deepEqual(errors(matrix("  - { kvm: { halt_poll_ns: [] } }")), [
		"13:28: params[0].kvm.halt_poll_ns: an empty range gives no parameter set: list at least one value",
	]);
	t.deepEqual(errors(matrix("  - { kvm: { halt_poll_ns: [0, { a: 1 }] } }")), [
		"13:32: params[0].kvm.halt_poll_ns[1]: a parameter value is a string, a number or true/false",
	]);
	t.deepEqual(errors(matrix("  - { kvm: { enable_pmu: 0 } }")), [
		"13:5: params[0]: a parameter set without a range needs a name (e.g. name: ept-off)",
	]);
	t.deepEqual(errors(matrix("  - { name: a }\n  - { name: a, kvm: { x: 1 } }")), [
		'14:5: params[1]: parameter set "a" is given twice (also params[0])',
	]);
	t.deepEqual(errors(matrix("  - { name: a }", "exclude:\n  - { params: b* }\n")), [
		'15:15: exclude[0].params: "b*" matches no parameter set; parameter sets: a',
	]);
	t.regex(errors(matrix("  - { name: 'a b' }")).join("\n"), /^13:13: params\[0\]\.name: "a b" is not a valid name/);
	t.deepEqual(errors(matrix('  - { kvm_intel: { ept: "0" }, kvm: { halt_poll_ns: [0, 1] } }')), [
		"13:5: params[0]: a range beside fixed parameters needs a name (it names every set it gives)",
	]);
	t.deepEqual(errors(matrix('  - { name: p, kvm: { x: ["a+b", "a_b"] } }')), [
		"13:5: params[0]: two values of a range give one set name (characters other than letters, digits, . _ - become _)",
	]);
	t.deepEqual(errors(matrix('  - { name: p, kvm: { x: ["1..2"] } }')), [
		'13:5: params[0]: a range\'s value gives the set name "p-1..2", which is not a valid name (letters, digits, ".", "_" and "-"; no "..")',
	]);
});

test("params: a host target crosses with the sets, each cell asking for its set's parameters", (t) => {
	const text = matrix(`  - { name: default }\n  - { name: ept-off, kvm_intel: { ept: "0" } }`).replace(
		"  - name: default\n",
		"  - name: default\n  - { name: here, host: true }\n",
	);
	t.deepEqual(errors(text), []);
	const result = parseMatrix(text, options);
	if (!result.ok) return t.fail(JSON.stringify(result.error));
	const here = selectCells(result.value).cells.filter(
		(c) => c.target.host && c.kernel.id === result.value.kernels[0]?.id,
	);
	t.deepEqual(
		here.map((c) => [c.target.name, requiredParams(c.target)]),
		[
			["here/default", []],
			["here/ept-off", [{ module: "kvm_intel", param: "ept", value: "0" }]],
		],
	);
});

test("params: a guest gets the set as insmod options for modular KVM and on the command line for built-in", (t) => {
	const result = parseMatrix(matrix(`  - { name: mix, kvm: { enable_pmu: "0" }, kvm_amd: { nested: "0" } }`), options);
	if (!result.ok) return t.fail(JSON.stringify(result.error));
	const target = selectCells(result.value).cells[0]?.target;
	if (target === undefined) return t.fail("no cell");
	t.deepEqual(kvmModules(target), [
		{ name: "kvm", params: ["enable_pmu=0"] },
		{ name: "kvm_amd", params: ["nested=0"] },
		{ name: "kvm_intel", params: [] },
	]);
	t.deepEqual(builtinModuleParams(target), ["kvm.enable_pmu=0", "kvm_amd.nested=0"]);
});
