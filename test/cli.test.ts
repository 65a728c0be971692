import { readFileSync } from "node:fs";
import test from "ava";
import { runCli } from "./support/cli.js";

const ESC = "\u001b[";
const version = (
	JSON.parse(readFileSync(new URL("../packages/tui/package.json", import.meta.url), "utf8")) as {
		version: string;
	}
).version;

test("--version prints the package version", async (t) => {
	const run = await runCli(["--version"]);
	t.is(run.stdout, `${version}\n`);
	t.is(run.exitCode, 0);
});

test("--help lists the commands, examples and exit codes", async (t) => {
	const run = await runCli(["--help"]);
	t.is(run.exitCode, 0);
	for (const text of [
		"validate <file>",
		"plan [options] <file>",
		"Examples:",
		"$ kvm-matrix plan",
		"Exit status:",
		"NO_COLOR",
	]) {
		t.true(run.stdout.includes(text), text);
	}
});

test("no arguments: help on stderr, exit 2", async (t) => {
	const run = await runCli([]);
	t.is(run.stdout, "");
	t.true(run.stderr.startsWith("Usage: kvm-matrix"));
	t.is(run.exitCode, 2);
});

const usageErrors: [string[], string][] = [
	[["frobnicate"], "kvm-matrix: unknown command 'frobnicate' (see kvm-matrix --help)"],
	[["plan"], "kvm-matrix: missing required argument 'file' (see kvm-matrix --help)"],
	[
		["plan", "matrices/demo.yaml", "--jsn"],
		"kvm-matrix: unknown option '--jsn' (did you mean --json?) (see kvm-matrix --help)",
	],
	[["validate", "no/such/matrix.yaml"], "no/such/matrix.yaml:1:1: no such file"],
	// A name is outside text: a title, a clear-screen and a carriage return in it are not obeyed.
	[
		["validate", "no/such/\u001b]0;owned\u0007\u001b[2J\rall tests passed.yaml"],
		"no/such/all tests passed.yaml:1:1: no such file",
	],
];
for (const [args, line] of usageErrors) {
	test(`usage error in one line, exit 2: ${JSON.stringify(args.join(" "))}`, async (t) => {
		const run = await runCli(args);
		t.is(run.stderr, `${line}\n`);
		t.is(run.stdout, "");
		t.is(run.exitCode, 2);
	});
}

for (const file of ["demo", "kvm-x86-nightly", "stable-qa", "kvm-params"]) {
	test(`the example matrix ${file}.yaml validates`, async (t) => {
		const run = await runCli(["validate", `matrices/${file}.yaml`]);
		t.is(run.stderr, "");
		t.regex(run.stdout, new RegExp(`^matrices/${file}\\.yaml: ok: "${file}", `));
		t.is(run.exitCode, 0);
	});
}

test("the kvm-params example crosses 2 targets with its parameter sets, vendor sets only where they apply", async (t) => {
	const run = await runCli(["validate", "matrices/kvm-params.yaml"]);
	t.regex(run.stdout, /: ok: "kvm-params", 20 cells \(1 kernel × 2 targets × 11 parameter sets\)/);
	const plan = await runCli(["plan", "matrices/kvm-params.yaml", "--json"]);
	const ids = (JSON.parse(plan.stdout) as PlanJson).cells.map((c) => c.id);
	t.true(ids.includes("kvm-x86@next/intel/ept-off"));
	t.true(ids.includes("kvm-x86@next/amd/halt_poll_ns-200000"));
	t.false(ids.includes("kvm-x86@next/intel/npt-off"));
	// Parameters never change a build: every cell shares the one kernel build.
	t.is(new Set((JSON.parse(plan.stdout) as PlanJson).cells.map((c) => c.jobs.kernel)).size, 1);
});

interface PlanJson {
	summary: Record<string, number>;
	cells: { id: string; needs: string[]; jobs: Record<string, string> }[];
	jobs: { id: string; kind: string; needs: string[] }[];
}

test("plan --json on the nightly matrix: 7 cells and deduplicated jobs", async (t) => {
	const run = await runCli(["plan", "matrices/kvm-x86-nightly.yaml", "--json"]);
	t.is(run.exitCode, 0);
	const plan = JSON.parse(run.stdout) as PlanJson;
	t.deepEqual(plan.summary, { cells: 7, checkout: 5, "kernel-build": 4, "selftests-build": 4, "kut-build": 1 });
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
	// Every cell runs the one KUT build; both targets of a kernel share its build.
	t.true(plan.cells.every((c) => c.jobs.kut === "kut:kut@master"));
	t.is(plan.cells[0]?.jobs.kernel, plan.cells[1]?.jobs.kernel);
	const ids = new Set(plan.jobs.map((j) => j.id));
	t.is(ids.size, plan.jobs.length);
	t.true(plan.cells.every((c) => c.needs.every((id) => ids.has(id))));
});

test("plan --json on the stable matrix: one selftests build for three kernels", async (t) => {
	const run = await runCli(["plan", "matrices/stable-qa.yaml", "--json"]);
	const plan = JSON.parse(run.stdout) as PlanJson;
	t.deepEqual(plan.summary, { cells: 3, checkout: 5, "kernel-build": 3, "selftests-build": 1, "kut-build": 1 });
	t.true(plan.cells.every((c) => c.jobs.selftests === "selftests:mainline@master"));
});

test("NO_COLOR turns colour off even when FORCE_COLOR is set", async (t) => {
	const run = await runCli(["plan", "matrices/stable-qa.yaml"], { env: { NO_COLOR: "1", FORCE_COLOR: "1" } });
	t.is(run.exitCode, 0);
	t.false(run.stdout.includes(ESC));
});

test("FORCE_COLOR colours the plan when stdout is not a terminal; empty NO_COLOR does not stop it", async (t) => {
	const run = await runCli(["plan", "matrices/stable-qa.yaml"], { env: { NO_COLOR: "", FORCE_COLOR: "1" } });
	t.true(run.stdout.includes(ESC));
});

test("plan text shows cells and jobs with their counts", async (t) => {
	const run = await runCli(["plan", "matrices/kvm-x86-nightly.yaml"]);
	t.is(run.exitCode, 0);
	t.true(
		run.stdout.startsWith(
			"kvm-x86-nightly: 7 cells, 14 jobs (5 checkouts, 4 kernel builds, 4 selftests builds, 1 KUT build)\n",
		),
	);
	t.true(run.stdout.includes("kvm@master/default"));
	t.false(run.stdout.includes("kvm@master/ept-off"));
});
