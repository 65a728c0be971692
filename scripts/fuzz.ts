// `pnpm fuzz [--runs N] [--seed S]`: every parser of outside input against 100,000 generated
// inputs (test/fuzz/properties.ts), one line per parser, each failure's shrunk counterexample and
// the seed to replay it, and exit status 1 if any parser failed.
import { parseArgs } from "node:util";
import { parserProperties } from "../test/fuzz/properties.js";
import { fuzz, outcomeLine } from "../test/fuzz/run.js";

const { values, positionals } = parseArgs({
	options: { runs: { type: "string" }, seed: { type: "string" } },
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
process.exitCode = failed > 0 ? 1 : 0;
