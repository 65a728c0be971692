import test from "ava";
import fc from "fast-check";
import { LineSplitter } from "./lines.js";

test("lines split across chunks, CRLF and a final partial line", (t) => {
	const s = new LineSplitter();
	t.deepEqual(s.push("ab"), []);
	t.deepEqual(s.push("c\r\nde"), ["abc"]);
	t.deepEqual(s.push("f\n\n"), ["def", ""]);
	t.deepEqual(s.push("tail"), []);
	t.deepEqual(s.end(), ["tail"]);
});

test("a multi-byte character split between chunks is decoded whole", (t) => {
	const s = new LineSplitter();
	const bytes = Buffer.from("é\n");
	t.deepEqual(s.push(bytes.subarray(0, 1)), []);
	t.deepEqual(s.push(bytes.subarray(1)), ["é"]);
});

test("no line is longer than the limit, and nothing is lost", (t) => {
	fc.assert(
		fc.property(
			fc.array(fc.string({ maxLength: 40 }), { maxLength: 20 }),
			fc.integer({ min: 1, max: 8 }),
			(chunks, max) => {
				const s = new LineSplitter(max);
				const out = [...chunks.flatMap((c) => s.push(c)), ...s.end()];
				const input = chunks.join("").replaceAll("\r\n", "\n");
				return out.every((l) => l.length <= max) && out.join("").length === input.replaceAll("\n", "").length;
			},
		),
	);
	t.pass();
});
