// The README's demo, twice: the first run builds the demo kernel from source (minutes), the
// second must find it in the cache. Slow: run by `pnpm test:e2e` (and by CI after `pnpm test`).
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CLI, REPO } from "../support/cli.js";

interface Results {
	cells: {
		id: string;
		state: string;
		kernel: { build?: { cacheHit: boolean } };
		results: { testId: string; status: string; verdict?: { verdict: string }; explanation?: string }[];
	}[];
}

const DEMO_TREE = path.join(os.homedir(), ".cache", "kvm-matrix", "demo", "linux");

async function demo(runDir: string) {
	const run = await execa("bash", ["scripts/demo.sh", "--run-dir", runDir], {
		cwd: REPO,
		reject: false,
		env: { NO_COLOR: "1" },
	});
	const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as Results;
	const result = (cell: string, test: string) =>
		results.cells.find((c) => c.id === cell)?.results.find((r) => r.testId === `x86_64/${test}`);
	return { run, results, result };
}

test.serial(
	"the demo shows a pending fix on Debian's kernel and a regression on the demo kernel, from real commits; a second run hits the cache",
	async (t) => {
		t.timeout(60 * 60_000);
		const dir = mkdtempSync(path.join(os.tmpdir(), "demo-e2e-"));
		const first = await demo(path.join(dir, "first"));
		// kvm-matrix exits 1 for the regression; the demo script says it is intended and exits 0.
		t.is(first.run.exitCode, 0, first.run.stderr);
		t.regex(first.run.stdout, /kvm-matrix run exited 1 \(results need attention\)/);
		t.log(first.run.stdout.split("\n").slice(-14).join("\n"));
		for (const cell of first.results.cells) {
			t.is(cell.state, "done", cell.id);
			t.is(cell.results.length, 3, cell.id);
		}
		const sha = async (rev: string) =>
			(await execa("git", ["-C", DEMO_TREE, "rev-parse", "--short=12", rev])).stdout.trim();
		const fix = await sha(":/KVM: x86: Reject KVM_SET_SREGS with reserved CR8 bits set");
		// Debian's kernel lacks the fix the new test needs; the demo kernel has it and passes. (Under
		// TCG a nested guest sometimes hangs; a hang that passes on the retry is flaky, still a pass.)
		t.is(
			first.result("debian/tcg", "set_sregs_test")?.explanation,
			`pending-fix: needs ${fix} ("KVM: x86: Reject KVM_SET_SREGS with reserved CR8 bits set"), in linux@demo; passes on linux@demo`,
		);
		t.is(first.result("linux@demo/tcg", "set_sregs_test")?.status, "pass");
		// The CPUID change breaks cpuid_test on the demo kernel; Debian's kernel, the baseline, passes it.
		t.regex(
			first.result("linux@demo/tcg", "cpuid_test")?.explanation ?? "",
			new RegExp(
				`^regression: passed on debian \\((${await sha("debian")})\\); commits \\1\\.\\.${await sha("demo")} \\(\\d+\\)$`,
			),
		);
		t.is(first.result("debian/tcg", "cpuid_test")?.status, "pass");
		t.regex(first.run.stdout, /run directory: /);

		// explain, running nothing: the test's commits and where the fix they link to is merged.
		const explain = await execa(
			"node",
			[CLI, "explain", "selftests:x86_64/set_sregs_test", "--matrix", "matrices/demo.yaml"],
			{ cwd: REPO, reject: false, env: { NO_COLOR: "1" } },
		);
		t.is(explain.exitCode, 0, explain.stderr);
		t.true(
			explain.stdout.includes(
				`needs "KVM: x86: Reject KVM_SET_SREGS with reserved CR8 bits set" (20260107101500.4100-2-dev@example.org): in linux@demo (${fix.slice(0, 8)}); not in linux@debian`,
			),
			explain.stdout,
		);

		const second = await demo(path.join(dir, "second"));
		t.is(second.run.exitCode, 0, second.run.stderr);
		t.regex(second.run.stdout, /cache hit: kernel \w+ \(make skipped\)/);
		t.is(second.results.cells.find((c) => c.id === "linux@demo/tcg")?.kernel.build?.cacheHit, true);
		t.is(second.result("debian/tcg", "set_sregs_test")?.verdict?.verdict, "pending-fix");
		t.is(second.result("linux@demo/tcg", "cpuid_test")?.verdict?.verdict, "regression");
	},
);
