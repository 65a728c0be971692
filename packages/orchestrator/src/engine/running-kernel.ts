// The suites of a cell whose target is a running kernel: this machine's (`host: true`) or a
// remote QA machine's (`ssh:`). Nothing is booted; the built selftests and KUT run there as they
// would in a guest, into the same result records. On a remote machine they run from a private
// directory the built trees are copied into, which is removed when the cell is done with it.
import os from "node:os";
import path from "node:path";
import PQueue from "p-queue";
import type { TestResult } from "../events/types.js";
import { runKutOnHost } from "../kut/run-host.js";
import type { Target } from "../matrix/types.js";
import { ConnectionLostError, localShell, type Shell } from "../remote/shell.js";
import { openSshSession, type RemoteSession } from "../remote/ssh.js";
import { runSelftestsDirect } from "../selftests/run-direct.js";
import { repositoryKey } from "../sources/identity.js";
import type { RunContext } from "./context.js";
import type { JobRunner } from "./jobs.js";
import { BOOT_ID, type MachineBoot } from "./journal.js";
import { kutArgs, kutSelection, kutSlots, kutTimeouts, smpsOf } from "./kut-selection.js";
import { KvmParamsError, withKvmParams } from "./kvm-params.js";
import { localBootId } from "./rebooted.js";
import { cellSelftests } from "./selftest-selection.js";

export interface RunningKernelPass {
	readonly cellId: string;
	readonly target: Target & { readonly host: true };
	readonly wanted: (key: string) => boolean;
	readonly logDir: (suite: string) => string;
	readonly signal: AbortSignal;
	readonly report: (result: TestResult) => void;
	/** A test began on that machine, as it was booted then: journaled before it runs. */
	readonly started: (suite: TestResult["suite"], testId: string, machine: MachineBoot) => void;
}

/** A remote kernel's boot id, or undefined where there is none to read (this machine's: localBootId). */
async function bootIdOf(shell: Shell, cwd: string): Promise<string | undefined> {
	try {
		const id = (await shell.run("cat", ["/proc/sys/kernel/random/boot_id"], { cwd }))[0]?.trim() ?? "";
		return BOOT_ID.test(id) ? id : undefined;
	} catch (error) {
		if (error instanceof ConnectionLostError) throw error;
		return undefined;
	}
}

/**
 * The connection to a machine went away while tests ran there: a test that ran alone is named
 * (an infra result: what became of it is not known); the cell stops, and `resume` runs the rest.
 */
function lostWhile(
	error: ConnectionLostError,
	open: readonly { readonly suite: TestResult["suite"]; readonly testId: string }[],
	report: (result: TestResult) => void,
): ConnectionLostError {
	const only = open.length === 1 ? open[0] : undefined;
	if (only !== undefined)
		report({
			suite: only.suite,
			testId: only.testId,
			status: "error",
			durationMs: 0,
			attempt: 1,
			detail: `the connection to ${error.where} was lost while it ran (${error.reason})`,
		});
	const names = open.map((t) => t.testId).join(", ");
	return new ConnectionLostError(
		error.where,
		`${error.reason}${open.length === 0 ? "" : ` (while ${names} ran)`}; resume runs the tests that remain`,
	);
}

/** KUT's configure records its source directory in config.mak: the copy's own, there. */
async function relocateKut(session: RemoteSession, dir: string): Promise<void> {
	await session.shell.run(
		"sh",
		[
			"-c",
			'test ! -f config.mak || sed -i -e "s|^SRCDIR=.*|SRCDIR=$1|" -e "s|^ERRATATXT=.*|ERRATATXT=$1/errata.txt|" config.mak',
			"relocate",
			dir,
		],
		{ cwd: dir },
	);
}

/**
 * Commands at once on one remote machine: under sshd's default MaxSessions (10) for the one
 * master connection they share, with room for the session's own (copies, clean-up).
 */
const MAX_REMOTE_COMMANDS = 8;

/** The queue of one remote machine, shared by every cell that runs there. */
function remoteQueue(ctx: RunContext, session: RemoteSession): PQueue {
	const key = session.shell.where;
	let queue = ctx.remoteQueues.get(key);
	if (queue === undefined) {
		queue = new PQueue({ concurrency: Math.min(MAX_REMOTE_COMMANDS, session.cpus) });
		ctx.remoteQueues.set(key, queue);
	}
	return queue;
}

export async function runOnRunningKernel(ctx: RunContext, jobs: JobRunner, pass: RunningKernelPass): Promise<void> {
	const { matrix, cache } = ctx;
	const { cellId, target, wanted, signal, report } = pass;
	const c = ctx.cell(cellId);
	const kut = matrix.suites.kut;
	const selftests = await cellSelftests(ctx, jobs, cellId, wanted);
	const ids = selftests?.ids ?? [];
	const kutBuilt = kut === undefined || c.jobs.kut === undefined ? undefined : await jobs.kutBuild(c.jobs.kut);
	const kutNames = kutBuilt === undefined ? [] : kutSelection(matrix, kutBuilt).filter((n) => wanted(`kut:${n}`));
	if (ids.length === 0 && kutNames.length === 0) return;

	const session =
		target.ssh === undefined
			? undefined
			: await openSshSession(target.ssh, process.env, `${ctx.runId}-${cellId}`, signal);
	if (session !== undefined)
		ctx.note(
			cellId,
			`ssh target: ran on ${session.shell.where}'s kernel ${session.kernel}; ${c.kernel.id} was not built or booted`,
		);
	const shell = session?.shell ?? localShell;
	const cwd = session?.dir ?? os.tmpdir();
	// What runs there now, journaled with the machine's boot: if it goes down, this names the test.
	const bootId = session === undefined ? localBootId() : await bootIdOf(shell, cwd);
	const open = new Map<string, { readonly suite: TestResult["suite"]; readonly testId: string }>();
	const started = (suite: TestResult["suite"], testId: string) => {
		open.set(`${suite}:${testId}`, { suite, testId });
		if (bootId !== undefined)
			pass.started(suite, testId, {
				where: shell.where,
				bootId,
				...(session === undefined ? { host: os.hostname() } : {}),
			});
	};
	const finished = (result: TestResult) => {
		open.delete(`${result.suite}:${result.testId}`);
		report(result);
	};
	try {
		await withKvmParams(
			ctx,
			cellId,
			target,
			{ shell, cwd },
			async (setup) => {
				if (setup.kind === "refused") throw new KvmParamsError(setup.reason);
				if (setup.kind === "skip") {
					const skip = (suite: TestResult["suite"], testId: string) =>
						report({ suite, testId, status: "skip", durationMs: 0, attempt: 1, detail: setup.reason });
					for (const id of ids) skip("selftests", id);
					for (const n of kutNames) skip("kut", n);
					return;
				}
				try {
					await runSuitesThere();
				} finally {
					// Before the machine's KVM is put back: the cell's own QEMUs there must not hold it.
					await session?.stopAll();
				}
			},
			signal,
		);
	} catch (error) {
		if (error instanceof ConnectionLostError && !signal.aborted) throw lostWhile(error, [...open.values()], finished);
		throw error;
	} finally {
		const problem = await session?.close();
		if (problem !== undefined) ctx.note(cellId, problem);
	}

	async function runSuitesThere(): Promise<void> {
		const machine = session === undefined ? ctx.hostQueue : remoteQueue(ctx, session);
		if (selftests !== undefined && ids.length > 0) {
			const { built } = selftests;
			await runSelftestsDirect({
				shell,
				dir: session === undefined ? built.outputDir : await session.push(built.outputDir, "selftests"),
				cwd: session?.dir ?? os.tmpdir(),
				build: built,
				tests: ids.map((id) => ({ id, timeoutS: selftests.timeoutS })),
				logDir: pass.logDir("selftests"),
				parallel: selftests.suite.parallel,
				queue: machine,
				signal,
				onStart: (id) => started("selftests", id),
				onResult: finished,
			});
		}
		if (kut !== undefined && kutBuilt !== undefined && kutNames.length > 0) {
			const dir = session === undefined ? kutBuilt.dir : await session.push(kutBuilt.dir, "kut");
			if (session !== undefined) await relocateKut(session, dir);
			// Host KUT tests are KUT's own QEMUs, sized by their cfg entries, not by the target's guests.
			const slots = Math.min(
				kutSlots(session?.cpus ?? ctx.cpus, smpsOf(kutBuilt, kutNames)),
				session === undefined ? Number.POSITIVE_INFINITY : MAX_REMOTE_COMMANDS,
			);
			if (session === undefined) ctx.hostQueue.concurrency = slots;
			const where = session === undefined ? "" : `@${session.shell.where.replace(/[^A-Za-z0-9._-]+/g, "_")}`;
			// Kept per KUT repository: two matrices may both call different KUT trees `kut`.
			const durations = `${await repositoryKey(await ctx.repoOf(kut.tree))}${where}.json`;
			await runKutOnHost({
				dir,
				tests: kutNames,
				argsFor: kutArgs(matrix, kutBuilt),
				timeoutSFor: kutTimeouts(matrix, kutBuilt),
				...(kut.accel === "auto" ? {} : { accel: kut.accel }),
				logRoot: pass.logDir("kut"),
				parallel: slots,
				queue: machine,
				...(session === undefined
					? {}
					: {
							remote: {
								shell: session.shell,
								scratch: `${session.dir}/logs`,
								pull: (from, to) => session.pull(from, to),
							},
						}),
				durationsFile: path.join(cache.root, "kut-durations", durations),
				signal,
				onStart: (name) => started("kut", name),
				onResult: finished,
			});
		}
	}
}
