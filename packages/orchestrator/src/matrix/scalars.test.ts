import test from "ava";
import fc from "fast-check";
import { formatDuration, parseDuration } from "./duration.js";
import { checkGitRef, checkName, hasControlCharacter } from "./names.js";
import { formatSize, parseSize } from "./size.js";
import { closest, editDistance } from "./suggest.js";

const durations: [string, number | string][] = [
	["90s", 90_000],
	["2m", 120_000],
	["1h30m", 5_400_000],
	["500ms", 500],
	[" 10s ", 10_000],
	["1m30s", 90_000],
	["90", 'duration "90" needs a unit, e.g. 90s'],
	["1.5m", '"1.5m" is not a duration (use e.g. 90s, 2m, 1h30m, 500ms)'],
	["ten seconds", '"ten seconds" is not a duration (use e.g. 90s, 2m, 1h30m, 500ms)'],
	["-5s", '"-5s" is not a duration (use e.g. 90s, 2m, 1h30m, 500ms)'],
	["0s", 'duration "0s" must be greater than zero'],
	["", '"" is not a duration (use e.g. 90s, 2m, 1h30m, 500ms)'],
];
for (const [input, expected] of durations) {
	test(`parseDuration(${JSON.stringify(input)})`, (t) => {
		const result = parseDuration(input);
		t.deepEqual(result, typeof expected === "number" ? { ok: true, value: expected } : { ok: false, error: expected });
	});
}

test("formatDuration output parses back to the same value", (t) => {
	fc.assert(
		fc.property(fc.integer({ min: 1, max: 10 ** 9 }), (ms) => {
			const back = parseDuration(formatDuration(ms));
			return back.ok && back.value === ms;
		}),
	);
	t.is(formatDuration(5_400_000), "90m");
	t.is(formatDuration(7_200_000), "2h");
});

const sizes: [string, number | string][] = [
	["4G", 4 * 2 ** 30],
	["512M", 512 * 2 ** 20],
	["2GiB", 2 * 2 ** 30],
	["1t", 2 ** 40],
	["64K", 64 * 1024],
	["4096", 'size "4096" needs a unit, e.g. 4096M or 4096G'],
	["4 gigs", '"4 gigs" is not a size (use e.g. 512M, 4G)'],
	["1.5G", '"1.5G" is not a size (use e.g. 512M, 4G)'],
	["0G", 'size "0G" must be greater than zero'],
];
for (const [input, expected] of sizes) {
	test(`parseSize(${JSON.stringify(input)})`, (t) => {
		t.deepEqual(
			parseSize(input),
			typeof expected === "number" ? { ok: true, value: expected } : { ok: false, error: expected },
		);
	});
}

test("formatSize picks the largest exact unit and parses back", (t) => {
	t.is(formatSize(4 * 2 ** 30), "4G");
	t.is(formatSize(1536 * 2 ** 20), "1536M");
	fc.assert(
		fc.property(fc.integer({ min: 1, max: 2 ** 20 }), fc.constantFrom(2 ** 10, 2 ** 20, 2 ** 30), (n, unit) => {
			const back = parseSize(formatSize(n * unit));
			return back.ok && back.value === n * unit;
		}),
	);
});

const names: [string, boolean][] = [
	["kvm-x86", true],
	["ept_off.2", true],
	["6.1.y", true],
	["", false],
	["-rf", false],
	[".hidden", false],
	["a..b", false],
	["a/b", false],
	["a b", false],
	["x;rm", false],
	["$(id)", false],
];
for (const [input, valid] of names) {
	test(`checkName(${JSON.stringify(input)}) is ${valid ? "valid" : "rejected"}`, (t) => {
		t.is(checkName(input).ok, valid);
	});
}

const refs: [string, true | string][] = [
	["next", true],
	["for-next/x86", true],
	["v6.12", true],
	["linux-6.1.y", true],
	["3f2a9c1d", true],
	["", "it is empty"],
	["next;reboot", 'use letters, digits and "._/+-" only'],
	["$(touch x)", 'use letters, digits and "._/+-" only'],
	["-next", 'it starts with "-"'],
	["a..b", 'it contains ".."'],
	["a//b", 'it contains "//"'],
	["/next", 'it starts or ends with "/"'],
	["next.lock", 'it ends with "." or ".lock"'],
	["x/.y", 'a component starts with "."'],
];
for (const [input, expected] of refs) {
	test(`checkGitRef(${JSON.stringify(input)})`, (t) => {
		const result = checkGitRef(input);
		if (expected === true) t.deepEqual(result, { ok: true, value: input });
		else t.deepEqual(result, { ok: false, error: `"${input}" is not a usable git ref: ${expected}` });
	});
}

test("hasControlCharacter sees C0 and DEL only", (t) => {
	t.true(hasControlCharacter("a\nb"));
	t.true(hasControlCharacter("\u001b[31m"));
	t.true(hasControlCharacter("x\u007f"));
	t.false(hasControlCharacter("kvm-x86@next é"));
});

test("editDistance counts a swap of neighbours as one edit", (t) => {
	t.is(editDistance("rfe", "ref"), 1);
	t.is(editDistance("reff", "ref"), 1);
	t.is(editDistance("", "abc"), 3);
	t.is(editDistance("kitten", "sitting"), 3);
});

test("editDistance is a symmetric, zero-on-equal measure", (t) => {
	fc.assert(
		fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
			const d = editDistance(a, b);
			return d === editDistance(b, a) && (d === 0) === (a === b) && d <= Math.max(a.length, b.length);
		}),
	);
	t.pass();
});

test("closest suggests plausible typos only", (t) => {
	t.is(closest("reff", ["tree", "ref", "name"]), "ref");
	t.is(closest("tragets", ["targets", "trees"]), "targets");
	t.is(closest("url", ["tree", "ref"]), undefined);
	t.is(closest("x", []), undefined);
});
