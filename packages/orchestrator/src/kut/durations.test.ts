import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { readKutDurations, recordKutDurations } from "./durations.js";

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
