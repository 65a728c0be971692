// How host KUT tests are grouped into run_tests.sh calls. Each call costs about 0.65 s before its
// first QEMU starts (run_tests.sh reads the whole unittests.cfg and probes QEMU; measured on the
// real suite), which a short vmexit test spends again for a 1–2 s run. Tests known to be short are
// asked for together, in one call; a long test, or one with no history, gets a call of its own,
// so the slots still drain longest first and a first run schedules exactly as before.

export interface CallPlan {
	/** A test at least this long last time runs alone. */
	readonly longMs: number;
	/** A call of short tests stops growing at this much expected time... */
	readonly batchMs: number;
	/** ...or at this many tests. */
	readonly maxTests: number;
}

export const DEFAULT_CALL_PLAN: CallPlan = { longMs: 8_000, batchMs: 8_000, maxTests: 8 };

/**
 * The calls, in the order to start them: `order` is longest first (see `longestFirst`); `keyOf`
 * says which tests can share a call (the same run_tests.sh options and TIMEOUT). A short test joins
 * the open call of its key; a call that is full is closed and a new one opened. Inside a call KUT
 * runs its tests in unittests.cfg order, so the longest ones are never put in one.
 */
export function planCalls(
	order: readonly string[],
	durations: Readonly<Record<string, number>>,
	keyOf: (name: string) => string,
	plan: CallPlan = DEFAULT_CALL_PLAN,
	/** The first this many tests (one per slot) run alone whatever their length: each slot starts with one of the longest. */
	alone = 1,
): string[][] {
	const calls: { names: string[]; ms: number }[] = [];
	const open = new Map<string, { names: string[]; ms: number }>();
	for (const [position, name] of order.entries()) {
		const ms = Object.hasOwn(durations, name) ? durations[name] : undefined;
		if (ms === undefined || ms >= plan.longMs || position < alone) {
			calls.push({ names: [name], ms: ms ?? Number.POSITIVE_INFINITY });
			continue;
		}
		const key = keyOf(name);
		let call = open.get(key);
		if (call === undefined || call.names.length >= plan.maxTests || call.ms + ms > plan.batchMs) {
			call = { names: [], ms: 0 };
			open.set(key, call);
			calls.push(call);
		}
		call.names.push(name);
		call.ms += ms;
	}
	return calls.map((c) => c.names);
}
