// Runs a registry entry and words the outcome, the same way for the test suite and `pnpm fuzz`.
import fc from "fast-check";
import type { ParserProperty } from "./properties.js";

export interface FuzzOutcome {
	readonly name: string;
	/** Cases run: all of them, or up to and including the first that failed. */
	readonly cases: number;
	readonly failed: boolean;
	readonly ms: number;
	/** fast-check's report of a failure: the shrunk counterexample, the error, the seed and path to replay it. */
	readonly report?: string;
}

export function fuzz(entry: ParserProperty, runs: number, seed?: number): FuzzOutcome {
	const started = performance.now();
	const details = fc.check(entry.property(), {
		numRuns: runs,
		includeErrorInReport: true,
		...(seed === undefined ? {} : { seed }),
	});
	const ms = performance.now() - started;
	const report = details.failed ? shorten(fc.defaultReportMessage(details) ?? "") : undefined;
	return {
		name: entry.name,
		cases: details.numRuns,
		failed: details.failed,
		ms,
		...(report === undefined ? {} : { report }),
	};
}

// A counterexample can be a 200 KB mail: a report shows its start and end, and says what it left out.
const LONGEST_LINE = 2000;
const shorten = (report: string): string =>
	report
		.split("\n")
		.map((line) =>
			line.length <= LONGEST_LINE
				? line
				: `${line.slice(0, LONGEST_LINE / 2)} … (${line.length - LONGEST_LINE} characters left out) … ${line.slice(-LONGEST_LINE / 2)}`,
		)
		.join("\n");

/** `matrix: 100000 cases, 0 failures (41.3 s)`; fast-check stops at a parser's first failure. */
export const outcomeLine = (o: FuzzOutcome): string =>
	`${o.name}: ${o.cases} cases, ${o.failed ? "1 failure" : "0 failures"} (${(o.ms / 1000).toFixed(1)} s)`;
