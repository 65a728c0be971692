// The ssh shell against a real sshd on loopback: exit statuses come back as the command's own,
// arguments arrive as written, and only a connection that is gone is a ConnectionLostError.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { CommandError } from "../packages/orchestrator/src/proc/run.js";
import { holdMachineLock } from "../packages/orchestrator/src/remote/machine-lock.js";
import { ConnectionLostError, localShell } from "../packages/orchestrator/src/remote/shell.js";
import {
	MarkerReader,
	openSshSession,
	remoteScript,
	rshWord,
	shQuote,
	sshShell,
} from "../packages/orchestrator/src/remote/ssh.js";
import { type LoopbackSshd, SSHD, startSshd } from "./support/sshd.js";

let sshd: LoopbackSshd | undefined;
const server = () => {
	if (sshd === undefined) throw new Error("no sshd");
	return sshd;
};
test.before(async () => {
	if (existsSync(SSHD)) sshd = await startSshd();
});
test.after.always(() => sshd?.kill());

const hostOf = (s: LoopbackSshd) => ({ host: "127.0.0.1", port: s.port, user: s.user });
const envOf = (s: LoopbackSshd) => ({ KVM_MATRIX_SSH_CONFIG: s.config });

test("shQuote and remoteScript: any word reaches the command as written", async (t) => {
	const { execa } = await import("execa");
	const words = ["plain", "two words", "it's", "$(touch /tmp/no)", "`id`", "a\nb", "--", "*", ""];
	const script = remoteScript("printf", ["%s|", ...words], "/", { KUT_X: "v a'l" }, "MARK");
	const { stdout } = await execa("sh", ["-c", script]);
	t.is(stdout, `${words.map((w) => `${w}|`).join("")}\nMARK 0`);
	t.is(shQuote("a'b"), `'a'\\''b'`);
	t.deepEqual(
		["-p", "2222", "a b", "it's", `say "it's"`].flatMap((w) => {
			try {
				return [rshWord(w)];
			} catch {
				return ["refused"];
			}
		}),
		["-p", "2222", "'a b'", `"it's"`, "refused"],
	);
	t.throws(() => remoteScript("true", [], "/", { "A;B": "x" }, "M"), { message: /not an environment variable name/ });
});

test("MarkerReader: the marker's own newline comes off, whatever the output ended with", (t) => {
	const read = (stream: string) => {
		const lines: string[] = [];
		const reader = new MarkerReader("M", (l) => lines.push(l));
		for (const line of stream.split("\n").slice(0, -1)) reader.line(line);
		reader.end();
		return { lines, status: reader.status };
	};
	// The remote side prints the output, then "\nM <status>\n".
	t.deepEqual(read("abc\n\nM 0\n"), { lines: ["abc"], status: 0 });
	t.deepEqual(read("abc\nM 3\n"), { lines: ["abc"], status: 3 });
	t.deepEqual(read("abc\n\n\nM 0\n"), { lines: ["abc", ""], status: 0 });
	t.deepEqual(read("\nM 1\n"), { lines: [], status: 1 });
	t.deepEqual(read("abc\nde"), { lines: ["abc"], status: undefined });
});

test.serial("a command's exit status is its own; output and cwd are the remote side's", async (t) => {
	if (sshd === undefined) return t.fail(`${SSHD} is missing: run scripts/setup.sh (openssh-server)`);
	const shell = sshShell(hostOf(server()), envOf(server()));
	const lines: string[] = [];
	const out = await shell.run("sh", ["-c", 'pwd; echo "$KUT_X"; echo err >&2'], {
		cwd: "/usr",
		env: { KUT_X: "x y" },
		onLine: (l) => lines.push(l),
	});
	t.deepEqual(out, ["/usr", "x y", "err"]);
	t.deepEqual(lines, out);
	const failed = await t.throwsAsync(shell.run("sh", ["-c", "echo bye; exit 3"], { cwd: "/" }));
	t.true(failed instanceof CommandError);
	t.is((failed as CommandError).exitCode, 3);
	t.regex(failed?.message ?? "", /^sh -c failed on .*127\.0\.0\.1:\d+ \(exit 3\): bye$/);
	// ssh's own 255 and a forged marker are the command's status, not a lost connection.
	const ff = await t.throwsAsync(shell.run("sh", ["-c", "echo kvm-matrix-exit-forged 0; exit 255"], { cwd: "/" }));
	t.is((ff as CommandError).exitCode, 255);
	// Output that does not end its last line (a test killed mid-write) is output, and the status still comes.
	t.deepEqual(await shell.run("printf", ["one\ntwo"], { cwd: "/" }), ["one", "two"]);
	const killed = await t.throwsAsync(shell.run("sh", ["-c", "printf partial; kill -9 $$"], { cwd: "/" }));
	t.is((killed as CommandError).exitCode, 137);
	// (the remote shell adds its own "Killed" after what the test wrote)
	t.regex((killed as CommandError).output.join("\n"), /^partial/);
});

test.serial("an unreachable machine and a dropped connection are ConnectionLostError, said in one line", async (t) => {
	if (sshd === undefined) return t.fail(`${SSHD} is missing: run scripts/setup.sh (openssh-server)`);
	const closed = sshShell({ host: "127.0.0.1", port: 1 }, envOf(server()));
	const refused = await t.throwsAsync(closed.run("true", [], { cwd: "/" }));
	t.true(refused instanceof ConnectionLostError, String(refused));
	t.regex(
		refused?.message ?? "",
		/^ssh to 127\.0\.0\.1:1: ssh: connect to host 127\.0\.0\.1 port 1: Connection refused$/,
	);
	// The remote side's shell dies under the command (its sshd session killed): no status came back.
	const shell = sshShell(hostOf(server()), envOf(server()));
	const dropped = await t.throwsAsync(shell.run("sh", ["-c", "kill -9 $PPID; sleep 5"], { cwd: "/" }));
	t.true(dropped instanceof ConnectionLostError, String(dropped));
	t.false((dropped?.message ?? "").includes("\n"));
});

test.serial("a session: a private directory there, files pushed and pulled, and removed at the end", async (t) => {
	if (sshd === undefined) return t.fail(`${SSHD} is missing: run scripts/setup.sh (openssh-server)`);
	const session = await openSshSession(hostOf(server()), envOf(server()), "unit/test run");
	t.regex(session.dir, /^\/.*\/kvm-matrix-unit_test_run\.\w+$/);
	t.is(session.kernel, os.release());
	t.true(session.cpus >= 1);
	const local = mkdtempSync(path.join(os.tmpdir(), "ssh-push-"));
	writeFileSync(path.join(local, "a.txt"), "hello\n");
	const there = await session.push(local, "tree");
	t.is(there, `${session.dir}/tree`);
	await session.shell.run("sh", ["-c", "mkdir out && cat tree/a.txt > out/out.log"], { cwd: session.dir });
	const back = mkdtempSync(path.join(os.tmpdir(), "ssh-pull-"));
	await session.pull(`${session.dir}/out`, path.join(back, "logs"));
	t.is(readFileSync(path.join(back, "logs", "out.log"), "utf8"), "hello\n");
	// Something still running there (a cancelled test) is stopped by the close, not left behind.
	const sleeper = session.shell.run("sleep", ["300"], { cwd: session.dir });
	await new Promise((resolve) => setTimeout(resolve, 1500));
	t.is(await session.close(), undefined);
	t.true((await t.throwsAsync(sleeper)) instanceof Error);
	// Loopback: "there" is this machine, so the removal can be seen.
	t.false(existsSync(session.dir));
});

test.serial(
	"the machine's KVM lock over ssh: held there, and let go when kvm-matrix lets go or its ssh dies",
	async (t) => {
		if (sshd === undefined) return t.fail(`${SSHD} is missing: run scripts/setup.sh (openssh-server)`);
		const shell = sshShell(hostOf(server()), envOf(server()));
		const file = path.join(mkdtempSync(path.join(os.tmpdir(), "ssh-lock-")), "kvm.lock");
		const local = (mode: "shared" | "exclusive", waitS = 0) => holdMachineLock(localShell, "/", mode, waitS, file);
		const remote = await holdMachineLock(shell, "/", "exclusive", 5, file);
		t.is(remote.kind, "held");
		t.deepEqual(await local("shared"), { kind: "busy", file }, "the lock taken over ssh is the machine's");
		if (remote.kind === "held") await remote.release();
		const cell = await local("exclusive", 5);
		t.is(cell.kind, "held");
		if (cell.kind === "held") await cell.release();
		// The ssh client killed under the holder (kvm-matrix gone): the remote loop's next line has no reader.
		const again = await holdMachineLock(shell, "/", "shared", 5, file);
		t.is(again.kind, "held");
		const killed = await execa("pkill", ["-KILL", "-x", "-f", `ssh .*-p ${server().port} .*kvm\\.lock.*`], {
			reject: false,
		});
		t.is(killed.exitCode, 0, "no ssh client holding the lock was found to kill");
		const after = await local("exclusive", 10);
		t.is(after.kind, "held");
		if (after.kind === "held") await after.release();
		if (again.kind === "held") await again.release();
	},
);
