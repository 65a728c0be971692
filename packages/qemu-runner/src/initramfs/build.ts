import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { execa } from "execa";
import { isWhole, sealOf, sealPath } from "../sealed-file.js";
import type { GuestFile, Payload, Share } from "../types.js";
import { type CpioEntry, encodeCpio, parentDirs } from "./cpio.js";
import { INIT_SCRIPT, payloadScript, RECORD_HELPER } from "./init-script.js";
import type { ResolvedModule } from "./modules.js";

const gzipAsync = promisify(gzip);
// Bump when the layout of the base archive changes, so old cached images are not reused.
const FORMAT = "kvm-matrix-initramfs-1";

export const BUSYBOX_PATHS = ["/usr/bin/busybox", "/bin/busybox"] as const;

export class InitramfsError extends Error {
	override readonly name = "InitramfsError";
}

/** busybox-static's binary: the guest has no libc, so a dynamically linked busybox cannot run. */
export async function findStaticBusybox(): Promise<string> {
	for (const candidate of BUSYBOX_PATHS) {
		if (!existsSync(candidate)) continue;
		const head = await readFile(candidate).then((b) => b.subarray(0, 4096));
		// A dynamic ELF names its interpreter (PT_INTERP) near the start: "/lib64/ld-linux...".
		if (!head.includes(Buffer.from("/lib64/ld-linux")) && !head.includes(Buffer.from("ld-linux-x86-64"))) {
			return candidate;
		}
	}
	throw new InitramfsError("no static busybox found (install busybox-static: apt-get install busybox-static)");
}

const DECOMPRESSORS: Readonly<Record<string, string>> = { ".xz": "xz", ".zst": "zstd", ".gz": "gzip" };

async function moduleBytes(file: string): Promise<Uint8Array> {
	// The guest's busybox insmod reads plain .ko files only.
	const tool = DECOMPRESSORS[path.extname(file)];
	if (tool === undefined) return readFile(file);
	return (await execa(tool, ["-dc", file], { encoding: "buffer" })).stdout;
}

const plainModulePath = (rel: string) => rel.replace(/\.(xz|zst|gz)$/, "");

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

async function gzipCpio(entries: CpioEntry[]): Promise<Buffer> {
	// Level 1: the kernel unpacks any level equally fast, and level 9 costs seconds per image.
	return gzipAsync(Buffer.concat(encodeCpio(entries)), { level: 1 });
}

function withParents(entries: CpioEntry[]): CpioEntry[] {
	const dirs = parentDirs(entries.map((e) => e.path));
	return [...dirs.map((d): CpioEntry => ({ kind: "dir", path: d })), ...entries];
}

/**
 * Writes `bytes` at `file` aside under a name no other writer uses, then renames it: concurrent
 * boots (in this process or another) may build the same image; each rename is atomic and the
 * last one wins with identical bytes, so no boot ever reads half an image. Synced before the
 * rename and the directory after it, so that a crash leaves the old file or the whole new one.
 */
async function publish(file: string, bytes: Buffer): Promise<void> {
	const partial = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.partial`;
	const handle = await open(partial, "w");
	try {
		await handle.writeFile(bytes);
		await handle.sync();
	} finally {
		await handle.close();
	}
	await rename(partial, file);
	const parent = await open(path.dirname(file), "r");
	try {
		await parent.sync();
	} finally {
		await parent.close();
	}
}

/**
 * The part of the initramfs that changes rarely (busybox, /init, modules), cached under its
 * content hash: booting the same kernel with another command reuses it.
 */
export async function baseArchive(options: {
	readonly cacheDir: string;
	readonly busybox: string;
	readonly modulesDir?: string;
	readonly modules: readonly ResolvedModule[];
}): Promise<{ readonly path: string; readonly hash: string; readonly cached: boolean }> {
	const busybox = await readFile(options.busybox);
	const modules = await Promise.all(
		options.modules.map(async (m) => {
			if (options.modulesDir === undefined) throw new InitramfsError("modules requested without a modules directory");
			return {
				guest: `/lib/modules/${plainModulePath(m.relPath)}`,
				data: await moduleBytes(path.join(options.modulesDir, m.relPath)),
			};
		}),
	);
	const hash = sha256(
		[
			FORMAT,
			sha256(INIT_SCRIPT),
			sha256(RECORD_HELPER),
			sha256(busybox),
			...modules.map((m) => `${m.guest}:${sha256(m.data)}`),
		].join("\n"),
	);
	const file = path.join(options.cacheDir, "initramfs", `base-${hash.slice(0, 24)}.cpio.gz`);
	if (await isWhole(file, (seal) => publish(sealPath(file), Buffer.from(seal))))
		return { path: file, hash, cached: true };
	const entries = withParents([
		{ kind: "file", path: "init", data: Buffer.from(INIT_SCRIPT), mode: 0o755 },
		{ kind: "file", path: "bin/busybox", data: busybox, mode: 0o755 },
		{ kind: "file", path: "bin/kvm-matrix-record", data: Buffer.from(RECORD_HELPER), mode: 0o755 },
		...modules.map((m): CpioEntry => ({ kind: "file", path: m.guest, data: m.data })),
	]);
	await mkdir(path.dirname(file), { recursive: true });
	await publish(file, await gzipCpio(entries));
	// The seal last: an image is a hit only once its bytes and their seal are on the disk.
	await publish(sealPath(file), Buffer.from(await sealOf(file)));
	return { path: file, hash, cached: false };
}

/** The per-boot part: the payload, its files, what to load and mount, and the nonce. */
export async function payloadArchive(options: {
	readonly nonce: string;
	readonly payload: Payload;
	readonly modules: readonly ResolvedModule[];
	readonly shares: readonly (Share & { readonly tag: string })[];
	readonly files: readonly GuestFile[];
	/** Private channels' names, in descriptor order. */
	readonly channels?: readonly string[];
	/** `module param value` lines the init checks before the payload (see BootRequest.requireModuleParams). */
	readonly params?: readonly { readonly module: string; readonly param: string; readonly value: string }[];
}): Promise<Buffer> {
	const files = await Promise.all(
		options.files.map(async (f): Promise<CpioEntry> => {
			const [data, info] = await Promise.all([readFile(f.host), stat(f.host)]);
			return { kind: "file", path: f.guest, data, mode: f.mode ?? info.mode & 0o7777 };
		}),
	);
	const text = (p: string, content: string, mode = 0o644): CpioEntry => ({
		kind: "file",
		path: p,
		data: Buffer.from(content),
		mode,
	});
	return gzipCpio(
		withParents([
			text("kvm-matrix/nonce", `${options.nonce}\n`, 0o600),
			text(
				"kvm-matrix/modules",
				options.modules.map((m) => `${plainModulePath(m.relPath)} ${m.params.join(" ")}\n`).join(""),
			),
			text("kvm-matrix/shares", options.shares.map((s) => `${s.tag} ${s.guest}\n`).join("")),
			text("kvm-matrix/channels", (options.channels ?? []).map((name) => `${name}\n`).join("")),
			text("kvm-matrix/params", (options.params ?? []).map((p) => `${p.module} ${p.param} ${p.value}\n`).join("")),
			text("kvm-matrix/payload", payloadScript(options.payload), 0o755),
			...files,
		]),
	);
}

/**
 * The kernel unpacks concatenated archives one after the other, so the cached base and the
 * small per-boot archive are joined into one initrd without re-compressing the base.
 */
export async function writeInitrd(out: string, basePath: string, payload: Buffer): Promise<void> {
	await writeFile(out, Buffer.concat([await readFile(basePath), payload]));
}
