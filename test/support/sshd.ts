// A real OpenSSH server on loopback for the ssh target's tests: its own host key, a client key
// only it accepts, and a client config (KVM_MATRIX_SSH_CONFIG) that trusts only its host key.
// Nothing of the user's ~/.ssh is read or written.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";

export const SSHD = "/usr/sbin/sshd";

export interface LoopbackSshd {
	readonly port: number;
	readonly user: string;
	/** For KVM_MATRIX_SSH_CONFIG: the client config with the key and known host. */
	readonly config: string;
	/** Kills the server and every connection it serves (sshd's per-connection processes too). */
	kill(): void;
	/** The same server started again (same port, keys and config), as a machine that comes back. */
	again(): Promise<LoopbackSshd>;
}

async function freePort(): Promise<number> {
	const server = net.createServer();
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const address = server.address();
	await new Promise((resolve) => server.close(resolve));
	if (address === null || typeof address === "string") throw new Error("no port");
	return address.port;
}

/** Every process whose parent chain leads to `pid` (sshd's connection processes call setsid). */
function descendants(pid: number): number[] {
	const parents = new Map<number, number>();
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
			// The command name may hold spaces and parentheses: the fields start after the last ")".
			const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
			parents.set(Number(entry), ppid);
		} catch {}
	}
	const found: number[] = [];
	const walk = (p: number) => {
		for (const [child, parent] of parents)
			if (parent === p) {
				found.push(child);
				walk(child);
			}
	};
	walk(pid);
	return found;
}

async function waitForPort(port: number, exited: () => number | undefined): Promise<void> {
	for (let i = 0; i < 100; i++) {
		const code = exited();
		if (code !== undefined) throw new Error(`sshd exited ${code}`);
		const open = await new Promise<boolean>((resolve) => {
			const socket = net.connect(port, "127.0.0.1", () => {
				socket.end();
				resolve(true);
			});
			socket.on("error", () => resolve(false));
		});
		if (open) return;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	throw new Error(`sshd did not listen on ${port}`);
}

export async function startSshd(): Promise<LoopbackSshd> {
	const dir = mkdtempSync(path.join(os.tmpdir(), "sshd-"));
	const user = os.userInfo().username;
	const port = await freePort();
	await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host_key")]);
	await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "id")]);
	writeFileSync(path.join(dir, "authorized_keys"), readFileSync(path.join(dir, "id.pub")));
	const hostKey = readFileSync(path.join(dir, "host_key.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
	writeFileSync(path.join(dir, "known_hosts"), `[127.0.0.1]:${port} ${hostKey}\n`);
	// sshd run by root needs its privilege separation directory.
	if (process.getuid?.() === 0) mkdirSync("/run/sshd", { recursive: true });
	writeFileSync(
		path.join(dir, "sshd_config"),
		[
			`Port ${port}`,
			"ListenAddress 127.0.0.1",
			`HostKey ${path.join(dir, "host_key")}`,
			`AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
			`PidFile ${path.join(dir, "sshd.pid")}`,
			"StrictModes no",
			"UsePAM no",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"PubkeyAuthentication yes",
			"PermitRootLogin prohibit-password",
			"LogLevel ERROR",
			// MaxSessions and MaxStartups stay sshd's defaults (10), as on a QA machine.
			"",
		].join("\n"),
	);
	const config = path.join(dir, "ssh_config");
	writeFileSync(
		config,
		[
			"Host *",
			`  IdentityFile ${path.join(dir, "id")}`,
			"  IdentitiesOnly yes",
			`  UserKnownHostsFile ${path.join(dir, "known_hosts")}`,
			"  StrictHostKeyChecking yes",
			"  LogLevel ERROR",
			"",
		].join("\n"),
	);
	return launch(dir, port, user, config);
}

async function launch(dir: string, port: number, user: string, config: string): Promise<LoopbackSshd> {
	const server = execa(SSHD, ["-D", "-e", "-f", path.join(dir, "sshd_config")], { reject: false, stdin: "ignore" });
	let exitCode: number | undefined;
	void server.then((r) => {
		exitCode = r.exitCode ?? -1;
	});
	await waitForPort(port, () => exitCode);
	return {
		port,
		user,
		config,
		kill() {
			const pid = server.pid;
			if (pid === undefined) return;
			for (const p of [pid, ...descendants(pid)]) {
				try {
					process.kill(p, "SIGKILL");
				} catch {}
			}
		},
		again: () => launch(dir, port, user, config),
	};
}
