import { once } from "node:events";
import { createWriteStream, existsSync } from "node:fs";
import { type FileHandle, mkdtemp, open, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { LineSplitter } from "./lines.js";

/** A command that failed: what was run, how it ended, and the tail of what it said. */
export class CommandError extends Error {
	override readonly name = "CommandError";
	constructor(
		readonly command: readonly string[],
		readonly exitCode: number | undefined,
		readonly output: readonly string[],
		message: string,
		/** The signal that ended it (`SIGSEGV`), when one did: then there is no exit code. */
		readonly signal?: string,
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

/** util-linux's setpriv (Debian has it everywhere: util-linux is essential). */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((candidate) => existsSync(candidate));

/**
 * The shell every command runs under, as the leader of a session of its own. A process group is
 * not enough to end what a command started: GNU timeout (KUT's x86/run, host selftests) moves
 * itself and its test into a group of their own, so killing the command's group left them, and
 * QEMU under them, running and holding /dev/kvm. None of them leaves the session: on TERM (a
 * cancel, or kvm-matrix's death through setpriv's death signal) and when the command ends, the
 * shell kills every other process of its session (procps' pgrep), then exits with the command's
 * status.
 */
const SESSION_REAPER = `reap() { for p in $(pgrep -s 0); do [ "$p" = "$$" ] || kill -KILL "$p" 2>/dev/null; done; }
trap 'reap; exit 143' TERM INT HUP
"$@" &
wait $!
status=$?
reap
exit $status`;

/**
 * The one way kvm-matrix runs a program: an argument array (never a shell string), killed with
 * its whole process group on abort so `make -j` leaves no compiler behind, output streamed by line.
 */
export async function runCommand(file: string, args: readonly string[], options: RunOptions = {}): Promise<string[]> {
	const keep = options.keepLines ?? 200;
	const tail: string[] = [];
	// setpriv ties the session's life to this process: a kvm-matrix killed with SIGKILL (an OOM
	// kill, a CI timeout) takes its make, its tests and their QEMUs with it, so a resume never
	// builds beside an orphan and nobody is left holding /dev/kvm.
	const reaped = ["-c", SESSION_REAPER, "kvm-matrix-session", file, ...args];
	const [command, commandArgs] =
		SETPRIV === undefined ? ["/bin/sh", reaped] : [SETPRIV, ["--pdeathsig", "TERM", "--", "/bin/sh", ...reaped]];
	const child = execa(command, commandArgs, {
		...(options.cwd === undefined ? {} : { cwd: options.cwd }),
		env: { LC_ALL: "C", ...options.env },
		stdin: "ignore",
		all: true,
		buffer: false,
		reject: false,
		// Its own session (and process group), so a cancel can end everything the command started.
		detached: true,
		cleanup: true,
	});
	// What the session's shell left of its group (it had no pgrep): by group id, which outlives
	// the shell while any member lives.
	const killGroup = () => {
		if (child.pid === undefined) return;
		try {
			process.kill(-child.pid, "SIGKILL");
		} catch {}
	};
	// The session's shell ends the session. Only while it runs: once it has exited and been
	// reaped, its pid may be another process's, which a TERM must not reach.
	const kill = () => {
		if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
		try {
			process.kill(child.pid, "SIGTERM");
		} catch {}
		setTimeout(killGroup, 1_000).unref();
	};
	options.signal?.addEventListener("abort", kill, { once: true });
	if (options.signal?.aborted) kill();
	// Once the command itself has exited, what it left running goes with the group now, not after
	// the output ends: a leftover that holds the output pipe open (`sleep &`, a daemon that kept
	// its stdout) would otherwise keep this call waiting for as long as it lives.
	child.once("exit", killGroup);
	try {
		// Host and ssh tests' output is outside text: linear to split, and capped (see lines.ts).
		const lines = new LineSplitter((line) => {
			options.onLine?.(line);
			tail.push(line);
			if (tail.length > keep) tail.shift();
		});
		for await (const chunk of child.all ?? []) lines.push(String(chunk));
		lines.end();
		const result = await child;
		if (options.signal?.aborted) throw new CancelledError();
		if (result.exitCode !== 0) {
			const last = tail.filter((l) => l.trim() !== "").at(-1) ?? "";
			throw new CommandError(
				[file, ...args],
				result.exitCode,
				[...tail],
				`${file} ${args[0] ?? ""} failed (exit ${result.exitCode ?? result.signal})${last === "" ? "" : `: ${last.trim()}`}`,
				result.signal ?? undefined,
			);
		}
		return tail;
	} finally {
		options.signal?.removeEventListener("abort", kill);
		child.off("exit", killGroup);
		// Children that outlived their parent (a compiler after make died) go with the group, or
		// with the session if the shell still runs (a view that threw mid-output).
		if (child.exitCode !== null || child.signalCode !== null) killGroup();
		else kill();
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
 * git options for a walk over a whole history: git maps its packs in windows of up to 1 GiB and
 * keeps them, so a walk of a million commits counted the whole 825 MB pack in its memory; smaller
 * windows, fewer kept, cost nothing measurable in time.
 */
export const BOUNDED_PACK_MEMORY = ["-c", "core.packedGitWindowSize=32m", "-c", "core.packedGitLimit=128m"] as const;

/**
 * Runs a command whose stdout is a stream of `separator`-terminated records (`git log
 * --format=...%x1e`) and hands each record over as it arrives, so a history of a million commits
 * is never held whole. The command writes into a private temporary file that is read as it
 * grows: through a pipe, git log of a large history takes a third longer than into a file (the
 * pipe's small buffer makes the writer wait), and the records are parsed on the other core while
 * git still writes. Fails like `runCommand`, with stderr's last line.
 */
export async function streamRecords(
	file: string,
	args: readonly string[],
	separator: string,
	onRecord: (record: string) => void,
	options: { readonly input?: string } = {},
): Promise<void> {
	const dir = await mkdtemp(path.join(os.tmpdir(), "kvm-matrix-stream-"));
	const out = path.join(dir, "stdout");
	try {
		// The child writes straight into the file through its own descriptor (an opened file stream
		// is handed to it as one): nothing in between.
		const sink = createWriteStream(out);
		await once(sink, "open");
		const child = execa(file, args, {
			...(options.input === undefined ? { stdin: "ignore" as const } : { input: options.input }),
			stdout: sink,
			reject: false,
			env: { LC_ALL: "C" },
		});
		void child.finally(() => sink.close());
		let exited = false;
		const done = child.then((result) => {
			exited = true;
			return result;
		});
		const decoder = new TextDecoder();
		const buffer = Buffer.allocUnsafe(1 << 20);
		let handle: FileHandle | undefined;
		let position = 0;
		let partial = "";
		const take = (text: string) => {
			const all = partial + text;
			let start = 0;
			for (let end = all.indexOf(separator); end !== -1; end = all.indexOf(separator, start)) {
				onRecord(all.slice(start, end));
				start = end + separator.length;
			}
			partial = all.slice(start);
		};
		for (;;) {
			// Whether the writer had finished is read before the file, so a last chunk is never missed.
			const finished = exited;
			handle ??= await open(out, "r").catch(() => undefined);
			const { bytesRead } =
				handle === undefined ? { bytesRead: 0 } : await handle.read(buffer, 0, buffer.length, position);
			if (bytesRead > 0) {
				position += bytesRead;
				take(decoder.decode(buffer.subarray(0, bytesRead), { stream: true }));
				continue;
			}
			if (finished) break;
			// Caught up with the writer: let it get ahead, so that reads stay large.
			await new Promise((resolve) => setTimeout(resolve, 20));
		}
		take(decoder.decode());
		// What follows the last separator is a record too when records start with one.
		if (partial !== "") onRecord(partial);
		await handle?.close();
		const result = await done;
		if (result.exitCode !== 0) {
			const lines = String(result.stderr ?? "").split("\n");
			const last = lines.filter((l) => l.trim() !== "").at(-1) ?? "";
			throw new CommandError(
				[file, ...args],
				result.exitCode,
				lines,
				`${file} ${args[0] ?? ""} failed (exit ${result.exitCode ?? result.signal})${last === "" ? "" : `: ${last.trim()}`}`,
			);
		}
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
}
