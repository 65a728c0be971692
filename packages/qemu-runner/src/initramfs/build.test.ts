import { mkdtempSync, readdirSync } from "node:fs";
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
	t.deepEqual(readdirSync(path.join(cacheDir, "initramfs")), [path.basename(a?.path ?? "")]);
	t.true((await baseArchive({ cacheDir, busybox, modules: [] })).cached);
});
