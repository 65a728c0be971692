// The position-based trims say exactly what the patterns they replace said, on short inputs
// where the patterns' backtracking costs nothing.
import test from "ava";
import fc from "fast-check";
import { beforeFirst, joinLines, trimTrailing } from "./trim.js";

// Blanks, line breaks and the characters the trims look for, often and next to each other.
const text = fc.string({
	unit: fc.constantFrom(" ", "\t", "\n", "\r", "\u2028", "/", ".", "*", "a", "b", "\uFFFD"),
	maxLength: 24,
});

test("joinLines is the old `/\\s*\\n\\s*/g` → one space", (t) => {
	fc.assert(fc.property(text, (s) => joinLines(s) === s.replace(/\s*\n\s*/g, " ")));
	t.is(joinLines("a \n \n\tb\n"), "a b ");
});

test("trimTrailing is the old `/x+$/` → nothing", (t) => {
	fc.assert(
		fc.property(text, (s) => {
			const lines = /[\n\r\u2028\u2029]/.test(s);
			// `$` without the m flag is the end of the string: line breaks do not change it.
			return (
				trimTrailing(s, "/") === s.replace(/\/+$/, "") &&
				trimTrailing(s, ".") === s.replace(/\.+$/, "") &&
				(lines || trimTrailing(s, "\uFFFD") === s.replace(/\uFFFD+$/, ""))
			);
		}),
	);
	t.is(trimTrailing("https://lore.kernel.org/kvm///", "/"), "https://lore.kernel.org/kvm");
});

test("beforeFirst is the old `/\\*.*$/` → nothing, on one line", (t) => {
	fc.assert(fc.property(text, (s) => /[\n\r\u2028\u2029]/.test(s) || beforeFirst(s, "*") === s.replace(/\*.*$/, "")));
	t.is(beforeFirst("utf-8*en", "*"), "utf-8");
});
