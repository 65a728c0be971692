import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import test from "ava";
import { DEFAULT_FAIL_ON, decideExit, parseFailOn, VERDICT_NAMES, type VerdictName } from "./exit-policy.js";

const failOn = (...names: string[]) => {
	const parsed = parseFailOn(names);
	if (!parsed.ok) throw new Error(parsed.error);
	return parsed.failOn;
};

// The README's exit policy table, row by row: each verdict alone, by default and with --fail-on.
// The rows are read from the README itself, so the table people read is the one tested.
const README = readFileSync(fileURLToPath(new URL("../../../../README.md", import.meta.url)), "utf8");

/** `| \`verdict\` ... | **exit 1** or exit 0 | always or \`--fail-on flag\` |` rows of the table. */
function readmeTable(): [string, boolean, string][] {
	const start = README.indexOf("| verdict (or result)");
	const rows = README.slice(start).split("\n").slice(2);
	const out: [string, boolean, string][] = [];
	for (const row of rows) {
		if (!row.startsWith("|")) break;
		const [what = "", exit = "", flag = ""] = row
			.split("|")
			.slice(1, 4)
			.map((c) => c.trim());
		const verdict = /^`([a-z-]+)`/.exec(what)?.[1] ?? what;
		out.push([
			verdict,
			exit === "**exit 1**",
			flag === "always" ? verdict : (/^`--fail-on ([a-z-]+)`$/.exec(flag)?.[1] ?? flag),
		]);
	}
	return out;
}

const TABLE: readonly [VerdictName, boolean, string][] = [
	["regression", true, "regression"],
	["build-regression", true, "build-regression"],
	["boot-regression", true, "boot-regression"],
	["new-failure", false, "new-failure"],
	["infra", false, "infra"],
	["flaky", false, "flaky"],
	["still-failing", false, "still-failing"],
	["known", false, "known"],
	["pending-fix", false, "pending-fix"],
];

for (const [verdict, redByDefault, flag] of TABLE) {
	test(`exit policy: ${verdict} is ${redByDefault ? "red" : "green"} by default, red with --fail-on ${flag}`, (t) => {
		t.is(decideExit({ [verdict]: 2 }).red, redByDefault);
		t.true(decideExit({ [verdict]: 2 }, failOn(flag)).red);
		// Asking for another verdict never makes this one red.
		const other = VERDICT_NAMES.find((v) => v !== verdict && v !== "regression") ?? "known";
		t.is(decideExit({ [verdict]: 2 }, failOn(other)).red, redByDefault);
	});
}

test("the README's table is this table", (t) => {
	t.true(README.includes("| verdict (or result)"));
	t.deepEqual(
		readmeTable(),
		TABLE.map((row) => [...row]),
	);
});

test("the table covers every verdict", (t) => {
	t.deepEqual(TABLE.map(([v]) => v).sort(), [...VERDICT_NAMES].sort());
});

test("a nightly whose only failures are pending fixes is green and says why", (t) => {
	const decision = decideExit({ "pending-fix": 3, known: 1 });
	t.false(decision.red);
	t.is(decision.line, "green: no regressions; 1 known, 3 pending-fix");
});

test("green with a new failure says which --fail-on would make it red", (t) => {
	t.is(
		decideExit({ "new-failure": 1, infra: 2, "pending-fix": 1 }).line,
		"green: no regressions; 1 new-failure, 2 infra, 1 pending-fix; --fail-on new-failure,infra would make it red",
	);
});

test("red names what made it red first, then the rest", (t) => {
	const decision = decideExit({ regression: 1, flaky: 2, infra: 1 }, failOn("infra"));
	t.true(decision.red);
	t.deepEqual(decision.failing, ["regression", "infra"]);
	t.is(decision.line, "red: 1 regression, 1 infra (also 2 flaky, not failing the run)");
});

test("nothing failing is green", (t) => {
	t.deepEqual(decideExit({}), { red: false, failing: [], line: "green: nothing failed" });
	t.false(decideExit({ regression: 0 }).red);
});

test("--fail-on takes commas and repeats, and refuses a name that is not a verdict in one line", (t) => {
	t.deepEqual([...failOn("new-failure,infra", "flaky")].sort(), [
		"boot-regression",
		"build-regression",
		"flaky",
		"infra",
		"new-failure",
		"regression",
	]);
	t.deepEqual([...DEFAULT_FAIL_ON], ["regression", "build-regression", "boot-regression"]);
	const bad = parseFailOn(["infra,regresion"]);
	t.false(bad.ok);
	t.regex(
		bad.ok ? "" : bad.error,
		/^--fail-on regresion: not a verdict \(one of regression, build-regression, boot-regression, new-failure/,
	);
});
