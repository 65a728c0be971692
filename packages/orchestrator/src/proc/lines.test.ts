import test from "ava";
import fc from "fast-check";
import { LineSplitter } from "./lines.js";

const split = (chunks: readonly string[], maxLine = 1_000, maxOutput = 100_000) => {
	const lines: string[] = [];
	const splitter = new LineSplitter((l) => lines.push(l), maxLine, maxOutput);
	for (const c of chunks) splitter.push(c);
	splitter.end();
	return lines;
};

test("lines come out as a split of the whole output would give them, however the chunks fall", (t) => {
	fc.assert(
		fc.property(
			fc.array(fc.string({ unit: fc.constantFrom("a", "b", "\n"), maxLength: 12 }), { maxLength: 10 }),
			(chunks) => {
				const whole = chunks.join("");
				const want = whole === "" ? [] : whole.split("\n");
				if (whole.endsWith("\n")) want.pop();
				t.deepEqual(split(chunks), want);
			},
		),
	);
});

test("a line without an end is cut at its cap, said once, and the next line is whole", (t) => {
	const long = "x".repeat(5_000);
	const lines = split([long.slice(0, 1_500), long.slice(1_500), "\nnext\n"]);
	t.deepEqual(lines, [`${"x".repeat(1_000)} [kvm-matrix: line cut at 1000 characters]`, "next"]);
});

test("output past its cap is dropped after one line that says so", (t) => {
	const lines = split(
		Array.from({ length: 50 }, (_, i) => `line ${i}\n`),
		1_000,
		60,
	);
	t.deepEqual(lines.slice(0, -1), ["line 0", "line 1", "line 2", "line 3", "line 4", "line 5", "line 6", "line 7"]);
	t.is(lines.at(-1), "[kvm-matrix: output capped at 60 characters; the rest is dropped]");
});
