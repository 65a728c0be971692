import picomatch from "picomatch";
import { checkTestName } from "../matrix/names.js";
import { harnessFunctions } from "./result-channel.js";

export interface ScheduledTest {
	readonly id: string;
	readonly timeoutS: number;
}

/** The tests a suite's include/exclude globs select, in the tree's order. */
export function selectTests(ids: readonly string[], include: readonly string[], exclude: readonly string[]): string[] {
	const inc = picomatch([...include], { bash: true, dot: true });
	const exc = exclude.length === 0 ? () => false : picomatch([...exclude], { bash: true, dot: true });
	return ids.filter((id) => inc(id) && !exc(id));
}

/**
 * A test name that may go into a guest script, or an error: names are checked where they are
 * read from a tree, and again here, because a script is where an unchecked one would do harm.
 */
export function scriptableName(name: string, slashes: boolean): string {
	const checked = checkTestName(name, { slashes });
	if (!checked.ok) throw new Error(`refusing to run ${checked.error}`);
	return checked.value;
}

/**
 * The guest script that runs the tests one after the other from `dir` (a read-only share), each
 * under `timeout -s KILL`, its output on the console for people and in a data record for its log;
 * start, output and end go on the result channel, by the test's index in `tests`.
 */
export function selftestsScript(dir: string, tests: readonly ScheduledTest[], scratch = "/tmp"): string {
	const lines = [
		`cd ${scratch}`,
		harnessFunctions(scratch),
		"kvmm_test() {",
		// A line for people watching the console; the host reads nothing from the console.
		'\techo "kvm-matrix: selftest $2"',
		'\tkvmm_start "$1"',
		`\tkvmm_run "$3" "${dir}/$2"`,
		'\tkvmm_send "$1" output "$kvmm_out"',
		'\tkvmm_end "$1"',
		"}",
		...tests.map((t, i) => `kvmm_test ${i} '${scriptableName(t.id, true)}' ${Math.max(1, Math.ceil(t.timeoutS))}`),
		"exit 0",
	];
	return `${lines.join("\n")}\n`;
}
