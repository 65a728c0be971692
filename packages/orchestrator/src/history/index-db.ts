// The history index: every run under the runs roots, folded into one SQLite database in the
// cache. The journals stay the truth: a run is (re)read when its journal's size or time changed,
// a run that went is dropped, and deleting the file rebuilds it all from the run directories.
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { runDirsUnder } from "../ci/durations.js";
import { readRunView } from "../reports/run-view.js";
import { type HistoryRun, historyRun } from "./rows.js";

type Db = Database.Database;

/** Bumped when the tables change: an index of another version is rebuilt, not migrated. */
const SCHEMA_VERSION = "1";

const SCHEMA = `
CREATE TABLE runs (
	id INTEGER PRIMARY KEY,
	dir TEXT NOT NULL UNIQUE,
	root TEXT NOT NULL,
	run_id TEXT NOT NULL,
	matrix TEXT NOT NULL,
	started TEXT NOT NULL,
	outcome TEXT NOT NULL,
	journal_size INTEGER NOT NULL,
	journal_mtime REAL NOT NULL
);
CREATE INDEX runs_root ON runs(root);
CREATE INDEX runs_started ON runs(started);
CREATE TABLE cells (
	id INTEGER PRIMARY KEY,
	run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	cell TEXT NOT NULL,
	kernel TEXT NOT NULL,
	sha TEXT,
	revision TEXT,
	target TEXT NOT NULL,
	state TEXT NOT NULL,
	failure TEXT
);
CREATE INDEX cells_run ON cells(run);
CREATE INDEX cells_cell ON cells(cell);
CREATE TABLE tests (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE results (
	cell INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
	test INTEGER NOT NULL REFERENCES tests(id),
	status TEXT NOT NULL,
	verdict TEXT,
	explanation TEXT,
	retried INTEGER NOT NULL
);
CREATE INDEX results_test ON results(test, cell);
CREATE INDEX results_cell ON results(cell);
`;

/** The history database in the cache (`<cache>/history/index.sqlite`). */
export const historyDbPath = (cacheRoot: string) => path.join(cacheRoot, "history", "index.sqlite");

export interface RefreshStats {
	readonly runs: number;
	readonly indexed: number;
	readonly dropped: number;
	/** Run directories that could not be read, with why: they are left out, said once. */
	readonly unreadable: readonly string[];
}

export class HistoryIndex {
	readonly #db: Db;
	#testIds: Map<string, number> | undefined;

	private constructor(db: Db) {
		this.#db = db;
	}

	/** Opens (making it if needed) the index at `file`; `:memory:` for one that lives with the process. */
	static open(file: string): HistoryIndex {
		if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
		try {
			return new HistoryIndex(openDb(file));
		} catch (error) {
			// A file that is not a database (tampered, torn by a full disk): it is only derived
			// from the journals, so it is made again rather than refused.
			const code = (error as { code?: unknown }).code;
			if (file === ":memory:" || (code !== "SQLITE_NOTADB" && code !== "SQLITE_CORRUPT")) throw error;
			for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
			return new HistoryIndex(openDb(file));
		}
	}

	close(): void {
		this.#db.close();
	}

	/** The database, for the queries (`queries.ts`). */
	get db(): Db {
		return this.#db;
	}

	/**
	 * Brings the index up to date with the runs under `roots` (a runs directory, or one run's):
	 * runs whose journal changed are read again, runs that went are dropped. `rebuild` reads all.
	 */
	refresh(
		roots: readonly string[],
		options: {
			readonly rebuild?: boolean;
			/** Only runs of this matrix (a run's verdicts need no other; a shared /tmp holds many). */
			readonly matrix?: string;
			/** A run directory left out (the run asking, still being written). */
			readonly exclude?: string;
		} = {},
	): RefreshStats {
		const db = this.#db;
		let indexed = 0;
		let dropped = 0;
		const unreadable: string[] = [];
		const seen = new Set<string>();
		const known = db.prepare<[string], { id: number; journal_size: number; journal_mtime: number }>(
			"SELECT id, journal_size, journal_mtime FROM runs WHERE dir = ?",
		);
		const pending: { dir: string; root: string; journal: { size: number; mtimeMs: number }; run: HistoryRun }[] = [];
		const flush = () => {
			const batch = pending.splice(0);
			if (batch.length === 0) return;
			try {
				this.#db
					.transaction(() => {
						for (const p of batch) this.#store(p.dir, p.root, p.journal, p.run);
					})
					.immediate();
			} catch (error) {
				// Rolled back as a whole: the test ids learnt meanwhile are read again from the database.
				this.#testIds = undefined;
				throw error;
			}
		};
		for (const rootArg of roots) {
			const root = path.resolve(rootArg);
			for (const dir of runDirsUnder([root]).map((d) => path.resolve(d))) {
				seen.add(dir);
				if (options.exclude !== undefined && dir === path.resolve(options.exclude)) continue;
				const journal = statOf(path.join(dir, "journal.jsonl"));
				if (journal === undefined) continue;
				const row = known.get(dir);
				if (
					options.rebuild !== true &&
					row !== undefined &&
					row.journal_size === journal.size &&
					row.journal_mtime === journal.mtimeMs
				)
					continue;
				if (options.matrix !== undefined && row === undefined && matrixOf(dir) !== options.matrix) continue;
				let run: HistoryRun | undefined;
				try {
					run = historyRun(readRunView(dir, undefined, { logTails: false }));
				} catch (error) {
					unreadable.push(`${dir}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
					continue;
				}
				if (run === undefined) continue;
				// Kept under the directory it is in, whichever root found it: `runs/` and `runs/r1` agree.
				pending.push({ dir, root: path.dirname(dir), journal, run });
				indexed++;
				// A commit per 50 runs: fast, yet no other kvm-matrix waits long on the write lock.
				if (pending.length >= 50) flush();
			}
			flush();
			// A run directory that went (removed, or moved elsewhere) leaves the index too.
			const under = db
				.prepare<[string], { id: number; dir: string }>("SELECT id, dir FROM runs WHERE root = ?")
				.all(root);
			const drop = db.prepare("DELETE FROM runs WHERE id = ?");
			for (const r of under)
				if (!seen.has(r.dir)) {
					drop.run(r.id);
					dropped++;
				}
		}
		return { runs: seen.size, indexed, dropped, unreadable };
	}

	/** Indexes one run directory (a run that just ended), whatever root it is under. */
	indexRun(dir: string): void {
		const abs = path.resolve(dir);
		const journal = statOf(path.join(abs, "journal.jsonl"));
		if (journal === undefined) return;
		const run = historyRun(readRunView(abs, undefined, { logTails: false }));
		if (run !== undefined) this.#store(abs, path.dirname(abs), journal, run);
	}

	#store(dir: string, root: string, journal: { size: number; mtimeMs: number }, run: HistoryRun): void {
		const db = this.#db;
		// Test names are few and shared by every run: looked up once per process, not once per result.
		if (this.#testIds === undefined)
			this.#testIds = new Map(
				db
					.prepare<[], { id: number; name: string }>("SELECT id, name FROM tests")
					.all()
					.map((t) => [t.name, t.id]),
			);
		const testIds = this.#testIds;
		const added: string[] = [];
		// Another kvm-matrix may add the same name meanwhile: insert if new, then read its id.
		const addTest = db.prepare("INSERT OR IGNORE INTO tests (name) VALUES (?)");
		const findTest = db.prepare<[string], number>("SELECT id FROM tests WHERE name = ?").pluck();
		const idOf = (name: string) => {
			let id = testIds.get(name);
			if (id === undefined) {
				addTest.run(name);
				id = findTest.get(name);
				if (id === undefined) throw new Error(`the history index lost test ${name}`);
				testIds.set(name, id);
				added.push(name);
			}
			return id;
		};
		const store = db.transaction(() => {
			db.prepare("DELETE FROM runs WHERE dir = ?").run(dir);
			const runRow = db
				.prepare(
					"INSERT INTO runs (dir, root, run_id, matrix, started, outcome, journal_size, journal_mtime) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				)
				.run(dir, root, run.runId, run.matrix, run.started, run.outcome, journal.size, journal.mtimeMs);
			const addCell = db.prepare(
				"INSERT INTO cells (run, cell, kernel, sha, revision, target, state, failure) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			);
			const cellIds = new Map<string, number>();
			for (const c of run.cells) {
				const info = addCell.run(
					runRow.lastInsertRowid,
					c.cell,
					c.kernel,
					c.sha ?? null,
					c.revision ?? null,
					c.target,
					c.state,
					c.failure === undefined ? null : JSON.stringify(c.failure),
				);
				cellIds.set(c.cell, Number(info.lastInsertRowid));
			}
			const addResult = db.prepare(
				"INSERT INTO results (cell, test, status, verdict, explanation, retried) VALUES (?, ?, ?, ?, ?, ?)",
			);
			for (const r of run.results) {
				const cell = cellIds.get(r.cell);
				if (cell === undefined) continue;
				addResult.run(cell, idOf(r.test), r.status, r.verdict ?? null, r.explanation ?? null, r.passedOnRetry ? 1 : 0);
			}
		});
		try {
			store.immediate();
		} catch (error) {
			// Rolled back: the ids of tests it added are not in the database any more.
			for (const name of added) testIds.delete(name);
			throw error;
		}
	}
}

/** A run's matrix name from its plan.json, as reports name it; undefined when it cannot be read. */
function matrixOf(dir: string): string | undefined {
	try {
		const plan = JSON.parse(readFileSync(path.join(dir, "plan.json"), "utf8")) as { name?: unknown; matrix?: unknown };
		if (typeof plan.name === "string") return plan.name;
		return typeof plan.matrix === "string" ? path.basename(plan.matrix).replace(/\.ya?ml$/, "") : undefined;
	} catch {
		return undefined;
	}
}

function openDb(file: string): Db {
	const db = new Database(file);
	try {
		db.pragma("busy_timeout = 30000");
		if (file !== ":memory:") db.pragma("journal_mode = WAL");
		// The index is derived: a commit lost to a power cut is read again from its journal.
		db.pragma("synchronous = NORMAL");
		db.pragma("foreign_keys = ON");
		const version = () =>
			tableExists(db, "meta")
				? (db.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get() as string | undefined)
				: undefined;
		if (version() !== SCHEMA_VERSION)
			// Checked again under the write lock: two first openers make the tables once.
			db.transaction(() => {
				if (version() === SCHEMA_VERSION) return;
				for (const t of ["results", "tests", "cells", "runs", "meta"]) db.exec(`DROP TABLE IF EXISTS ${t}`);
				db.exec(SCHEMA);
				db.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
				db.prepare("INSERT INTO meta VALUES ('schema', ?)").run(SCHEMA_VERSION);
			}).immediate();
		return db;
	} catch (error) {
		db.close();
		throw error;
	}
}

function tableExists(db: Db, name: string): boolean {
	return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

function statOf(file: string): { size: number; mtimeMs: number } | undefined {
	try {
		const s = statSync(file);
		return { size: s.size, mtimeMs: s.mtimeMs };
	} catch {
		return undefined;
	}
}

/**
 * Adds a run that just ended to the history index. The index is derived, so a failure here is a
 * line for the user (the next `history` command reads the run from its journal), never the run's.
 */
export function indexEndedRun(cacheRoot: string, dir: string): string | undefined {
	let index: HistoryIndex | undefined;
	try {
		index = HistoryIndex.open(historyDbPath(cacheRoot));
		index.indexRun(dir);
		return undefined;
	} catch (error) {
		return `the history index was not updated (${error instanceof Error ? error.message.split("\n")[0] : String(error)}); \`kvm-matrix history\` reads the run from its journal`;
	} finally {
		index?.close();
	}
}
