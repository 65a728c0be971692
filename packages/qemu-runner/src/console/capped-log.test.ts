import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { CappedLog } from "./capped-log.js";

test("a log on a full disk stops taking lines and says why; nothing throws, close ends", async (t) => {
	// /dev/full: every write fails with ENOSPC, as a filled disk does.
	const log = new CappedLog("/dev/full", 1024);
	for (let i = 0; i < 200; i++) await log.write(`line ${i} ${"x".repeat(100)}`);
	await log.append(new Uint8Array(64));
	await log.close();
	t.is(log.failure, "full: ENOSPC");
});

test("a log that is written has no failure, and stops at its cap saying so", async (t) => {
	const file = path.join(mkdtempSync(path.join(os.tmpdir(), "capped-")), "console.log");
	const log = new CappedLog(file, 100);
	for (let i = 0; i < 10; i++) await log.write(`line ${i} ${"y".repeat(20)}`);
	await log.close();
	t.is(log.failure, undefined);
	t.true(log.truncated);
	const text = readFileSync(file, "utf8");
	t.regex(text, /\[kvm-matrix: log capped at 100 bytes; the rest is dropped\]/);
	t.regex(text, /\[kvm-matrix: \d+ bytes dropped\]\n$/);
});
