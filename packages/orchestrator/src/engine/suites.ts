// The VM stage of one cell: selftests in guests (N at a time for `parallel: N`), KUT in a guest or
// on a running kernel (running-kernel.ts). Every result is journaled the moment it is known, before any view hears of it.
import os from "node:os";
import path from "node:path";
import { type BootOutcome, readingText } from "@kvm-matrix/qemu-runner";
import type { TestResult } from "../events/types.js";
import { runKutInGuest } from "../kut/run-guest.js";
import { localShell } from "../remote/shell.js";
import { runSelftests } from "../selftests/run.js";
import type { SuitesEvent, SuitesPass } from "./cell-machine.js";
import type { RunContext } from "./context.js";
import { selftestGuests } from "./guests.js";
import type { JobRunner } from "./jobs.js";
import { kutArgs, kutSelection, kutSlots, kutTimeouts, smpsOf } from "./kut-selection.js";
import { withKvmParams } from "./kvm-params.js";
import { runOnRunningKernel } from "./running-kernel.js";
import { cellSelftests } from "./selftest-selection.js";
import { neverRan, withUnbootedRetry } from "./unbooted-retry.js";

export async function runSuites(
	ctx: RunContext,
	jobs: JobRunner,
	pass: SuitesPass,
	send: (event: SuitesEvent) => void,
	cellSignal: AbortSignal,
): Promise<void> {
	const { cellId, prepared, attempt, only, skip } = pass;
	const { matrix, cache } = ctx;
	const c = ctx.cell(cellId);
	const report = (raw: TestResult) => {
		const result = { ...raw, attempt };
		ctx.runDir.append({ type: "test-result", cell: cellId, result });
		ctx.bus.emit({ type: "test-result", at: Date.now(), cellId, result });
		send({ type: "RESULT", result });
	};
	// A retry runs only the tests that failed; a resumed cell only the tests the journal lacks.
	const done = new Set(skip ?? []);
	const wanted = (key: string) => (only === undefined || only.includes(key)) && !done.has(key);
	// Logs of a retry go next to the first attempt's; a resumed pass's next to the killed one's.
	const attemptDir = (suite: string) =>
		path.join(
			ctx.runDir.cellDir(cellId),
			suite,
			ctx.resumes > 0 ? `resumed-${ctx.resumes}` : "",
			pass.pass > 1 ? `attempt-${attempt}${pass.pass > attempt ? `-boot-${pass.pass}` : ""}` : "",
		);
	const both = AbortSignal.any([ctx.signal, cellSignal]);
	const consoleLine = (line: string) =>
		ctx.bus.emit({ type: "log-line", at: Date.now(), subject: { kind: "cell", id: cellId }, stream: "console", line });
	const kut = matrix.suites.kut;
	// What a boot tells about the cell, recorded with it: logs the disk refused, and what KVM took
	// for the cell's parameter set, read back in the guest.
	const bootNotes = (outcome: BootOutcome) => {
		if (outcome.logFailures !== undefined)
			ctx.note(cellId, `guest logs not written to the end: ${outcome.logFailures.join(", ")}`);
		const read = outcome.moduleParams;
		if (read.length === 0 || outcome.paramsRefused !== undefined) return;
		const took = read.filter((r) => r.missing === undefined);
		const other = read.filter((r) => r.missing === "vendor");
		const notHere =
			other.length === 0
				? ""
				: `; not for this CPU (${other[0]?.cpu ?? "?"}): ${other.map((r) => `${r.module}.${r.param}=${r.value}`).join(", ")}`;
		ctx.note(cellId, `parameter set ${c.target.params ?? ""}: KVM took ${took.map(readingText).join(", ")}${notHere}`);
	};

	if (c.target.host) {
		send({ type: "RUNNING" });
		await runOnRunningKernel(ctx, jobs, {
			cellId,
			target: c.target,
			wanted,
			logDir: attemptDir,
			signal: both,
			report,
			started: (suite, testId, machine) =>
				ctx.runDir.append({ type: "test-started", cell: cellId, suite, testId, attempt, machine }),
		});
		return;
	}

	// Guests use this machine's KVM: not while a host cell has its modules reloaded, nor under a
	// set a killed run left applied here (restored first, and said).
	const inGuests = async () => {
		const kutInGuest = async () => {
			if (kut === undefined || c.jobs.kut === undefined) return;
			const built = await jobs.kutBuild(c.jobs.kut);
			const names = kutSelection(matrix, built).filter((n) => wanted(`kut:${n}`));
			if (names.length === 0) return;
			// Inside the guest, KUT's QEMUs share the guest's vCPUs as they share the host's on a host target.
			const sideBySide = kutSlots(c.target.qemu.smp, smpsOf(built, names));
			await ctx.vmQueue.add(
				async () => {
					const run = await runKutInGuest({
						kernel: prepared.kernel,
						target: c.target,
						dir: built.dir,
						tests: names,
						sideBySide,
						argsFor: kutArgs(matrix, built),
						...(kut.accel === "auto" ? {} : { accel: kut.accel }),
						timeoutSFor: kutTimeouts(matrix, built),
						logDir: attemptDir("kut"),
						cacheDir: path.join(cache.root, "qemu"),
						signal: both,
						onConsoleLine: consoleLine,
						onResult: report,
					});
					for (const n of run.notes) ctx.note(cellId, n);
					ctx.accelUsed(cellId, run.boot.accel, run.boot.accelWarning);
					bootNotes(run.boot);
					for (const b of run.boots)
						if (b.kind !== "completed") ctx.note(cellId, `kvm-unit-tests guest: ${b.kind}: ${b.summary}`);
				},
				{ signal: both },
			);
		};

		const selection = await cellSelftests(ctx, jobs, cellId, wanted);
		if (selection === undefined || selection.ids.length === 0) {
			send({ type: "RUNNING" });
			await kutInGuest();
			return;
		}
		const { suite, built, ids, timeoutS } = selection;
		// `parallel: N` runs N tests side by side in each guest; the cell's tests are spread over as
		// many guests as its share of the machine's guest slots allows and the tests are worth.
		const guestCells = ctx.cells.filter((cell) => !cell.target.host).length;
		const guests = selftestGuests(ctx.vmSlots, guestCells, ids.length, suite.parallel);
		const groups = Array.from({ length: guests }, (_, g) => ids.filter((_, i) => i % guests === g));
		await Promise.all(
			groups.map((group, g) =>
				ctx.vmQueue.add(
					async () => {
						const prefix = groups.length > 1 ? `group-${g + 1}-` : "";
						const { run, retried } = await withUnbootedRetry(
							(tryNumber, hooks) =>
								runSelftests({
									kernel: prepared.kernel,
									target: c.target,
									build: built,
									tests: group.map((id) => ({ id, timeoutS })),
									sideBySide: suite.parallel,
									logDir: attemptDir("selftests"),
									// A second boot's logs go beside the first's, which stay for a person to read.
									bootPrefix: `${prefix}${tryNumber === 2 ? "again-" : ""}`,
									cacheDir: path.join(cache.root, "qemu"),
									signal: both,
									onBoot: (phase) => {
										if (phase !== "running") return;
										hooks.onRunning();
										send({ type: "RUNNING" });
									},
									onConsoleLine: consoleLine,
									onResult: hooks.onResult,
								}),
							report,
							both,
						);
						if (retried !== undefined)
							ctx.note(
								cellId,
								`selftests guest ${prefix}boot-1: ${retried.kind}: ${retried.summary}; booted once more`,
							);
						for (const n of run.notes) ctx.note(cellId, n);
						const first = run.boots[0];
						if (first !== undefined) ctx.accelUsed(cellId, first.accel, first.accelWarning);
						if (first !== undefined) bootNotes(first);
						if (first !== undefined && group.length > 0 && neverRan(run)) {
							throw new Error(`${first.kind}: ${first.summary}`);
						}
					},
					{ signal: both },
				),
			),
		);
		await kutInGuest();
	};
	const { params: _, ...own } = c.target;
	await withKvmParams(ctx, cellId, own, { shell: localShell, cwd: os.tmpdir() }, inGuests, both);
}
