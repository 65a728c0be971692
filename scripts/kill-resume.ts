// N trials of: start a real `kvm-matrix run` on the fakelinux tree, SIGKILL it (and its process
// tree) at a random moment, resume it, and compare the results with an uninterrupted run's.
// Prints one line per trial and `trials, lost, duplicated` at the end.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fakeLinux } from "../test/support/fakelinux.js";
import {
	duplicated,
	killResumeMatrix,
	killRunTree,
	readAttempts,
	resultKeys,
	resume,
	startRun,
} from "../test/support/run-process.js";

const trials = Number(process.argv[2] ?? "20");
if (!Number.isInteger(trials) || trials < 1) {
	process.stderr.write("usage: scripts/kill-resume.sh N (N trials, N ≥ 1)\n");
	process.exit(2);
}
const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix));
const tree = await fakeLinux();
const matrix = killResumeMatrix(tree);
const cache = tmp("kill-resume-cache-");
const whole = tmp("kill-resume-whole-");
const started = Date.now();
await startRun(matrix, whole, cache);
const expected = resultKeys(whole);
const wholeMs = Date.now() - started;
process.stdout.write(`uninterrupted: ${expected.length} tests in ${Math.round(wholeMs / 1000)} s\n`);

let lost = 0;
let twice = 0;
for (let trial = 1; trial <= trials; trial++) {
	// Every third trial on a cold cache, so kills land in builds as well as in guests.
	const runCache = trial % 3 === 0 ? tmp("kill-resume-cache-") : cache;
	const runDir = tmp("kill-resume-run-");
	const child = startRun(matrix, runDir, runCache);
	const delayMs = Math.round(Math.random() * wholeMs);
	await new Promise((resolve) => setTimeout(resolve, delayMs));
	await killRunTree(child, runDir, runCache);
	await child;
	const kept = readAttempts(runDir).length;
	let resumed: { readonly exitCode?: number | undefined; readonly stderr: string } = await resume(runDir, runCache);
	// Killed before it planned (resolving refs): nothing was learnt, and the run starts again.
	const unplanned = resumed.exitCode === 2 && /holds no run/.test(resumed.stderr);
	if (unplanned) resumed = await startRun(matrix, runDir, runCache);
	let keys: string[] = [];
	try {
		keys = resultKeys(runDir);
	} catch {}
	const missing = expected.filter((k) => !keys.includes(k)).length;
	const dup = duplicated(readAttempts(runDir)).length + (keys.length - new Set(keys).size);
	lost += missing;
	twice += dup;
	process.stdout.write(
		`trial ${trial}: killed after ${(delayMs / 1000).toFixed(1)} s with ${kept} results journaled; ${unplanned ? "not planned yet, run again" : "resume"} exit ${resumed.exitCode}; ${missing} lost, ${dup} duplicated\n`,
	);
}
process.stdout.write(`trials ${trials}, lost ${lost}, duplicated ${twice}\n`);
process.exit(lost + twice === 0 ? 0 : 1);
