// Where a host target's suites run: this machine, or a remote one over ssh. Runners take a Shell
// so that running KUT or a selftest on a QA machine is the same code as running it here.
import { runCommand } from "../proc/run.js";

export interface ShellRun {
	/** The working directory, as the machine sees it. */
	readonly cwd: string;
	readonly env?: Readonly<Record<string, string>>;
	readonly signal?: AbortSignal;
	/** Every output line (stdout and stderr interleaved), as it comes. */
	readonly onLine?: (line: string) => void;
}

export interface Shell {
	/** Who runs the commands, for messages: `this machine`, `kvmqa@qa-icx-01`. */
	readonly where: string;
	/**
	 * runCommand's contract on that machine: the command's last lines; a CommandError for a
	 * non-zero exit; a CancelledError when `signal` aborts it; and, for a remote machine, a
	 * ConnectionLostError when it could not be reached or the connection dropped before the
	 * command's own exit status came back.
	 */
	run(file: string, args: readonly string[], options: ShellRun): Promise<string[]>;
}

export const localShell: Shell = {
	where: "this machine",
	run: (file, args, options) => runCommand(file, args, options),
};

/** A remote machine that could not be reached, or went away while a command ran there. */
export class ConnectionLostError extends Error {
	override readonly name = "ConnectionLostError";
	constructor(
		readonly where: string,
		readonly reason: string,
	) {
		super(`ssh to ${where}: ${reason}`);
	}
}
