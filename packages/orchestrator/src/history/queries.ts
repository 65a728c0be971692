// The questions `kvm-matrix history` answers, as SQL over the index. Every query is limited to
// the runs under the roots asked about, so one cache can serve many runs directories.
import path from "node:path";
import type { TestStatus } from "../events/types.js";
import type { HistoryIndex } from "./index-db.js";

/** One result of a test in one run: a point on its timeline. */
export interface TimelineEntry {
	readonly runId: string;
	readonly dir: string;
	readonly started: string;
	readonly cell: string;
	readonly kernel: string;
	readonly sha?: string;
	readonly target: string;
	readonly test: string;
	readonly status: TestStatus;
	readonly verdict?: string;
	readonly explanation?: string;
	/** Failed first and passed on a retry in that run. */
	readonly retried: boolean;
}

export interface TimelineFilter {
	/** A kernel id (`kvm@next`) or a commit (or its first 7+ characters). */
	readonly kernel?: string;
	readonly target?: string;
	/** Only runs that started at or after this ISO time. */
	readonly since?: string;
}

interface TimelineRow {
	run_id: string;
	dir: string;
	started: string;
	cell: string;
	kernel: string;
	sha: string | null;
	target: string;
	test: string;
	status: TestStatus;
	verdict: string | null;
	explanation: string | null;
	retried: number;
}

/** `WHERE` text and parameters that keep a query to the runs under `roots`. */
function rootsClause(roots: readonly string[]): { sql: string; params: string[] } {
	const abs = roots.map((r) => path.resolve(r));
	const marks = abs.map(() => "?").join(", ");
	return { sql: `(u.root IN (${marks}) OR u.dir IN (${marks}))`, params: [...abs, ...abs] };
}

/**
 * `TEST` as the user wrote it: `kut:vmx` exactly, or a bare `vmx` / `x86_64/cpuid_test` in any
 * suite. The ids of the tests it names.
 */
export function testIds(index: HistoryIndex, test: string): number[] {
	const exact = index.db.prepare<[string], number>("SELECT id FROM tests WHERE name = ?").pluck().all(test);
	if (exact.length > 0 || /^(kut|selftests):/.test(test)) return exact;
	return index.db
		.prepare<[string], number>("SELECT id FROM tests WHERE substr(name, instr(name, ':') + 1) = ?")
		.pluck()
		.all(test);
}

/** Every result of `test` under `roots`, oldest run first. */
export function timeline(
	index: HistoryIndex,
	roots: readonly string[],
	test: string,
	filter: TimelineFilter = {},
): TimelineEntry[] {
	const ids = testIds(index, test);
	if (ids.length === 0) return [];
	const where = rootsClause(roots);
	const params: (string | number)[] = [...ids, ...where.params];
	let sql = `SELECT u.run_id, u.dir, u.started, c.cell, c.kernel, c.sha, c.target, t.name AS test,
			r.status, r.verdict, r.explanation, r.retried
		FROM results r JOIN cells c ON c.id = r.cell JOIN runs u ON u.id = c.run JOIN tests t ON t.id = r.test
		WHERE r.test IN (${ids.map(() => "?").join(", ")}) AND ${where.sql}`;
	if (filter.kernel !== undefined) {
		// A commit (7 to 40 hex digits) matches by prefix; anything else is a kernel id.
		if (/^[0-9a-f]{7,40}$/i.test(filter.kernel)) {
			sql += " AND (c.kernel = ? OR c.sha LIKE ? || '%')";
			params.push(filter.kernel, filter.kernel.toLowerCase());
		} else {
			sql += " AND c.kernel = ?";
			params.push(filter.kernel);
		}
	}
	if (filter.target !== undefined) {
		sql += " AND c.target = ?";
		params.push(filter.target);
	}
	if (filter.since !== undefined) {
		sql += " AND u.started >= ?";
		params.push(filter.since);
	}
	sql += " ORDER BY u.started, u.run_id, c.cell, t.name";
	return index.db
		.prepare<(string | number)[], TimelineRow>(sql)
		.all(...params)
		.map(entryOf);
}

function entryOf(r: TimelineRow): TimelineEntry {
	return {
		runId: r.run_id,
		dir: r.dir,
		started: r.started,
		cell: r.cell,
		kernel: r.kernel,
		...(r.sha === null ? {} : { sha: r.sha }),
		target: r.target,
		test: r.test,
		status: r.status,
		...(r.verdict === null ? {} : { verdict: r.verdict }),
		...(r.explanation === null ? {} : { explanation: r.explanation }),
		retried: r.retried === 1,
	};
}

/** A test whose result changed on one kernel build and target: how often it failed there. */
export interface FlakyTest {
	readonly test: string;
	readonly kernel: string;
	readonly sha?: string;
	/** The kernel build the runs share (commit and config, or a prebuilt image's key). */
	readonly revision: string;
	readonly target: string;
	/** Runs that gave it a pass or a failure there. */
	readonly runs: number;
	/** Of those, runs in which it failed (a pass after a retry included). */
	readonly failed: number;
	readonly rate: number;
	/** The runs, oldest first, with what the test did in each. */
	readonly seen: readonly { readonly runId: string; readonly status: TestStatus; readonly retried: boolean }[];
}

const FAILING = "('fail', 'timeout', 'crash')";

/**
 * Tests that both passed and failed on an unchanged kernel (same commit and config) and target,
 * in runs that started at or after `since`. An `error` or `skip` says nothing of the test, so it
 * counts neither way. Worst rate first.
 */
export function flakyTests(
	index: HistoryIndex,
	roots: readonly string[],
	since?: string,
	only: { readonly matrix?: string; readonly until?: string } = {},
): FlakyTest[] {
	const where = rootsClause(roots);
	const params: string[] = [...where.params];
	let filter = "";
	if (since !== undefined) {
		filter = " AND u.started >= ?";
		params.push(since);
	}
	if (only.until !== undefined) {
		filter += " AND u.started <= ?";
		params.push(only.until);
	}
	if (only.matrix !== undefined) {
		filter += " AND u.matrix = ?";
		params.push(only.matrix);
	}
	// Driven from the runs (by time), then their cells and results, so a window reads only its
	// runs; the groups and their runs come back in one statement, not one per flaky test.
	const window = `FROM runs u JOIN cells c ON c.run = u.id JOIN results r ON r.cell = c.id
			WHERE ${where.sql}${filter} AND c.revision IS NOT NULL AND r.status IN ('pass', 'fail', 'timeout', 'crash')`;
	const rows = index.db
		.prepare<
			string[],
			{
				test: number;
				name: string;
				revision: string;
				target: string;
				kernel: string;
				sha: string | null;
				run_id: string;
				status: TestStatus;
				retried: number;
			}
		>(
			`WITH seen AS (SELECT r.test, c.revision, c.target, c.kernel, c.sha, u.run_id, u.started, r.status, r.retried ${window}),
			flaky AS (
				SELECT test, revision, target FROM seen GROUP BY test, revision, target
				HAVING SUM(status IN ${FAILING} OR retried = 1) > 0
					AND (SUM(status = 'pass' AND retried = 0) > 0 OR SUM(retried) > 0)
			)
			SELECT s.test, t.name, s.revision, s.target, s.kernel, s.sha, s.run_id, s.status, s.retried
			FROM seen s JOIN flaky f ON f.test = s.test AND f.revision = s.revision AND f.target = s.target
				JOIN tests t ON t.id = s.test
			ORDER BY s.test, s.revision, s.target, s.started, s.run_id`,
		)
		.all(...params);
	const groups = new Map<string, FlakyTest & { seen: FlakyTest["seen"][number][] }>();
	for (const r of rows) {
		const key = `${r.test}\u0000${r.revision}\u0000${r.target}`;
		let g = groups.get(key);
		if (g === undefined) {
			g = {
				test: r.name,
				kernel: r.kernel,
				...(r.sha === null ? {} : { sha: r.sha }),
				revision: r.revision,
				target: r.target,
				runs: 0,
				failed: 0,
				rate: 0,
				seen: [],
			};
			groups.set(key, g);
		}
		g.seen.push({ runId: r.run_id, status: r.status, retried: r.retried === 1 });
	}
	return [...groups.values()]
		.map((g) => {
			const failed = g.seen.filter((x) => x.retried || x.status !== "pass").length;
			return { ...g, runs: g.seen.length, failed, rate: failed / g.seen.length };
		})
		.sort((a, b) => b.rate - a.rate || b.runs - a.runs || (a.test < b.test ? -1 : a.test > b.test ? 1 : 0));
}

/** What earlier runs saw of some tests on one kernel build and target: the question a run's verdicts ask once per cell. */
export function earlierOnRevision(
	index: HistoryIndex,
	roots: readonly string[],
	query: {
		readonly matrix: string;
		readonly revision: string;
		readonly target: string;
		readonly before: string;
		readonly tests: readonly string[];
	},
): Map<string, { readonly runId: string; readonly status: TestStatus; readonly retried: boolean }[]> {
	const out = new Map<string, { runId: string; status: TestStatus; retried: boolean }[]>();
	if (query.tests.length === 0) return out;
	const where = rootsClause(roots);
	const rows = index.db
		.prepare<(string | number)[], { name: string; run_id: string; status: TestStatus; retried: number }>(
			`SELECT t.name, u.run_id, r.status, r.retried
			FROM runs u JOIN cells c ON c.run = u.id JOIN results r ON r.cell = c.id JOIN tests t ON t.id = r.test
			WHERE ${where.sql} AND u.matrix = ? AND c.revision = ? AND c.target = ? AND u.started < ?
				AND t.name IN (${query.tests.map(() => "?").join(", ")})
			ORDER BY u.started, u.run_id`,
		)
		.all(...where.params, query.matrix, query.revision, query.target, query.before, ...query.tests);
	for (const r of rows) {
		const list = out.get(r.name) ?? [];
		list.push({ runId: r.run_id, status: r.status, retried: r.retried === 1 });
		out.set(r.name, list);
	}
	return out;
}

/**
 * The newest earlier run of `matrix` in which `cell`'s kernel built (`built`: the cell got past
 * its build) or booted (`booted`: some test there did more than error), whatever runs that did
 * not came between: a kernel broken for three nights is still compared with the last that worked.
 */
export function lastGoodRunOfCell(
	index: HistoryIndex,
	roots: readonly string[],
	query: { readonly matrix: string; readonly cell: string; readonly before: string; readonly need: "built" | "booted" },
): { readonly runId: string; readonly kernel: string; readonly sha?: string } | undefined {
	const where = rootsClause(roots);
	const good =
		query.need === "built"
			? "(c.state = 'done' OR (c.failure IS NOT NULL AND json_extract(c.failure, '$.stage') NOT IN ('queued', 'checkout', 'build')))"
			: "EXISTS (SELECT 1 FROM results r WHERE r.cell = c.id AND r.status != 'error')";
	const row = index.db
		.prepare<string[], { run_id: string; kernel: string; sha: string | null }>(
			`SELECT u.run_id, c.kernel, c.sha
			FROM runs u JOIN cells c ON c.run = u.id
			WHERE ${where.sql} AND u.matrix = ? AND c.cell = ? AND u.started < ? AND ${good}
			ORDER BY u.started DESC, u.run_id DESC LIMIT 1`,
		)
		.get(...where.params, query.matrix, query.cell, query.before);
	return row === undefined
		? undefined
		: { runId: row.run_id, kernel: row.kernel, ...(row.sha === null ? {} : { sha: row.sha }) };
}

/**
 * Each of `cells`' last earlier run of `matrix` with results (not carried, not cancelled before
 * its tests): its kernel and every final result, for `baseline: history`. One statement.
 */
export function lastResultsOfCells(
	index: HistoryIndex,
	roots: readonly string[],
	query: { readonly matrix: string; readonly cells: readonly string[]; readonly before: string },
): Map<
	string,
	{
		readonly runId: string;
		readonly kernel: string;
		readonly sha?: string;
		readonly results: readonly { readonly test: string; readonly status: TestStatus; readonly retried: boolean }[];
	}
> {
	const out = new Map<
		string,
		{ runId: string; kernel: string; sha?: string; results: { test: string; status: TestStatus; retried: boolean }[] }
	>();
	if (query.cells.length === 0) return out;
	const where = rootsClause(roots);
	const rows = index.db
		.prepare<
			string[],
			{
				cell: string;
				run_id: string;
				kernel: string;
				sha: string | null;
				name: string;
				status: TestStatus;
				retried: number;
			}
		>(
			`WITH last AS (
				SELECT c.cell, c.id, u.run_id, c.kernel, c.sha,
					ROW_NUMBER() OVER (PARTITION BY c.cell ORDER BY u.started DESC, u.run_id DESC) AS n
				FROM runs u JOIN cells c ON c.run = u.id
				WHERE ${where.sql} AND u.matrix = ? AND u.started < ?
					AND c.cell IN (${query.cells.map(() => "?").join(", ")})
					AND EXISTS (SELECT 1 FROM results r WHERE r.cell = c.id)
			)
			SELECT l.cell, l.run_id, l.kernel, l.sha, t.name, r.status, r.retried
			FROM last l JOIN results r ON r.cell = l.id JOIN tests t ON t.id = r.test
			WHERE l.n = 1`,
		)
		.all(...where.params, query.matrix, query.before, ...query.cells);
	for (const r of rows) {
		let cell = out.get(r.cell);
		if (cell === undefined) {
			cell = { runId: r.run_id, kernel: r.kernel, ...(r.sha === null ? {} : { sha: r.sha }), results: [] };
			out.set(r.cell, cell);
		}
		cell.results.push({ test: r.name, status: r.status, retried: r.retried === 1 });
	}
	return out;
}

/** The runs under `roots`, oldest first (since `since`, when given). */
export function indexedRuns(
	index: HistoryIndex,
	roots: readonly string[],
	since?: string,
	matrix?: string,
): { readonly dir: string; readonly runId: string; readonly started: string; readonly matrix: string }[] {
	const where = rootsClause(roots);
	return index.db
		.prepare<string[], { dir: string; run_id: string; started: string; matrix: string }>(
			`SELECT u.dir, u.run_id, u.started, u.matrix FROM runs u WHERE ${where.sql}${since === undefined ? "" : " AND u.started >= ?"}${matrix === undefined ? "" : " AND u.matrix = ?"}
			ORDER BY u.started, u.run_id`,
		)
		.all(...where.params, ...(since === undefined ? [] : [since]), ...(matrix === undefined ? [] : [matrix]))
		.map((r) => ({ dir: r.dir, runId: r.run_id, started: r.started, matrix: r.matrix }));
}
