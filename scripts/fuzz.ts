// `pnpm fuzz [--runs N] [--seed S] [--budget-ms B]`: every parser of outside input against
// 100,000 generated inputs (test/fuzz/properties.ts), one line per parser, each failure's shrunk
// counterexample and the seed to replay it; then each parser against 1 MiB adversarial inputs
// (test/fuzz/budget.ts), its slowest time against a budget of B ms (5000); exit status 1 if any
// parser failed or went over its budget.
import { parseArgs } from "node:util";
import { BUDGET_BYTES, budgetLine, timedParsers, timeParser } from "../test/fuzz/budget.js";
import { parserProperties } from "../test/fuzz/properties.js";
import { fuzz, outcomeLine } from "../test/fuzz/run.js";

const { values, positionals } = parseArgs({
	options: { runs: { type: "string" }, seed: { type: "string" }, "budget-ms": { type: "string" } },
	allowPositionals: true,
});

function wholeNumber(text: string | undefined, what: string): number | undefined {
	if (text === undefined) return undefined;
	const n = Number(text);
	if (!Number.isSafeInteger(n)) {
		console.error(`fuzz: ${what} must be a whole number, not "${text}"`);
		process.exit(2);
	}
	return n;
}

const runs = wholeNumber(values.runs ?? positionals[0], "--runs") ?? 100_000;
const seed = wholeNumber(values.seed, "--seed");
const budgetMs = wholeNumber(values["budget-ms"], "--budget-ms") ?? 5000;

const started = performance.now();
let cases = 0;
let failed = 0;
for (const entry of parserProperties) {
	const outcome = fuzz(entry, runs, seed);
	cases += outcome.cases;
	if (outcome.failed) failed++;
	console.log(outcomeLine(outcome));
	if (outcome.report !== undefined) console.log(outcome.report.replace(/^/gm, "    "));
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
	`total: ${parserProperties.length} parsers, ${cases} cases, ${failed} ${failed === 1 ? "failure" : "failures"} (${seconds} s)`,
);

let over = 0;
for (const parser of timedParsers) {
	const outcome = timeParser(parser, BUDGET_BYTES, budgetMs);
	if (outcome.over) over++;
	console.log(budgetLine(outcome, BUDGET_BYTES, budgetMs));
}
console.log(`budget: ${timedParsers.length} parsers, ${over} over ${budgetMs} ms on 1 MiB inputs`);
process.exitCode = failed > 0 || over > 0 ? 1 : 0;
