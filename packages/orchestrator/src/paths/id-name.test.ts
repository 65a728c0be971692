import test from "ava";
import fc from "fast-check";
import { idName, idOfName } from "./id-name.js";

const id = fc.string({ unit: fc.constantFrom("_", "/", "%", ".", "a", "5", "F", "\u0000"), maxLength: 16 });

test("one name per id: the id comes back from its name, and the name is one path segment", (t) => {
	fc.assert(
		fc.property(id, (s) => {
			const name = idName(s);
			return idOfName(name) === s && !name.includes("/") && !["", ".", ".."].includes(name) && !name.includes("\u0000");
		}),
	);
	t.not(idName("a/b__c"), idName("a__b/c"));
	t.not(idName("a_/b"), idName("a/_b"));
	t.is(idName(".."), "%2");
});

test("ids that had a name to themselves keep it", (t) => {
	for (const [s, name] of [
		["debian/tcg", "debian__tcg"],
		["kvm-x86@next/default/npt-off", "kvm-x86@next__default__npt-off"],
		["x86_64/cpuid_test", "x86_64__cpuid_test"],
		["fake@master/t", "fake@master__t"],
	] as const)
		t.is(idName(s), name);
	const escaped = (s: string) => /__|_\/|\/_|%|^\.{0,2}$/.test(s) || s.includes("\u0000");
	fc.assert(fc.property(id, (s) => escaped(s) || idName(s) === s.replaceAll("/", "__")));
});
