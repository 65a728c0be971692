// One CLI command measured the way a user's shell would see it: `node kvm-matrix.js ...` under GNU
// time, which reports its wall time and its peak resident set (the largest of node and the git
// processes it waited for). A command past its time limit is killed with its whole process group
// (GNU time does not pass a signal on to what it runs).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";

export interface Measured {
	/** Wall seconds and peak RSS in MB, as GNU time reports them; absent after a timeout. */
	readonly seconds?: number;
	readonly peakMb?: number;
	readonly timedOut: boolean;
	readonly exitCode?: number;
	readonly stdout: string;
	readonly stderr: string;
}

export class CommandFailed extends Error {
	constructor(
		readonly command: string,
		readonly exitCode: number | undefined,
		readonly stderrTail: string,
	) {
		super(`${command}: exit ${exitCode ?? "by signal"}`);
	}
}

export interface MeasureOptions {
	readonly cli: string;
	readonly env: Readonly<Record<string, string>>;
	readonly cwd: string;
	readonly timeoutSeconds: number;
	/** Exit statuses that are an answer, not a failure (1: the run has failures to look at). */
	readonly okExits?: readonly number[];
}

const tail = (text: string, lines = 15) => text.trimEnd().split("\n").slice(-lines).join("\n");

/** Runs `kvm-matrix ARGS` once; a command that fails (not a timeout) throws CommandFailed. */
export async function measure(args: readonly string[], options: MeasureOptions): Promise<Measured> {
	// The previous command's writes (a merged run of 100 MB, its removal) flushed now, not billed to this one.
	await execa("sync");
	const scratch = mkdtempSync(path.join(os.tmpdir(), "bench-scale-time-"));
	const timeFile = path.join(scratch, "time");
	const child = execa("/usr/bin/time", ["-o", timeFile, "-f", "%e %M", process.execPath, options.cli, ...args], {
		cwd: options.cwd,
		env: options.env,
		reject: false,
		// Its own process group, so a timeout can end node and the git processes it started.
		detached: true,
		maxBuffer: 1 << 30,
	});
	let timedOut = false;
	const timer = setTimeout(() => {
		timedOut = true;
		if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
	}, options.timeoutSeconds * 1000);
	const result = await child;
	clearTimeout(timer);
	const command = `kvm-matrix ${args.join(" ")}`;
	const stdout = String(result.stdout ?? "");
	const stderr = String(result.stderr ?? "");
	if (timedOut) {
		rmSync(scratch, { recursive: true, force: true });
		return { timedOut, stdout, stderr };
	}
	// GNU time writes "Command exited with non-zero status N" first when there is one; the figures last.
	const figures = readFileSync(timeFile, "utf8").trim().split("\n").at(-1) ?? "";
	rmSync(scratch, { recursive: true, force: true });
	const [seconds, kb] = figures.split(" ").map(Number);
	if (result.exitCode === undefined || !(options.okExits ?? [0]).includes(result.exitCode))
		throw new CommandFailed(command, result.exitCode, tail(stderr));
	return {
		timedOut,
		stdout,
		stderr,
		exitCode: result.exitCode,
		...(seconds === undefined || Number.isNaN(seconds) ? {} : { seconds }),
		...(kb === undefined || Number.isNaN(kb) ? {} : { peakMb: kb / 1024 }),
	};
}
