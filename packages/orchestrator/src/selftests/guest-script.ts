import picomatch from "picomatch";

export interface ScheduledTest {
	readonly id: string;
	readonly timeoutS: number;
}

/** Markers on the payload's output that split it into per-test logs. */
export const testStart = (id: string) => `@@kvm-matrix-test-start ${id}@@`;
export const testEnd = (id: string) => `@@kvm-matrix-test-end ${id}@@`;
export const MARKER = /^@@kvm-matrix-test-(start|end) (\S+)@@$/;

/** The tests a suite's include/exclude globs select, in the tree's order. */
export function selectTests(ids: readonly string[], include: readonly string[], exclude: readonly string[]): string[] {
	const inc = picomatch([...include], { bash: true, dot: true });
	const exc = exclude.length === 0 ? () => false : picomatch([...exclude], { bash: true, dot: true });
	return ids.filter((id) => inc(id) && !exc(id));
}

/**
 * The guest script that runs the tests one after the other from `dir` (a read-only share), each
 * under `timeout -s KILL`, reporting start and end on the record channel (the source of truth)
 * and marking the output so the host can split it into one log per test.
 */
export function selftestsScript(dir: string, tests: readonly ScheduledTest[]): string {
	const lines = [
		"cd /tmp",
		// Centiseconds since boot, from /proc/uptime ("12.34 ..."): busybox date has no %N.
		// biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
		'now() { read up _ < /proc/uptime; echo "${up%%.*}${up#*.}"; }',
		"run_test() {",
		'\techo "@@kvm-matrix-test-start $1@@"',
		`\tkvm-matrix-record "{\\"t\\":\\"test-start\\",\\"test\\":\\"$1\\"}"`,
		"\tstart=$(now)",
		`\ttimeout -s KILL "$2" "${dir}/$1"`,
		"\trc=$?",
		"\tend=$(now)",
		'\techo "@@kvm-matrix-test-end $1@@"',
		`\tkvm-matrix-record "{\\"t\\":\\"test-end\\",\\"test\\":\\"$1\\",\\"status\\":$rc,\\"ms\\":$(( (end - start) * 10 ))}"`,
		"}",
		...tests.map((t) => `run_test '${t.id}' ${t.timeoutS}`),
		"exit 0",
	];
	return `${lines.join("\n")}\n`;
}
