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

export interface SideBySide {
	/** At most this many tests run at once in the guest. */
	readonly width: number;
	/** The first this many tests run alone (suspects of a guest that died while several ran). */
	readonly alone: number;
}

/**
 * The guest script that runs the tests from `dir` (a read-only share), each under
 * `timeout -s KILL`, its output on the console for people and in a data record for its log;
 * start, output and end go on the result channel, by the test's index in `tests`. One after the
 * other, or up to `width` side by side (see `sideBySideLoop`).
 */
export function selftestsScript(
	dir: string,
	tests: readonly ScheduledTest[],
	scratch = "/tmp",
	sideBySide: SideBySide = { width: 1, alone: 0 },
): string {
	const entries = tests.map((t) => ({ name: scriptableName(t.id, true), limitS: Math.max(1, Math.ceil(t.timeoutS)) }));
	if (sideBySide.width > 1) {
		const lines = [
			`cd ${scratch}`,
			harnessFunctions(scratch),
			sideBySideLoop(
				{
					launch: entries.map(
						(e, i) =>
							`echo "kvm-matrix: selftest ${e.name}"; kvmm_start ${i}; kvmm_bg ${i} ${e.limitS} "${dir}/${e.name}"`,
					),
					collect: entries.map((_, i) => `kvmm_bg_result ${i}; kvmm_send ${i} output "$kvmm_out_bg"; kvmm_end ${i}`),
				},
				sideBySide,
			),
			"exit 0",
		];
		return `${lines.join("\n")}\n`;
	}
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
		...entries.map((e, i) => `kvmm_test ${i} '${e.name}' ${e.limitS}`),
		"exit 0",
	];
	return `${lines.join("\n")}\n`;
}

/** Shell commands per test, by index: one starts it (sends its start, runs it with `kvmm_bg`), one collects it once it ended (sends its parts and end). */
export interface SideBySideSteps {
	readonly launch: readonly string[];
	readonly collect: readonly string[];
}

/**
 * The harness's main loop for tests side by side: it starts test i while fewer than `width` run,
 * and collects each that ended. The first `alone` tests run with nothing beside them. Only this
 * loop writes records, so they never interleave.
 */
export function sideBySideLoop(steps: SideBySideSteps, { width, alone }: SideBySide): string {
	const table = (name: string, commands: readonly string[]) => [
		`${name}() {`,
		"\tcase $1 in",
		...commands.map((c, i) => `\t${i}) ${c} ;;`),
		"\tesac",
		"}",
	];
	return [
		...table("kvmm_next", steps.launch),
		...table("kvmm_collect", steps.collect),
		`kvmm_n=${steps.launch.length}`,
		`kvmm_width=${Math.max(1, width)}`,
		`kvmm_alone=${Math.max(0, alone)}`,
		"kvmm_i=0",
		"kvmm_count=0",
		"kvmm_solo=0",
		'kvmm_live=""',
		'while [ "$kvmm_i" -lt "$kvmm_n" ] || [ "$kvmm_count" -gt 0 ]; do',
		'\twhile [ "$kvmm_i" -lt "$kvmm_n" ]; do',
		'\t\tif [ "$kvmm_count" -gt 0 ]; then',
		'\t\t\t[ "$kvmm_i" -ge "$kvmm_alone" ] && [ "$kvmm_solo" -eq 0 ] && [ "$kvmm_count" -lt "$kvmm_width" ] || break',
		"\t\tfi",
		'\t\t[ "$kvmm_i" -lt "$kvmm_alone" ] && kvmm_solo=1',
		'\t\tkvmm_next "$kvmm_i"',
		'\t\tkvmm_live="$kvmm_live $kvmm_i"',
		"\t\tkvmm_i=$((kvmm_i + 1))",
		"\t\tkvmm_count=$((kvmm_count + 1))",
		"\tdone",
		'\tkvmm_still=""',
		"\tfor kvmm_j in $kvmm_live; do",
		'\t\tif kvmm_bg_done "$kvmm_j"; then',
		'\t\t\tkvmm_collect "$kvmm_j"',
		"\t\t\tkvmm_count=$((kvmm_count - 1))",
		'\t\t\t[ "$kvmm_j" -lt "$kvmm_alone" ] && kvmm_solo=0',
		"\t\telse",
		'\t\t\tkvmm_still="$kvmm_still $kvmm_j"',
		"\t\tfi",
		"\tdone",
		'\tkvmm_live="$kvmm_still"',
		// Polled: busybox sh has no `wait -n`. A tenth of a second is nothing next to a test.
		'\t[ "$kvmm_count" -gt 0 ] && sleep 0.1',
		"done",
		"wait",
	].join("\n");
}
