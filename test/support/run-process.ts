// A real `kvm-matrix run` as a process: started, watched, killed with SIGKILL and resumed (for the
// run and kill/resume tests and scripts/kill-resume.sh). A SIGKILL gives the run no chance to clean
// up, as a CI job's timeout or an OOM kill does; like those, it takes the whole process tree
// (QEMU, make) with it.
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { CLI, REPO } from "./cli.js";

export const cliEnv = (cache: string) => ({ KVM_MATRIX_CACHE: cache, XDG_CACHE_HOME: cache, NO_COLOR: "1" });

/** A matrix of two cells on the fakelinux tree: four quick selftests each, one that fails (and is retried). */
export function killResumeMatrix(tree: string, ref = "master"): string {
	const dir = mkdtempSync(path.join(os.tmpdir(), "kill-resume-matrix-"));
	const file = path.join(dir, "m.yaml");
	writeFileSync(
		file,
		`name: kill-resume
trees:
  fake: { path: ${tree} }
config: { base: tinyconfig, fragments: [kvm_guest.config] }
kernels:
  - { tree: fake, ref: ${ref} }
targets:
  - { name: one, qemu: { smp: 1, memory: 512M, accel: tcg } }
  - { name: two, qemu: { smp: 1, memory: 512M, accel: tcg } }
suites:
  selftests:
    include: [x86_64/pass_test, x86_64/skip_test, x86_64/fail_test, x86_64/after_panic_test]
    timeout: 30s
`,
	);
	return file;
}

/** `cell suite:test#attempt` for every result line of a run's journal. */
export function readAttempts(runDir: string): string[] {
	let text = "";
	try {
		text = readFileSync(path.join(runDir, "journal.jsonl"), "utf8");
	} catch {
		return [];
	}
	return text.split("\n").flatMap((line) => {
		try {
			const r = JSON.parse(line) as {
				type?: string;
				cell?: string;
				result?: { suite: string; testId: string; attempt: number };
			};
			return r.type === "test-result" && r.result !== undefined
				? [`${r.cell} ${r.result.suite}:${r.result.testId}#${r.result.attempt}`]
				: [];
		} catch {
			return [];
		}
	});
}

interface ResultsFile {
	readonly outcome: string;
	readonly cells: readonly { readonly id: string; readonly results: readonly { suite: string; testId: string }[] }[];
}

/** The test keys results.json has, `cell suite:test`, sorted (duplicates kept, so they show). */
export function resultKeys(runDir: string): string[] {
	const results = JSON.parse(readFileSync(path.join(runDir, "results.json"), "utf8")) as ResultsFile;
	return results.cells.flatMap((c) => c.results.map((r) => `${c.id} ${r.suite}:${r.testId}`)).sort();
}

export function startRun(matrixFile: string, runDir: string, cache: string) {
	return execa("node", [CLI, "run", matrixFile, "--run-dir", runDir, "--headless"], {
		env: cliEnv(cache),
		reject: false,
		cwd: REPO,
		detached: true,
	});
}

export function resume(runDir: string, cache: string) {
	return execa("node", [CLI, "resume", runDir, "--headless"], { env: cliEnv(cache), reject: false, cwd: REPO });
}

/**
 * SIGKILL for the run and everything it started: its own process group and every process that
 * names the run directory or the cache (QEMU and make run in groups of their own).
 */
export async function killRunTree(child: { readonly pid?: number | undefined }, runDir: string, cache: string) {
	if (child.pid !== undefined) {
		try {
			process.kill(-child.pid, "SIGKILL");
		} catch {}
	}
	for (const marker of [runDir, cache])
		await execa("pkill", ["-KILL", "-f", marker.replaceAll(/[.+]/g, "\\$&")], { reject: false });
}

/** Resolves once `pattern` appears in what the child printed so far. */
export function waitFor(child: { readonly stdout: NodeJS.ReadableStream | null }, pattern: RegExp, maxMs: number) {
	return new Promise<void>((resolve, reject) => {
		let seen = "";
		const timer = setTimeout(() => reject(new Error(`never saw ${pattern} in:\n${seen}`)), maxMs);
		child.stdout?.on("data", (chunk: Buffer) => {
			seen += chunk.toString();
			if (pattern.test(seen)) {
				clearTimeout(timer);
				resolve();
			}
		});
	});
}

/** Attempts journaled more than once (the same test, cell and attempt): a test run twice. */
export function duplicated(attempts: readonly string[]): string[] {
	const seen = new Set<string>();
	const twice: string[] = [];
	for (const a of attempts) {
		if (seen.has(a)) twice.push(a);
		seen.add(a);
	}
	return twice;
}

/**
 * Processes still running whose working directory is under `dir` or whose command line names it
 * (a KUT checkout in the cache, a QEMU booting a run's kernel): what a dead run left behind.
 */
export function processesUnder(dir: string): string[] {
	const found: string[] = [];
	for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
		try {
			if (Number(pid) === process.pid) continue;
			const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
			if (!readlinkSync(`/proc/${pid}/cwd`).startsWith(dir) && !command.includes(dir)) continue;
			if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"))) continue;
			found.push(`${pid} ${command}`);
		} catch {
			// Gone meanwhile, or another user's.
		}
	}
	return found;
}
