import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "ava";
import { kernelRelease } from "./kernel-release.js";

const dir = mkdtempSync(path.join(tmpdir(), "krel-"));

function image(version: string | undefined): string {
	const data = Buffer.alloc(0x6000);
	if (version !== undefined) {
		data.write("HdrS", 0x202, "latin1");
		// Beyond the first 16 KiB, as in Debian's 6.1 images.
		data.writeUInt16LE(0x4400 - 0x200, 0x20e);
		data.write(`${version}\0`, 0x4400, "latin1");
	}
	const file = path.join(dir, `img-${version ?? "none"}`);
	writeFileSync(file, data);
	return file;
}

test("kernelRelease reads the release from the boot header's version string", async (t) => {
	t.is(await kernelRelease(image("6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP")), "6.1.0-56-amd64");
});

test("kernelRelease is undefined for a file that is not a bzImage", async (t) => {
	t.is(await kernelRelease(image(undefined)), undefined);
});
