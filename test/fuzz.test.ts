// Each parser of outside input against a few hundred generated inputs (FUZZ_RUNS to change it);
// `pnpm fuzz` runs 100,000 of each.
import test from "ava";
import { PUMPS, timedParsers, timeParser } from "./fuzz/budget.js";
import { parserProperties } from "./fuzz/properties.js";
import { fuzz } from "./fuzz/run.js";

const RUNS = Number.parseInt(process.env.FUZZ_RUNS ?? "", 10) || 200;

for (const entry of parserProperties) {
	test(`${entry.name}: ${RUNS} generated inputs parse or fail only as documented`, (t) => {
		const outcome = fuzz(entry, RUNS);
		t.false(outcome.failed, outcome.report);
	});
}

// The time budget's inputs, small: each parser takes them (`pnpm fuzz` times them at 1 MiB).
for (const parser of timedParsers)
	test(`${parser.name}: the budget's adversarial inputs parse or fail only as documented`, (t) => {
		const outcome = timeParser(parser, 4096, Number.POSITIVE_INFINITY);
		t.is(outcome.inputs, PUMPS.length * 2);
	});
