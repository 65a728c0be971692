import picomatch from "picomatch";
import { withParams } from "../matrix/params.js";
import type { CellFilter, KernelSpec, Matrix, ParamSet, Target } from "../matrix/types.js";

/** One kernel run on one target: the unit the matrix is made of. */
export interface CellSelection {
	readonly id: string;
	readonly kernel: KernelSpec;
	readonly target: Target;
}

/**
 * `kvm-x86@next/ept-off`: the kernel id, then the target (a matrix's target names never contain
 * "/"); on the `params` axis the target is `target/set`: `kvm-x86@next/default/npt-off`.
 */
export const cellId = (kernelId: string, targetName: string): string => `${kernelId}/${targetName}`;

/** `host/ept-off` → its target and its parameter set; a target off the `params` axis has no set. */
export function targetParts(target: string): { readonly target: string; readonly params?: string } {
	const slash = target.indexOf("/");
	return slash === -1 ? { target } : { target: target.slice(0, slash), params: target.slice(slash + 1) };
}

// `bash: true` lets "*" cross "/" too, so `kvm@*` matches a ref such as `for-next/x86`.
const compile = (glob: string) => picomatch(glob, { bash: true, dot: true });

/** A cell's point on each axis, by the names filters match: the target's own, not `target/set`. */
interface Point {
	readonly kernel: string;
	readonly target: string;
	readonly params?: string;
}

function matches(filter: CellFilter, point: Point): boolean {
	return (
		(filter.kernel === undefined || compile(filter.kernel)(point.kernel)) &&
		(filter.target === undefined || compile(filter.target)(point.target)) &&
		(filter.params === undefined || (point.params !== undefined && compile(filter.params)(point.params)))
	);
}

/** The cell's target on the `params` axis: named `target/set`, the set's parameters on top of its own. */
export function targetWithParams(target: Target, set: ParamSet): Target {
	return {
		...target,
		name: `${target.name}/${set.name}`,
		params: set.name,
		moduleParams: withParams(target.moduleParams, set),
	};
}

/** A filter key whose glob matches nothing at all: almost always a typo. */
export interface UnmatchedFilter {
	readonly list: "exclude" | "include";
	readonly index: number;
	readonly key: "kernel" | "target" | "params";
}

export interface Selection {
	readonly cells: readonly CellSelection[];
	readonly unmatched: readonly UnmatchedFilter[];
	/** Include entries that bring back no excluded cell. */
	readonly idleIncludes: readonly number[];
}

type MatrixAxes = Pick<Matrix, "kernels" | "targets" | "exclude" | "include" | "params">;

/**
 * Expands kernels × targets (× parameter sets), removes every cell an `exclude` entry matches, then adds back every
 * cell an `include` entry matches. Like GitHub Actions, exclude runs first and include can only
 * widen the result; unlike it, include cannot invent cells outside the two axes.
 */
export function selectCells(matrix: MatrixAxes): Selection {
	const sets = matrix.params ?? [];
	const all = matrix.kernels.flatMap((kernel) =>
		matrix.targets.flatMap((base): (CellSelection & { point: Point })[] =>
			sets.length === 0
				? [{ id: cellId(kernel.id, base.name), kernel, target: base, point: { kernel: kernel.id, target: base.name } }]
				: sets.map((set) => {
						const target = targetWithParams(base, set);
						return {
							id: cellId(kernel.id, target.name),
							kernel,
							target,
							point: { kernel: kernel.id, target: base.name, params: set.name },
						};
					}),
		),
	);
	const unmatched: UnmatchedFilter[] = [];
	for (const list of ["exclude", "include"] as const) {
		matrix[list].forEach((filter, index) => {
			if (filter.kernel !== undefined && !matrix.kernels.some((k) => compile(filter.kernel ?? "")(k.id))) {
				unmatched.push({ list, index, key: "kernel" });
			}
			if (filter.target !== undefined && !matrix.targets.some((t) => compile(filter.target ?? "")(t.name))) {
				unmatched.push({ list, index, key: "target" });
			}
			if (filter.params !== undefined && !sets.some((p) => compile(filter.params ?? "")(p.name))) {
				unmatched.push({ list, index, key: "params" });
			}
		});
	}
	const excluded = new Set(all.filter((cell) => matrix.exclude.some((f) => matches(f, cell.point))).map((c) => c.id));
	const idleIncludes: number[] = [];
	const included = new Set<string>();
	matrix.include.forEach((filter, index) => {
		const revived = all.filter((cell) => excluded.has(cell.id) && matches(filter, cell.point));
		if (revived.length === 0) idleIncludes.push(index);
		for (const cell of revived) included.add(cell.id);
	});
	return {
		cells: all
			.filter((cell) => !excluded.has(cell.id) || included.has(cell.id))
			.map(({ point: _point, ...cell }) => cell),
		unmatched,
		idleIncludes,
	};
}
