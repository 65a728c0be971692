// The time budget `pnpm fuzz` holds every parser of outside text to: a 1 MiB adversarial input
// parses within the budget. The inputs pump what backtracking patterns feed on (runs of blanks,
// slashes, digits, dots; a keyword repeated with its tail missing; one line, no line breaks),
// each ended by a character that makes a pattern's tail fail. A quadratic parser takes minutes
// on one of these; a linear one, milliseconds. test/linear-regex.test.ts proves the patterns
// themselves; this measures the parsers whole, loops included.
import { extractFacts, testsAbout } from "../../packages/orchestrator/src/triage/extract.js";
import { reportFromText } from "../../packages/orchestrator/src/triage/report.js";
import { type ParserProperty, parserProperties } from "./properties.js";

/** The size `pnpm fuzz` times every parser at. */
export const BUDGET_BYTES = 1 << 20;

/** What is repeated to make an input: each a shape some pattern (or loop) retries. */
export const PUMPS: readonly string[] = [
	" ",
	"\t",
	"/",
	".",
	"0",
	"a",
	"-",
	"#",
	"=",
	'"',
	"\u2028",
	"want ",
	"got ",
	" -append ",
	'commit 0123456789ab ("x',
	"qemu-system-",
	" CPU:f ",
	"sha ",
	"WARNING: at ",
	" # SKIP ",
	"a/ b/",
	"R~2%",
	"x.flat ",
	"v6.1-",
	"6.1.",
	"1..0 # SKIP",
	"Tree: x ",
	"kernel: 6.1",
	"ok 1 - ",
	"not ok 1 x: ",
	"FAIL: ",
	"[PATCH 01/02] ",
	"0000000000000.1-1-",
	"=?utf-8?q?",
	"Link: https://lore.kernel.org/r/",
	"x86/run x86/vmx.flat ",
	"kvm-unit-tests.",
	"Subject: ",
	"x.o: ",
	'{"type":"',
	"[",
];

/** The byte that ends a pumped run, chosen to make a pattern's tail fail (no `$`, no closing word). */
const ENDINGS: readonly string[] = ["\u0000", "!"];

/** One parser as the budget runs it. */
export interface TimedParser {
	readonly name: string;
	readonly parseText: (text: string) => void;
}

const KNOWN = {
	kut: [
		{ name: "vmx", file: "vmx.flat" },
		{ name: "xapic", file: "apic.flat", testArgs: "-cpu qemu64,+x2apic" },
	],
	selftests: ["x86/cpuid_test", "x86/hyperv_clock"],
};

/** Bug reports, which triage reads as text whole (not a fuzz property: its inputs are prose). */
const bugReports: TimedParser = {
	name: "bug reports",
	parseText: (text) => {
		const report = reportFromText(text, "report.txt");
		if ("error" in report) return;
		testsAbout(extractFacts(report, KNOWN));
	},
};

export const timedParsers: readonly TimedParser[] = [
	...parserProperties.map((p: ParserProperty) => ({ name: p.name, parseText: p.parseText })),
	bugReports,
];

/** `pump` repeated to `bytes` (as UTF-16 units), after a short start and before an ending. */
export function pumped(pump: string, bytes: number, ending: string): string {
	const body = pump.repeat(Math.ceil(bytes / pump.length)).slice(0, bytes);
	return `x ${body}${ending}`;
}

export interface BudgetOutcome {
	readonly name: string;
	readonly inputs: number;
	/** The slowest input and its time at full size (or the projection that stopped it). */
	readonly slowest: {
		readonly pump: string;
		readonly ending: string;
		readonly ms: number;
		readonly projected: boolean;
	};
	readonly over: boolean;
}

/**
 * Times `parser` on every pumped input of `bytes`. Each is first run at a sixteenth of the size:
 * linear time grows 16× from there, so a small run already past budget/16 is quadratic (or worse)
 * and is reported over budget without the full run, which could take hours.
 */
export function timeParser(parser: TimedParser, bytes: number, budgetMs: number): BudgetOutcome {
	let slowest: BudgetOutcome["slowest"] = { pump: "", ending: "", ms: 0, projected: false };
	let inputs = 0;
	for (const pump of PUMPS)
		for (const ending of ENDINGS) {
			inputs++;
			const small = elapsed(parser, pumped(pump, bytes / 16, ending));
			const projected = small * 16 > budgetMs;
			const ms = projected ? small * 16 : elapsed(parser, pumped(pump, bytes, ending));
			if (ms > slowest.ms) slowest = { pump, ending, ms, projected };
		}
	return { name: parser.name, inputs, slowest, over: slowest.ms > budgetMs };
}

function elapsed(parser: TimedParser, text: string): number {
	const started = performance.now();
	parser.parseText(text);
	return performance.now() - started;
}

/** `bug reports: 82 inputs of 1 MiB, slowest 41 ms (" # SKIP " + "!"), within 2000 ms`. */
export function budgetLine(o: BudgetOutcome, bytes: number, budgetMs: number): string {
	const size = bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`;
	const slowest = `${o.slowest.projected ? "projected " : ""}${Math.round(o.slowest.ms)} ms (${JSON.stringify(o.slowest.pump)} + ${JSON.stringify(o.slowest.ending)})`;
	return `${o.name}: ${o.inputs} inputs of ${size}, slowest ${slowest}, ${o.over ? "OVER" : "within"} ${budgetMs} ms`;
}
