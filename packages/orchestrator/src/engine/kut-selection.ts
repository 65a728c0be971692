// Which KUT tests a matrix selects from a build, and how each is run: run_tests.sh's arguments
// and its timeout, in KUT's own terms.
import picomatch from "picomatch";
import type { KutBuild } from "../kut/build.js";
import { runTestsArgs } from "../kut/run-host.js";
import { timeoutSeconds } from "../kut/unittests-cfg.js";
import type { Matrix } from "../matrix/types.js";

/** Each named test's cfg `smp`, as written (1 when its entry has none): what sizes its slots. */
export function smpsOf(built: Pick<KutBuild, "entries">, names: readonly string[]): string[] {
	const smps = new Map(built.entries.map((e) => [e.name, e.smp]));
	return names.map((n) => smps.get(n) ?? "1");
}

/** The KUT tests the suite's include/exclude globs and groups select, by name. */
export function kutSelection(matrix: Matrix, built: KutBuild): string[] {
	const kut = matrix.suites.kut;
	if (kut === undefined) return [];
	const include = picomatch([...kut.include], { bash: true });
	const exclude = kut.exclude.length === 0 ? () => false : picomatch([...kut.exclude], { bash: true });
	return built.entries
		.filter((e) => include(e.name) && !exclude(e.name))
		.filter((e) => kut.groups.length === 0 || e.groups.some((g) => kut.groups.includes(g)))
		.map((e) => e.name);
}

/** run_tests.sh's arguments for each test: the matrix's groups and `all`. */
export function kutArgs(matrix: Matrix, built: KutBuild): (name: string) => readonly string[] {
	const groups = new Map(built.entries.map((e) => [e.name, e.groups]));
	const selection = { groups: matrix.suites.kut?.groups ?? [], all: matrix.suites.kut?.all ?? false };
	return (name) => runTestsArgs(name, groups.get(name) ?? [], selection);
}

/** KUT's per-test timeout: the entry's own, else the suite's, else KUT's 90 s. */
export function kutTimeouts(matrix: Matrix, built: KutBuild): (name: string) => number {
	const suite = matrix.suites.kut?.timeoutMs;
	const own = new Map(built.entries.map((e) => [e.name, e.timeout]));
	return (name) => timeoutSeconds(own.get(name), suite === undefined ? undefined : `${Math.ceil(suite / 1000)}s`);
}

/**
 * How many KUT tests run at once on `cpus` CPUs (the host's for a host target, the guest's vCPUs
 * inside a booted kernel): the CPUs over the vCPUs a typical selected test asks for in its cfg
 * entry (`smp`, 1 when absent; `$MAX_SMP` takes every CPU), as `run_tests.sh -j N` would, never
 * the guest settings of a target whose guests this is not.
 */
export function kutSlots(cpus: number, smps: readonly string[]): number {
	const vcpus = smps.map((smp) => (/^\d+$/.test(smp.trim()) ? Math.max(1, Number(smp)) : cpus)).sort((a, b) => a - b);
	const typical = vcpus.length === 0 ? 1 : (vcpus[Math.floor((vcpus.length - 1) / 2)] ?? 1);
	return Math.max(1, Math.floor(cpus / typical));
}
