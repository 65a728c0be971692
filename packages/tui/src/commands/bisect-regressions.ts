import path from "node:path";
import {
	BisectCancelled,
	bisectRegressions,
	cacheRoot,
	type Matrix,
	readRunView,
	recordBisections,
} from "@kvm-matrix/orchestrator";
import type { CliIo } from "../io.js";

/** `--max-builds N`: a whole number of at least 1, or why not. */
export function parseMaxBuilds(text: string | undefined): number | undefined | { readonly error: string } {
	if (text === undefined) return undefined;
	const n = Number(text);
	return Number.isInteger(n) && n >= 1 ? n : { error: `--max-builds ${text}: expected a whole number of at least 1` };
}

/**
 * `--bisect-regressions` at the end of a run or a merge: bisects its regressions into
 * `<run>/bisect/` and journals their first bad commits (results.json follows). A bisection
 * that cannot start is one line; the run's verdicts stand either way. True when a cancel
 * (Ctrl-C) stopped it: what it found before is journaled all the same.
 */
export async function bisectRunRegressions(
	runDir: string,
	matrix: Matrix,
	maxBuilds: number | undefined,
	io: CliIo,
	command: string,
): Promise<boolean> {
	const say = (line: string) => io.stderr(`kvm-matrix ${command}: ${line}\n`);
	const cells = readRunView(runDir, undefined, { logTails: false }).cells;
	if (!cells.some((c) => c.results.some((r) => r.verdict?.verdict === "regression"))) return false;
	say(`bisecting the regressions (state in ${path.join(runDir, "bisect")})`);
	try {
		const done = await bisectRegressions(runDir, {
			matrix,
			cacheRoot: cacheRoot(io.env),
			dir: path.join(runDir, "bisect"),
			...(maxBuilds === undefined ? {} : { maxBuilds }),
			...(io.signal === undefined ? {} : { signal: io.signal }),
			onLine: (line) => say(`bisect: ${line}`),
		});
		for (const line of done.skipped) say(line);
		await recordBisections(runDir, matrix, done.found);
		for (const [cell, tests] of done.found)
			for (const [test, b] of tests)
				say(
					b.commit === undefined
						? `${cell} ${test}: no single first bad commit: ${b.why ?? "?"} (${b.dir})`
						: `${cell} ${test}: first bad commit ${b.commit.sha.slice(0, 12)} ("${b.commit.subject}")${b.shared === true ? ", shared with another test of the range" : ""}`,
				);
		say(`bisections made ${done.builds} kernel build${done.builds === 1 ? "" : "s"}`);
		if (done.cancelled) say("bisection stopped (cancelled); what it found is in the run");
		return done.cancelled;
	} catch (error) {
		if (error instanceof BisectCancelled) {
			say(`bisection stopped (${error.message})`);
			return true;
		}
		say(`regressions not bisected: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
		return false;
	}
}
