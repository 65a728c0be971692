// N trials of a real `kvm-matrix run` (the fakelinux tree booted under QEMU, warm cache), each with
// one fault, after which the record is put right as a user would (resume) and checked against an
// uninterrupted run's. The faults, in turn, each at a random moment:
//   sigkill    SIGKILL of the run's whole process group (an OOM kill, a CI job's timeout)
//   stop       SIGSTOP past the run lock's stale time, a `resume` started meanwhile, then SIGCONT
//   full       the run's files refused part-way (RLIMIT_FSIZE: the short write and the error a
//              full disk gives), then a resume once there is room
//   second     a second run on the same cache at the same time
//   tamper     SIGKILL, then plan.json's commit id turned into a path out of the cache; the
//              resume must refuse it in one line; the plan put back, the resume finishes
// Prints one line per trial, then `trials, lost, duplicated, two-writers, orphans, outside-writes`.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { CLI, REPO } from "../test/support/cli.js";
import { fakeLinux } from "../test/support/fakelinux.js";
import {
	cliEnv,
	duplicated,
	killResumeMatrix,
	processesUnder,
	readAttempts,
	resultKeys,
	resume,
	startRun,
} from "../test/support/run-process.js";

const FAULTS = ["sigkill", "stop", "full", "second", "tamper"] as const;
type Fault = (typeof FAULTS)[number];
/** The run lock's stale time (paths/lock.ts), and a margin. */
const STALE_MS = 30_000 + 3_000;

const trials = Number(process.argv[2] ?? "50");
// `scripts/chaos.sh N full stop`: only those faults, in turn.
const chosen = process.argv.slice(3);
const unknown = chosen.filter((f) => !(FAULTS as readonly string[]).includes(f));
if (!Number.isInteger(trials) || trials < 1 || unknown.length > 0) {
	process.stderr.write(`usage: scripts/chaos.sh N [FAULT...] (N trials, N ≥ 1; faults: ${FAULTS.join(", ")})\n`);
	process.exit(2);
}
const faults: readonly Fault[] = chosen.length === 0 ? FAULTS : (chosen as Fault[]);
const root = mkdtempSync(path.join(os.tmpdir(), "chaos-"));
const tmp = (prefix: string) => mkdtempSync(path.join(root, prefix));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const tree = await fakeLinux();
const matrix = killResumeMatrix(tree);
const cache = tmp("cache-");
const whole = tmp("whole-");
const started = Date.now();
await startRun(matrix, whole, cache);
const expected = resultKeys(whole);
const wholeMs = Date.now() - started;
process.stdout.write(
	`uninterrupted (warm cache from here on): ${expected.length} tests in ${Math.round(wholeMs / 1000)} s\n`,
);

interface Trial {
	readonly lost: number;
	readonly duplicated: number;
	readonly twoWriters: number;
	readonly orphans: number;
	readonly outsideWrites: number;
	readonly note: string;
}

/** What a run directory holds against the uninterrupted run: tests missing, tests twice, torn lines. */
function check(runDir: string): Pick<Trial, "lost" | "duplicated"> & { readonly torn: number } {
	let keys: string[] = [];
	try {
		keys = resultKeys(runDir);
	} catch {}
	const text = existsSync(path.join(runDir, "journal.jsonl"))
		? readFileSync(path.join(runDir, "journal.jsonl"), "utf8")
		: "";
	const torn = text.split("\n").filter((line) => {
		if (line.trim() === "") return false;
		try {
			JSON.parse(line);
			return false;
		} catch {
			return true;
		}
	}).length;
	return {
		lost: expected.filter((k) => !keys.includes(k)).length,
		duplicated: duplicated(readAttempts(runDir)).length + (keys.length - new Set(keys).size),
		torn,
	};
}

/** Leftovers of a dead run, once its kernel-side ends have had a moment to go. */
async function orphansOf(...dirs: string[]): Promise<string[]> {
	let left = dirs.flatMap(processesUnder);
	for (let waited = 0; waited < 5_000 && left.length > 0; waited += 250) {
		await sleep(250);
		left = dirs.flatMap(processesUnder);
	}
	return left;
}

/** Entries that appeared in `dir` other than `allowed`: a write outside the run and the cache. */
const newEntries = (dir: string, before: readonly string[], allowed: readonly string[]) =>
	readdirSync(dir).filter((e) => !before.includes(e) && !allowed.includes(e));

/** Resume until the run says it is done (a killed resume is resumed again, as a user would). */
async function resumeToEnd(runDir: string, runCache: string) {
	let resumed: { readonly exitCode?: number | undefined; readonly stderr: string } = await resume(runDir, runCache);
	// Killed before it planned (resolving refs): nothing was learnt, and the run starts again.
	if (resumed.exitCode === 2 && /holds no run/.test(resumed.stderr)) resumed = await startRun(matrix, runDir, runCache);
	return resumed;
}

async function trial(fault: Fault): Promise<Trial> {
	const sandbox = tmp(`trial-${fault}-`);
	const runDir = path.join(sandbox, "run");
	const victim = path.join(sandbox, "victim");
	mkdirSync(victim);
	writeFileSync(path.join(victim, "keep"), "not kvm-matrix's\n");
	const before = readdirSync(sandbox);
	const delayMs = Math.round(Math.random() * wholeMs * 0.8);
	let twoWriters = 0;
	let unrefused = 0;
	const unmount: string[] = [];
	let note = "";
	let orphans: string[] = [];

	if (fault === "sigkill" || fault === "tamper") {
		const child = startRun(matrix, runDir, cache);
		await sleep(delayMs);
		if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
		await child;
		orphans = await orphansOf(runDir);
		if (fault === "tamper" && existsSync(path.join(runDir, "plan.json"))) {
			const planFile = path.join(runDir, "plan.json");
			const plan = readFileSync(planFile, "utf8");
			const parsed = JSON.parse(plan) as { resolved: Record<string, string> };
			for (const key of Object.keys(parsed.resolved)) parsed.resolved[key] = "../../victim";
			writeFileSync(planFile, JSON.stringify(parsed));
			const refused = await resume(runDir, cache);
			const oneLine = refused.stderr.trim().split("\n").length === 1 && refused.stderr.includes("plan.json");
			note = `tampered plan: exit ${refused.exitCode}${oneLine ? ", one line" : `: ${refused.stderr.trim()}`}; `;
			// A tampered plan that is not refused in one line may write anywhere its ids point.
			if (refused.exitCode !== 2 || !oneLine) unrefused++;
			writeFileSync(planFile, plan);
		}
		const resumed = await resumeToEnd(runDir, cache);
		note += `killed after ${(delayMs / 1000).toFixed(1)} s; resume exit ${resumed.exitCode}`;
	} else if (fault === "stop") {
		const child = startRun(matrix, runDir, cache);
		await sleep(delayMs);
		const wasRunning = child.exitCode === null;
		if (child.pid !== undefined) process.kill(-child.pid, "SIGSTOP");
		await sleep(STALE_MS);
		// The user, seeing a run that hangs, resumes it; the stopped one is continued meanwhile.
		const resuming = resume(runDir, cache);
		await sleep(3_000);
		if (child.pid !== undefined) process.kill(-child.pid, "SIGCONT");
		const [old, resumed] = await Promise.all([child, resuming]);
		const oldTookOver = /another kvm-matrix took this run over/.test(old.stderr);
		// Once the resume ran the run, the old holder must have seen the takeover and stopped: had
		// it gone on to its end too, both wrote the one record.
		const resumeRan = resumed.exitCode === 0 || resumed.exitCode === 1;
		// A resume that found the run finished wrote nothing (no run-resumed record): the old holder,
		// stopped on its way out, was the only writer.
		const resumeWrote = readFileSync(path.join(runDir, "journal.jsonl"), "utf8").includes('"type":"run-resumed"');
		if (wasRunning && resumeRan && resumeWrote && !oldTookOver) twoWriters++;
		note = `stopped after ${(delayMs / 1000).toFixed(1)} s; old exit ${old.exitCode}${oldTookOver ? " (taken over)" : ""}, resume exit ${resumed.exitCode}`;
		if (resumed.exitCode === 2 && /in use|holds no run/.test(resumed.stderr)) {
			const again = await resumeToEnd(runDir, cache);
			note += `, resumed again: exit ${again.exitCode}`;
		}
		orphans = await orphansOf(runDir);
	} else if (fault === "full") {
		// The run directory on a small tmpfs (as root), filled somewhere between its first logs and
		// its end; made larger for the resume, as a user frees room. Without root, a file-size
		// limit gives the same short write and error (EFBIG for ENOSPC).
		const kib = 64 + Math.floor(Math.random() * 448);
		const asRoot = process.getuid?.() === 0;
		let full: { readonly exitCode?: number | undefined; readonly stderr: string };
		if (asRoot) {
			mkdirSync(runDir);
			await execa("mount", ["-t", "tmpfs", "-o", `size=${kib}k`, "tmpfs", runDir]);
			unmount.push(runDir);
			full = await startRun(matrix, runDir, cache);
			await execa("mount", ["-o", "remount,size=256m", runDir]);
		} else {
			full = await execa(
				"bash",
				["-c", `ulimit -f ${kib} && exec node "$0" run "$1" --run-dir "$2" --headless`, CLI, matrix, runDir],
				{ env: cliEnv(cache), reject: false, cwd: REPO },
			);
		}
		const stopped = /cannot be written/.test(full.stderr);
		const resumed = await resumeToEnd(runDir, cache);
		note = `${asRoot ? `a ${kib} KiB tmpfs` : `a ${kib} KiB file limit`}: run exit ${full.exitCode}${stopped ? " (stopped: cannot be written)" : ""}; resume exit ${resumed.exitCode}`;
		orphans = await orphansOf(runDir);
	} else {
		const otherDir = path.join(sandbox, "other");
		const [a, b] = await Promise.all([startRun(matrix, runDir, cache), startRun(matrix, otherDir, cache)]);
		const other = check(otherDir);
		note = `two runs on one cache: exit ${a.exitCode} and ${b.exitCode}; the other: ${other.lost} lost, ${other.duplicated} duplicated`;
		if (other.lost + other.duplicated + other.torn > 0) twoWriters++;
		orphans = await orphansOf(runDir, otherDir);
	}

	const record = check(runDir);
	for (const dir of unmount) await execa("umount", [dir], { reject: false });
	if (record.torn > 0) twoWriters++;
	const outside =
		newEntries(sandbox, before, ["run", "other"]).length +
		(readdirSync(victim).join(",") === "keep" ? 0 : 1) +
		unrefused;
	return {
		lost: record.lost,
		duplicated: record.duplicated,
		twoWriters,
		orphans: orphans.length,
		outsideWrites: outside,
		note: `${note}; ${record.lost} lost, ${record.duplicated} duplicated${record.torn > 0 ? `, ${record.torn} torn lines` : ""}${orphans.length > 0 ? `; left running: ${orphans.join(" | ")}` : ""}`,
	};
}

const totals = { lost: 0, duplicated: 0, twoWriters: 0, orphans: 0, outsideWrites: 0 };
for (let n = 1; n <= trials; n++) {
	const fault = faults[(n - 1) % faults.length] as Fault;
	const t = await trial(fault);
	totals.lost += t.lost;
	totals.duplicated += t.duplicated;
	totals.twoWriters += t.twoWriters;
	totals.orphans += t.orphans;
	totals.outsideWrites += t.outsideWrites;
	process.stdout.write(`trial ${n} (${fault}): ${t.note}\n`);
}
process.stdout.write(
	`trials ${trials}, lost ${totals.lost}, duplicated ${totals.duplicated}, two-writers ${totals.twoWriters}, orphans ${totals.orphans}, outside-writes ${totals.outsideWrites}\n`,
);
const bad = totals.lost + totals.duplicated + totals.twoWriters + totals.orphans + totals.outsideWrites;
process.exit(bad === 0 ? 0 : 1);
