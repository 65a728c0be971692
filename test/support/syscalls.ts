// The system calls that decide what a crash keeps, as the kernel got them (strace), for tests.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";

/** The fsync, fdatasync and rename calls `code` makes on files under `paths`, each with the paths of its descriptors. */
export async function syncCalls(code: string, paths: readonly string[]): Promise<string[]> {
	const dir = mkdtempSync(path.join(os.tmpdir(), "syscalls-"));
	const script = path.join(dir, "write.mts");
	writeFileSync(script, code);
	const trace = path.join(dir, "trace");
	const r = await execa(
		"strace",
		[
			"-f",
			"-y",
			"-qq",
			"-o",
			trace,
			"-e",
			"trace=fsync,fdatasync,rename,renameat,renameat2",
			"node",
			"--import=tsx",
			script,
		],
		{ reject: false },
	);
	if (r.exitCode !== 0) throw new Error(`strace: ${r.stderr}`);
	return readFileSync(trace, "utf8")
		.split("\n")
		.filter((l) => /(fsync|fdatasync|rename\w*)\(/.test(l) && paths.some((p) => l.includes(p)))
		.map((l) =>
			l
				.replace(/^\d+\s+/, "")
				.replace(/\.\d+(?:\.[0-9a-f]{12})?\.partial/g, ".PARTIAL")
				// One spelling whatever the C library chose: rename, renameat or renameat2.
				.replace(/^rename\w*\((?:AT_FDCWD, )?"([^"]+)", (?:AT_FDCWD, )?"([^"]+)"(?:, 0)?\).*$/, "rename($1, $2)")
				.replace(/^(fsync|fdatasync)\(\d+</, "$1(FD<")
				.replace(/\) += 0$/, ")"),
		);
}
