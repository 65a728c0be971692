import test from "ava";
import { chooseView, inCi } from "./view-choice.js";

const cases: [Record<string, string>, boolean][] = [
	[{}, false],
	[{ CI: "true" }, true],
	[{ CI: "1" }, true],
	[{ CI: "" }, true],
	[{ CI: "0" }, false],
	[{ CI: "false" }, false],
	[{ CONTINUOUS_INTEGRATION: "yes" }, true],
	[{ CI: "false", CONTINUOUS_INTEGRATION: "1" }, true],
];
for (const [env, expected] of cases)
	test(`inCi(${JSON.stringify(env)}) is ${expected}`, (t) => {
		t.is(inCi(env), expected);
	});

test("a terminal without CI or --headless gets the interactive view", (t) => {
	t.deepEqual(chooseView({ terminal: true, headless: false, env: { CI: "false" } }), { kind: "interactive" });
});

test("--headless or a pipe choose the plain reporter silently; CI chooses it and says so", (t) => {
	t.deepEqual(chooseView({ terminal: true, headless: true, env: {} }), { kind: "plain" });
	t.deepEqual(chooseView({ terminal: false, headless: false, env: { CI: "true" } }), { kind: "plain" });
	const ci = chooseView({ terminal: true, headless: false, env: { CI: "true" } });
	t.is(ci.kind, "plain");
	t.regex(ci.kind === "plain" ? (ci.note ?? "") : "", /^CI is set, so plain output/);
});
