import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** A module to load in the guest, with its parameters (`nested=1`). */
export interface ModuleRequest {
	readonly name: string;
	readonly params?: readonly string[];
}

/** A module file to place in the initramfs and load, dependencies first. */
export interface ResolvedModule {
	readonly name: string;
	/** Relative to the modules directory, as modules.dep names it. */
	readonly relPath: string;
	readonly params: readonly string[];
}

/** What a modules directory (`/lib/modules/<release>`) knows, parsed from its index files. */
export interface ModuleIndex {
	/** Normalised module name → path relative to the directory. */
	readonly paths: ReadonlyMap<string, string>;
	/** Relative path → the relative paths it depends on (modules.dep order). */
	readonly deps: ReadonlyMap<string, readonly string[]>;
	/** Normalised names built into the kernel: nothing to load. */
	readonly builtin: ReadonlySet<string>;
}

/** `kvm-amd`, `kvm_amd` and `kernel/arch/x86/kvm/kvm-amd.ko.xz` all name the same module. */
export const moduleName = (text: string): string =>
	path
		.basename(text)
		.replace(/\.ko(\.(xz|zst|gz))?$/, "")
		.replaceAll("-", "_");

export function parseModulesDep(text: string): Map<string, string[]> {
	const deps = new Map<string, string[]>();
	for (const line of text.split("\n")) {
		const colon = line.indexOf(":");
		if (colon <= 0) continue;
		const rest = line.slice(colon + 1).trim();
		deps.set(line.slice(0, colon).trim(), rest === "" ? [] : rest.split(/\s+/));
	}
	return deps;
}

export function indexFromText(depText: string | undefined, builtinText: string | undefined, files: readonly string[]) {
	const deps = parseModulesDep(depText ?? "");
	const paths = new Map<string, string>();
	for (const rel of [...files, ...deps.keys()]) paths.set(moduleName(rel), rel);
	const builtin = new Set((builtinText ?? "").split("\n").filter(Boolean).map(moduleName));
	return { paths, deps, builtin } satisfies ModuleIndex;
}

function listModuleFiles(dir: string, rel = ""): string[] {
	const found: string[] = [];
	for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
		const child = rel === "" ? entry.name : `${rel}/${entry.name}`;
		if (entry.isDirectory()) found.push(...listModuleFiles(dir, child));
		else if (/\.ko(\.(xz|zst|gz))?$/.test(entry.name)) found.push(child);
	}
	return found;
}

/** Reads a modules directory. Without modules.dep (no depmod run), files are found by name. */
export function readModuleIndex(dir: string): ModuleIndex {
	const read = (name: string) => {
		const file = path.join(dir, name);
		return existsSync(file) ? readFileSync(file, "utf8") : undefined;
	};
	const dep = read("modules.dep");
	return indexFromText(dep, read("modules.builtin"), dep === undefined ? listModuleFiles(dir) : []);
}

export class ModuleError extends Error {
	override readonly name = "ModuleError";
}

/**
 * The modules to load for `requests`, each after the modules it depends on, each once; built-in
 * ones are skipped. modules.dep lists a module's dependencies with the deepest last, so they are
 * loaded from the end of that list.
 */
export function resolveModules(index: ModuleIndex, requests: readonly ModuleRequest[]): ResolvedModule[] {
	const order: ResolvedModule[] = [];
	const placed = new Map<string, number>();
	const visit = (name: string, params: readonly string[], chain: readonly string[]) => {
		if (index.builtin.has(name)) return;
		const rel = index.paths.get(name);
		if (rel === undefined) {
			const wanted = chain.length === 0 ? "" : ` (needed by ${chain.join(" → ")})`;
			throw new ModuleError(`module "${name}" not found in the modules directory${wanted}`);
		}
		const at = placed.get(name);
		if (at !== undefined) {
			// Asked for explicitly after being pulled in as a dependency: keep its place, take the params.
			const existing = order[at];
			if (existing !== undefined && params.length > 0) order[at] = { ...existing, params };
			return;
		}
		for (const dep of [...(index.deps.get(rel) ?? [])].reverse()) visit(moduleName(dep), [], [...chain, name]);
		placed.set(name, order.length);
		order.push({ name, relPath: rel, params });
	};
	for (const request of requests) visit(moduleName(request.name), request.params ?? [], []);
	return order;
}
