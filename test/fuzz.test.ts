// Each parser of outside input against a few hundred generated inputs (FUZZ_RUNS to change it);
// `pnpm fuzz` runs 100,000 of each.
import test from "ava";
import { parserProperties } from "./fuzz/properties.js";
import { fuzz } from "./fuzz/run.js";

const RUNS = Number.parseInt(process.env.FUZZ_RUNS ?? "", 10) || 200;

for (const entry of parserProperties) {
	test(`${entry.name}: ${RUNS} generated inputs parse or fail only as documented`, (t) => {
		const outcome = fuzz(entry, RUNS);
		t.false(outcome.failed, outcome.report);
	});
}
