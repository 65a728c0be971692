import type { ModuleRequest } from "./initramfs/modules.js";

export type Accel = "auto" | "kvm" | "tcg";
export type UsedAccel = "kvm" | "tcg";

/** A host file to place in the guest's initramfs. */
export interface GuestFile {
	readonly host: string;
	/** Absolute path in the guest. */
	readonly guest: string;
	/** Defaults to the host file's mode. */
	readonly mode?: number;
}

/** A host directory the guest sees read-only over 9p (for payloads too big for the initramfs). */
export interface Share {
	readonly host: string;
	readonly guest: string;
}

/** What to run in the guest: a command (argv, no shell) or a shell script. */
export type Payload =
	| { readonly kind: "command"; readonly argv: readonly string[] }
	| { readonly kind: "script"; readonly text: string };

export interface BootRequest {
	/** A bzImage. */
	readonly kernel: string;
	/** `/lib/modules/<release>`; found from the kernel's release when omitted and present on the host. */
	readonly modulesDir?: string;
	/** Loaded in this order, each after its dependencies (from modules.dep). */
	readonly modules?: readonly ModuleRequest[];
	readonly files?: readonly GuestFile[];
	readonly shares?: readonly Share[];
	readonly payload: Payload;
	readonly cmdline?: readonly string[];
	/** Default: `max` under TCG (so the guest gets SVM and nested KVM), `host` under KVM. */
	readonly cpu?: string;
	readonly smp?: number;
	readonly memoryBytes?: number;
	readonly accel?: Accel;
	/** Whole boot, start to stop. */
	readonly timeoutMs?: number;
	/** No byte on any channel for this long: the guest is hung. */
	readonly noOutputTimeoutMs?: number;
	readonly signal?: AbortSignal;
	/** Where the logs go; a new temporary directory if omitted. */
	readonly workDir?: string;
	/** Where generated initramfs images and the accelerator probe are cached. */
	readonly cacheDir?: string;
	readonly qemuBinary?: string;
	/** Appended to QEMU's command line as they are (`-device`, `-object`, ...). */
	readonly extraQemuArgs?: readonly string[];
	/** Caps for console.log, records.jsonl and each channel's log (default 64 MiB each). */
	readonly logCapBytes?: number;
	/**
	 * Private channels from the payload to the host, by name (`[a-z][a-z0-9-]*`, at most 4): the
	 * payload gets the first on file descriptor 3, the next on 4, and so on. Each is a virtio-serial
	 * port that the init opens before the payload starts and whose device node it then deletes; a
	 * virtio port admits one opener at a time, so a payload that keeps the descriptor from the
	 * programs it starts (`3>&-`) is the only writer. Bytes reach `onChannelData` as written and
	 * `channel-<name>.log` in the work directory. Needs virtio-console in the guest kernel: see
	 * `BootOutcome.channels` for whether each was opened.
	 */
	readonly channels?: readonly string[];
	/**
	 * Module parameters the payload needs: once the modules are loaded the init reads each back
	 * from `/sys/module/<module>/parameters/<param>` (so built-in modules count too), reports what
	 * it found in `BootOutcome.moduleParams`, and runs the payload only when every one that applies
	 * holds (a bool as the kernel parses one), something applies (a vendor module's parameters do
	 * not on the other vendor's CPU) and `/dev/kvm` exists; otherwise the boot ends as `boot-failed`
	 * with `paramsRefused` saying why.
	 */
	readonly requireModuleParams?: readonly ModuleParamCheck[];
}

/** `module.param=value`, as asked (names: letters, digits and "_"; the value one plain word). */
export interface ModuleParamCheck {
	readonly module: string;
	readonly param: string;
	readonly value: string;
}

/** What the guest's kernel had for one asked module parameter. */
export interface ModuleParamReading extends ModuleParamCheck {
	/** The value in sysfs; absent when the module is not there, has no such parameter, or does not apply. */
	readonly got?: string;
	/** `vendor`: a vendor module (kvm_intel, kvm_amd) of the other vendor's CPU, whose parameters do not apply. */
	readonly missing?: "module" | "param" | "vendor";
	/** The guest CPU's vendor (`AuthenticAMD`), for `missing: "vendor"`. */
	readonly cpu?: string;
	/** True when the value is the one asked, and for a parameter that does not apply. */
	readonly holds: boolean;
}

/** Why the init did not run the payload for the module parameters asked. */
export type ParamsRefusal = "none-apply" | "mismatch" | "no-kvm";

export type ConsoleSource = "kernel" | "payload";

export interface ConsoleLine {
	/** `kernel`: the serial console (kernel and init); `payload`: the payload's own output. */
	readonly source: ConsoleSource;
	readonly line: string;
}

export interface BootHandlers {
	/** Called once the accelerator is known, before QEMU starts (with the warning when `auto` fell back to TCG). */
	readonly onAccel?: (accel: UsedAccel, warning: string | undefined) => void;
	readonly onConsoleLine?: (line: ConsoleLine) => void;
	/** A JSON record the payload wrote with `kvm-matrix-record`. */
	readonly onRecord?: (record: unknown) => void;
	/** Bytes the payload wrote on one of `BootRequest.channels`, in order, without the init's end marker. */
	readonly onChannelData?: (channel: string, bytes: Buffer) => void;
}

export interface ChannelOutcome {
	readonly name: string;
	/** False when the guest had no such port (no virtio-console) or the boot ended before the payload. */
	readonly opened: boolean;
	/** True when every byte the payload wrote arrived (the init's end marker came after them). */
	readonly complete: boolean;
	readonly log: string;
}

export type OutcomeKind = "completed" | "panic" | "oops" | "timeout" | "hung" | "boot-failed" | "qemu-error";

interface OutcomeBase {
	readonly accel: UsedAccel;
	/** Set when `auto` could not use KVM: one line saying why TCG was used. */
	readonly accelWarning?: string;
	readonly durationMs: number;
	/** From QEMU's start to the payload's start, when it started. */
	readonly bootMs?: number;
	readonly consoleLog: string;
	readonly recordsLog: string;
	/** One per `BootRequest.channels`, in its order. */
	readonly channels: readonly ChannelOutcome[];
	/** One per `BootRequest.requireModuleParams` the init read back (none when it never got there). */
	readonly moduleParams: readonly ModuleParamReading[];
	/** Set when the payload was not run because of them. */
	readonly paramsRefused?: ParamsRefusal;
	readonly truncated: { readonly console: boolean; readonly records: boolean };
	/** Logs that could not be written to the end (`console.log: ENOSPC`); the outcome stands. */
	readonly logFailures?: readonly string[];
	/** One line for a person: what happened. */
	readonly summary: string;
	/** The lines that show it: the panic or oops trace, the last lines before a hang, QEMU's error. */
	readonly excerpt: readonly string[];
	readonly qemuCommand: readonly string[];
}

export type BootOutcome =
	| (OutcomeBase & { readonly kind: "completed"; readonly exitStatus: number })
	/** An oops, BUG or WARNING during the run; the payload may still have finished. */
	| (OutcomeBase & { readonly kind: "oops"; readonly exitStatus?: number })
	| (OutcomeBase & { readonly kind: Exclude<OutcomeKind, "completed" | "oops"> });
