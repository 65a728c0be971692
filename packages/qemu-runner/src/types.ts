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
	/** Caps for console.log and records.jsonl (default 64 MiB each). */
	readonly logCapBytes?: number;
}

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
	readonly truncated: { readonly console: boolean; readonly records: boolean };
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
