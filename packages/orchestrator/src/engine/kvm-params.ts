// A cell on a running kernel under a parameter set: KVM's modules there are reloaded with the
// set's parameters for as long as the cells that want them run, and put back after, also when
// the run is cancelled. A run killed before it could put them back left what to restore on the
// machine: whichever cell next uses that machine's KVM restores it first, and says so.
import { readFileSync } from "node:fs";
import os from "node:os";
import { type ModuleParamCheck, sameValue } from "@kvm-matrix/qemu-runner";
import { KVM_MODULES } from "../matrix/params.js";
import type { Target } from "../matrix/types.js";
import {
	type AppliedSet,
	applyScript,
	type KvmProbe,
	parseProbe,
	parseScriptOutput,
	planReload,
	probeKvm,
	type Readback,
	type Restore,
	restoreScript,
	runScript,
	STATE_FILE,
	stateText,
} from "../remote/kvm-modules.js";
import { holdMachineLock } from "../remote/machine-lock.js";
import type { Shell } from "../remote/shell.js";
import { requiredParams } from "../selftests/run.js";
import type { RunContext } from "./context.js";
import { SharedLease } from "./shared-lease.js";

/** How the machine's KVM stands for a cell's tests. */
export type KvmSetup =
	| { readonly kind: "own" }
	| { readonly kind: "applied"; readonly read: readonly Readback[] }
	/** The set is for the other vendor's CPU: the cell's tests skip with this reason. */
	| { readonly kind: "skip"; readonly reason: string }
	/** The set could not be applied: the cell fails as infra with this one line. */
	| { readonly kind: "refused"; readonly reason: string };

/** Thrown for a set that cannot be applied on a machine: its message is the one line the cell fails with. */
export class KvmParamsError extends Error {
	override readonly name = "KvmParamsError";
}

interface Entered {
	readonly setup: KvmSetup;
	/** What to put back, and the state file's text that says it is this run's to put back. */
	readonly restore?: { readonly how: Restore; readonly state: string };
}

export interface KvmMachine {
	readonly shell: Shell;
	/** A directory on that machine to run the scripts from. */
	readonly cwd: string;
	/** The machine lock's file, when not the one every kvm-matrix there uses (tests). */
	readonly lockFile?: string;
}

// A reload or restore is quick: one waits this long for another run's to end, or for the cells
// of another run to finish, before refusing. Cells wait longer for a reload to end.
const EXCLUSIVE_WAIT_S = 60;
const SHARED_WAIT_S = 300;

const lockCancelled = (signal?: AbortSignal) =>
	signal?.reason instanceof Error ? signal.reason : new Error("cancelled while waiting for the machine's KVM lock");

/**
 * Runs `work` (probe, restore, reload) holding the machine's KVM lock alone, or refuses in one
 * line. A machine that cannot lock (no flock) is worked on as before locks, and said.
 */
async function exclusively<T>(
	machine: KvmMachine,
	what: string,
	note: (text: string) => void,
	work: () => Promise<T>,
	signal?: AbortSignal,
): Promise<T> {
	const where = machine.shell.where;
	// From `/`: a cell's clean-up kills what runs under its own directory, and the lock is the machine's.
	const lock = await holdMachineLock(machine.shell, "/", "exclusive", EXCLUSIVE_WAIT_S, machine.lockFile, signal);
	if (lock.kind === "cancelled") throw lockCancelled(signal);
	if (lock.kind === "busy")
		throw new KvmParamsError(
			`${what}: KVM on ${where} is in use by another kvm-matrix run (${lock.file} held for ${EXCLUSIVE_WAIT_S}s): not touching its modules`,
		);
	if (lock.kind === "unavailable") {
		note(`${what}: KVM's modules on ${where} are not locked against other runs: ${lock.reason}`);
		return work();
	}
	try {
		return await work();
	} finally {
		await lock.release();
	}
}

/** A cell's shared claim on the machine's KVM while it runs: no other run reloads it meanwhile. */
async function claim(
	machine: KvmMachine,
	note: (text: string) => void,
	signal?: AbortSignal,
): Promise<() => Promise<void>> {
	const where = machine.shell.where;
	const lock = await holdMachineLock(machine.shell, "/", "shared", SHARED_WAIT_S, machine.lockFile, signal);
	if (lock.kind === "cancelled") throw lockCancelled(signal);
	if (lock.kind === "busy")
		throw new KvmParamsError(
			`KVM on ${where} is being reloaded by another kvm-matrix run (${lock.file} held for ${SHARED_WAIT_S}s)`,
		);
	if (lock.kind === "unavailable") {
		note(`KVM on ${where} is not locked against other runs' reloads: ${lock.reason}`);
		return async () => {};
	}
	return lock.release;
}

const paramText = (r: { module: string; param: string; got?: string; value?: string }) =>
	`${r.module}.${r.param}=${r.got ?? r.value ?? "?"}`;

const leases = new WeakMap<RunContext, Map<string, SharedLease<Entered>>>();
const inFlight = new WeakMap<RunContext, Set<Promise<unknown>>>();

/**
 * Resolves once every cell of the run is done with its machine's KVM, restores included: a
 * cancelled run's cells end before their restores do, and what a restore says belongs in the run.
 */
export async function kvmSettled(ctx: RunContext): Promise<void> {
	const pending = inFlight.get(ctx);
	while (pending !== undefined && pending.size > 0) await Promise.allSettled([...pending]);
}

function tracked<T>(ctx: RunContext, work: Promise<T>): Promise<T> {
	let set = inFlight.get(ctx);
	if (set === undefined) {
		set = new Set();
		inFlight.set(ctx, set);
	}
	const mine = set;
	mine.add(work);
	void work.then(
		() => mine.delete(work),
		() => mine.delete(work),
	);
	return work;
}
function leaseOf(ctx: RunContext, where: string): SharedLease<Entered> {
	let byMachine = leases.get(ctx);
	if (byMachine === undefined) {
		byMachine = new Map();
		leases.set(ctx, byMachine);
	}
	let lease = byMachine.get(where);
	if (lease === undefined) {
		lease = new SharedLease();
		byMachine.set(where, lease);
	}
	return lease;
}

/** A process's start time (field 22 of /proc/PID/stat): with its pid, which process it is, reuse aside. */
function startOf(pid: number): string | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		// The command name (field 2) is in parentheses and may hold spaces: count after it.
		return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
	} catch {
		return undefined;
	}
}

/** This kvm-matrix process, as the state file names the one that applied a set. */
const self = () => ({ host: os.hostname(), pid: process.pid, start: startOf(process.pid) ?? "" });

/**
 * Whether the kvm-matrix that applied a set may still be running: a process of this machine is
 * checked; one of another machine cannot be, and is taken to be, since restoring under a run that
 * still runs would make its results claim a set they no longer have.
 */
function ownerMayRun(owner: AppliedSet["owner"]): boolean {
	if (owner.host !== os.hostname()) return true;
	// This very process: a restore of its own that failed, left for whichever cell comes next.
	const me = self();
	if (owner.pid === me.pid && owner.start === me.start) return false;
	const start = startOf(owner.pid);
	return start !== undefined && (owner.start === undefined || owner.start === start);
}

/** The parameters a cell's set asks for, as a key: cells asking the same share one reload. */
const configKey = (asked: readonly ModuleParamCheck[]) => asked.map(paramText).sort().join(" ");

/** Throws why a set left on the machine cannot be restored now: not kvm-matrix's, or its run may still run. */
function refuseUnrestorable(probe: KvmProbe, where: string): void {
	if (probe.pendingUnreadable !== undefined)
		throw new KvmParamsError(
			`${STATE_FILE} on ${where} is not kvm-matrix's: remove it once KVM's modules there are as they should be`,
		);
	const pending = probe.pending;
	if (pending === undefined) return;
	const what = `parameter set ${pending.set} of run ${pending.runId} (cell ${pending.cell})`;
	if (ownerMayRun(pending.owner))
		throw new KvmParamsError(
			pending.owner.host === os.hostname()
				? `KVM on ${where} is under ${what}, which is still running (pid ${pending.owner.pid}): not touching it`
				: `KVM on ${where} is under ${what}, run from ${pending.owner.host} (pid ${pending.owner.pid}), which may still be running: once it is not, run this again from there, or remove ${STATE_FILE} once KVM's modules are as they should be`,
		);
}

/**
 * Puts back a set an earlier run left applied, under the machine lock; says what it did, or throws
 * why it could not.
 */
async function recover(machine: KvmMachine, probe: KvmProbe, note: (text: string) => void): Promise<KvmProbe> {
	const where = machine.shell.where;
	refuseUnrestorable(probe, where);
	const pending = probe.pending;
	if (pending === undefined) return probe;
	const what = `parameter set ${pending.set} of run ${pending.runId} (cell ${pending.cell})`;
	if (probe.uid !== 0) throw new KvmParamsError(`KVM on ${where} is still under ${what}; restoring it needs root`);
	const script = restoreScript(pending.restore, probe.pendingText ?? stateText(pending));
	const out = parseScriptOutput(await runScript(machine.shell, script, machine.cwd));
	if (!out.ok) throw new KvmParamsError(`KVM on ${where} is still under ${what}; restoring it failed: ${out.reason}`);
	note(
		`KVM's modules on ${where} were still under ${what}, which did not finish: restored${out.read.length === 0 ? "" : ` (${out.read.map(paramText).join(", ")})`}`,
	);
	return probeKvm(machine.shell, machine.cwd);
}

async function restore(
	machine: KvmMachine,
	{ how: r, state }: NonNullable<Entered["restore"]>,
	set: string,
	note: (text: string) => void,
): Promise<void> {
	const where = machine.shell.where;
	try {
		const out = parseScriptOutput(await runScript(machine.shell, restoreScript(r, state), machine.cwd));
		if (!out.ok) {
			note(
				`KVM's modules on ${where} are still under parameter set ${set}: restoring them failed (${out.reason}); the next run there tries again`,
			);
			return;
		}
		const wanted = r.modules.flatMap((m) =>
			Object.entries(m.params).map(([param, value]) => ({ module: m.name, param, value })),
		);
		const now = await probeKvm(machine.shell, machine.cwd);
		// Every value a reloaded module had, as it reads now: one written at run time is lost in a reload.
		const differs = r.modules
			.filter((m) => m.loaded)
			.flatMap((m) => {
				const params = now.modules.find((x) => x.name === m.name)?.params ?? {};
				return Object.entries(m.was)
					.filter(([p, v]) => params[p] === undefined || !sameValue(params[p] ?? "", v))
					.map(([p, v]) => `${m.name}.${p} reads ${params[p] ?? "nothing"}, was ${v}`);
			});
		note(
			differs.length === 0
				? `KVM's modules on ${where} restored after parameter set ${set}${wanted.length === 0 ? "" : ` (${wanted.map(paramText).join(", ")})`}`
				: `KVM's modules on ${where} reloaded after parameter set ${set}, but ${differs.join(", ")}`,
		);
	} catch (error) {
		note(
			`KVM's modules on ${where} may still be under parameter set ${set}: ${error instanceof Error ? error.message : String(error)}; the next run there restores them`,
		);
	}
}

async function enterSet(
	ctx: RunContext,
	cellId: string,
	machine: KvmMachine,
	set: string,
	asked: readonly ModuleParamCheck[],
	note: (text: string) => void,
): Promise<Entered> {
	const where = machine.shell.where;
	const probe = await recover(machine, await probeKvm(machine.shell, machine.cwd), note);
	const plan = planReload(probe, asked, where, set);
	if (plan.kind !== "reload") return { setup: plan };
	const state: AppliedSet = { runId: ctx.runId, cell: cellId, set, owner: self(), restore: plan.restore };
	const undo = { how: plan.restore, state: stateText(state) };
	const lines = await runScript(machine.shell, applyScript(plan, state), machine.cwd);
	const out = parseScriptOutput(lines);
	const holds = (p: ModuleParamCheck) => {
		const got = out.read.find((r) => r.module === p.module && r.param === p.param);
		return got?.got !== undefined && sameValue(got.got, p.value);
	};
	const wrong = plan.applies.filter((p) => !holds(p));
	if (out.ok && wrong.length === 0) {
		if (plan.notHere.length > 0)
			note(`parameter set ${set}: not for ${where}'s CPU (${probe.vendor}): ${plan.notHere.map(paramText).join(", ")}`);
		return { setup: { kind: "applied", read: out.read }, restore: undo };
	}
	// Half a reload, or one KVM did not take: put the machine back before saying so.
	if (out.ok || !out.unchanged) await restore(machine, undo, set, note);
	if (!out.ok)
		return { setup: { kind: "refused", reason: `parameter set ${set}: reloading KVM on ${where}: ${out.reason}` } };
	const why = wrong.map((p) => {
		const got = out.read.find((r) => r.module === p.module && r.param === p.param);
		if (got?.missing === "module") return `${p.module}.${p.param}=${p.value} (no module ${p.module})`;
		if (got?.missing === "param") return `${p.module}.${p.param}=${p.value} (${p.module} has no parameter ${p.param})`;
		return `${p.module}.${p.param}=${p.value} (it reads ${got?.got ?? "nothing"})`;
	});
	return { setup: { kind: "refused", reason: `parameter set ${set}: KVM on ${where} did not take ${why.join(", ")}` } };
}

/**
 * Runs `body` with the machine's KVM as the cell's target wants it: under its parameter set
 * (reloaded, and restored once no cell needs it), or as the machine has it. Either way a set an
 * earlier, killed run left applied is restored first.
 */
export async function withKvmParams<T>(
	ctx: RunContext,
	cellId: string,
	target: Target,
	machine: KvmMachine,
	body: (setup: KvmSetup) => Promise<T>,
	signal?: AbortSignal,
): Promise<T> {
	const asked = requiredParams(target);
	const set = target.params;
	const note = (text: string) => ctx.note(cellId, text);
	const notKvm = [
		...new Set(asked.map((p) => p.module).filter((m) => !(KVM_MODULES as readonly string[]).includes(m))),
	];
	if (set !== undefined && notKvm.length > 0)
		throw new KvmParamsError(
			`parameter set ${set}: ${notKvm.join(", ")} ${notKvm.length === 1 ? "is" : "are"} not KVM's; on a running kernel kvm-matrix reloads KVM's modules only`,
		);
	const lease = leaseOf(ctx, machine.shell.where);
	// Each cell claims the machine's KVM through its own connection, for as long as its tests run.
	const inCell = async (entered: Entered) => {
		const { setup } = entered;
		if (setup.kind !== "own" && setup.kind !== "applied") return body(setup);
		const unclaim = await claim(machine, note, signal);
		try {
			await refuseChangedMeanwhile(machine, entered);
			if (setup.kind === "applied")
				note(`parameter set ${set}: KVM on ${machine.shell.where} took ${setup.read.map(paramText).join(", ")}`);
			return await body(setup);
		} finally {
			await unclaim();
		}
	};
	if (set === undefined || asked.length === 0)
		return tracked(
			ctx,
			lease.use(
				"",
				() => enterAsItIs(machine, note, signal),
				async () => {},
				inCell,
				signal,
			),
		);
	return tracked(
		ctx,
		lease.use(
			configKey(asked),
			() =>
				exclusively(
					machine,
					`parameter set ${set}`,
					note,
					() => enterSet(ctx, cellId, machine, set, asked, note),
					signal,
				),
			(entered) => leaveSet(machine, entered, set, note),
			inCell,
			signal,
		),
	);
}

/** Puts a set back under the machine lock; a lock held too long by another run is said, and left to the next. */
async function leaveSet(machine: KvmMachine, entered: Entered, set: string, note: (text: string) => void) {
	const undo = entered.restore;
	if (undo === undefined) return;
	try {
		// Never cancelled: a cancelled run puts KVM back too.
		await exclusively(machine, `restoring parameter set ${set}`, note, () => restore(machine, undo, set, note));
	} catch (error) {
		note(`${error instanceof Error ? error.message : String(error)}; the next run there restores them`);
	}
}

const leftOver = async (machine: KvmMachine): Promise<KvmProbe> =>
	parseProbe(await runScript(machine.shell, PENDING, machine.cwd));

/**
 * KVM as the machine has it; a set an earlier, killed run left is first restored under the lock
 * alone (and one whose run still runs refuses the cell).
 */
async function enterAsItIs(machine: KvmMachine, note: (text: string) => void, signal?: AbortSignal): Promise<Entered> {
	const left = await leftOver(machine);
	if (left.pending === undefined && left.pendingUnreadable === undefined) return { setup: { kind: "own" } };
	refuseUnrestorable(left, machine.shell.where);
	await exclusively(
		machine,
		"restoring a set left applied",
		note,
		async () => recover(machine, await probeKvm(machine.shell, machine.cwd), note),
		signal,
	);
	return { setup: { kind: "own" } };
}

/**
 * Once a cell holds its claim nobody reloads KVM, but between its group's setup and the claim
 * another run could have: the machine must still be as the group set it up.
 */
async function refuseChangedMeanwhile(machine: KvmMachine, entered: Entered): Promise<void> {
	const now = await leftOver(machine);
	const ours = entered.restore?.state;
	const none = now.pending === undefined && now.pendingUnreadable === undefined;
	if (ours === undefined ? none : now.pendingText === ours) return;
	refuseUnrestorable(now, machine.shell.where);
	throw new KvmParamsError(
		`KVM on ${machine.shell.where} changed under this cell (${STATE_FILE} is not as its parameter set left it): not running its tests`,
	);
}

/** Only whether a set is left applied: what every cell on a running kernel asks first. */
const PENDING = `if [ -f ${STATE_FILE} ]; then echo "pending $(tr -d '\\n' < ${STATE_FILE})"; fi`;
