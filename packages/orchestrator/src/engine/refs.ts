// Ref resolution: every tree@ref a matrix names, fetched once per tree and resolved to a commit
// before anything starts, so a typo in a branch name costs seconds, not a build.
import type { EventBus } from "../events/bus.js";
import type { EngineEvent } from "../events/types.js";
import type { Matrix, TreeRef } from "../matrix/types.js";
import { refKey } from "../plan/plan.js";
import { CancelledError } from "../proc/run.js";
import { resolveRef, syncTree } from "../sources/git.js";
import { RunSetupError } from "./setup-error.js";

/** Every tree@ref the matrix names, so all are resolved before anything starts. */
export function refsOf(matrix: Matrix): TreeRef[] {
	const refs: TreeRef[] = [];
	for (const k of matrix.kernels) {
		if (k.kind === "source") refs.push({ tree: k.tree, ref: k.ref });
		else if (k.source !== undefined) refs.push(k.source);
	}
	const st = matrix.suites.selftests?.source;
	if (st?.kind === "tree") refs.push({ tree: st.tree, ref: st.ref });
	const kut = matrix.suites.kut;
	if (kut !== undefined) refs.push({ tree: kut.tree, ref: kut.ref });
	const unique = new Map(refs.map((r) => [refKey(r), r]));
	return [...unique.values()];
}

/** A tree's local repository (its mirror, or the user's own clone), synced once per run. */
export type RepoOf = (tree: string) => Promise<string>;

export function treeRepos(matrix: Matrix, mirrors: string, bus: EventBus<EngineEvent>, signal: AbortSignal): RepoOf {
	const repos = new Map<string, Promise<string>>();
	return (tree) => {
		const source = matrix.trees.get(tree);
		if (source === undefined) return Promise.reject(new RunSetupError(`unknown tree ${tree}`));
		let repo = repos.get(tree);
		if (repo === undefined) {
			const say = (line: string) =>
				bus.emit({
					type: "log-line",
					at: Date.now(),
					subject: { kind: "job", id: `checkout:${tree}` },
					stream: "engine",
					line,
				});
			say(`fetching ${tree}`);
			repo = syncTree(source, mirrors, signal, say);
			repos.set(tree, repo);
		}
		return repo;
	};
}

/**
 * Each ref's commit. `known` holds commits resolved earlier (a resumed run keeps testing the
 * commits it started with, even if a branch has moved since); only the rest are looked up.
 */
export async function resolveRefs(
	matrix: Matrix,
	repoOf: RepoOf,
	signal: AbortSignal,
	known: Readonly<Record<string, string>> = {},
): Promise<Map<string, string>> {
	const resolutions = new Map<string, string>();
	try {
		for (const ref of refsOf(matrix)) {
			const key = refKey(ref);
			resolutions.set(key, known[key] ?? (await resolveRef(await repoOf(ref.tree), ref.tree, ref.ref)));
		}
	} catch (error) {
		if (signal.aborted) throw new CancelledError();
		throw new RunSetupError(error instanceof Error ? error.message : String(error));
	}
	return resolutions;
}
