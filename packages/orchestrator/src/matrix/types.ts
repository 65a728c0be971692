/**
 * The validated matrix. Nothing outside `matrix/` sees raw YAML: every field here has been
 * checked, defaulted and converted (durations to ms, sizes to bytes, paths made absolute).
 */

export type Accel = "auto" | "kvm" | "tcg";

/** Where a tree's sources come from: a local repository, a remote, or a remote mirrored into a local one. */
export type TreeSource =
	| { readonly name: string; readonly url: string; readonly path?: string }
	| { readonly name: string; readonly path: string; readonly url?: undefined };

/** `make <target>` in the tree (`defconfig`, `tinyconfig`) or a complete `.config` file. */
export type ConfigBase =
	| { readonly kind: "make-target"; readonly target: string }
	| { readonly kind: "file"; readonly path: string };

/** An in-tree fragment (`kvm_guest.config`, as `make kvm_guest.config` finds it) or a file of the user's. */
export type ConfigFragment =
	| { readonly kind: "in-tree"; readonly name: string }
	| { readonly kind: "file"; readonly path: string };

export interface KernelConfig {
	readonly base: ConfigBase;
	readonly fragments: readonly ConfigFragment[];
}

export interface TreeRef {
	readonly tree: string;
	readonly ref: string;
}

/** A kernel built from a tree at a ref. */
export interface SourceKernel extends TreeRef {
	readonly kind: "source";
	/** `tree@ref` unless the matrix names it. */
	readonly id: string;
	readonly config: KernelConfig;
}

/** A kernel someone else built (a distro or QA kernel): booted as is. */
export interface PrebuiltKernel {
	readonly kind: "prebuilt";
	readonly id: string;
	readonly image: string;
	readonly modules?: string;
	/** The tree and ref it was built from, when known: selftests and fix containment use it. */
	readonly source?: TreeRef;
}

export type KernelSpec = SourceKernel | PrebuiltKernel;

export interface QemuOptions {
	/** `undefined` lets the runner choose (`host` under KVM, `max` under TCG). */
	readonly cpu?: string;
	readonly smp: number;
	readonly memoryBytes: number;
	readonly accel: Accel;
}

export type ModuleParams = Readonly<Record<string, Readonly<Record<string, string>>>>;

/** One point of the `params` axis: KVM module parameters every test of the cell runs under. */
export interface ParamSet {
	readonly name: string;
	/** module (`kvm_intel`) → parameter → value, as KVM takes them. */
	readonly modules: ModuleParams;
}

/** A remote machine reached with the system `ssh` (the user's keys and `~/.ssh/config` apply). */
export interface SshHost {
	/** As ssh takes it: a name, an alias from ssh's config, or an address. */
	readonly host: string;
	readonly user?: string;
	readonly port?: number;
}

interface TargetCommon {
	/** A cell's target on the `params` axis is named `target/set` (a matrix's own names have no "/"). */
	readonly name: string;
	/** The parameter set of the cell's point on the `params` axis, merged into `moduleParams`. */
	readonly params?: string;
	readonly qemu: QemuOptions;
	readonly cmdline: readonly string[];
	readonly moduleParams: ModuleParams;
}

/**
 * Where a cell's suites run: in a guest booted with the cell's kernel (`host: false`), or on a
 * running kernel, nothing built or booted (`host: true`): this machine's, or with `ssh` a remote
 * QA machine's (bare metal with real VMX/SVM).
 */
export type Target = TargetCommon &
	({ readonly host: false; readonly ssh?: undefined } | { readonly host: true; readonly ssh?: SshHost });

/** Which tree the selftests are built from: the kernel under test's own, or a fixed one. */
export type SelftestsSource = { readonly kind: "kernel" } | ({ readonly kind: "tree" } & TreeRef);

export interface SelftestsSuite {
	readonly source: SelftestsSource;
	readonly include: readonly string[];
	readonly exclude: readonly string[];
	readonly timeoutMs?: number;
	/** Tests side by side in each guest (how many guests a cell uses follows the machine). */
	readonly parallel: number;
}

export interface KutSuite extends TreeRef {
	readonly groups: readonly string[];
	readonly include: readonly string[];
	readonly exclude: readonly string[];
	readonly accel: Accel;
	readonly timeoutMs?: number;
	/** KUT's `-a`: run `nodefault` tests too. */
	readonly all: boolean;
}

export interface Suites {
	readonly selftests?: SelftestsSuite;
	readonly kut?: KutSuite;
}

export type Baseline =
	| { readonly kind: "kernel"; readonly kernelId: string }
	| { readonly kind: "previous-run" }
	/** Each cell against the last run in which the same cell ran, whatever runs came between. */
	| { readonly kind: "history" };

/** A partial match on cells: every given glob must match. */
export interface CellFilter {
	readonly kernel?: string;
	readonly target?: string;
	readonly params?: string;
}

export interface Matrix {
	readonly name: string;
	/** Absolute path of the file, or a label for text that did not come from a file. */
	readonly file: string;
	readonly trees: ReadonlyMap<string, TreeSource>;
	readonly kernels: readonly KernelSpec[];
	readonly targets: readonly Target[];
	/** Axis 3, when given: every kernel × target runs under each set (cell id `kernel/target/set`). */
	readonly params?: readonly ParamSet[];
	readonly suites: Suites;
	/** How many times a failing test is run again before its result stands (DESIGN.md: flaky). */
	readonly retries: number;
	readonly baseline?: Baseline;
	readonly knownIssues?: string;
	/** A public-inbox inbox (`https://lore.kernel.org/all`) asked about links no configured tree has. */
	readonly lore?: string;
	/** The bugzilla `triage` reads a bug number from (`https://bugzilla.kernel.org` when absent). */
	readonly bugzilla?: string;
	readonly exclude: readonly CellFilter[];
	readonly include: readonly CellFilter[];
}
