import test from "ava";
import fc from "fast-check";
import type { KernelConfig, KernelSpec, Matrix, Target } from "../matrix/types.js";
import { selectCells } from "./cells.js";
import { countJobs, planRun, type Resolutions } from "./plan.js";

const DEFCONFIG: KernelConfig = { base: { kind: "make-target", target: "defconfig" }, fragments: [] };
const TINY: KernelConfig = { base: { kind: "make-target", target: "tinyconfig" }, fragments: [] };

const source = (tree: string, ref: string, config = DEFCONFIG, id = `${tree}@${ref}`): KernelSpec => ({
	kind: "source",
	id,
	tree,
	ref,
	config,
});
const target = (name: string): Target => ({
	name,
	qemu: { smp: 2, memoryBytes: 2 ** 31, accel: "auto" },
	cmdline: [],
	moduleParams: {},
	host: false,
});

function matrix(parts: Partial<Matrix> & Pick<Matrix, "kernels" | "targets">): Matrix {
	return {
		name: "t",
		file: "t.yaml",
		trees: new Map(),
		suites: {
			selftests: { source: { kind: "kernel" }, include: ["**"], exclude: [], parallel: 1 },
			kut: { tree: "kut", ref: "master", groups: [], include: ["*"], exclude: [], accel: "auto", all: false },
		},
		exclude: [],
		include: [],
		retries: 1,
		...parts,
	};
}

const NIGHTLY = matrix({
	kernels: [source("kvm-x86", "next"), source("kvm", "next"), source("kvm", "queue"), source("kvm", "master")],
	targets: [target("default"), target("ept-off")],
	exclude: [{ kernel: "kvm@master", target: "ept-off" }],
});

type Counts = ReturnType<typeof countJobs> & { cells: number };
const cases: { name: string; matrix: Matrix; resolutions?: Resolutions; expect: Counts }[] = [
	{
		name: "nightly, refs unresolved: every ref is its own source",
		matrix: NIGHTLY,
		expect: { cells: 7, checkout: 5, "kernel-build": 4, "selftests-build": 4, "kut-build": 1 },
	},
	{
		name: "nightly, kvm/next and kvm/queue on one commit: built once",
		matrix: NIGHTLY,
		resolutions: new Map([
			["kvm-x86@next", "a".repeat(40)],
			["kvm@next", "b".repeat(40)],
			["kvm@queue", "b".repeat(40)],
			["kvm@master", "c".repeat(40)],
			["kut@master", "d".repeat(40)],
		]),
		expect: { cells: 7, checkout: 4, "kernel-build": 3, "selftests-build": 3, "kut-build": 1 },
	},
	{
		name: "same commit in two trees: one checkout per tree, one build",
		matrix: matrix({ kernels: [source("kvm-x86", "next"), source("kvm", "next")], targets: [target("t")] }),
		resolutions: new Map([
			["kvm-x86@next", "e".repeat(40)],
			["kvm@next", "e".repeat(40)],
		]),
		// The second tree's checkout is not needed: the build uses the first tree's.
		expect: { cells: 2, checkout: 2, "kernel-build": 1, "selftests-build": 1, "kut-build": 1 },
	},
	{
		name: "same commit, two configs: two kernel builds, one selftests build",
		matrix: matrix({
			kernels: [source("linux", "v6.1", DEFCONFIG, "def"), source("linux", "v6.1", TINY, "tiny")],
			targets: [target("t")],
		}),
		expect: { cells: 2, checkout: 2, "kernel-build": 2, "selftests-build": 1, "kut-build": 1 },
	},
	{
		name: "prebuilt kernel: no kernel build, selftests from its source",
		matrix: matrix({
			kernels: [{ kind: "prebuilt", id: "debian", image: "/boot/vmlinuz", source: { tree: "linux", ref: "v6.1" } }],
			targets: [target("a"), target("b")],
		}),
		expect: { cells: 2, checkout: 2, "kernel-build": 0, "selftests-build": 1, "kut-build": 1 },
	},
	{
		name: "selftests from a fixed newer tree: one selftests build for all kernels",
		matrix: matrix({
			kernels: [source("stable", "linux-6.1.y"), source("stable", "linux-6.6.y")],
			targets: [target("t")],
			suites: {
				selftests: {
					source: { kind: "tree", tree: "mainline", ref: "master" },
					include: ["**"],
					exclude: [],
					parallel: 1,
				},
			},
		}),
		expect: { cells: 2, checkout: 3, "kernel-build": 2, "selftests-build": 1, "kut-build": 0 },
	},
];

for (const c of cases) {
	test(`planRun: ${c.name}`, (t) => {
		const plan = planRun(c.matrix, c.resolutions);
		t.deepEqual({ cells: plan.cells.length, ...countJobs(plan) }, c.expect);
	});
}

test("planRun gives cells stable kernel/target ids in matrix order", (t) => {
	const plan = planRun(NIGHTLY);
	t.deepEqual(
		plan.cells.map((c) => c.id),
		[
			"kvm-x86@next/default",
			"kvm-x86@next/ept-off",
			"kvm@next/default",
			"kvm@next/ept-off",
			"kvm@queue/default",
			"kvm@queue/ept-off",
			"kvm@master/default",
		],
	);
});

test("planRun shares the kernel build between targets of one kernel", (t) => {
	const plan = planRun(NIGHTLY);
	const [a, b] = plan.cells;
	t.truthy(a?.jobs.kernel);
	t.is(a?.jobs.kernel, b?.jobs.kernel);
	t.not(a?.jobs.kernel, plan.cells[2]?.jobs.kernel);
});

// Random matrices over a small alphabet so that collisions (the interesting case) are common.
const arbMatrix = fc
	.record({
		kernels: fc.uniqueArray(
			fc.record({
				tree: fc.constantFrom("a", "b"),
				ref: fc.constantFrom("next", "queue", "master"),
				tiny: fc.boolean(),
			}),
			{ minLength: 1, maxLength: 6, selector: (k) => `${k.tree}@${k.ref}+${k.tiny}` },
		),
		targets: fc.uniqueArray(fc.constantFrom("x", "y", "z"), { minLength: 1, maxLength: 3 }),
		shas: fc.dictionary(
			fc.constantFrom("a@next", "a@queue", "a@master", "b@next", "b@queue", "b@master"),
			fc.constantFrom("1", "2", "3"),
		),
	})
	.map(({ kernels, targets, shas }) => ({
		matrix: matrix({
			kernels: kernels.map((k) =>
				source(k.tree, k.ref, k.tiny ? TINY : DEFCONFIG, `${k.tree}@${k.ref}${k.tiny ? "-tiny" : ""}`),
			),
			targets: targets.map(target),
		}),
		resolutions: new Map(Object.entries(shas).map(([ref, sha]) => [ref, sha.repeat(40)])) as Resolutions,
	}));

test("planRun: jobs are unique, in dependency order, and every cell's needs exist", (t) => {
	fc.assert(
		fc.property(arbMatrix, ({ matrix: m, resolutions }) => {
			const plan = planRun(m, resolutions);
			const seen = new Set<string>();
			for (const job of plan.jobs) {
				if (seen.has(job.id)) return false;
				if (!job.needs.every((dep) => seen.has(dep))) return false;
				seen.add(job.id);
			}
			return plan.cells.every((cell) => cell.needs.every((id) => seen.has(id)));
		}),
	);
	t.pass();
});

test("planRun: one kernel build per distinct (commit, config), one selftests build per commit", (t) => {
	fc.assert(
		fc.property(arbMatrix, ({ matrix: m, resolutions }) => {
			const plan = planRun(m, resolutions);
			const commit = (k: KernelSpec) =>
				k.kind === "source" ? (resolutions.get(`${k.tree}@${k.ref}`) ?? `${k.tree}@${k.ref}`) : k.id;
			const builds = new Set(
				m.kernels.map(
					(k) => `${commit(k)}|${k.kind === "source" ? k.config.base.kind + JSON.stringify(k.config) : ""}`,
				),
			);
			const sources = new Set(m.kernels.map(commit));
			const counts = countJobs(plan);
			return counts["kernel-build"] === builds.size && counts["selftests-build"] === sources.size;
		}),
	);
	t.pass();
});

test("planRun: no job is planned that no cell needs", (t) => {
	fc.assert(
		fc.property(arbMatrix, ({ matrix: m, resolutions }) => {
			const plan = planRun(m, resolutions);
			const needed = new Set(plan.cells.flatMap((c) => c.needs));
			return plan.jobs.every((job) => needed.has(job.id));
		}),
	);
	t.pass();
});

test("selectCells: exclude then include, like GitHub Actions", (t) => {
	const m = matrix({
		kernels: [source("kvm", "next"), source("kvm", "queue"), source("kvm", "master")],
		targets: [target("default"), target("ept-off"), target("nested")],
		exclude: [{ kernel: "kvm@*", target: "ept-off" }, { kernel: "kvm@master" }],
		include: [
			{ kernel: "kvm@next", target: "ept-off" },
			{ target: "nested", kernel: "kvm@q*" },
		],
	});
	const selection = selectCells(m);
	t.deepEqual(
		selection.cells.map((c) => c.id),
		["kvm@next/default", "kvm@next/ept-off", "kvm@next/nested", "kvm@queue/default", "kvm@queue/nested"],
	);
	// The second include matches only cells that were never excluded: it is idle, and said so.
	t.deepEqual(selection.idleIncludes, [1]);
	t.deepEqual(selection.unmatched, []);
});

test("selectCells reports filter globs that match no kernel or target", (t) => {
	const m = matrix({
		kernels: [source("kvm", "next")],
		targets: [target("default")],
		exclude: [{ kernel: "kvm@nxt" }],
		include: [{ target: "defualt" }],
	});
	t.deepEqual(selectCells(m).unmatched, [
		{ list: "exclude", index: 0, key: "kernel" },
		{ list: "include", index: 0, key: "target" },
	]);
});

test("selectCells: a glob '*' crosses '/' in refs", (t) => {
	const m = matrix({
		kernels: [source("kvm", "for-next/x86"), source("kvm", "next")],
		targets: [target("t")],
		exclude: [{ kernel: "kvm@for-*" }],
	});
	t.deepEqual(
		selectCells(m).cells.map((c) => c.id),
		["kvm@next/t"],
	);
});

test("selectCells: without filters, cells are the full product", (t) => {
	fc.assert(
		fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), (k, n) => {
			const m = matrix({
				kernels: Array.from({ length: k }, (_, i) => source("t", `r${i}`)),
				targets: Array.from({ length: n }, (_, i) => target(`x${i}`)),
			});
			return selectCells(m).cells.length === k * n;
		}),
	);
	t.pass();
});
