// A cell on a running kernel under a parameter set: KVM's modules there are reloaded with the
// set's parameters for as long as the cells that want them run, and put back after, also when
// the run is cancelled. A run killed before it could put them back left what to restore on the
// machine: whichever cell next uses that machine's KVM restores it first, and says so.
import { type ModuleParamCheck, sameValue } from "@kvm-matrix/qemu-runner";
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
} from "../remote/kvm-modules.js";
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
	readonly restore?: Restore;
}

export interface KvmMachine {
	readonly shell: Shell;
	/** A directory on that machine to run the scripts from. */
	readonly cwd: string;
}

const paramText = (r: { module: string; param: string; got?: string; value?: string }) =>
	`${r.module}.${r.param}=${r.got ?? r.value ?? "?"}`;

const leases = new WeakMap<RunContext, Map<string, SharedLease<Entered>>>();
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

/** The parameters a cell's set asks for, as a key: cells asking the same share one reload. */
const configKey = (asked: readonly ModuleParamCheck[]) => asked.map(paramText).sort().join(" ");

/** Puts back a set an earlier run left applied; says what it did, or throws why it could not. */
async function recover(machine: KvmMachine, probe: KvmProbe, note: (text: string) => void): Promise<KvmProbe> {
	const where = machine.shell.where;
	if (probe.pendingUnreadable !== undefined)
		throw new KvmParamsError(
			`${STATE_FILE} on ${where} is not kvm-matrix's: remove it once KVM's modules there are as they should be`,
		);
	const pending = probe.pending;
	if (pending === undefined) return probe;
	const what = `parameter set ${pending.set} of run ${pending.runId} (cell ${pending.cell})`;
	if (probe.uid !== 0) throw new KvmParamsError(`KVM on ${where} is still under ${what}; restoring it needs root`);
	const out = parseScriptOutput(await runScript(machine.shell, restoreScript(pending.restore), machine.cwd));
	if (!out.ok) throw new KvmParamsError(`KVM on ${where} is still under ${what}; restoring it failed: ${out.reason}`);
	note(
		`KVM's modules on ${where} were still under ${what}, which did not finish: restored${out.read.length === 0 ? "" : ` (${out.read.map(paramText).join(", ")})`}`,
	);
	return probeKvm(machine.shell, machine.cwd);
}

async function restore(machine: KvmMachine, r: Restore, set: string, note: (text: string) => void): Promise<void> {
	const where = machine.shell.where;
	try {
		const out = parseScriptOutput(await runScript(machine.shell, restoreScript(r), machine.cwd));
		if (!out.ok) {
			note(
				`KVM's modules on ${where} are still under parameter set ${set}: restoring them failed (${out.reason}); the next run there tries again`,
			);
			return;
		}
		const wanted = r.modules.flatMap((m) =>
			Object.entries(m.params).map(([param, value]) => ({ module: m.name, param, value })),
		);
		const differs = wanted.filter((w) => {
			const got = out.read.find((x) => x.module === w.module && x.param === w.param)?.got;
			return got === undefined || !sameValue(got, w.value);
		});
		note(
			differs.length === 0
				? `KVM's modules on ${where} restored after parameter set ${set}${wanted.length === 0 ? "" : ` (${wanted.map(paramText).join(", ")})`}`
				: `KVM's modules on ${where} reloaded after parameter set ${set}, but ${differs.map((d) => `${d.module}.${d.param} reads ${out.read.find((x) => x.module === d.module && x.param === d.param)?.got ?? "nothing"}, was ${d.value}`).join(", ")}`,
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
	const state: AppliedSet = { runId: ctx.runId, cell: cellId, set, restore: plan.restore };
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
		return { setup: { kind: "applied", read: out.read }, restore: plan.restore };
	}
	// Half a reload, or one KVM did not take: put the machine back before saying so.
	await restore(machine, plan.restore, set, note);
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
): Promise<T> {
	const asked = requiredParams(target);
	const set = target.params;
	const note = (text: string) => ctx.note(cellId, text);
	const lease = leaseOf(ctx, machine.shell.where);
	if (set === undefined || asked.length === 0)
		return lease.use(
			"",
			async () => {
				const pending = parseProbe(await runScript(machine.shell, PENDING, machine.cwd));
				if (pending.pending !== undefined || pending.pendingUnreadable !== undefined)
					await recover(machine, await probeKvm(machine.shell, machine.cwd), note);
				return { setup: { kind: "own" } };
			},
			async () => {},
			(entered) => body(entered.setup),
		);
	return lease.use(
		configKey(asked),
		() => enterSet(ctx, cellId, machine, set, asked, note),
		async (entered) => {
			if (entered.restore !== undefined) await restore(machine, entered.restore, set, note);
		},
		async (entered) => {
			if (entered.setup.kind === "applied")
				note(
					`parameter set ${set}: KVM on ${machine.shell.where} took ${entered.setup.read.map(paramText).join(", ")}`,
				);
			return body(entered.setup);
		},
	);
}

/** Only whether a set is left applied: what every cell on a running kernel asks first. */
const PENDING = `if [ -f ${STATE_FILE} ]; then echo "pending $(tr -d '\\n' < ${STATE_FILE})"; fi`;
