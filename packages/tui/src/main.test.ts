import test from "ava";
import type { CliIo } from "./io.js";
import { runCli, usageLine } from "./main.js";

function io() {
	const out: string[] = [];
	const err: string[] = [];
	const cli: CliIo = {
		stdout: (s) => out.push(s),
		stderr: (s) => err.push(s),
		env: { NO_COLOR: "1" },
		cwd: process.cwd(),
		isTty: false,
	};
	return { cli, out, err };
}

test("usageLine folds commander's multi-line errors into one line", (t) => {
	t.is(
		usageLine("error: unknown option '--jsn'\n(Did you mean --json?)\n"),
		"kvm-matrix: unknown option '--jsn' (did you mean --json?) (see kvm-matrix --help)\n",
	);
});

test("runCli returns 2 for an unknown command and writes one line", async (t) => {
	const { cli, out, err } = io();
	t.is(await runCli(["nope"], cli), 2);
	t.deepEqual(out, []);
	t.deepEqual(err, ["kvm-matrix: unknown command 'nope' (see kvm-matrix --help)\n"]);
});

test("runCli --version returns 0", async (t) => {
	const { cli, out } = io();
	t.is(await runCli(["--version"], cli), 0);
	t.regex(out.join(""), /^\d+\.\d+\.\d+\n$/);
});
