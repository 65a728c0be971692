import { mkdtempSync, readdirSync, readFileSync, truncateSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { baseArchive, findStaticBusybox } from "./build.js";

test("concurrent boots building the same base image both get it, and nothing half-written is left", async (t) => {
	const cacheDir = mkdtempSync(path.join(os.tmpdir(), "initramfs-race-"));
	const busybox = await findStaticBusybox();
	const [a, b, c] = await Promise.all([1, 2, 3].map(() => baseArchive({ cacheDir, busybox, modules: [] })));
	t.is(a?.path, b?.path);
	t.is(b?.path, c?.path);
	const name = path.basename(a?.path ?? "");
	t.deepEqual(readdirSync(path.join(cacheDir, "initramfs")).sort(), [name, `${name}.sealed`]);
	t.true((await baseArchive({ cacheDir, busybox, modules: [] })).cached);
});

test("a cached base image that a crash left empty is built again", async (t) => {
	const cacheDir = mkdtempSync(path.join(os.tmpdir(), "initramfs-crash-"));
	const busybox = await findStaticBusybox();
	const first = await baseArchive({ cacheDir, busybox, modules: [] });
	const whole = readFileSync(first.path);
	truncateSync(first.path, 0);
	const again = await baseArchive({ cacheDir, busybox, modules: [] });
	t.false(again.cached);
	t.true(readFileSync(again.path).equals(whole));
	t.true((await baseArchive({ cacheDir, busybox, modules: [] })).cached);
});
