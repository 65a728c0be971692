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
		sql += " AND (c.kernel = ? OR (length(?) >= 7 AND c.sha LIKE ? || '%'))";
		params.push(filter.kernel, filter.kernel, filter.kernel.toLowerCase().replace(/[^0-9a-f]/g, ""));
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
export function flakyTests(index: HistoryIndex, roots: readonly string[], since?: string): FlakyTest[] {
	const where = rootsClause(roots);
	const params: string[] = [...where.params];
	let filter = "";
	if (since !== undefined) {
		filter = " AND u.started >= ?";
		params.push(since);
	}
	// Driven from the runs (by time), then their cells and results, so a window reads only its runs.
	const groups = index.db
		.prepare<string[], { test: number; revision: string; target: string; runs: number; failed: number }>(
			`SELECT r.test, c.revision, c.target,
				SUM(r.status = 'pass' OR r.status IN ${FAILING}) AS runs,
				SUM(r.status IN ${FAILING} OR r.retried = 1) AS failed
			FROM runs u JOIN cells c ON c.run = u.id JOIN results r ON r.cell = c.id
			WHERE ${where.sql}${filter} AND c.revision IS NOT NULL AND r.status IN ('pass', 'fail', 'timeout', 'crash')
			GROUP BY r.test, c.revision, c.target
			HAVING failed > 0 AND (runs > failed OR SUM(r.retried) > 0)`,
		)
		.all(...params);
	const detail = index.db.prepare<
		(string | number)[],
		{ name: string; kernel: string; sha: string | null; run_id: string; status: TestStatus; retried: number }
	>(
		`SELECT t.name, c.kernel, c.sha, u.run_id, r.status, r.retried
		FROM results r JOIN cells c ON c.id = r.cell JOIN runs u ON u.id = c.run JOIN tests t ON t.id = r.test
		WHERE r.test = ? AND c.revision = ? AND c.target = ? AND ${where.sql}${filter}
			AND r.status IN ('pass', 'fail', 'timeout', 'crash')
		ORDER BY u.started, u.run_id`,
	);
	return groups
		.map((g) => {
			const rows = detail.all(g.test, g.revision, g.target, ...params);
			const first = rows[0];
			return {
				test: first?.name ?? String(g.test),
				kernel: first?.kernel ?? "",
				...(first?.sha == null ? {} : { sha: first.sha }),
				revision: g.revision,
				target: g.target,
				runs: g.runs,
				failed: g.failed,
				rate: g.runs === 0 ? 0 : g.failed / g.runs,
				seen: rows.map((r) => ({ runId: r.run_id, status: r.status, retried: r.retried === 1 })),
			};
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
