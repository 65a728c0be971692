// Paths a user names (--run-dir, --json, --report, report --out) are made or checked before any
// work and refused in one line (issue 26): `run --run-dir /proc/x` once spun at 70 % CPU for good,
// deaf to SIGTERM (Node's recursive mkdir on procfs), and `run --json /proc/x.json` failed only
// after the whole run, as an internal error.
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { checkWritableFile, makeDirectory, UserPathError } from "../packages/orchestrator/src/paths/user-paths.js";
import { CLI } from "./support/cli.js";
import { fakeLinux } from "./support/fakelinux.js";

const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix));

test("a directory is made component by component; one that cannot be is one line, at once", (t) => {
	const root = tmp("user-paths-");
	const deep = path.join(root, "a", "b", "c");
	makeDirectory(deep);
	t.true(existsSync(deep));
	makeDirectory(deep);
	t.is(
		t.throws(() => makeDirectory("/proc/kvm-matrix-test/x"), { instanceOf: UserPathError })?.message,
		"/proc/kvm-matrix-test/x: cannot be made (ENOENT at /proc/kvm-matrix-test)",
	);
	const file = path.join(root, "plain");
	writeFileSync(file, "x");
	t.is(
		t.throws(() => makeDirectory(path.join(file, "sub")), { instanceOf: UserPathError })?.message,
		`${path.join(file, "sub")}: cannot be made (${file} is not a directory)`,
	);
});

test("a file to write at the end is checked at the start, and none is left behind by the check", (t) => {
	const root = tmp("user-files-");
	const out = path.join(root, "new", "summary.json");
	checkWritableFile(out);
	t.deepEqual(readdirSync(path.dirname(out)), []);
	const kept = path.join(root, "kept.json");
	writeFileSync(kept, "old\n");
	checkWritableFile(kept);
	t.true(existsSync(kept));
	t.throws(() => checkWritableFile("/proc/kvm-matrix-test.json"), {
		instanceOf: UserPathError,
		message: "/proc/kvm-matrix-test.json: cannot be written (ENOENT)",
	});
});

/** A matrix of one kernel from a small local tree: enough for a run to get as far as its directory. */
async function matrixIn(dir: string): Promise<string> {
	const file = path.join(dir, "m.yaml");
	writeFileSync(
		file,
		`name: user-paths
trees:
  linux: { path: ${await fakeLinux()} }
kernels:
  - { tree: linux, ref: master }
targets:
  - { name: tcg, qemu: { cpu: max, smp: 1, memory: 512M, accel: tcg } }
suites:
  selftests: { include: ["x86_64/*"], timeout: 30s }
`,
	);
	return file;
}

/** `kvm-matrix run`, killed outright if it does not end (the spin this guards against ignored SIGTERM). */
const run = async (dir: string, ...args: string[]) =>
	execa("node", [CLI, "run", await matrixIn(dir), "--headless", ...args], {
		cwd: dir,
		reject: false,
		timeout: 120_000,
		killSignal: "SIGKILL",
		env: { NO_COLOR: "1", KVM_MATRIX_CACHE: path.join(dir, "cache") },
	});

test("run with an output that cannot be written is refused before anything runs, exit 2, one line", async (t) => {
	const dir = tmp("user-run-");
	const runDir = path.join(dir, "run");
	for (const [args, line] of [
		[
			["--json", "/proc/kvm-matrix-test.json"],
			"kvm-matrix run: /proc/kvm-matrix-test.json: cannot be written (ENOENT)",
		],
		[
			["--report", "junit:/proc/kvm-matrix-test.xml"],
			"kvm-matrix run: /proc/kvm-matrix-test.xml: cannot be written (ENOENT)",
		],
	] as const) {
		const r = await run(dir, "--run-dir", runDir, ...args);
		t.is(r.exitCode, 2, r.stderr);
		t.is(r.stderr.trim(), line);
		t.false(existsSync(runDir), "nothing ran");
	}
});

test("run --run-dir under /proc ends at once with one line, exit 2", async (t) => {
	const dir = tmp("user-rundir-");
	const r = await run(dir, "--run-dir", "/proc/kvm-matrix-test/run");
	t.false(r.timedOut, "it ended by itself");
	t.is(r.exitCode, 2, r.stderr);
	t.regex(
		r.stderr.trim().split("\n").at(-1) ?? "",
		/^kvm-matrix run: \/proc\/kvm-matrix-test\/run: cannot be made \(ENOENT/,
	);
});
