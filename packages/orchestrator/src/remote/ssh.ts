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

/** The ssh command line up to the destination (the `-e` of rsync is the same words). */
export function sshCommand(
	host: SshHost,
	env: Readonly<Record<string, string | undefined>>,
	controlPath?: string,
): string[] {
	const config = env.KVM_MATRIX_SSH_CONFIG;
	return [
		"ssh",
		...(config === undefined || config === "" ? [] : ["-F", config]),
		...SSH_OPTIONS,
		// Through the session's master connection when there is one (a handshake per test costs
		// more than many tests); a connection of its own when the master has gone.
		...(controlPath === undefined ? [] : ["-o", `ControlPath=${controlPath}`, "-o", "ControlMaster=no"]),
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
	return `cd ${shQuote(cwd)} && { env ${assigns.join(" ")} ${command}; } </dev/null 2>&1; echo "${marker} $?"`;
}

/** The line ssh or the remote shell said last, marker lines left out: why a call failed. */
const lastSaid = (lines: readonly string[], marker: string) =>
	(lines.filter((l) => l.trim() !== "" && !l.startsWith(marker)).at(-1) ?? "").trim();

export function sshShell(
	host: SshHost,
	env: Readonly<Record<string, string | undefined>>,
	controlPath?: string,
): Shell {
	const where = sshWhere(host);
	const [ssh = "ssh", ...options] = sshCommand(host, env, controlPath);
	return {
		where,
		async run(file: string, args: readonly string[], run: ShellRun): Promise<string[]> {
			const marker = `kvm-matrix-exit-${randomUUID()}`;
			let status: number | undefined;
			let tail: string[];
			try {
				tail = await runCommand(
					ssh,
					[...options, "--", host.host, remoteScript(file, args, run.cwd, run.env ?? {}, marker)],
					{
						signal: run.signal,
						onLine: (line) => {
							if (line.startsWith(`${marker} `)) status = Number(line.slice(marker.length + 1));
							else run.onLine?.(line);
						},
					},
				);
			} catch (error) {
				if (!(error instanceof CommandError)) throw error;
				if (status === undefined)
					throw new ConnectionLostError(
						where,
						lastSaid(error.output, marker) || `ssh exited with status ${error.exitCode ?? "?"}`,
					);
				tail = [...error.output];
			}
			if (status === undefined)
				throw new ConnectionLostError(where, `${file} ended without its exit status (the connection dropped?)`);
			const output = tail.filter((l) => !l.startsWith(marker));
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
	/** Removes the private directory; what went wrong, if anything, for the cell's notes. */
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
	const [ssh = "ssh", ...options] = sshCommand(host, env);
	const running = runCommand(ssh, [...options, "-M", "-N", "-o", `ControlPath=${socket}`, "--", host.host], {
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

/** A label safe in a file name: the run and cell it is for, so a leftover says whose it was. */
const fileLabel = (label: string) => label.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80);

/** rsync failures that mean the connection, not the files (rsync(1) EXIT VALUES). */
const RSYNC_CONNECTION = new Set([5, 10, 12, 30, 35, 255]);

export async function openSshSession(
	host: SshHost,
	env: Readonly<Record<string, string | undefined>>,
	label: string,
	signal?: AbortSignal,
): Promise<RemoteSession> {
	const master = await startMaster(host, env, signal);
	const shell = sshShell(host, env, master?.path);
	const probe = `d=$(mktemp -d "\${TMPDIR:-/tmp}/kvm-matrix-${fileLabel(label)}.XXXXXX") && echo "dir=$d" && echo "kernel=$(uname -r)" && echo "cpus=$(nproc 2>/dev/null || echo 1)"`;
	const lines = await shell
		.run("sh", ["-c", probe], { cwd: "/", ...(signal === undefined ? {} : { signal }) })
		.catch(async (error: unknown) => {
			await master?.stop();
			throw error;
		});
	const field = (name: string) => lines.find((l) => l.startsWith(`${name}=`))?.slice(name.length + 1);
	const dir = field("dir");
	if (dir === undefined || !dir.startsWith("/"))
		throw new ConnectionLostError(shell.where, "could not make a private directory there (mktemp -d)");
	const rsh = sshCommand(host, env, master?.path)
		.map((w) => shQuote(w))
		.join(" ");
	// rsync takes an IPv6 address in brackets, as ssh's config would not need.
	const remote = (p: string) =>
		`${host.host.includes(":") && !host.host.startsWith("[") ? `[${host.host}]` : host.host}:${p}`;
	const rsync = async (args: string[], what: string) => {
		try {
			await runCommand("rsync", ["-e", rsh, "--timeout=60", ...args], { ...(signal === undefined ? {} : { signal }) });
		} catch (error) {
			if (!(error instanceof CommandError)) throw error;
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
			await rsync(["-a", remote(`${remoteDir}/`), `${localDir}/`], "bringing the logs back");
		},
		async close() {
			try {
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
