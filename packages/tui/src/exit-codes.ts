/** The command's exit statuses; scripts and CI depend on these, so they live in one place. */
export const EXIT = {
	ok: 0,
	/** The run finished and some result needs attention (used by `run` and `ci`). */
	testFailures: 1,
	/** Bad input or usage: a malformed matrix, an unknown option. Nothing was started. */
	usage: 2,
	/** A bug in kvm-matrix itself. */
	internal: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
