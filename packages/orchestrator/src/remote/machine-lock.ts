// One lock per machine over its KVM modules, shared by every kvm-matrix run there: a cell that uses
// KVM as it stands holds it shared, and probing, restoring or reloading the modules holds it
// exclusively, so no run reloads KVM under another's tests and two runs never restore one state.
// It is flock(1) on a file of that machine, held by a small shell loop for as long as kvm-matrix
// wants it: locally and over ssh alike, the loop ends (and the kernel drops the lock) when it is
// stopped or when kvm-matrix, or the connection to it, goes away — its next line has no reader.
import type { Shell } from "./shell.js";

/** Where the lock lives when /run/lock (tmpfs, writable by all, on Debian) is there; else /tmp. */
export const MACHINE_LOCK = "/run/lock/kvm-matrix-kvm.lock";
const FALLBACK = "/tmp/kvm-matrix-kvm.lock";

export type LockMode = "shared" | "exclusive";

export type LockAttempt =
	| { readonly kind: "held"; readonly release: () => Promise<void> }
	/** Another run held it for the whole wait. */
	| { readonly kind: "busy"; readonly file: string }
	/** The machine cannot lock (no flock, the file cannot be opened): said in one line. */
	| { readonly kind: "unavailable"; readonly reason: string }
	/** `signal` aborted the wait. */
	| { readonly kind: "cancelled" };

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * The holder: opens the lock file read-only (a lock needs no write access, so runs as any user
 * share one file), waits for the lock at most `waitS`, says `locked`, then says `held` each second
 * until it is stopped or that line has nowhere to go. `sleep` gets no copy of the lock's descriptor,
 * which would keep the lock after the loop died.
 */
export function holderScript(mode: LockMode, waitS: number, file?: string): string {
	const pick = file === undefined ? `f=${MACHINE_LOCK}\n[ -d /run/lock ] || f=${FALLBACK}` : `f=${q(file)}`;
	return `${pick}
command -v flock >/dev/null 2>&1 || { echo "nolock no flock(1) on this machine"; exit 0; }
[ -e "$f" ] || (umask 022; : >> "$f") 2>/dev/null
# A failed redirection on exec ends sh itself: look first.
[ -f "$f" ] && [ -r "$f" ] || { echo "nolock cannot open $f"; exit 0; }
exec 9<"$f"
flock ${mode === "shared" ? "-s" : "-x"} -w ${Math.max(0, Math.floor(waitS))} 9 || { echo "busy $f"; exit 0; }
echo locked
while echo held; do sleep 1 9<&-; done
`;
}

/**
 * Takes the machine's KVM lock through `shell`; `held` until its release is called. `cwd` should
 * be a directory nothing cleans up processes under (`/`): the holder must outlive a cell's own.
 * `signal` ends a wait (a cancelled run), not a lock once held.
 */
export async function holdMachineLock(
	shell: Shell,
	cwd: string,
	mode: LockMode,
	waitS: number,
	file?: string,
	signal?: AbortSignal,
): Promise<LockAttempt> {
	const controller = new AbortController();
	if (signal?.aborted) return { kind: "cancelled" };
	let settle: (attempt: LockAttempt) => void = () => {};
	const first = new Promise<LockAttempt>((resolve) => {
		settle = resolve;
	});
	const release = async () => {
		controller.abort();
		await running;
	};
	const running = shell
		.run("sh", ["-c", holderScript(mode, waitS, file)], {
			cwd,
			signal: controller.signal,
			onLine: (line) => {
				if (line === "locked") settle({ kind: "held", release });
				else if (line.startsWith("busy ")) settle({ kind: "busy", file: line.slice(5) });
				else if (line.startsWith("nolock ")) settle({ kind: "unavailable", reason: line.slice(7) });
			},
		})
		.then(
			() => settle({ kind: "unavailable", reason: "the lock holder ended without a word" }),
			(error: unknown) =>
				settle({
					kind: "unavailable",
					reason: `the lock holder failed: ${error instanceof Error ? error.message : String(error)}`,
				}),
		);
	const onAbort = () => {
		settle({ kind: "cancelled" });
		controller.abort();
	};
	signal?.addEventListener("abort", onAbort, { once: true });
	const attempt = await first;
	signal?.removeEventListener("abort", onAbort);
	return attempt;
}
