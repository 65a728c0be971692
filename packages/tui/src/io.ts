import { terminalText } from "./render/terminal-text.js";

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
	readonly stdout: (text: string) => void;
	readonly stderr: (text: string) => void;
	readonly env: Readonly<Record<string, string | undefined>>;
	readonly cwd: string;
	/** Whether stdout is a terminal (colour, and later the Ink app, depend on it). */
	readonly isTty: boolean;
	/** Aborted on Ctrl-C (SIGINT) or SIGTERM, so long commands can stop cleanly. */
	readonly signal?: AbortSignal;
	/** The terminal itself, for the interactive view; absent when stdin or stdout is not one. */
	readonly terminal?: { readonly stdin: NodeJS.ReadStream; readonly stdout: NodeJS.WriteStream };
}

export function processIo(): CliIo {
	const controller = new AbortController();
	// A persistent handler: execa's exit hooks re-raise a signal when no other handler is left,
	// which would kill the process before a cancelled run has written its results.
	// SIGHUP is a closed terminal or a dropped ssh session: the run stops as for Ctrl-C, its
	// results written and KVM's modules restored, rather than dying where it stands.
	// A file-size limit (`ulimit -f`, some CI runners set one) sends SIGXFSZ with the write that
	// crosses it. Node ignores it, but execa's exit hook listens to it and then re-raises it,
	// killing kvm-matrix mid-write; with a listener of our own the write fails with EFBIG instead,
	// and is handled as a full disk is.
	process.on("SIGXFSZ", () => {});
	for (const name of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
		process.on(name, () => {
			if (controller.signal.aborted) process.exit(130); // a second Ctrl-C: stop waiting
			controller.abort(new Error(`interrupted by ${name}`));
		});
	}
	return {
		signal: controller.signal,
		// Everything printed passes through terminalText: much of it is outside text.
		stdout: (text) => process.stdout.write(terminalText(text)),
		stderr: (text) => process.stderr.write(terminalText(text)),
		env: process.env,
		cwd: process.cwd(),
		isTty: process.stdout.isTTY === true,
		...(process.stdout.isTTY === true && process.stdin.isTTY === true
			? { terminal: { stdin: process.stdin, stdout: process.stdout } }
			: {}),
	};
}
