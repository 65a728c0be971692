import test from "ava";
import { colourEnabled, palette } from "./palette.js";

const cases: [env: Record<string, string>, tty: boolean, expected: boolean][] = [
	[{}, true, true],
	[{}, false, false],
	[{ NO_COLOR: "1" }, true, false],
	[{ NO_COLOR: "" }, true, true],
	[{ FORCE_COLOR: "1" }, false, true],
	[{ FORCE_COLOR: "0" }, false, false],
	[{ NO_COLOR: "1", FORCE_COLOR: "1" }, true, false],
];
for (const [env, tty, expected] of cases) {
	test(`colourEnabled(${JSON.stringify(env)}, tty=${tty}) is ${expected}`, (t) => {
		t.is(colourEnabled(env, tty), expected);
	});
}

test("a disabled palette leaves text unchanged", (t) => {
	t.is(palette(false).red("FAIL"), "FAIL");
	t.is(palette(true).red("FAIL"), "\u001b[31mFAIL\u001b[39m");
});
