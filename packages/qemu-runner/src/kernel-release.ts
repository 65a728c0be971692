import { open } from "node:fs/promises";

/**
 * The release (`6.1.0-56-amd64`) a bzImage was built as, from the version string its x86 boot
 * header points at (Documentation/arch/x86/boot.rst: "HdrS" at 0x202, kernel_version at 0x20E).
 * Undefined for anything else: the caller then needs to be told where the modules are.
 */
export async function kernelRelease(image: string): Promise<string | undefined> {
	const file = await open(image, "r");
	try {
		const head = Buffer.alloc(0x210);
		const { bytesRead } = await file.read(head, 0, head.length, 0);
		if (bytesRead < head.length || head.toString("latin1", 0x202, 0x206) !== "HdrS") return undefined;
		const text = Buffer.alloc(256);
		const got = await file.read(text, 0, text.length, head.readUInt16LE(0x20e) + 0x200);
		const version = text.toString("latin1", 0, got.bytesRead).split("\0")[0] ?? "";
		return /^\S+/.exec(version)?.[0];
	} finally {
		await file.close();
	}
}
