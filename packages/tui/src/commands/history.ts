import { writeFileSync } from "node:fs";
import path from "node:path";
import {
	cacheRoot,
	type FirstFailure,
	type FlakyTest,
	firstFailures,
	flakyTests,
	HistoryIndex,
	historyDbPath,
	makeDirectory,
	parseSince,
	renderHistoryPage,
	type TimelineEntry,
	timeline,
} from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";

export interface HistoryOptions {
	readonly runs: readonly string[];
	readonly kernel?: string;
	readonly target?: string;
	readonly flaky: boolean;
	readonly since?: string;
	readonly firstFailure: boolean;
	readonly json: boolean;
	readonly rebuild: boolean;
	/** Write the history page to DIR/index.html. */
	readonly html?: string;
}

const DEFAULT_RUNS = "runs";

const short = (sha: string | undefined) => (sha === undefined ? "-" : sha.slice(0, 12));
const day = (iso: string) => iso.slice(0, 16).replace("T", " ");
const percent = (rate: number) => `${Math.round(rate * 100)}%`;

function fail(io: CliIo, message: string): ExitCode {
	io.stderr(`kvm-matrix history: ${message}\n`);
	return EXIT.usage;
}

/**
 * `kvm-matrix history`: a test's timeline across runs, the flaky tests, or when a test started
 * failing, from the index of every run under `--runs` (brought up to date first).
 */
export async function historyCommand(test: string | undefined, options: HistoryOptions, io: CliIo): Promise<ExitCode> {
	const roots = (options.runs.length === 0 ? [DEFAULT_RUNS] : options.runs).map((r) => path.resolve(io.cwd, r));
	if (options.flaky && (test !== undefined || options.firstFailure))
		return fail(io, "--flaky lists every flaky test: give it no TEST and no --first-failure");
	if (options.html !== undefined && (test !== undefined || options.flaky || options.firstFailure))
		return fail(io, "--html writes the whole history page: give it no TEST, --flaky or --first-failure");
	if (!options.flaky && test === undefined && options.html === undefined)
		return fail(io, "give a TEST (e.g. kut:vmx or selftests:x86_64/cpuid_test), or --flaky");
	let since: string | undefined;
	if (options.since !== undefined) {
		const parsed = parseSince(options.since, new Date());
		if (!parsed.ok) return fail(io, parsed.error);
		since = parsed.since;
	}
	let index: HistoryIndex;
	try {
		index = HistoryIndex.open(historyDbPath(cacheRoot(io.env)));
	} catch (error) {
		return fail(io, `the history index cannot be opened: ${error instanceof Error ? error.message : String(error)}`);
	}
	try {
		const stats = index.refresh(roots, { rebuild: options.rebuild });
		if (stats.runs === 0)
			return fail(io, `no runs under ${roots.join(", ")} (give the runs directory with --runs DIR)`);
		for (const line of stats.unreadable) io.stderr(`kvm-matrix history: left out: ${line}\n`);
		if (options.html !== undefined) {
			const out = path.resolve(io.cwd, options.html);
			const file = path.join(out, "index.html");
			try {
				makeDirectory(out);
				writeFileSync(file, renderHistoryPage(index, roots, since === undefined ? {} : { since }));
			} catch (error) {
				return fail(io, `${file} not written: ${error instanceof Error ? error.message : String(error)}`);
			}
			io.stderr(`kvm-matrix history: the history page of ${stats.runs} runs in ${file}\n`);
			return EXIT.ok;
		}
		if (options.flaky) {
			const flaky = flakyTests(index, roots, since);
			io.stdout(options.json ? json({ since: since ?? null, flaky }) : flakyText(flaky, options.since));
			return EXIT.ok;
		}
		const filter = {
			...(options.kernel === undefined ? {} : { kernel: options.kernel }),
			...(options.target === undefined ? {} : { target: options.target }),
			...(since === undefined ? {} : { since }),
		};
		const entries = timeline(index, roots, test as string, filter);
		if (options.firstFailure) {
			const found = firstFailures(entries);
			io.stdout(
				options.json ? json({ test, firstFailure: found }) : firstFailureText(test as string, found, stats.runs),
			);
			return EXIT.ok;
		}
		io.stdout(options.json ? json({ test, results: entries }) : timelineText(test as string, entries, stats.runs));
		return EXIT.ok;
	} catch (error) {
		// A runs root that is a file or cannot be read, an index another process holds too long.
		return fail(io, error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error));
	} finally {
		index.close();
	}
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

function table(rows: readonly (readonly string[])[]): string[] {
	const widths: number[] = [];
	for (const row of rows) for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
	return rows.map((row) =>
		row
			.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
			.join("  ")
			.trimEnd(),
	);
}

function timelineText(test: string, entries: readonly TimelineEntry[], runs: number): string {
	if (entries.length === 0) return `${test}: no result in the ${runs} runs indexed\n`;
	const lines = table(
		entries.map((e) => [
			day(e.started),
			e.runId,
			e.cell,
			short(e.sha),
			e.retried ? "pass (after a retry)" : e.status,
			e.explanation ?? e.verdict ?? "",
		]),
	);
	return `${entries[0]?.test ?? test}: ${entries.length} results in ${new Set(entries.map((e) => e.runId)).size} of ${runs} runs\n${lines.map((l) => `  ${l}`).join("\n")}\n`;
}

function flakyText(flaky: readonly FlakyTest[], sinceText: string | undefined): string {
	const window = sinceText === undefined ? "" : ` since ${sinceText}`;
	if (flaky.length === 0)
		return `no flaky tests${window}: none both passed and failed on one kernel build and target\n`;
	const lines = table(
		flaky.map((f) => [
			f.test,
			`${f.kernel} ${short(f.sha)}`,
			f.target,
			`failed ${f.failed} of ${f.runs} runs (${percent(f.rate)})`,
			f.seen.map((s) => (s.retried ? "p*" : s.status === "pass" ? "p" : "F")).join(""),
		]),
	);
	return `${flaky.length} flaky test${flaky.length === 1 ? "" : "s"}${window} (p pass, F fail, p* pass after a retry; oldest first)\n${lines.map((l) => `  ${l}`).join("\n")}\n`;
}

function firstFailureText(test: string, found: readonly FirstFailure[], runs: number): string {
	if (found.length === 0) return `${test}: no result in the ${runs} runs indexed\n`;
	return `${found.map(firstFailureLine).join("\n")}\n`;
}

function firstFailureLine(f: FirstFailure): string {
	switch (f.state) {
		case "passing":
			return `${f.test} on ${f.cell}: passes (newest run ${f.last.runId})`;
		case "unknown":
			return `${f.test} on ${f.cell}: never passed or failed (errors and skips only; newest run ${f.last.runId})`;
		case "failing": {
			const first = `first failed in ${f.firstFailed.runId} (${f.firstFailed.kernel} ${short(f.firstFailed.sha)}, ${f.firstFailed.status}${f.firstFailed.verdict === undefined ? "" : `, ${f.firstFailed.verdict}`}), failing in ${f.failedRuns} run${f.failedRuns === 1 ? "" : "s"} since`;
			const last =
				f.lastPassed === undefined
					? "; never passed in the runs indexed"
					: `; last passed in ${f.lastPassed.runId} (${f.lastPassed.kernel} ${short(f.lastPassed.sha)})`;
			const range =
				f.range === undefined
					? f.lastPassed !== undefined && f.lastPassed.sha === f.firstFailed.sha
						? "; same kernel commit: not a kernel change"
						: ""
					: `; commits ${f.range}`;
			return `${f.test} on ${f.cell}: ${first}${last}${range}`;
		}
	}
}
