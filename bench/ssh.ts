// What a remote command costs an ssh target: N short commands through a session's shared master
// connection (what kvm-matrix does) and N with a connection each (what it would cost without),
// against a loopback sshd started here, or against a host you name (your ssh config applies).
//
//   pnpm bench:ssh [N] [HOST]
//
// Prints the mean per command both ways and their ratio. Loopback measures ssh's own handshake
// (key exchange, authentication); a real QA host adds its round trips on top of it, per command.
import { performance } from "node:perf_hooks";
import { openSshSession, sshShell } from "../packages/orchestrator/src/remote/ssh.js";
import { startSshd } from "../test/support/sshd.js";

const n = Number(process.argv[2] ?? 20);
const named = process.argv[3];
const sshd = named === undefined ? await startSshd() : undefined;
const host = sshd === undefined ? { host: named ?? "" } : { host: "127.0.0.1", port: sshd.port, user: sshd.user };
const env = sshd === undefined ? process.env : { ...process.env, KVM_MATRIX_SSH_CONFIG: sshd.config };

async function timeEach(run: () => Promise<unknown>): Promise<number> {
	const start = performance.now();
	for (let i = 0; i < n; i++) await run();
	return (performance.now() - start) / n;
}

try {
	const session = await openSshSession(host, env, "bench");
	const shared = await timeEach(() => session.shell.run("true", [], { cwd: "/" }));
	await session.close();
	const alone = sshShell(host, env);
	const each = await timeEach(() => alone.run("true", [], { cwd: "/" }));
	const where = sshd === undefined ? host.host : `loopback sshd :${sshd.port}`;
	console.log(`ssh target commands on ${where}, ${n} each:`);
	console.log(`  through the session's master connection: ${shared.toFixed(0)} ms a command`);
	console.log(`  a connection each:                      ${each.toFixed(0)} ms a command`);
	console.log(`  ratio: ${(shared / each).toFixed(2)}`);
} finally {
	sshd?.kill();
}
