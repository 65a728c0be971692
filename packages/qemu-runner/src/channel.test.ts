import test from "ava";
import fc from "fast-check";
import { ChannelEnd, channelEndMarker } from "./channel.js";

const marker = channelEndMarker("00112233445566778899aabbccddeeff");

test("the end marker is cut off, even split across chunks; nothing after it passes", (t) => {
	const end = new ChannelEnd(marker);
	const out = [end.push(Buffer.from("rec 1\n@@kvm")), end.push(Buffer.from(`${marker.slice(5, 20)}`))];
	t.false(end.ended);
	out.push(end.push(Buffer.from(`${marker.slice(20)}after`)));
	t.true(end.ended);
	t.is(Buffer.concat(out).toString(), "rec 1\n");
	t.is(end.push(Buffer.from("late")).length, 0);
});

test("what looks like the start of the marker but is not passes once that is clear, or at the end", (t) => {
	const end = new ChannelEnd(marker);
	t.is(end.push(Buffer.from("a@@kvm")).toString(), "a");
	t.is(end.push(Buffer.from("-matrix-x")).toString(), "@@kvm-matrix-x");
	t.is(end.push(Buffer.from("@@")).toString(), "");
	t.is(end.flush().toString(), "@@");
	t.false(end.ended);
});

test("any chunking of any bytes then the marker gives back exactly those bytes", (t) => {
	fc.assert(
		fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat({ max: 250 }), { maxLength: 8 }), (data, cuts) => {
			const all = Buffer.concat([Buffer.from(data), Buffer.from(marker)]);
			const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
			const end = new ChannelEnd(marker);
			const out: Buffer[] = [];
			let from = 0;
			for (const p of [...points, all.length]) {
				out.push(end.push(all.subarray(from, p)));
				from = p;
			}
			return end.ended && Buffer.concat(out).equals(Buffer.from(data));
		}),
	);
	t.pass();
});
