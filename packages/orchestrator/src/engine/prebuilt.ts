// Prebuilt kernels: which image a glob means (the newest) and its modules for that release.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import picomatch from "picomatch";
import type { PrebuiltKernel } from "../matrix/types.js";
import { RunSetupError } from "./setup-error.js";

function newestMatch(pattern: string): string | undefined {
	if (!/[*?[]/.test(pattern)) return existsSync(pattern) ? pattern : undefined;
	const dir = path.dirname(pattern);
	const match = picomatch(path.basename(pattern));
	const names = existsSync(dir) ? readdirSync(dir).filter((n) => match(n)) : [];
	const newest = names.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).at(-1);
	return newest === undefined ? undefined : path.join(dir, newest);
}

export interface PrebuiltFiles {
	readonly image: string;
	readonly modulesDir?: string;
}

/** A prebuilt kernel's image (globs pick the newest) and its modules directory for that release. */
export function prebuiltFiles(kernel: PrebuiltKernel): PrebuiltFiles {
	const image = newestMatch(kernel.image);
	if (image === undefined) throw new RunSetupError(`kernel ${kernel.id}: no kernel image matches ${kernel.image}`);
	if (kernel.modules === undefined) return { image };
	const release = path.basename(image).replace(/^vmlinuz-/, "");
	const candidates = [kernel.modules, path.join(kernel.modules, release)];
	const modulesDir = candidates.find((dir) => existsSync(path.join(dir, "modules.dep")));
	return modulesDir === undefined ? { image } : { image, modulesDir };
}
