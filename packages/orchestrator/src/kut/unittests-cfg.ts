/**
 * kvm-unit-tests' `<arch>/unittests.cfg`, read the way its own `scripts/common.bash` reads it:
 * a `[name]` line starts an entry, `key = value` lines at column 0 fill it (unknown lines and
 * `#` comments are ignored), `qemu_params`/`extra_params` may be a `"""` block whose lines end
 * in `\`. Values are kept as written (quotes, backticks, `$MAX_SMP`): KUT evals them, so
 * kvm-matrix passes them on untouched rather than re-interpreting shell syntax.
 */

export interface KutEntry {
	readonly name: string;
	/** The image, e.g. `vmx.flat`; several entries may share one. */
	readonly file: string;
	/** As written: `1` by default, may be `$MAX_SMP`. */
	readonly smp: string;
	readonly testArgs?: string;
	readonly qemuParams?: string;
	readonly arch?: string;
	readonly machine?: string;
	readonly groups: readonly string[];
	readonly accel?: string;
	/** As written (`90s`, `180`); KUT's default is 90s. */
	readonly timeout?: string;
	/** `path=value` pairs: the test is skipped unless each file holds its value. */
	readonly check: readonly { readonly path: string; readonly value: string }[];
	readonly disabledIf?: string;
	/** 1-based line of the `[name]` header, for messages. */
	readonly line: number;
}

export interface CfgProblem {
	readonly line: number;
	readonly message: string;
}

type Draft = { -readonly [K in keyof KutEntry]: KutEntry[K] } & { file: string };

const KEY =
	/^(file|smp|test_args|extra_params|qemu_params|arch|machine|groups|accel|timeout|check|disabled_if)\s*=\s*(.*)$/;

export function parseUnittestsCfg(text: string): { entries: KutEntry[]; problems: CfgProblem[] } {
	const entries: KutEntry[] = [];
	const problems: CfgProblem[] = [];
	const lines = text.split("\n");
	let current: Draft | undefined;
	const finish = () => {
		if (current === undefined) return;
		if (current.file === "") problems.push({ line: current.line, message: `[${current.name}] has no "file"` });
		else entries.push(current);
		current = undefined;
	};
	for (let i = 0; i < lines.length; i++) {
		const line = (lines[i] ?? "").replace(/\r$/, "");
		const header = /^\[(.*)\]$/.exec(line);
		if (header) {
			finish();
			current = { name: header[1] ?? "", file: "", smp: "1", groups: [], check: [], line: i + 1 };
			continue;
		}
		const kv = KEY.exec(line);
		if (kv === null || current === undefined) continue;
		const [, key = "", raw = ""] = kv;
		let value = raw;
		if ((key === "qemu_params" || key === "extra_params") && raw.startsWith('"""')) {
			// A block: this line's rest, then whole lines until one ends in """; a trailing \ joins lines.
			const parts: string[] = [];
			let rest = raw.slice(3);
			while (true) {
				const end = rest.endsWith('"""');
				if (end) rest = rest.slice(0, -3);
				parts.push(rest.replace(/\\$/, ""));
				if (end) break;
				i++;
				if (i >= lines.length) {
					problems.push({ line: current.line, message: `[${current.name}] has a """ block that does not end` });
					break;
				}
				rest = (lines[i] ?? "").replace(/\r$/, "");
			}
			value = parts
				.map((p) => p.trim())
				.filter(Boolean)
				.join(" ");
		}
		switch (key) {
			case "file":
				current.file = value;
				break;
			case "smp":
				current.smp = value;
				break;
			case "test_args":
				current.testArgs = value;
				break;
			case "extra_params":
			case "qemu_params":
				current.qemuParams = value;
				break;
			case "arch":
				current.arch = value;
				break;
			case "machine":
				current.machine = value;
				break;
			case "groups":
				current.groups = value.split(/\s+/).filter(Boolean);
				break;
			case "accel":
				current.accel = value;
				break;
			case "timeout":
				current.timeout = value;
				break;
			case "check":
				current.check = value
					.split(/\s+/)
					.filter(Boolean)
					.map((pair) => {
						const eq = pair.indexOf("=");
						return eq === -1 ? { path: pair, value: "" } : { path: pair.slice(0, eq), value: pair.slice(eq + 1) };
					});
				break;
			case "disabled_if":
				current.disabledIf = value;
				break;
		}
	}
	finish();
	return { entries, problems };
}

/** What KUT's `run()` decides before starting QEMU: run the test, or print SKIP with this reason. */
export type Admission =
	| { readonly run: true; readonly accel?: string }
	| { readonly run: false; readonly reason: string }
	| { readonly run: false; readonly silent: true };

export interface AdmissionContext {
	readonly arch: string;
	/** `ACCEL` as the user set it (run_tests.sh's environment), if at all. */
	readonly accel?: string;
	readonly machine?: string;
	/** `-g group`: only that group runs, and nodefault tests in it are not skipped. */
	readonly onlyGroup?: string;
	/** `-a`: run nodefault tests too. */
	readonly runAll?: boolean;
	/** Reads a `check` file; undefined when it does not exist. */
	readonly readFile: (path: string) => string | undefined;
	/** Evaluates a `disabled_if` condition (bash), true when it holds. */
	readonly disabled: (condition: string) => boolean;
	readonly imageExists: (file: string) => boolean;
}

/**
 * The same decisions, in the same order, with the same words as `scripts/runtime.bash`: group
 * filter (silent), nodefault, arch, machine, accel, disabled_if, check, missing image.
 */
export function admit(entry: KutEntry, ctx: AdmissionContext): Admission {
	if (ctx.onlyGroup !== undefined && !entry.groups.includes(ctx.onlyGroup)) return { run: false, silent: true };
	if (ctx.onlyGroup === undefined && entry.groups.includes("nodefault") && !ctx.runAll) {
		return { run: false, reason: "test marked as manual run only" };
	}
	if (entry.arch !== undefined && entry.arch !== "" && entry.arch !== ctx.arch)
		return { run: false, reason: `${entry.arch} only` };
	if (entry.machine && ctx.machine && entry.machine !== ctx.machine)
		return { run: false, reason: `${entry.machine} only` };
	let accel = entry.accel || undefined;
	if (entry.accel && ctx.accel) {
		if (!new RegExp(`^${entry.accel}(,|$)`).test(ctx.accel))
			return { run: false, reason: `${entry.accel} only, but ACCEL=${ctx.accel}` };
		accel = ctx.accel;
	} else if (ctx.accel) {
		accel = ctx.accel;
	}
	if (entry.disabledIf && ctx.disabled(entry.disabledIf))
		return { run: false, reason: `disabled because: ${entry.disabledIf}` };
	for (const { path, value } of entry.check) {
		if (path && ctx.readFile(path)?.replace(/\n+$/, "") !== value)
			return { run: false, reason: `${path} not equal to ${value}` };
	}
	if (!ctx.imageExists(entry.file)) return { run: false, reason: `Test file '${entry.file}' not found` };
	return accel === undefined ? { run: true } : { run: true, accel };
}

/** KUT's per-test timeout in seconds: the entry's, else `TIMEOUT`, else 90 s (`90s`, `2m`, `180`). */
export function timeoutSeconds(value: string | undefined, fallback = "90s"): number {
	const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec((value || fallback).trim());
	if (m === null) return 90;
	const n = Number(m[1]);
	return Math.ceil(
		n * ({ s: 1, m: 60, h: 3600, d: 86400, "": 1 } as const)[(m[2] ?? "") as "s" | "m" | "h" | "d" | ""],
	);
}
