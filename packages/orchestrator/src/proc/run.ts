import { execa } from "execa";

/** A command that failed: what was run, how it ended, and the tail of what it said. */
export class CommandError extends Error {
	override readonly name = "CommandError";
	constructor(
		readonly command: readonly string[],
		readonly exitCode: number | undefined,
		readonly output: readonly string[],
		message: string,
	) {
		super(message);
	}
}

export class CancelledError extends Error {
	override readonly name = "CancelledError";
	constructor() {
		super("cancelled");
	}
}

// Optional fields accept an explicit undefined so callers can pass their own optional options on.
export interface RunOptions {
	readonly cwd?: string | undefined;
	readonly env?: Readonly<Record<string, string>> | undefined;
	readonly signal?: AbortSignal | undefined;
	/** Every output line (stdout and stderr interleaved), as it comes. */
	readonly onLine?: ((line: string) => void) | undefined;
	/** How many trailing lines to keep for the error message. */
	readonly keepLines?: number;
}

/**
 * The one way kvm-matrix runs a program: an argument array (never a shell string), killed with
 * its whole process group on abort so `make -j` leaves no compiler behind, output streamed by line.
 */
export async function runCommand(file: string, args: readonly string[], options: RunOptions = {}): Promise<string[]> {
	const keep = options.keepLines ?? 200;
	const tail: string[] = [];
	const child = execa(file, args, {
		...(options.cwd === undefined ? {} : { cwd: options.cwd }),
		env: { LC_ALL: "C", ...options.env },
		stdin: "ignore",
		all: true,
		buffer: false,
		reject: false,
		// Its own process group, so a cancel can kill make and every compiler it started.
		detached: true,
		cleanup: true,
	});
	const kill = () => {
		if (child.pid !== undefined) {
			try {
				process.kill(-child.pid, "SIGKILL");
			} catch {}
		}
	};
	options.signal?.addEventListener("abort", kill, { once: true });
	if (options.signal?.aborted) kill();
	try {
		let partial = "";
		for await (const chunk of child.all ?? []) {
			const lines = (partial + String(chunk)).split("\n");
			partial = lines.pop() ?? "";
			for (const line of lines) {
				options.onLine?.(line);
				tail.push(line);
				if (tail.length > keep) tail.shift();
			}
		}
		if (partial !== "") {
			options.onLine?.(partial);
			tail.push(partial);
		}
		const result = await child;
		if (options.signal?.aborted) throw new CancelledError();
		if (result.exitCode !== 0) {
			const last = tail.filter((l) => l.trim() !== "").at(-1) ?? "";
			throw new CommandError(
				[file, ...args],
				result.exitCode,
				[...tail],
				`${file} ${args[0] ?? ""} failed (exit ${result.exitCode ?? result.signal})${last === "" ? "" : `: ${last.trim()}`}`,
			);
		}
		return tail;
	} finally {
		options.signal?.removeEventListener("abort", kill);
		// Children that outlived their parent (a compiler after make died) go with the group.
		kill();
	}
}

/** Runs a quick command and returns its trimmed stdout; for git plumbing. */
export async function capture(file: string, args: readonly string[], cwd?: string): Promise<string> {
	const result = await execa(file, args, { ...(cwd === undefined ? {} : { cwd }), reject: false, stdin: "ignore" });
	if (result.exitCode !== 0) {
		const message = (result.stderr || result.stdout).trim().split("\n").at(-1) ?? "";
		throw new CommandError([file, ...args], result.exitCode, result.stderr.split("\n"), message);
	}
	return result.stdout.trim();
}

/**
 * Runs a command whose stdout is a stream of `separator`-terminated records (`git log
 * --format=...%x1e`) and hands each record over as it arrives, so a history of a million commits
 * is never held whole. Fails like `runCommand`, with stderr's last line.
 */
export async function streamRecords(
	file: string,
	args: readonly string[],
	separator: string,
	onRecord: (record: string) => void,
): Promise<void> {
	const child = execa(file, args, { stdin: "ignore", buffer: false, reject: false, env: { LC_ALL: "C" } });
	const stderr: string[] = [];
	child.stderr?.setEncoding("utf8");
	child.stderr?.on("data", (chunk: string) => {
		stderr.push(chunk);
	});
	child.stdout?.setEncoding("utf8");
	let partial = "";
	for await (const chunk of child.stdout ?? []) {
		const text = partial + (chunk as string);
		let start = 0;
		for (let end = text.indexOf(separator); end !== -1; end = text.indexOf(separator, start)) {
			onRecord(text.slice(start, end));
			start = end + separator.length;
		}
		partial = text.slice(start);
	}
	const result = await child;
	if (result.exitCode !== 0) {
		const lines = stderr.join("").split("\n");
		const last = lines.filter((l) => l.trim() !== "").at(-1) ?? "";
		throw new CommandError(
			[file, ...args],
			result.exitCode,
			lines,
			`${file} ${args[0] ?? ""} failed (exit ${result.exitCode ?? result.signal})${last === "" ? "" : `: ${last.trim()}`}`,
		);
	}
}
