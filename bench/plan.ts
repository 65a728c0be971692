// How long validating and planning take for matrices far larger than any real one, so that
// `validate` and `plan` stay instant and the engine never waits on planning.
// Run: pnpm bench:plan
import { performance } from "node:perf_hooks";
import { countJobs, parseMatrix, planRun } from "@kvm-matrix/orchestrator";

function matrixText(trees: number, refsPerTree: number, targets: number): string {
	const lines = ["name: bench", "trees:"];
	for (let t = 0; t < trees; t++) lines.push(`  t${t}: { url: https://example.org/t${t}.git }`);
	lines.push("suites:", "  selftests: {}", "  kut: { tree: t0, ref: master }", "kernels:");
	for (let t = 0; t < trees; t++) for (let r = 0; r < refsPerTree; r++) lines.push(`  - { tree: t${t}, ref: r${r} }`);
	lines.push("targets:");
	for (let x = 0; x < targets; x++) lines.push(`  - { name: x${x}, cmdline: [a.b=${x}] }`);
	lines.push("exclude:", "  - { kernel: t1@*, target: x1 }");
	return `${lines.join("\n")}\n`;
}

function time<T>(fn: () => T, runs: number): { value: T; ms: number } {
	fn(); // warm up the JIT and caches
	const start = performance.now();
	let value = fn();
	for (let i = 1; i < runs; i++) value = fn();
	return { value, ms: (performance.now() - start) / runs };
}

const sizes: [number, number, number][] = [
	[4, 1, 2],
	[10, 10, 10],
	[20, 25, 20],
];
console.log("kernels  targets  cells  jobs  parse(ms)  plan(ms)  plan+resolved(ms)");
for (const [trees, refs, targets] of sizes) {
	const text = matrixText(trees, refs, targets);
	const opts = { label: "bench.yaml", file: "/bench.yaml", baseDir: "/", homeDir: "/" };
	const parsed = time(() => parseMatrix(text, opts), 5);
	if (!parsed.value.ok) throw new Error(JSON.stringify(parsed.value.error[0]));
	const matrix = parsed.value.value;
	const plan = time(() => planRun(matrix), 5);
	// Half the refs land on shared commits, the case deduplication is for.
	const resolutions = new Map(
		matrix.kernels.flatMap((k) =>
			k.kind === "source" ? [[`${k.tree}@${k.ref}`, String(Number(k.ref.slice(1)) % 5).repeat(40)]] : [],
		) as [string, string][],
	);
	const resolved = time(() => planRun(matrix, resolutions), 5);
	const jobs = Object.values(countJobs(plan.value)).reduce((a, b) => a + b, 0);
	console.log(
		[matrix.kernels.length, matrix.targets.length, plan.value.cells.length, jobs]
			.map((n, i) => String(n).padStart(i === 0 ? 7 : 7))
			.join("  ") +
			`  ${parsed.ms.toFixed(1).padStart(9)}  ${plan.ms.toFixed(1).padStart(8)}  ${resolved.ms.toFixed(1).padStart(17)}`,
	);
}
