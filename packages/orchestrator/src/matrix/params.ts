// The `params` axis: named sets of KVM module parameters, and ranges that expand to one set per
// value, crossed with kernels × targets. A set is what KVM maintainers run every test under
// (`kvm_intel.ept=0`, `kvm_amd.npt=0`, `kvm.enable_pmu=0`, ...); its name goes into cell ids.
import * as z from "zod";
import { checkName, hasControlCharacter, isModuleParam } from "./names.js";
import type { ModuleParams, ParamSet } from "./types.js";

/** The modules a set may name: KVM's own. Anything else is a typo or not KVM's business. */
export const KVM_MODULES = ["kvm", "kvm_intel", "kvm_amd"] as const;

const VALUE = /^[^\s"'\\,]+$/;
const AT_KEY = { at: "key" } as const;

type Scalar = string | number | boolean;
const scalarText = (raw: Scalar) => (typeof raw === "boolean" ? (raw ? "1" : "0") : String(raw));

/** `kvm-intel` is how modprobe lets it be written; KVM's sysfs and cmdline say `kvm_intel`. */
const moduleOf = (key: string) => key.replaceAll("-", "_");

/** Every combination of the ranged parameters' values, in the order written. */
function crossProduct(ranges: readonly { key: string; values: readonly string[] }[]): Record<string, string>[] {
	return ranges.reduce<Record<string, string>[]>(
		(sets, range) => sets.flatMap((set) => range.values.map((v) => ({ ...set, [range.key]: v }))),
		[{}],
	);
}

const entrySchema = z.record(z.string(), z.unknown()).transform((entry, refine): ParamSet[] => {
	const issue = (path: PropertyKey[], message: string, atKey = false) =>
		refine.addIssue({ code: "custom", message, path, ...(atKey ? { params: AT_KEY } : {}) });
	let name: string | undefined;
	const fixed: Record<string, Record<string, string>> = {};
	const ranges: { key: string; module: string; param: string; values: string[] }[] = [];
	let ok = true;
	for (const [key, raw] of Object.entries(entry)) {
		if (key === "name") {
			const checked = typeof raw === "string" ? checkName(raw) : undefined;
			if (checked?.ok) name = checked.value;
			else {
				issue(["name"], checked?.ok === false ? checked.error : "name must be a string");
				ok = false;
			}
			continue;
		}
		const module = moduleOf(key);
		if (!(KVM_MODULES as readonly string[]).includes(module)) {
			issue([key], `unknown KVM module "${key}" (params name ${KVM_MODULES.join(", ")})`, true);
			ok = false;
			continue;
		}
		if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
			issue([key], `${key} takes parameters as { name: value } (e.g. ${module}: { ept: "0" })`);
			ok = false;
			continue;
		}
		for (const [param, value] of Object.entries(raw)) {
			if (!isModuleParam(param)) {
				issue([key, param], `"${param}" is not a parameter name`, true);
				ok = false;
				continue;
			}
			const values: unknown[] = Array.isArray(value) ? value : [value];
			if (Array.isArray(value) && value.length === 0) {
				issue([key, param], "an empty range gives no parameter set: list at least one value");
				ok = false;
				continue;
			}
			const texts: string[] = [];
			values.forEach((v, i) => {
				const at = Array.isArray(value) ? [key, param, i] : [key, param];
				if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
					issue(at, "a parameter value is a string, a number or true/false");
					ok = false;
					return;
				}
				const text = scalarText(v);
				if (!VALUE.test(text) || hasControlCharacter(text)) {
					issue(at, "a parameter value is one word without spaces, quotes or commas");
					ok = false;
					return;
				}
				texts.push(text);
			});
			if (new Set(texts).size !== texts.length) {
				issue([key, param], "a range lists a value twice");
				ok = false;
			}
			if (Array.isArray(value)) ranges.push({ key: `${module}.${param}`, module, param, values: texts });
			else fixed[module] = { ...(fixed[module] ?? {}), [param]: texts[0] ?? "" };
		}
	}
	if (!ok) return [];
	if (ranges.length === 0) {
		if (name === undefined) {
			issue([], "a parameter set without a range needs a name (e.g. name: ept-off)");
			return [];
		}
		return [{ name, modules: fixed }];
	}
	// A range's sets are named after the set (or its parameters) and the values they take; with
	// fixed parameters beside it a name is needed, or "halt_poll_ns-0" would hide that ept=0 is set too.
	if (name === undefined && Object.keys(fixed).length > 0) {
		issue([], "a range beside fixed parameters needs a name (it names every set it gives)");
		return [];
	}
	const stem = name ?? ranges.map((r) => r.param).join("+");
	const sets = crossProduct(ranges).map((values): ParamSet => {
		const modules: Record<string, Record<string, string>> = Object.fromEntries(
			Object.entries(fixed).map(([m, p]) => [m, { ...p }]),
		);
		for (const r of ranges) modules[r.module] = { ...(modules[r.module] ?? {}), [r.param]: values[r.key] ?? "" };
		const label = `${stem}-${ranges.map((r) => values[r.key]).join("-")}`.replaceAll(/[^A-Za-z0-9._-]/g, "_");
		return { name: label, modules: modules satisfies ModuleParams };
	});
	for (const set of sets) {
		const checked = checkName(set.name);
		if (!checked.ok) {
			issue(
				[],
				`a range's value gives the set name "${set.name}", which is not a valid name (letters, digits, ".", "_" and "-"; no "..")`,
			);
			return [];
		}
	}
	if (new Set(sets.map((x) => x.name)).size !== sets.length) {
		issue([], "two values of a range give one set name (characters other than letters, digits, . _ - become _)");
		return [];
	}
	return sets;
});

/** `params:` — a list of sets; a set's name is unique across the expanded list. */
export const paramsSchema = z.array(entrySchema).transform((lists, refine): ParamSet[] => {
	const sets = lists.flat();
	const seen = new Map<string, number>();
	lists.forEach((list, index) => {
		for (const set of list) {
			const first = seen.get(set.name);
			if (first !== undefined)
				refine.addIssue({
					code: "custom",
					message: `parameter set "${set.name}" is given twice (also params[${first}])`,
					path: [index],
				});
			else seen.set(set.name, index);
		}
	});
	return sets;
});

/** A target's own module parameters, with the set's on top: the set is what the axis varies. */
export function withParams(own: ModuleParams, set: ParamSet): ModuleParams {
	const out: Record<string, Record<string, string>> = {};
	for (const [m, p] of Object.entries(own)) out[moduleOf(m)] = { ...(out[moduleOf(m)] ?? {}), ...p };
	for (const [m, p] of Object.entries(set.modules)) out[m] = { ...(out[m] ?? {}), ...p };
	return out;
}
