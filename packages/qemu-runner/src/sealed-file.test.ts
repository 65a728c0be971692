import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { checkSeal, isSealed, isWhole, sealOf, sealPath } from "./sealed-file.js";

test("a file is whole while its seal says its size and hash; cut, changed or unsealed, it is not", async (t) => {
	const file = path.join(mkdtempSync(path.join(os.tmpdir(), "sealed-")), "image");
	writeFileSync(file, Buffer.alloc(200_000, 7));
	t.false(await isSealed(file), "no seal yet");
	writeFileSync(sealPath(file), await sealOf(file));
	t.true(await isSealed(file));
	writeFileSync(file, Buffer.alloc(200_000, 8));
	t.false(await isSealed(file), "same size, other bytes");
	writeFileSync(file, Buffer.alloc(200_000, 7));
	t.true(await isSealed(file));
	truncateSync(file, 0);
	t.false(await isSealed(file), "empty under its name");
	for (const seal of ["", "{", "null", '{"size":"0","sha256":1}']) {
		writeFileSync(sealPath(file), seal);
		t.false(await isSealed(file), `seal ${JSON.stringify(seal)}`);
	}
	writeFileSync(sealPath(file), await sealOf(file));
	rmSync(file);
	t.false(await isSealed(file), "a seal without its file");
	writeFileSync(file, "");
	t.is(
		await sealOf(file),
		'{"size":0,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}',
		"sha256 of nothing, as sha256sum says",
	);
});

test("a file without a seal is sealed as it stands unless empty; a seal that does not match is never overruled", async (t) => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "whole-"));
	const file = path.join(dir, "image");
	const seal = async (text: string) => writeFileSync(sealPath(file), text);
	t.false(await isWhole(file, seal), "no file at all");
	writeFileSync(file, "");
	t.is(await checkSeal(file), "unsealed");
	t.false(await isWhole(file, seal), "an empty file without a seal (a crash before its bytes) is not taken");
	writeFileSync(file, Buffer.alloc(4096, 1));
	t.true(await isWhole(file, seal), "one from before seals is adopted");
	t.is(await checkSeal(file), "sealed");
	writeFileSync(file, Buffer.alloc(4096, 2));
	t.is(await checkSeal(file), "broken");
	t.false(await isWhole(file, seal), "a mismatch is not adopted over");
});
