/**
 * kvm-unit-tests' `<arch>/unittests.cfg`, read the way its own `scripts/common.bash` reads it:
 * a `[name]` line starts an entry, `key = value` lines at column 0 fill it (unknown lines and
 * `#` comments are ignored), `qemu_params`/`extra_params` may be a `"""` block whose lines end
 * in `\`. Values are kept as written (quotes, backticks, `$MAX_SMP`): KUT evals them, so
 * kvm-matrix passes them on untouched rather than re-interpreting shell syntax.
 */

import { checkTestName } from "../matrix/names.js";

/**
 * A section name that is not a safe test name: it would be pasted into guest scripts and host
 * paths, so the whole file is refused. The message is one line, `FILE:LINE: why`.
 */
export class UnsafeTestNameError extends Error {
	override readonly name = "UnsafeTestNameError";
	constructor(
		readonly file: string,
		readonly line: number,
		readonly reason: string,
	) {
		super(`${file}:${line}: ${reason}`);
	}
}

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
	/^(file|smp|test_args|extra_params|qemu_params|arch|machine|groups|accel|timeout|check|disabled_if)\s*=(.*)$/;

/**
 * Parses a cfg; `file` names it in errors. Throws `UnsafeTestNameError` for a section name that is
 * not a safe test name, or a line that opens a section (`[`) without being a whole `[name]`
 * header (KUT would silently fold that entry's keys into the one before).
 */
export function parseUnittestsCfg(
	text: string,
	file = "x86/unittests.cfg",
): { entries: KutEntry[]; problems: CfgProblem[] } {
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
			const name = checkTestName(header[1] ?? "");
			if (!name.ok) throw new UnsafeTestNameError(file, i + 1, name.error);
			finish();
			current = { name: name.value, file: "", smp: "1", groups: [], check: [], line: i + 1 };
			continue;
		}
		if (line.startsWith("[")) {
			const shown = JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}...` : line);
			throw new UnsafeTestNameError(file, i + 1, `${shown} opens a section but is not a "[name]" line`);
		}
		const kv = KEY.exec(line);
		if (kv === null || current === undefined) continue;
		const [, key = "", spaced = ""] = kv;
		// Blanks after `=` are dropped here, not by the pattern: `\s*` before `.*` backtracks
		// quadratically on a long line of blanks that does not match.
		const raw = spaced.replace(/^\s+/, "");
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

/** KUT's per-test timeout in seconds: the entry's, else `TIMEOUT`, else 90 s (`90s`, `2m`, `180`). */
export function timeoutSeconds(value: string | undefined, fallback = "90s"): number {
	const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec((value || fallback).trim());
	if (m === null) return 90;
	const n = Number(m[1]);
	const seconds = Math.ceil(
		n * ({ s: 1, m: 60, h: 3600, d: 86400, "": 1 } as const)[(m[2] ?? "") as "s" | "m" | "h" | "d" | ""],
	);
	// A timer past 2^31 ms fires at once: a cfg's `timeout = 1e400` must not end its test at once.
	return Math.min(seconds, MAX_TIMEOUT_S);
}

/** The longest timeout a test gets, whatever its cfg says: 14 days, as a matrix's own limit. */
export const MAX_TIMEOUT_S = 14 * 86_400;
