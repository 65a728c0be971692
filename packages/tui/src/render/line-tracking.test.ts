import { PassThrough } from "node:stream";
import test from "ava";
import { lineTracking } from "./line-tracking.js";

test("the wrapped stream writes through and knows whether the last write ended a line", (t) => {
	const target = Object.assign(new PassThrough(), { rows: 14 });
	const chunks: string[] = [];
	target.on("data", (c: Buffer) => chunks.push(c.toString()));
	const { stream, atLineStart } = lineTracking(target);
	t.true(atLineStart());
	stream.write("frame line 1\nframe line 2");
	t.false(atLineStart());
	stream.write("");
	t.false(atLineStart());
	stream.write(Buffer.from("\n"));
	t.true(atLineStart());
	t.is(stream.rows, 14);
	let resized = 0;
	stream.on("resize", () => resized++);
	target.emit("resize");
	t.is(resized, 1);
	t.is(chunks.join(""), "frame line 1\nframe line 2\n");
});
