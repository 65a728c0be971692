// A parameter set on a running kernel (a host or ssh target): KVM's modules are unloaded and
// loaded again with the set's parameters, and put back as they were when the cell is done. What
// to put back is written on that machine (/run, which a reboot clears along with the modules)
// before anything is unloaded, so that a run killed in between leaves the next one what it needs
// to restore them. The scripts are plain POSIX sh, run through a Shell; the decisions are pure.
import type { ModuleParamCheck } from "@kvm-matrix/qemu-runner";
import { isModuleParam } from "../matrix/names.js";
import { CommandError } from "../proc/run.js";
import { VENDOR } from "../selftests/run.js";
import type { Shell } from "./shell.js";

export type KvmModule = "kvm" | "kvm_intel" | "kvm_amd";
const MODULES: readonly KvmModule[] = ["kvm", "kvm_intel", "kvm_amd"];

/** Where the machine keeps what to restore: tmpfs, so a reboot (which reloads KVM) forgets it. */
export const STATE_FILE = "/run/kvm-matrix/kvm-params.json";

export interface ModuleState {
	readonly name: KvmModule;
	/** `builtin`: in the kernel image, so its parameters are the kernel command line's alone. */
	readonly state: "absent" | "builtin" | "loaded";
	readonly refcnt: number;
	readonly holders: readonly string[];
	readonly params: Readonly<Record<string, string>>;
}

/** A process holding /dev/kvm, a VM or a vCPU open. */
export interface KvmUser {
	readonly pid: number;
	readonly comm: string;
}

/**
 * What to put back: each reloaded module, whether it was loaded, the values the set changed (given
 * back explicitly), and every value it had (compared once it is back: a value written at run time
 * does not survive a reload, and is said to be lost rather than silently).
 */
export interface Restore {
	readonly modules: readonly {
		readonly name: KvmModule;
		readonly loaded: boolean;
		readonly params: Readonly<Record<string, string>>;
		readonly was: Readonly<Record<string, string>>;
	}[];
}

/** The state file: whose set is applied, which kvm-matrix applied it, and how to undo it. */
export interface AppliedSet {
	readonly runId: string;
	readonly cell: string;
	readonly set: string;
	/** The kvm-matrix process that applied it: while it lives, no other touches the modules. */
	readonly owner: { readonly host: string; readonly pid: number; readonly start?: string };
	readonly restore: Restore;
}

export interface KvmProbe {
	readonly uid: number;
	readonly vendor: string;
	readonly modprobe: boolean;
	readonly modules: readonly ModuleState[];
	readonly users: readonly KvmUser[];
	/** A set an earlier run applied and did not restore (it was killed). */
	readonly pending?: AppliedSet;
	/** The state file, when it could not be read as one. */
	readonly pendingUnreadable?: string;
	/** The state file's text as read (its newlines aside): a restore removes the file only if it still holds this. */
	readonly pendingText?: string;
}

// modprobe lives in sbin, which a non-login ssh command's PATH may lack.
const SBIN = 'PATH="$PATH:/usr/sbin:/sbin"';

// Values are printed only when they are one plain word; anything else reads as "?".
const PROBE = `${SBIN}
echo "uid $(id -u)"
v=$(sed -n 's/^vendor_id[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n 1)
case "$v" in '' | *[!A-Za-z0-9]*) v=unknown ;; esac
echo "vendor $v"
if command -v modprobe >/dev/null 2>&1 && command -v rmmod >/dev/null 2>&1; then echo "modprobe yes"; else echo "modprobe no"; fi
for m in ${MODULES.join(" ")}; do
	d=/sys/module/$m
	if [ ! -d "$d" ]; then echo "module $m absent"; continue; fi
	if [ -e "$d/initstate" ]; then
		echo "module $m loaded $(cat "$d/refcnt" 2>/dev/null || echo 0) $(ls "$d/holders" 2>/dev/null | tr '\\n' ' ')"
	else
		echo "module $m builtin"
	fi
	for p in "$d"/parameters/*; do
		[ -r "$p" ] || continue
		val=$(cat "$p" 2>/dev/null)
		case "$val" in '' | *[!A-Za-z0-9_.,:+-]*) val='?' ;; esac
		echo "param $m \${p##*/} $val"
	done
done
# One ls for every descriptor of every process (busybox's find has no -lname), read by the shell:
# a fork per match only, since a busy machine has tens of thousands of descriptors.
ls -l /proc/[0-9]*/fd 2>/dev/null | while read -r line; do
	case "$line" in
	/proc/*/fd: | /proc/*/fd/:)
		pid=\${line#/proc/}
		pid=\${pid%%/*}
		;;
	*" -> /dev/kvm" | *" -> anon_inode:kvm-vm" | *" -> anon_inode:kvm-vcpu"*)
		[ "$pid" = "$$" ] && continue
		comm=$(tr -c 'A-Za-z0-9_.:-' '_' < "/proc/$pid/comm" 2>/dev/null)
		echo "user $pid \${comm%_}"
		;;
	esac
done | sort -u
if [ -f ${STATE_FILE} ]; then echo "pending $(tr -d '\\n' < ${STATE_FILE})"; fi
`;

/** Reads the probe's lines: pure, so every way a machine can answer is tested without one. */
export function parseProbe(lines: readonly string[]): KvmProbe {
	let uid = -1;
	let vendor = "unknown";
	let modprobe = false;
	const modules = new Map<KvmModule, { state: ModuleState["state"]; refcnt: number; holders: string[] }>();
	const params = new Map<KvmModule, Record<string, string>>();
	const users: KvmUser[] = [];
	let pending: AppliedSet | undefined;
	let pendingUnreadable: string | undefined;
	let pendingText: string | undefined;
	for (const line of lines) {
		const [kind, ...rest] = line.trim().split(/\s+/);
		const isModule = (m: string | undefined): m is KvmModule => (MODULES as readonly string[]).includes(m ?? "");
		if (kind === "uid") uid = Number(rest[0] ?? -1);
		else if (kind === "vendor") vendor = rest[0] ?? "unknown";
		else if (kind === "modprobe") modprobe = rest[0] === "yes";
		else if (kind === "module" && isModule(rest[0])) {
			const state = rest[1] === "loaded" ? "loaded" : rest[1] === "builtin" ? "builtin" : "absent";
			modules.set(rest[0], { state, refcnt: Number(rest[2] ?? 0) || 0, holders: rest.slice(3) });
		} else if (kind === "param" && isModule(rest[0]) && rest[1] !== undefined) {
			params.set(rest[0], { ...params.get(rest[0]), [rest[1]]: rest[2] ?? "" });
		} else if (kind === "user" && /^\d+$/.test(rest[0] ?? "")) {
			users.push({ pid: Number(rest[0]), comm: rest[1] ?? "?" });
		} else if (kind === "pending") {
			const text = line.trim().slice("pending".length).trim();
			pendingText = text;
			const parsed = appliedSetOf(text);
			if (parsed === undefined) pendingUnreadable = text;
			else pending = parsed;
		}
	}
	return {
		uid,
		vendor,
		modprobe,
		modules: MODULES.map((name) => {
			const m = modules.get(name) ?? { state: "absent" as const, refcnt: 0, holders: [] };
			return { name, ...m, params: params.get(name) ?? {} };
		}),
		users,
		...(pending === undefined ? {} : { pending }),
		...(pendingUnreadable === undefined ? {} : { pendingUnreadable }),
		...(pendingText === undefined ? {} : { pendingText }),
	};
}

const WORD = /^[A-Za-z0-9_.,:+-]+$/;

const plainWords = (p: unknown): p is Record<string, string> =>
	typeof p === "object" &&
	p !== null &&
	Object.entries(p).every(([k, v]) => isModuleParam(k) && typeof v === "string" && WORD.test(v));

function appliedSetOf(text: string): AppliedSet | undefined {
	let raw: unknown;
	try {
		raw = JSON.parse(text);
	} catch {
		return undefined;
	}
	if (typeof raw !== "object" || raw === null) return undefined;
	const o = raw as Record<string, unknown>;
	const restore = o.restore as { modules?: unknown } | undefined;
	const owner = o.owner as { host?: unknown; pid?: unknown; start?: unknown } | undefined;
	if (typeof o.runId !== "string" || typeof o.cell !== "string" || typeof o.set !== "string") return undefined;
	if (typeof owner?.host !== "string" || typeof owner.pid !== "number") return undefined;
	if (!Array.isArray(restore?.modules)) return undefined;
	const modules: Restore["modules"][number][] = [];
	for (const m of restore.modules as unknown[]) {
		const e = m as { name?: unknown; loaded?: unknown; params?: unknown; was?: unknown };
		if (!(MODULES as readonly unknown[]).includes(e.name) || typeof e.loaded !== "boolean") return undefined;
		// The file is read back into a script: only plain words may come out of it.
		const params = e.params ?? {};
		const was = e.was ?? {};
		if (!plainWords(params) || !plainWords(was)) return undefined;
		modules.push({ name: e.name as KvmModule, loaded: e.loaded, params, was });
	}
	const start = typeof owner.start === "string" && owner.start !== "" ? { start: owner.start } : {};
	return {
		runId: o.runId,
		cell: o.cell,
		set: o.set,
		owner: { host: owner.host, pid: owner.pid, ...start },
		restore: { modules },
	};
}

export const vendorModuleOf = (vendor: string): KvmModule | undefined =>
	vendor === "GenuineIntel"
		? "kvm_intel"
		: vendor === "AuthenticAMD" || vendor === "HygonGenuine"
			? "kvm_amd"
			: undefined;

export type ReloadPlan =
	| { readonly kind: "refused"; readonly reason: string }
	/** Nothing of the set applies to this CPU (kvm_intel parameters on an AMD machine). */
	| { readonly kind: "skip"; readonly reason: string }
	| {
			readonly kind: "reload";
			/** Unloaded in this order (the vendor module before kvm, which it needs). */
			readonly unload: readonly KvmModule[];
			/** Loaded in this order, each with its parameters. */
			readonly load: readonly { readonly module: KvmModule; readonly args: readonly string[] }[];
			readonly restore: Restore;
			/** The parameters that apply here, to read back once loaded. */
			readonly applies: readonly ModuleParamCheck[];
			/** Those for the other vendor's module, which are left alone. */
			readonly notHere: readonly ModuleParamCheck[];
	  };

const usersText = (users: readonly KvmUser[]) => {
	const shown = users.slice(0, 3).map((u) => `${u.comm} (pid ${u.pid})`);
	return users.length > 3 ? `${shown.join(", ")} and ${users.length - 3} more` : shown.join(", ");
};

/** What a set needs done on a machine, or why it cannot be done there: pure. */
export function planReload(
	probe: KvmProbe,
	asked: readonly ModuleParamCheck[],
	where: string,
	set: string,
): ReloadPlan {
	const vendorModule = vendorModuleOf(probe.vendor);
	const applies = asked.filter((p) => p.module === "kvm" || vendorModule === undefined || p.module === vendorModule);
	const notHere = asked.filter((p) => !applies.includes(p));
	if (applies.length === 0) {
		const vendors = [...new Set(notHere.map((p) => VENDOR[p.module] ?? p.module))].join(" and ");
		return {
			kind: "skip",
			reason: `${notHere.map((p) => `${p.module}.${p.param}=${p.value}`).join(", ")}: for ${vendors} CPUs, and ${where}'s CPU is ${probe.vendor}`,
		};
	}
	const refuse = (why: string): ReloadPlan => ({
		kind: "refused",
		reason: `parameter set ${set}: ${why}`,
	});
	const mod = (name: KvmModule) => probe.modules.find((m) => m.name === name);
	const builtin = probe.modules.filter((m) => m.state === "builtin").map((m) => m.name);
	if (builtin.length > 0)
		return refuse(
			`${builtin.join(" and ")} ${builtin.length === 1 ? "is" : "are"} built into ${where}'s kernel, so ${builtin.length === 1 ? "its" : "their"} parameters can be set on its command line only`,
		);
	if (probe.uid !== 0) return refuse(`reloading KVM's modules needs root on ${where} (uid ${probe.uid})`);
	if (!probe.modprobe) return refuse(`no modprobe or rmmod on ${where}`);
	if (probe.users.length > 0)
		return refuse(`KVM is in use on ${where} by ${usersText(probe.users)}: not reloading its modules`);
	const vendors = probe.modules.filter((m) => m.name !== "kvm" && m.state === "loaded");
	const busy = vendors.find((m) => m.refcnt > 0);
	if (busy !== undefined)
		return refuse(
			`${busy.name} is in use on ${where} (${busy.refcnt} references, by processes not visible here): not reloading it`,
		);
	const kvm = mod("kvm");
	const otherHolders = (kvm?.holders ?? []).filter((h) => !(MODULES as readonly string[]).includes(h));
	if (otherHolders.length > 0)
		return refuse(`kvm is needed by ${otherHolders.join(", ")} on ${where}: not unloading it`);
	if (kvm !== undefined && kvm.state === "loaded" && kvm.refcnt > kvm.holders.length)
		return refuse(`kvm is in use on ${where} (${kvm.refcnt - kvm.holders.length} references beyond its modules)`);

	// kvm's own parameters need kvm reloaded, and the vendor module with it; a vendor module's alone need only it.
	const vendorsKept = vendorModule === undefined ? vendors.map((m) => m.name) : [vendorModule];
	const reloaded: KvmModule[] = applies.some((p) => p.module === "kvm")
		? [...vendorsKept, "kvm"]
		: [...new Set(applies.map((p) => p.module as KvmModule))];
	const loadedNow = (name: KvmModule) => mod(name)?.state === "loaded";
	const argsOf = (name: KvmModule) => applies.filter((p) => p.module === name).map((p) => `${p.param}=${p.value}`);
	const loadOrder = reloaded.includes("kvm") ? ["kvm" as const, ...reloaded.filter((m) => m !== "kvm")] : reloaded;
	return {
		kind: "reload",
		unload: reloaded.filter(loadedNow),
		load: loadOrder
			// A vendor module that was not loaded, and gets no parameters, stays as it was.
			.filter((m) => loadedNow(m) || argsOf(m).length > 0 || m === "kvm")
			.map((module) => ({ module, args: argsOf(module) })),
		restore: {
			modules: loadOrder.map((name) => {
				const before = mod(name)?.params ?? {};
				const changed = Object.fromEntries(
					applies
						.filter((p) => p.module === name && before[p.param] !== undefined && WORD.test(before[p.param] ?? ""))
						.map((p) => [p.param, before[p.param] ?? ""]),
				);
				const was = Object.fromEntries(Object.entries(before).filter(([, v]) => WORD.test(v)));
				return { name, loaded: loadedNow(name), params: changed, was };
			}),
		},
		applies,
		notHere,
	};
}

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

// Each step says what failed in one line; the modules' values are read back the way the probe reads them.
const STEP = `${SBIN}
changed=0
step() {
	out=$("$@" 2>&1) || {
		why="$* : $(echo "$out" | tail -n 1)"
		# Nothing changed yet: the set was never applied, so there is nothing to restore.
		if [ "$changed" = 0 ] && [ -n "\${STATE:-}" ]; then rm -f "$STATE"; echo "unchanged $why"; else echo "failed $why"; fi
		exit 3
	}
	changed=1
}
readback() {
	f=/sys/module/$1/parameters/$2
	if [ ! -d /sys/module/$1 ]; then echo "read $1 $2 -missing-module"
	elif [ ! -r "$f" ]; then echo "read $1 $2 -missing-param"
	else val=$(cat "$f"); case "$val" in '' | *[!A-Za-z0-9_.,:+-]*) val='?' ;; esac; echo "read $1 $2 $val"; fi
}
loaded() { [ -e /sys/module/$1/initstate ]; }`;

/**
 * Writes the state file (refusing if one is there: another set is applied), then unloads the
 * modules with rmmod (modprobe -r would take kvm along with the vendor module) and loads them with
 * the set's parameters, then reads the set back.
 */
export function applyScript(plan: Extract<ReloadPlan, { kind: "reload" }>, state: AppliedSet): string {
	const dirOf = STATE_FILE.slice(0, STATE_FILE.lastIndexOf("/"));
	return [
		STEP,
		`mkdir -p ${dirOf} && (set -C; printf '%s\\n' ${q(stateText(state))} > ${STATE_FILE}) 2>/dev/null || { echo "unchanged writing ${STATE_FILE} : another parameter set is applied there, or it cannot be written"; exit 3; }`,
		`STATE=${STATE_FILE}`,
		// `--`: nothing after it is an option to them, whatever a name or a value holds.
		...plan.unload.map((m) => `step rmmod -- ${m}`),
		...plan.load.map((l) => `step modprobe -- ${l.module}${l.args.map((a) => ` ${q(a)}`).join("")}`),
		...plan.applies.map((p) => `readback ${p.module} ${p.param}`),
		"",
	].join("\n");
}

/** Removes the state file if it still holds `state`, as the probe reads it (newlines aside). */
export const forgetScript = (state: string, file = STATE_FILE): string =>
	`if [ "$(tr -d '\\n' < ${file} 2>/dev/null)" = ${q(state)} ]; then rm -f ${file}; fi`;

/** The state file's text as the probe reads it back, for a state kvm-matrix writes. */
export const stateText = (state: AppliedSet): string => JSON.stringify(state);

/**
 * Puts the modules back as `restore` says, reads their values back, and only then forgets the set:
 * the state file is removed only if it still holds `state` (another run's state stays).
 */
export function restoreScript(restore: Restore, state: string): string {
	const unload = [...restore.modules].reverse().map((m) => `if loaded ${m.name}; then step rmmod -- ${m.name}; fi`);
	const load = restore.modules
		.filter((m) => m.loaded)
		.map(
			(m) =>
				`loaded ${m.name} || step modprobe -- ${m.name}${Object.entries(m.params)
					.map(([k, v]) => ` ${q(`${k}=${v}`)}`)
					.join("")}`,
		);
	const read = restore.modules.flatMap((m) => Object.keys(m.params).map((p) => `readback ${m.name} ${p}`));
	return [STEP, ...unload, ...load, ...read, forgetScript(state), ""].join("\n");
}

export interface Readback {
	readonly module: string;
	readonly param: string;
	/** Absent when the module or the parameter is not there. */
	readonly got?: string;
	readonly missing?: "module" | "param";
}

export type ScriptOutcome =
	| { readonly ok: true; readonly read: readonly Readback[] }
	| {
			readonly ok: false;
			readonly reason: string;
			/** The failure came before anything was unloaded: nothing to restore. */
			readonly unchanged: boolean;
			readonly read: readonly Readback[];
	  };

/** `modprobe kvm_amd :` (a failure the command printed nothing for) without its empty ` :`. */
function withoutEmptyValue(reason: string): string {
	const text = reason.trimEnd();
	if (!text.endsWith(":") || !/\s/.test(text.at(-2) ?? "")) return reason;
	return text.slice(0, -1).trimEnd();
}

export function parseScriptOutput(lines: readonly string[]): ScriptOutcome {
	const read: Readback[] = [];
	let failed: string | undefined;
	let unchanged = false;
	for (const line of lines) {
		const [kind, module, param, value] = line.trim().split(/\s+/);
		if (kind === "read" && module !== undefined && param !== undefined) {
			if (value === "-missing-module") read.push({ module, param, missing: "module" });
			else if (value === "-missing-param") read.push({ module, param, missing: "param" });
			else read.push({ module, param, got: value ?? "" });
		} else if (kind === "failed" || kind === "unchanged") {
			failed = withoutEmptyValue(line.trim().slice(kind.length + 1));
			unchanged = kind === "unchanged";
		}
	}
	return failed === undefined ? { ok: true, read } : { ok: false, reason: failed, unchanged, read };
}

/** The Shell's command for a script; every line of its output, whatever its exit status. */
export async function runScript(shell: Shell, script: string, cwd: string): Promise<string[]> {
	const lines: string[] = [];
	try {
		await shell.run("sh", ["-c", script], { cwd, onLine: (l) => lines.push(l) });
	} catch (error) {
		// A step that failed says so on its own line; anything else (a lost connection) is the caller's.
		if (!(error instanceof CommandError) || !lines.some((l) => /^(failed|unchanged) /.test(l))) throw error;
	}
	return lines;
}

export async function probeKvm(shell: Shell, cwd: string): Promise<KvmProbe> {
	return parseProbe(await runScript(shell, PROBE, cwd));
}
