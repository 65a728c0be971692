import { mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { encodeCpio, parentDirs } from "./cpio.js";

test("GNU cpio extracts what encodeCpio wrote: files, modes, dirs and symlinks", async (t) => {
	const dir = mkdtempSync(path.join(tmpdir(), "cpio-"));
	const archive = path.join(dir, "a.cpio");
	const odd = Buffer.from("odd length\n"); // exercises padding
	writeFileSync(
		archive,
		Buffer.concat(
			encodeCpio([
				{ kind: "dir", path: "/bin" },
				{ kind: "file", path: "/bin/tool", data: Buffer.from("#!/bin/sh\necho hi\n"), mode: 0o755 },
				{ kind: "symlink", path: "/bin/alias", target: "tool" },
				{ kind: "dir", path: "/etc" },
				{ kind: "file", path: "/etc/odd", data: odd },
			]),
		),
	);
	const out = path.join(dir, "out");
	await execa("mkdir", [out]);
	await execa("cpio", ["-id", "--quiet", "-F", archive], { cwd: out });
	t.is(readFileSync(path.join(out, "bin/tool"), "utf8"), "#!/bin/sh\necho hi\n");
	t.is(statSync(path.join(out, "bin/tool")).mode & 0o777, 0o755);
	t.is(readlinkSync(path.join(out, "bin/alias")), "tool");
	t.deepEqual(readFileSync(path.join(out, "etc/odd")), odd);
	const listing = await execa("cpio", ["-t", "--quiet", "-F", archive]);
	t.deepEqual(listing.stdout.split("\n"), ["bin", "bin/tool", "bin/alias", "etc", "etc/odd"]);
});

test("encodeCpio is deterministic (so archives can be cached by content)", (t) => {
	const entries = [{ kind: "file", path: "/a", data: Buffer.from("x") }] as const;
	t.deepEqual(Buffer.concat(encodeCpio(entries)), Buffer.concat(encodeCpio(entries)));
});

test("parentDirs lists each directory once, parents first", (t) => {
	t.deepEqual(parentDirs(["/lib/modules/kernel/kvm.ko", "/lib/x", "/bin/sh", "top"]), [
		"bin",
		"lib",
		"lib/modules",
		"lib/modules/kernel",
	]);
});
