/** The command's exit statuses; scripts and CI depend on these, so they live in one place. */
export const EXIT = {
	ok: 0,
	/** The run finished and some result needs attention (used by `run` and `ci`). */
	testFailures: 1,
	/** Bad input or usage: a malformed matrix, an unknown option. Nothing was started. */
	usage: 2,
	/** A bug in kvm-matrix itself. */
	internal: 3,
	/** `boot`: the guest kernel panicked or oopsed. */
	kernelFault: 123,
	/** `boot`: the guest timed out or hung (as timeout(1) reports it). */
	timedOut: 124,
	/** `boot`: QEMU could not start or the guest did not boot. */
	bootFailed: 125,
	/** Interrupted (Ctrl-C): 128 + SIGINT. */
	interrupted: 130,
} as const;

/** One of EXIT, or (for `boot`) the guest command's own exit status. */
export type ExitCode = number;
