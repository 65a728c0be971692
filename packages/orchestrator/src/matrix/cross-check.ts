import { selectCells } from "../plan/cells.js";
import type { MatrixShape } from "./schema.js";
import { didYouMean } from "./suggest.js";
import type { Baseline, Matrix, TreeRef } from "./types.js";

/** A problem found at a path of the document (`["kernels", 1, "tree"]`). */
export interface PathIssue {
	readonly path: readonly PropertyKey[];
	readonly message: string;
	/** Report at the map key rather than its value. */
	readonly atKey?: boolean;
}

/**
 * Checks what a schema cannot: that names refer to things that exist, that ids are unique, and
 * that include/exclude select something. Returns the finished matrix or every problem found.
 */
export function crossCheck(
	shape: MatrixShape,
	file: string,
): { ok: true; matrix: Matrix } | { ok: false; issues: PathIssue[] } {
	const issues: PathIssue[] = [];
	const treeNames = [...shape.trees.keys()];
	const checkTree = (ref: TreeRef, at: readonly PropertyKey[]) => {
		if (!shape.trees.has(ref.tree)) {
			const known = treeNames.length === 0 ? "no trees are defined" : `trees: ${treeNames.join(", ")}`;
			issues.push({
				path: [...at, "tree"],
				message: `unknown tree "${ref.tree}"${didYouMean(ref.tree, treeNames)}; ${known}`,
			});
		}
	};

	const firstKernel = new Map<string, number>();
	shape.kernels.forEach((kernel, index) => {
		if (kernel.kind === "source") checkTree(kernel, ["kernels", index]);
		else if (kernel.source !== undefined) checkTree(kernel.source, ["kernels", index, "source"]);
		const first = firstKernel.get(kernel.id);
		if (first === undefined) firstKernel.set(kernel.id, index);
		else {
			issues.push({
				path: ["kernels", index],
				message: `duplicate kernel "${kernel.id}" (same as kernels[${first}]); give one of them a distinct "name"`,
			});
		}
	});

	const firstTarget = new Map<string, number>();
	shape.targets.forEach((target, index) => {
		const first = firstTarget.get(target.name);
		if (first === undefined) firstTarget.set(target.name, index);
		else
			issues.push({
				path: ["targets", index, "name"],
				message: `duplicate target "${target.name}" (same as targets[${first}])`,
			});
	});

	const { selftests, kut } = shape.suites;
	if (selftests?.source.kind === "tree") checkTree(selftests.source, ["suites", "selftests"]);
	if (kut !== undefined) checkTree(kut, ["suites", "kut"]);
	if (selftests?.source.kind === "kernel") {
		shape.kernels.forEach((kernel, index) => {
			if (kernel.kind === "prebuilt" && kernel.source === undefined) {
				issues.push({
					path: ["kernels", index],
					message: `prebuilt kernel "${kernel.id}" has no source to build selftests from: add source: { tree, ref }, or set suites.selftests tree and ref`,
				});
			}
		});
	}

	let baseline: Baseline | undefined;
	if (shape.baseline === "previous-run") baseline = { kind: "previous-run" };
	else if (shape.baseline === "history") baseline = { kind: "history" };
	else if (shape.baseline !== undefined) {
		const wanted = shape.baseline;
		const kernel = shape.kernels.find((k) => {
			const source = k.kind === "source" ? k : k.source;
			return source !== undefined && source.tree === wanted.tree && source.ref === wanted.ref;
		});
		if (kernel === undefined) {
			issues.push({
				path: ["baseline"],
				message: `${wanted.tree}@${wanted.ref} is not one of the kernels${didYouMean(
					`${wanted.tree}@${wanted.ref}`,
					shape.kernels.map((k) => k.id),
				)}`,
			});
		} else baseline = { kind: "kernel", kernelId: kernel.id };
	}

	const selection = selectCells(shape);
	for (const { list, index, key } of selection.unmatched) {
		const glob = shape[list][index]?.[key] ?? "";
		const names = [
			...new Set(
				key === "kernel"
					? shape.kernels.map((k) => k.id)
					: key === "target"
						? shape.targets.map((t) => t.name)
						: (shape.params ?? []).map((p) => p.name),
			),
		];
		const what = key === "params" ? "parameter set" : key;
		issues.push({
			path: [list, index, key],
			message:
				names.length === 0
					? `"${glob}" matches no ${what}: the matrix has no params axis`
					: `"${glob}" matches no ${what}${didYouMean(glob, names)}; ${what}s: ${names.join(", ")}`,
		});
	}
	const alreadyReported = new Set(selection.unmatched.filter((u) => u.list === "include").map((u) => u.index));
	for (const index of selection.idleIncludes) {
		if (!alreadyReported.has(index)) {
			issues.push({
				path: ["include", index],
				message: "brings back no excluded cell (include only re-adds what exclude removed)",
			});
		}
	}
	if (selection.cells.length === 0 && issues.length === 0) {
		issues.push({ path: ["exclude"], message: "excludes every cell: nothing would run" });
	}

	if (issues.length > 0) return { ok: false, issues };
	const { baseline: _written, ...rest } = shape;
	return { ok: true, matrix: { ...rest, file, ...(baseline === undefined ? {} : { baseline }) } };
}
