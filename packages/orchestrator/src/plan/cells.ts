import picomatch from "picomatch";
import type { CellFilter, KernelSpec, Matrix, Target } from "../matrix/types.js";

/** One kernel run on one target: the unit the matrix is made of. */
export interface CellSelection {
	readonly id: string;
	readonly kernel: KernelSpec;
	readonly target: Target;
}

/** `kvm-x86@next/ept-off`: the kernel id, then the target (target names never contain "/"). */
export const cellId = (kernelId: string, targetName: string): string => `${kernelId}/${targetName}`;

// `bash: true` lets "*" cross "/" too, so `kvm@*` matches a ref such as `for-next/x86`.
const compile = (glob: string) => picomatch(glob, { bash: true, dot: true });

function matches(filter: CellFilter, kernelId: string, targetName: string): boolean {
	return (
		(filter.kernel === undefined || compile(filter.kernel)(kernelId)) &&
		(filter.target === undefined || compile(filter.target)(targetName))
	);
}

/** A filter key whose glob matches nothing at all: almost always a typo. */
export interface UnmatchedFilter {
	readonly list: "exclude" | "include";
	readonly index: number;
	readonly key: "kernel" | "target";
}

export interface Selection {
	readonly cells: readonly CellSelection[];
	readonly unmatched: readonly UnmatchedFilter[];
	/** Include entries that bring back no excluded cell. */
	readonly idleIncludes: readonly number[];
}

type MatrixAxes = Pick<Matrix, "kernels" | "targets" | "exclude" | "include">;

/**
 * Expands kernels × targets, removes every cell an `exclude` entry matches, then adds back every
 * cell an `include` entry matches. Like GitHub Actions, exclude runs first and include can only
 * widen the result; unlike it, include cannot invent cells outside the two axes.
 */
export function selectCells(matrix: MatrixAxes): Selection {
	const all = matrix.kernels.flatMap((kernel) =>
		matrix.targets.map((target): CellSelection => ({ id: cellId(kernel.id, target.name), kernel, target })),
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
		});
	}
	const excluded = new Set(
		all.filter((cell) => matrix.exclude.some((f) => matches(f, cell.kernel.id, cell.target.name))).map((c) => c.id),
	);
	const idleIncludes: number[] = [];
	const included = new Set<string>();
	matrix.include.forEach((filter, index) => {
		const revived = all.filter((cell) => excluded.has(cell.id) && matches(filter, cell.kernel.id, cell.target.name));
		if (revived.length === 0) idleIncludes.push(index);
		for (const cell of revived) included.add(cell.id);
	});
	return {
		cells: all.filter((cell) => !excluded.has(cell.id) || included.has(cell.id)),
		unmatched,
		idleIncludes,
	};
}
