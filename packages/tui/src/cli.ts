#!/usr/bin/env node
import { EXIT } from "./exit-codes.js";
import { processIo } from "./io.js";
import { runCli } from "./main.js";
import { terminalText } from "./render/terminal-text.js";

// `kvm-matrix plan ... | head` closes the pipe early; that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
	stream.on("error", (error: NodeJS.ErrnoException) => {
		if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
		throw error;
	});
}

try {
	process.exitCode = await runCli(process.argv.slice(2), processIo());
} catch (error) {
	// Bad input never gets here (it is reported as FILE:LINE:COL or a one-line message); this is a bug.
	const message = error instanceof Error ? error.message : String(error);
	process.stderr.write(terminalText(`kvm-matrix: internal error: ${message}\n`));
	if (process.env.KVM_MATRIX_DEBUG) process.stderr.write(`${error instanceof Error ? error.stack : ""}\n`);
	else process.stderr.write("kvm-matrix: set KVM_MATRIX_DEBUG=1 for details, and please report it\n");
	process.exitCode = EXIT.internal;
}
