import * as path from "node:path";
import * as z from "zod";
import type { Result } from "../result.js";
import { parseDuration } from "./duration.js";
import { checkGitRef, checkName, hasControlCharacter, isModuleName, isModuleParam } from "./names.js";
import { paramsSchema } from "./params.js";
import { parseSize } from "./size.js";
import type {
	Accel,
	CellFilter,
	ConfigBase,
	ConfigFragment,
	KernelConfig,
	KernelSpec,
	KutSuite,
	ModuleParams,
	ParamSet,
	PrebuiltKernel,
	SelftestsSuite,
	SourceKernel,
	SshHost,
	Suites,
	Target,
	TreeRef,
	TreeSource,
} from "./types.js";

/** Where relative and `~` paths in the file are resolved from. */
export interface PathContext {
	readonly baseDir: string;
	readonly homeDir: string;
	/** Whether a file the matrix itself ships (fragment, known-issues list) exists; absent = don't check. */
	readonly exists?: (file: string) => boolean;
}

/** The matrix before cross-references (tree names, baseline, include/exclude) are checked. */
export interface MatrixShape {
	readonly name: string;
	readonly trees: ReadonlyMap<string, TreeSource>;
	readonly kernels: readonly KernelSpec[];
	readonly targets: readonly Target[];
	readonly params?: readonly ParamSet[];
	readonly suites: Suites;
	readonly retries: number;
	readonly baseline?: TreeRef | "previous-run" | "history";
	readonly knownIssues?: string;
	readonly lore?: string;
	readonly bugzilla?: string;
	readonly exclude: readonly CellFilter[];
	readonly include: readonly CellFilter[];
}

/** Marks an issue that is about a map key rather than its value, so it is reported at the key. */
export const AT_KEY = { at: "key" } as const;

function checked<T>(check: (text: string) => Result<T>) {
	return (text: string, ctx: z.RefinementCtx): T => {
		const result = check(text);
		if (result.ok) return result.value;
		ctx.addIssue({ code: "custom", message: result.error });
		return z.NEVER;
	};
}

const name = z.string().transform(checked(checkName));
const gitRef = z.string().transform(checked(checkGitRef));
// Numbers are accepted only to be told precisely that they need a unit ("90" → "90s").
const withUnit = z.union([z.string(), z.number()]).transform(String);
const duration = withUnit.pipe(z.string().transform(checked(parseDuration)));
const memorySize = withUnit.pipe(z.string().transform(checked(parseSize)));
const accel = z.enum(["auto", "kvm", "tcg"]) satisfies z.ZodType<Accel>;

// picomatch throws on long patterns (a nesting of 4,000 "+(" overflows the stack, 32 KiB makes a
// regular expression too large for V8); real ones are a few dozen characters.
const glob = z
	.string()
	.refine((text) => text.trim().length > 0 && !/[\0\n]/.test(text), {
		error: "a pattern must be a non-empty single line",
	})
	.refine((text) => text.length <= 1000, { error: "a pattern must be at most 1000 characters" });

// Anything that reaches git or QEMU as an argument must not start with "-" (it would be read as
// an option) and must not carry control characters; execa's argument arrays do the rest.
function checkArgument(what: string) {
	return (text: string): Result<string> =>
		text.length === 0
			? { ok: false, error: `${what} is empty` }
			: text.startsWith("-")
				? { ok: false, error: `${what} "${text}" must not start with "-"` }
				: hasControlCharacter(text)
					? { ok: false, error: `${what} contains a control character` }
					: { ok: true, value: text };
}

function resolvePath(ctx: PathContext, text: string, what: string, mustExist: boolean): Result<string> {
	const arg = checkArgument(what)(text);
	if (!arg.ok) return arg;
	const expanded = text === "~" || text.startsWith("~/") ? path.join(ctx.homeDir, text.slice(1)) : text;
	const resolved = path.resolve(ctx.baseDir, expanded);
	if (mustExist && ctx.exists !== undefined && !ctx.exists(resolved)) {
		return { ok: false, error: `${what} not found: ${resolved}` };
	}
	return { ok: true, value: resolved };
}

/** A path in the file, relative to the file's directory; `mustExist` for files that travel with the matrix. */
function filePath(ctx: PathContext, what: string, mustExist = false) {
	return z.string().transform(checked((text) => resolvePath(ctx, text, what, mustExist)));
}

const URL_SHAPE = /^(?:(?:https?|git|ssh|file):\/\/\S+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\S+)$/;
const gitUrl = z.string().transform(
	checked((text) => {
		const arg = checkArgument("url")(text);
		if (!arg.ok) return arg;
		return URL_SHAPE.test(text)
			? arg
			: { ok: false, error: `"${text}" is not a git URL (https://, git://, ssh://, file:// or user@host:path)` };
	}),
);

/**
 * A web service's URL, only ever fetched over HTTP(S): a public-inbox inbox to ask about links no
 * configured tree has (`lore`), or the bugzilla triage reads reports from (`bugzilla`).
 */
function webUrl(what: "lore" | "bugzilla", example: string, query: string) {
	return z.string().transform(
		checked((text): Result<string> => {
			const problem = `"${text}" is not an http or https URL (e.g. ${example})`;
			if (hasControlCharacter(text) || /\s/.test(text)) return { ok: false, error: problem };
			let url: URL;
			try {
				url = new URL(text);
			} catch {
				return { ok: false, error: problem };
			}
			if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
				return { ok: false, error: problem };
			}
			if (url.username !== "" || url.password !== "") {
				return { ok: false, error: `${what} URL "${text}" must not carry a user name or password` };
			}
			if (url.search !== "" || url.hash !== "") {
				return { ok: false, error: `${what} URL "${text}" ${query}: no ?query or #fragment` };
			}
			return { ok: true, value: text };
		}),
	);
}

const loreUrl = webUrl("lore", "https://lore.kernel.org/all", "names an inbox");
const bugzillaUrl = webUrl("bugzilla", "https://bugzilla.kernel.org", "names a bugzilla");

function treeSchema(ctx: PathContext) {
	return z
		.strictObject({ url: gitUrl.optional(), path: filePath(ctx, "path").optional() })
		.transform((tree, refine): Omit<TreeSource, "name"> => {
			if (tree.url !== undefined)
				return tree.path === undefined ? { url: tree.url } : { url: tree.url, path: tree.path };
			if (tree.path !== undefined) return { path: tree.path };
			refine.addIssue({ code: "custom", message: "a tree needs a url, a path, or both" });
			return z.NEVER;
		});
}

const treeRef = z.strictObject({ tree: name, ref: gitRef });

const CONFIG_TARGET = /^[A-Za-z0-9_]*config$/;
const IN_TREE_FRAGMENT = /^[A-Za-z0-9_.-]+\.config$/;

function configSchema(ctx: PathContext) {
	// Both the base and the fragments are either a name the kernel tree knows or a file of the user's.
	const nameOrFile = <T>(named: RegExp, fromName: (text: string) => T, fromFile: (path: string) => T, what: string) =>
		z.string().transform(
			checked((text): Result<T> => {
				if (text.includes("/")) {
					const file = resolvePath(ctx, text, "config file", true);
					return file.ok ? { ok: true, value: fromFile(file.value) } : file;
				}
				if (named.test(text)) return { ok: true, value: fromName(text) };
				return { ok: false, error: `"${text}" is neither ${what} nor a path (write ./${text} for a file)` };
			}),
		);
	const base = nameOrFile<ConfigBase>(
		CONFIG_TARGET,
		(target) => ({ kind: "make-target", target }),
		(path) => ({ kind: "file", path }),
		"a config target (defconfig, tinyconfig, ...)",
	);
	const fragment = nameOrFile<ConfigFragment>(
		IN_TREE_FRAGMENT,
		(name) => ({ kind: "in-tree", name }),
		(path) => ({ kind: "file", path }),
		"an in-tree fragment (kvm_guest.config)",
	);
	return z.strictObject({
		base: base.default({ kind: "make-target", target: "defconfig" }),
		fragments: z.array(fragment).default([]),
	}) satisfies z.ZodType<KernelConfig>;
}

/** A kernel as written: a built kernel's config falls back to the file's top-level one. */
type KernelDraft = PrebuiltKernel | (Omit<SourceKernel, "config"> & { readonly config?: KernelConfig });

function kernelSchema(ctx: PathContext) {
	return z
		.strictObject({
			name: name.optional(),
			tree: name.optional(),
			ref: gitRef.optional(),
			config: configSchema(ctx).optional(),
			prebuilt: z
				.strictObject({ kernel: filePath(ctx, "kernel"), modules: filePath(ctx, "modules").optional() })
				.optional(),
			source: treeRef.optional(),
		})
		.transform((kernel, refine): KernelDraft => {
			const fail = (message: string, at: PropertyKey[] = []) => {
				refine.addIssue({ code: "custom", message, path: at });
				return z.NEVER;
			};
			if (kernel.prebuilt !== undefined) {
				if (kernel.tree !== undefined || kernel.ref !== undefined) {
					return fail("a kernel is either built from tree/ref or prebuilt, not both", ["prebuilt"]);
				}
				if (kernel.config !== undefined) return fail("config applies only to kernels built from a tree", ["config"]);
				if (kernel.name === undefined) return fail('a prebuilt kernel needs a "name"');
				return {
					kind: "prebuilt",
					id: kernel.name,
					image: kernel.prebuilt.kernel,
					...(kernel.prebuilt.modules === undefined ? {} : { modules: kernel.prebuilt.modules }),
					...(kernel.source === undefined ? {} : { source: kernel.source }),
				};
			}
			if (kernel.source !== undefined) {
				return fail("source is only for prebuilt kernels (a built kernel's source is its tree and ref)", ["source"]);
			}
			if (kernel.tree === undefined) return fail('missing required key "tree" (or "prebuilt")');
			if (kernel.ref === undefined) return fail('missing required key "ref"');
			return {
				kind: "source",
				id: kernel.name ?? `${kernel.tree}@${kernel.ref}`,
				tree: kernel.tree,
				ref: kernel.ref,
				...(kernel.config === undefined ? {} : { config: kernel.config }),
			};
		});
}

const PARAM_VALUE = /^[^\s"'\\]+$/;
const CPU_MODEL = /^[A-Za-z0-9][A-Za-z0-9_.,=+-]*$/;

const oneWord = (text: string) => PARAM_VALUE.test(text) && !hasControlCharacter(text);
const kernelParam = z.string().refine((text) => oneWord(text) && !text.startsWith("-"), {
	error: "a kernel parameter is one word without spaces or quotes (e.g. kvm_intel.ept=0)",
});

const moduleParams = z
	.record(z.string(), z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])))
	.transform((modules, refine): ModuleParams => {
		const out: Record<string, Record<string, string>> = {};
		for (const [module, params] of Object.entries(modules)) {
			if (!isModuleName(module)) {
				refine.addIssue({
					code: "custom",
					message: `"${module}" is not a module name`,
					path: [module],
					params: AT_KEY,
				});
				continue;
			}
			const values: Record<string, string> = {};
			for (const [param, raw] of Object.entries(params)) {
				const value = typeof raw === "boolean" ? (raw ? "1" : "0") : String(raw);
				if (!isModuleParam(param)) {
					refine.addIssue({
						code: "custom",
						message: `"${param}" is not a parameter name`,
						path: [module, param],
						params: AT_KEY,
					});
				} else if (!oneWord(value)) {
					refine.addIssue({
						code: "custom",
						message: "a parameter value is one word without spaces or quotes",
						path: [module, param],
					});
				} else {
					values[param] = value;
				}
			}
			out[module] = values;
		}
		return out;
	});

const GIB = 2 ** 30;

// ssh takes these as arguments (an IPv6 address bare: ssh does not take brackets): a leading "-" would be read as an option, so neither may start
// with one, and nothing a shell or ssh's own parsing would treat specially gets through.
const SSH_HOST = /^[A-Za-z0-9_:][A-Za-z0-9._:%-]*$/;
const SSH_USER = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

const sshSchema = z
	.strictObject({
		host: z
			.string({ error: "host must be a host name, an ssh config alias or an address" })
			.refine((text) => SSH_HOST.test(text) && text.length <= 253, {
				error:
					"not a host name, ssh config alias or address (letters, digits, . _ - : %; an IPv6 address without brackets)",
			}),
		user: z
			.string({ error: "user must be a user name" })
			.refine((text) => SSH_USER.test(text) && text.length <= 64, { error: "not a user name" })
			.optional(),
		port: z
			.number({ error: "port must be a whole number" })
			.int({ error: "port must be a whole number" })
			.min(1, { error: "port must be from 1 to 65535" })
			.max(65535, { error: "port must be from 1 to 65535" })
			.optional(),
	})
	.transform(
		(s): SshHost => ({
			host: s.host,
			...(s.user === undefined ? {} : { user: s.user }),
			...(s.port === undefined ? {} : { port: s.port }),
		}),
	);

const targetSchema = z
	.strictObject({
		name,
		qemu: z
			.strictObject({
				cpu: z
					.string()
					.refine((text) => CPU_MODEL.test(text), { error: "not a QEMU CPU model (e.g. host, max, EPYC-v4,+svm)" })
					.optional(),
				smp: z
					.number({ error: "smp must be a whole number" })
					.int({ error: "smp must be a whole number" })
					.min(1, { error: "smp must be at least 1" })
					.max(1024, { error: "smp must be at most 1024" })
					.default(2),
				memory: memorySize
					.refine((bytes) => bytes >= 64 * 2 ** 20, { error: "memory must be at least 64M" })
					.default(2 * GIB),
				accel: accel.default("auto"),
			})
			.transform((q) => ({
				...(q.cpu === undefined ? {} : { cpu: q.cpu }),
				smp: q.smp,
				memoryBytes: q.memory,
				accel: q.accel,
			}))
			.default({ smp: 2, memoryBytes: 2 * GIB, accel: "auto" }),
		cmdline: z.array(kernelParam).default([]),
		modparams: moduleParams.default({}),
		/** Run the suites on this machine's running kernel instead of booting the cell's kernel. */
		host: z.boolean({ error: "host must be true or false" }).optional(),
		/** Run the suites on a remote machine's running kernel, over ssh. */
		ssh: sshSchema.optional(),
	})
	.refine((t) => t.ssh === undefined || t.host !== false, {
		error: "an ssh target runs on the remote machine's running kernel: host: false contradicts it",
		path: ["host"],
	});

const selftestsSchema = z
	.strictObject({
		from: z.literal("kernel", { error: 'from must be "kernel" (or give tree and ref instead)' }).optional(),
		tree: name.optional(),
		ref: gitRef.optional(),
		include: z.array(glob).default(["**"]),
		exclude: z.array(glob).default([]),
		timeout: duration.optional(),
		parallel: z.number().int().min(1, { error: "parallel must be at least 1" }).default(1),
	})
	.transform((suite, refine): SelftestsSuite => {
		const common = {
			include: suite.include,
			exclude: suite.exclude,
			parallel: suite.parallel,
			...(suite.timeout === undefined ? {} : { timeoutMs: suite.timeout }),
		};
		if (suite.tree === undefined && suite.ref === undefined) return { source: { kind: "kernel" }, ...common };
		if (suite.from !== undefined) {
			refine.addIssue({
				code: "custom",
				message: "give either from: kernel or tree and ref, not both",
				path: ["from"],
			});
			return z.NEVER;
		}
		if (suite.tree === undefined || suite.ref === undefined) {
			const missing = suite.tree === undefined ? "tree" : "ref";
			refine.addIssue({ code: "custom", message: `missing required key "${missing}" (tree and ref go together)` });
			return z.NEVER;
		}
		return { source: { kind: "tree", tree: suite.tree, ref: suite.ref }, ...common };
	});

const kutSchema = z
	.strictObject({
		tree: name,
		ref: gitRef,
		groups: z.array(name).default([]),
		include: z.array(glob).default(["*"]),
		exclude: z.array(glob).default([]),
		accel: accel.default("auto"),
		timeout: duration.optional(),
		all: z.boolean().default(false),
	})
	.transform(
		({ timeout, ...suite }): KutSuite => ({ ...suite, ...(timeout === undefined ? {} : { timeoutMs: timeout }) }),
	);

const suitesSchema = z
	.strictObject({ selftests: selftestsSchema.optional(), kut: kutSchema.optional() })
	.refine((suites) => suites.selftests !== undefined || suites.kut !== undefined, {
		error: "name at least one suite: selftests or kut",
	})
	.transform(
		(suites): Suites => ({
			...(suites.selftests === undefined ? {} : { selftests: suites.selftests }),
			...(suites.kut === undefined ? {} : { kut: suites.kut }),
		}),
	);

const cellFilter = z
	.strictObject({ kernel: glob.optional(), target: glob.optional(), params: glob.optional() })
	.refine((f) => f.kernel !== undefined || f.target !== undefined || f.params !== undefined, {
		error: "name a kernel, a target, a parameter set, or some of them",
	})
	.transform(
		(f): CellFilter => ({
			...(f.kernel === undefined ? {} : { kernel: f.kernel }),
			...(f.target === undefined ? {} : { target: f.target }),
			...(f.params === undefined ? {} : { params: f.params }),
		}),
	);

const baselineSchema = z.union([z.literal("previous-run"), z.literal("history"), treeRef], {
	error: 'expected "previous-run", "history" or a kernel as { tree, ref }',
});

/** The whole file's schema; paths in it are resolved against `ctx`. */
export function matrixSchema(ctx: PathContext) {
	const defaultConfig: KernelConfig = { base: { kind: "make-target", target: "defconfig" }, fragments: [] };
	return z
		.strictObject({
			name,
			trees: z.record(z.string(), treeSchema(ctx)).default({}),
			config: configSchema(ctx).optional(),
			kernels: z.array(kernelSchema(ctx)).min(1, { error: "list at least one kernel" }),
			targets: z.array(targetSchema).min(1, { error: "list at least one target" }),
			params: paramsSchema.optional(),
			suites: suitesSchema,
			baseline: baselineSchema.optional(),
			retries: z
				.number()
				.int({ error: "retries must be a whole number" })
				.min(0, { error: "retries must be 0 or more" })
				.max(10, { error: "retries must be at most 10" })
				.default(1),
			"known-issues": filePath(ctx, "known-issues file", true).optional(),
			lore: loreUrl.optional(),
			bugzilla: bugzillaUrl.optional(),
			exclude: z.array(cellFilter).default([]),
			include: z.array(cellFilter).default([]),
		})
		.transform((raw, refine): MatrixShape => {
			const config = raw.config ?? defaultConfig;
			const kernels = raw.kernels.map(
				(kernel): KernelSpec => (kernel.kind === "prebuilt" ? kernel : { ...kernel, config: kernel.config ?? config }),
			);
			const trees = new Map<string, TreeSource>();
			for (const [treeName, tree] of Object.entries(raw.trees)) {
				const checkedName = checkName(treeName);
				if (!checkedName.ok) {
					refine.addIssue({ code: "custom", message: checkedName.error, path: ["trees", treeName], params: AT_KEY });
				}
				trees.set(treeName, { name: treeName, ...tree } as TreeSource);
			}
			return {
				name: raw.name,
				trees,
				kernels,
				targets: raw.targets.map((t): Target => {
					const common = { name: t.name, qemu: t.qemu, cmdline: t.cmdline, moduleParams: t.modparams };
					if (t.ssh !== undefined) return { ...common, host: true, ssh: t.ssh };
					return t.host === true ? { ...common, host: true } : { ...common, host: false };
				}),
				...(raw.params === undefined || raw.params.length === 0 ? {} : { params: raw.params }),
				suites: raw.suites,
				retries: raw.retries,
				...(raw.baseline === undefined ? {} : { baseline: raw.baseline }),
				...(raw["known-issues"] === undefined ? {} : { knownIssues: raw["known-issues"] }),
				...(raw.lore === undefined ? {} : { lore: raw.lore }),
				...(raw.bugzilla === undefined ? {} : { bugzilla: raw.bugzilla }),
				exclude: raw.exclude,
				include: raw.include,
			};
		});
}
