// What a crash keeps is what reached the disk in order: the bytes of the new file, then its name,
// then the directory that holds the name. strace shows the system calls as the kernel got them.
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { syncCalls } from "../../../../test/support/syscalls.js";

const ATOMIC = fileURLToPath(new URL("./atomic.ts", import.meta.url));

test("writeAtomically syncs the new file, renames it, then syncs its directory", async (t) => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "atomic-target-"));
	const file = path.join(dir, "bzImage.by-input");
	const calls = await syncCalls(
		`import { writeAtomically } from ${JSON.stringify(ATOMIC)};\nawait writeAtomically(${JSON.stringify(file)}, "key");\n`,
		[dir],
	);
	t.deepEqual(calls, [`fsync(FD<${file}.PARTIAL>)`, `rename(${file}.PARTIAL, ${file})`, `fsync(FD<${dir}>)`]);
	t.is(readFileSync(file, "utf8"), "key");
});
