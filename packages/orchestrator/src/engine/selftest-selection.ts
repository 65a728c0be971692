// The selftests a cell runs in this pass: its suite's build, and the tests the suite's globs
// select that this pass still wants (a retry's failures, a resumed cell's missing ones).
import type { SelftestsSuite } from "../matrix/types.js";
import type { SelftestsBuild } from "../selftests/build.js";
import { selectTests } from "../selftests/guest-script.js";
import type { RunContext } from "./context.js";
import type { JobRunner } from "./jobs.js";

export interface CellSelftests {
	readonly suite: SelftestsSuite;
	readonly built: SelftestsBuild;
	readonly ids: readonly string[];
	/** The suite's timeout, else the tree's `settings` one. */
	readonly timeoutS: number;
}

export async function cellSelftests(
	ctx: RunContext,
	jobs: JobRunner,
	cellId: string,
	wanted: (key: string) => boolean,
): Promise<CellSelftests | undefined> {
	const suite = ctx.matrix.suites.selftests;
	const job = ctx.cell(cellId).jobs.selftests;
	if (suite === undefined || job === undefined) return undefined;
	const built = await jobs.selftestsBuild(job);
	const ids = selectTests(
		built.tests.map((t) => t.id),
		suite.include,
		suite.exclude,
	).filter((id) => wanted(`selftests:${id}`));
	const timeoutS = suite.timeoutMs === undefined ? built.defaultTimeoutS : Math.ceil(suite.timeoutMs / 1000);
	return { suite, built, ids, timeoutS };
}
