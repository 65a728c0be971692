/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
	readonly stdout: (text: string) => void;
	readonly stderr: (text: string) => void;
	readonly env: Readonly<Record<string, string | undefined>>;
	readonly cwd: string;
	/** Whether stdout is a terminal (colour, and later the Ink app, depend on it). */
	readonly isTty: boolean;
}

export function processIo(): CliIo {
	return {
		stdout: (text) => process.stdout.write(text),
		stderr: (text) => process.stderr.write(text),
		env: process.env,
		cwd: process.cwd(),
		isTty: process.stdout.isTTY === true,
	};
}
