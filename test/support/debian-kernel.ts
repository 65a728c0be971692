import { existsSync, readdirSync } from "node:fs";

/** Debian's newest installed kernel (linux-image-amd64, installed by scripts/setup.sh). */
export function debianKernel(): { image: string; release: string } {
	const images = readdirSync("/boot")
		.filter((f) => /^vmlinuz-.*-amd64$/.test(f))
		.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
	const newest = images.at(-1);
	if (newest === undefined) throw new Error("no Debian kernel in /boot: run scripts/setup.sh (linux-image-amd64)");
	const release = newest.slice("vmlinuz-".length);
	if (!existsSync(`/lib/modules/${release}`))
		throw new Error(`no /lib/modules/${release}: reinstall linux-image-${release}`);
	return { image: `/boot/${newest}`, release };
}
