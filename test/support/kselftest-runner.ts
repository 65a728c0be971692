// The real kselftest runner (run_kselftest.sh and kselftest/runner.sh from Debian's linux-source
// 6.1), extracted alone and run on small generated tests, so tests get TAP exactly as it prints.
import { once } from "node:events";
import { chmodSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";

export const LINUX_SOURCE = "/usr/src/linux-source-6.1.tar.xz";

/**
 * Runs `tests` (`collection/path` → shell body) through the real runner with `settings` per
 * collection, and returns its TAP; undefined when linux-source is not installed.
 */
export async function realKselftestTap(
	tests: Readonly<Record<string, string>>,
	settings: Readonly<Record<string, string>> = {},
): Promise<string | undefined> {
	if (!existsSync(LINUX_SOURCE)) return undefined;
	const root = mkdtempSync(path.join(os.tmpdir(), "kselftest-runner-"));
	// Only the runner's files: the tarball's top directory and tools/testing/selftests/ stripped.
	await execa("tar", [
		"-xJf",
		LINUX_SOURCE,
		"-C",
		root,
		"--strip-components=4",
		"--wildcards",
		"*/tools/testing/selftests/kselftest/*",
		"*/tools/testing/selftests/run_kselftest.sh",
	]);
	for (const [file, body] of Object.entries(tests)) {
		mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
		writeFileSync(path.join(root, file), `#!/bin/sh\n${body}\n`);
		chmodSync(path.join(root, file), 0o755);
	}
	for (const [collection, text] of Object.entries(settings))
		writeFileSync(path.join(root, collection, "settings"), text);
	writeFileSync(
		path.join(root, "kselftest-list.txt"),
		`${Object.keys(tests)
			.map((f) => f.replace("/", ":"))
			.join("\n")}\n`,
	);
	// Into a file, as users keep it. The runner reopens /dev/stdout for the tests' output: that fails on
	// the socket Node gives a child, and overwrites the runner's own lines unless the file is in append mode.
	const tapFile = path.join(root, "kselftest.tap");
	const out = createWriteStream(tapFile, { flags: "a" });
	await once(out, "open");
	try {
		await execa(path.join(root, "run_kselftest.sh"), [], { cwd: root, reject: false, stdout: out });
	} finally {
		out.close();
	}
	return readFileSync(tapFile, "utf8");
}
