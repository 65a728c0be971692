// A remote QA machine over the system ssh and rsync: the user's keys, agent and ssh config apply
// (KVM_MATRIX_SSH_CONFIG names another config file, as `ssh -F` takes it). Every command is one
// ssh call whose remote shell prints the command's exit status after it, behind a marker no test
// can guess: an answer without it is a lost connection, whatever ssh's own exit code says.
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { SshHost } from "../matrix/types.js";
import { CommandError, runCommand } from "../proc/run.js";
import { ConnectionLostError, type Shell, type ShellRun } from "./shell.js";

/** Without a terminal or a person: no prompts, a dead peer noticed in 15 s, not at TCP's pace. */
const SSH_OPTIONS = [
	"-o",
	"BatchMode=yes",
	"-o",
	"ConnectTimeout=15",
	"-o",
	"ServerAliveInterval=5",
	"-o",
	"ServerAliveCountMax=3",
];

/** `user@host:port`, for messages. */
export const sshWhere = (host: SshHost): string =>
	`${host.user === undefined ? "" : `${host.user}@`}${host.host}${host.port === undefined ? "" : `:${host.port}`}`;

/** How a command uses ssh's connection sharing: through a master's socket, as that master, or not. */
export type Control =
	| { readonly kind: "none" }
	| { readonly kind: "via"; readonly socket: string }
	| { readonly kind: "master"; readonly socket: string };

/**
 * The ssh command line up to the destination (the `-e` of rsync is the same words). Never a
 * master of the user's config (ControlMaster auto with ControlPersist would outlive the run):
 * commands go through the session's own master, which runs in the foreground so it can be stopped.
 */
export function sshCommand(
	host: SshHost,
	env: Readonly<Record<string, string | undefined>>,
	control: Control = { kind: "none" },
): string[] {
	const config = env.KVM_MATRIX_SSH_CONFIG;
	const sharing =
		control.kind === "master"
			? ["-o", "ControlMaster=yes", "-o", `ControlPath=${control.socket}`, "-o", "ControlPersist=no"]
			: ["-o", "ControlMaster=no", "-o", `ControlPath=${control.kind === "via" ? control.socket : "none"}`];
	return [
		"ssh",
		...(config === undefined || config === "" ? [] : ["-F", config]),
		...SSH_OPTIONS,
		...sharing,
		...(host.user === undefined ? [] : ["-l", host.user]),
		...(host.port === undefined ? [] : ["-p", String(host.port)]),
	];
}

/** POSIX sh single quoting: the word arrives as written, whatever it holds. */
export const shQuote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The remote shell's script for one command: in `cwd`, with `env`, stdin closed and stderr on
 * stdout (one ordered stream), then `<marker> <status>` on a line of its own.
 */
export function remoteScript(
	file: string,
	args: readonly string[],
	cwd: string,
	env: Readonly<Record<string, string>>,
	marker: string,
): string {
	const assigns = Object.entries({ LC_ALL: "C", ...env }).map(([name, value]) => {
		if (!ENV_NAME.test(name)) throw new Error(`not an environment variable name: ${JSON.stringify(name)}`);
		return `${name}=${shQuote(value)}`;
	});
	const command = [file, ...args].map(shQuote).join(" ");
	// The marker starts a line even when the output did not end one (a test killed mid-write);
	// the newline it adds is taken off again (see `MarkerReader`).
	const script = `cd ${shQuote(cwd)} && { env ${assigns.join(" ")} ${command}; } </dev/null 2>&1; printf '\\n%s %s\\n' ${marker} "$?"`;
	// sshd hands the command to the account's login shell, which may be csh or fish.
	return `exec /bin/sh -c ${shQuote(script)}`;
}

/**
 * The remote output lines with the marker's own newline taken off: the line before the marker
 * is held until the next, and an empty one right before the marker is the newline `printf` added.
 */
export class MarkerReader {
	status: number | undefined;
	private held: string | undefined;
	constructor(
		private readonly marker: string,
		private readonly emit: (line: string) => void,
	) {}
	line(line: string): void {
		if (this.status !== undefined) return;
		if (line.startsWith(`${this.marker} `)) {
			const status = Number(line.slice(this.marker.length + 1));
			this.status = Number.isInteger(status) ? status : -1;
			if (this.held !== undefined && this.held !== "") this.emit(this.held);
			this.held = undefined;
			return;
		}
		if (this.held !== undefined) this.emit(this.held);
		this.held = line;
	}
	/** The end without a marker: the held line was output. */
	end(): void {
		if (this.status === undefined && this.held !== undefined) this.emit(this.held);
		this.held = undefined;
	}
}

/** As runCommand keeps: the lines an error message and a caller's parsing need. */
const KEEP_LINES = 200;

/** The line ssh or the remote shell said last, marker lines left out: why a call failed. */
const lastSaid = (lines: readonly string[], marker: string) =>
	(lines.filter((l) => l.trim() !== "" && !l.startsWith(marker)).at(-1) ?? "").trim();

export function sshShell(
	host: SshHost,
	env: Readonly<Record<string, string | undefined>>,
	control: Control = { kind: "none" },
): Shell {
	const where = sshWhere(host);
	const [ssh = "ssh", ...options] = sshCommand(host, env, control);
	return {
		where,
		async run(file: string, args: readonly string[], run: ShellRun): Promise<string[]> {
			const marker = `kvm-matrix-exit-${randomUUID()}`;
			const output: string[] = [];
			const reader = new MarkerReader(marker, (line) => {
				output.push(line);
				if (output.length > KEEP_LINES) output.shift();
				run.onLine?.(line);
			});
			try {
				await runCommand(ssh, [...options, "--", host.host, remoteScript(file, args, run.cwd, run.env ?? {}, marker)], {
					signal: run.signal,
					onLine: (line) => reader.line(line),
				});
			} catch (error) {
				if (!(error instanceof CommandError)) throw error;
				reader.end();
				if (reader.status === undefined)
					throw new ConnectionLostError(
						where,
						lastSaid(output, marker) || `ssh exited with status ${error.exitCode ?? "?"}`,
					);
			}
			reader.end();
			const status = reader.status;
			if (status === undefined)
				throw new ConnectionLostError(where, `${file} ended without its exit status (the connection dropped?)`);
			if (status !== 0) {
				const last = lastSaid(output, marker);
				throw new CommandError(
					[file, ...args],
					status,
					output,
					`${file} ${args[0] ?? ""} failed on ${where} (exit ${status})${last === "" ? "" : `: ${last.trim()}`}`,
				);
			}
			return output;
		},
	};
}

/**
 * One cell's stay on a remote machine: a private directory there that the built suites are
 * copied into and logs are brought back from, removed at the end.
 */
export interface RemoteSession {
	readonly shell: Shell;
	/** The private directory on the remote machine. */
	readonly dir: string;
	/** The remote machine's running kernel (`uname -r`): what its results are results of. */
	readonly kernel: string;
	readonly cpus: number;
	/** Copies a local directory's contents to `<dir>/<name>` there; returns that path. */
	push(localDir: string, name: string): Promise<string>;
	/** Copies a remote directory's contents into a local one (created if need be). */
	pull(remoteDir: string, localDir: string): Promise<void>;
	/**
	 * Kills whatever still runs in the private directory there (a cancelled run_tests.sh, its
	 * QEMUs, a test past its limit): killing ssh here does not stop it there.
	 */
	stopAll(): Promise<void>;
	/** Stops what runs there and removes the private directory; what went wrong, if anything, for the cell's notes. */
	close(): Promise<string | undefined>;
}

interface Master {
	readonly path: string;
	stop(): Promise<void>;
}

/**
 * A master connection for the session's commands to share (ssh's ControlMaster), or none when it
 * does not come up in time: each command then connects on its own, which is slower, not wrong.
 * The socket lives in a private local directory (a Unix socket's path must stay short).
 */
async function startMaster(
	host: SshHost,
	env: Readonly<Record<string, string | undefined>>,
	signal?: AbortSignal,
): Promise<Master | undefined> {
	const dir = await mkdtemp(path.join(os.tmpdir(), "kvm-matrix-ssh-"));
	const socket = path.join(dir, "master");
	const stop = new AbortController();
	const [ssh = "ssh", ...options] = sshCommand(host, env, { kind: "master", socket });
	const running = runCommand(ssh, [...options, "-N", "--", host.host], {
		signal: signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]),
	}).then(
		() => "ended",
		() => "ended",
	);
	let ended = false;
	void running.then(() => {
		ended = true;
	});
	for (let i = 0; i < 300 && !ended && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
	const done = async () => {
		stop.abort();
		await running;
		await rm(dir, { recursive: true, force: true });
	};
	if (!existsSync(socket)) {
		await done();
		return undefined;
	}
	return { path: socket, stop: done };
}

/** Kills every process whose working directory is under $1 (Linux /proc), this shell aside. */
const KILL_UNDER =
	'cd /proc && for n in [0-9]*; do c=$(readlink "$n/cwd" 2>/dev/null) || continue; case "$c/" in "$1"/*) [ "$n" = $$ ] || kill -KILL "$n" 2>/dev/null;; esac; done; true';

/** A label safe in a file name: the run and cell it is for, so a leftover says whose it was. */
const fileLabel = (label: string) => label.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80);

/** A remote directory kvm-matrix will put into scripts: absolute, nothing a shell or sed reads. */
const SAFE_PATH = /^\/[A-Za-z0-9._/-]+$/;

/** A machine that answers but cannot take a cell: the cell's failure (infra), said plainly. */
export class RemoteSetupError extends Error {
	override readonly name = "RemoteSetupError";
	constructor(where: string, reason: string) {
		super(`ssh target ${where}: ${reason}`);
	}
}

/**
 * rsync's -e is split on spaces by rsync itself, which knows quotes but not backslashes: a word
 * goes in bare, in single quotes, or in double quotes, or cannot go at all.
 */
export function rshWord(word: string): string {
	if (/^[A-Za-z0-9_.,:=@%/+-]+$/.test(word)) return word;
	if (!word.includes("'")) return `'${word}'`;
	if (!word.includes('"')) return `"${word}"`;
	throw new Error(`cannot pass ${JSON.stringify(word)} to rsync -e (it holds both quote characters)`);
}

/** rsync failures that mean the connection, not the files (rsync(1) EXIT VALUES). */
const RSYNC_CONNECTION = new Set([5, 10, 12, 30, 35, 255]);

export async function openSshSession(
	host: SshHost,
	env: Readonly<Record<string, string | undefined>>,
	label: string,
	signal?: AbortSignal,
): Promise<RemoteSession> {
	const master = await startMaster(host, env, signal);
	const control: Control = master === undefined ? { kind: "none" } : { kind: "via", socket: master.path };
	const shell = sshShell(host, env, control);
	const probe = [
		`d=$(mktemp -d "\${TMPDIR:-/tmp}/kvm-matrix-${fileLabel(label)}.XXXXXX") && mkdir "$d/logs" && echo "dir=$d"`,
		'echo "kernel=$(uname -r)"',
		'echo "cpus=$(nproc 2>/dev/null || echo 1)"',
		'command -v rsync >/dev/null && echo "rsync=yes"',
		"true",
	].join("; ");
	const lines = await shell
		.run("sh", ["-c", probe], { cwd: "/", ...(signal === undefined ? {} : { signal }) })
		.catch(async (error: unknown) => {
			await master?.stop();
			throw error;
		});
	const field = (name: string) => lines.find((l) => l.startsWith(`${name}=`))?.slice(name.length + 1);
	const dir = field("dir");
	// The directory goes into KUT's unquoted `rm -rf $unittest_log_dir.old` and a sed script:
	// only a plain path will do.
	const refusal =
		dir === undefined
			? `could not make a private directory there (mktemp -d): ${
					lines
						.filter((l) => l.trim() !== "")
						.at(-1)
						?.trim() ?? "no answer"
				}`
			: !SAFE_PATH.test(dir)
				? `its temporary directory ${JSON.stringify(dir)} is not a plain path (set TMPDIR there to one)`
				: field("rsync") === undefined
					? "rsync is not installed there (the built suites are copied with it)"
					: undefined;
	if (refusal !== undefined || dir === undefined) {
		if (dir !== undefined && SAFE_PATH.test(dir))
			await shell.run("rm", ["-rf", "--", dir], { cwd: "/" }).catch(() => {});
		await master?.stop();
		throw new RemoteSetupError(shell.where, refusal ?? "no private directory");
	}
	const rsh = sshCommand(host, env, control).map(rshWord).join(" ");
	// rsync takes an IPv6 address in brackets; ssh takes it bare.
	const remote = (p: string) => `${host.host.includes(":") ? `[${host.host}]` : host.host}:${p}`;
	const rsync = async (args: string[], what: string, missingIsEmpty = false) => {
		try {
			await runCommand("rsync", ["-e", rsh, "--timeout=60", ...args], { ...(signal === undefined ? {} : { signal }) });
		} catch (error) {
			if (!(error instanceof CommandError)) throw error;
			// 23: some files could not be read, here a log directory the command never made.
			if (missingIsEmpty && error.exitCode === 23 && error.output.some((l) => /No such file or directory/.test(l)))
				return;
			const last =
				error.output
					.filter((l) => l.trim() !== "")
					.at(-1)
					?.trim() ?? `rsync exited with status ${error.exitCode}`;
			if (error.exitCode !== undefined && RSYNC_CONNECTION.has(error.exitCode))
				throw new ConnectionLostError(shell.where, `${what}: ${last}`);
			throw new Error(`${what} on ${shell.where} failed: ${last}`);
		}
	};
	return {
		shell,
		dir,
		kernel: field("kernel") ?? "unknown",
		cpus: Math.max(1, Number(field("cpus")) || 1),
		async push(localDir, name) {
			const to = `${dir}/${name}`;
			// -L: KUT's configure links its run scripts by absolute path; copies of them work anywhere.
			await rsync(["-a", "-L", "--exclude=.git", `${localDir}/`, remote(`${to}/`)], `copying ${name} there`);
			return to;
		},
		async pull(remoteDir, localDir) {
			await mkdir(localDir, { recursive: true });
			await rsync(["-a", remote(`${remoteDir}/`), `${localDir}/`], "bringing the logs back", true);
		},
		async stopAll() {
			await shell.run("sh", ["-c", KILL_UNDER, "kill-under", dir], { cwd: "/" }).catch(() => undefined);
		},
		async close() {
			try {
				// What is still running there goes first: killing ssh here does not stop it there.
				await shell.run("sh", ["-c", KILL_UNDER, "kill-under", dir], { cwd: "/" });
				await shell.run("rm", ["-rf", "--", dir], { cwd: "/" });
				return undefined;
			} catch (error) {
				return `could not remove ${dir} on ${shell.where} (${error instanceof Error ? error.message : String(error)}): remove it by hand`;
			} finally {
				await master?.stop();
			}
		},
	};
}
