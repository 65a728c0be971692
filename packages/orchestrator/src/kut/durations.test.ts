import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { longestFirst, readKutDurations, recordKutDurations } from "./durations.js";

const file = () => path.join(mkdtempSync(path.join(os.tmpdir(), "kut-durations-")), "kut-durations", "kut.json");

test("a missing, truncated or garbled durations file is no durations, and bad entries are left out", async (t) => {
	const f = file();
	t.deepEqual(await readKutDurations(f), {});
	await recordKutDurations(f, { msr: 1200, vmx: 90_000 });
	t.deepEqual(await readKutDurations(f), { msr: 1200, vmx: 90_000 });
	const whole = readFileSync(f, "utf8");
	writeFileSync(f, whole.slice(0, whole.length - 3));
	t.deepEqual(await readKutDurations(f), {});
	writeFileSync(f, "\u0000\u0000garbage");
	t.deepEqual(await readKutDurations(f), {});
	writeFileSync(f, JSON.stringify({ msr: 5, vmx: "long", ept: -1, apic: null }));
	t.deepEqual(await readKutDurations(f), { msr: 5 });
	writeFileSync(f, "[1,2]");
	t.deepEqual(await readKutDurations(f), {});
});

test("two runs recording at once both keep theirs", async (t) => {
	const f = file();
	await recordKutDurations(f, { msr: 1 });
	await Promise.all([recordKutDurations(f, { vmx: 2, msr: 3 }), recordKutDurations(f, { ept: 4 })]);
	t.deepEqual(await readKutDurations(f), { msr: 3, vmx: 2, ept: 4 });
});

test("a test named like an Object property has no duration until it is measured", async (t) => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "durations-"));
	const file = path.join(dir, "d.json");
	writeFileSync(file, JSON.stringify({ pass: 5 }));
	const durations = await readKutDurations(file);
	const lookUp = (name: string): unknown => durations[name];
	t.is(lookUp("constructor"), undefined);
	t.is(lookUp("toString"), undefined);
	t.is(durations.pass, 5);
});

test("a test whose history is a timeout starts first; tests never seen before start before it", (t) => {
	const history = { pass: 2_100, vmx: 95_000, msr: 1_300, vmexit_cpuid: 2_000 };
	t.deepEqual(longestFirst(["pass", "msr", "vmx", "vmexit_cpuid"], history), ["vmx", "pass", "vmexit_cpuid", "msr"]);
	t.deepEqual(longestFirst(["pass", "new-test", "vmx"], history), ["new-test", "vmx", "pass"]);
	// A name like an Object property has no history.
	t.deepEqual(longestFirst(["pass", "constructor"], history), ["constructor", "pass"]);
});
