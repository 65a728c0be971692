import { writeFileSync } from "node:fs";
import path from "node:path";
import {
	cacheRoot,
	DEFAULT_KCIDB_ORIGIN,
	type FailOn,
	HistoryIndex,
	historyDbPath,
	isMailAddress,
	KCIDB_ORIGIN,
	loadMatrixFile,
	type Matrix,
	makeDirectory,
	type ReportFormat,
	type ReportOptions,
	RunSetupError,
	type RunView,
	readRunView,
	renderHistoryPage,
	renderReport,
	runMatrixFile,
} from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";

/** `--report junit:out/junit.xml` */
export interface ReportSpec {
	readonly format: ReportFormat;
	readonly path: string;
}

export interface ReportCommandOptions {
	readonly format: ReportFormat;
	readonly out?: string;
	readonly origin: string;
	readonly failOn: FailOn;
	/** JUnit: pending-fix and known failures stay `<failure>` (not `<skipped>`). */
	readonly junitStrict?: boolean;
	/** mail: `From:` and `Reported-by:`. */
	readonly from?: string;
	/** html: the history page of the run's runs directory, up to this run. */
	readonly history?: boolean;
}

/** The history page of the runs next to `dir`, up to that run, from the history index. */
function historyHtml(dir: string, view: RunView, io: CliIo): string {
	const index = HistoryIndex.open(historyDbPath(cacheRoot(io.env)));
	try {
		const root = path.dirname(dir);
		index.refresh([root]);
		return renderHistoryPage(index, [root], {
			...(view.started === undefined ? {} : { upTo: view.started }),
			title: `kvm-matrix history: ${view.matrix}, up to run ${view.runId}`,
			matrix: view.matrix,
		});
	} finally {
		index.close();
	}
}

/**
 * What reports take from the run's matrix, when it can still be read: a tree's URL (KCIDB, mail),
 * how a kernel's config is made and the file itself (mail). A matrix that moved or went leaves
 * them out; the report stands.
 */
async function fromMatrix(
	dir: string,
	matrix?: Matrix,
): Promise<Pick<ReportOptions, "repositoryUrl" | "configOf" | "matrixFile">> {
	let m = matrix;
	let file = matrix?.file;
	if (m === undefined) {
		try {
			file = await runMatrixFile(dir);
			const loaded = await loadMatrixFile(file);
			if (loaded.ok) m = loaded.value;
		} catch {
			// No matrix to read: no URLs or config in the report.
		}
	}
	const configOf = (kernelId: string) => {
		const k = m?.kernels.find((x) => x.id === kernelId);
		const config = k?.kind === "source" ? k.config : undefined;
		if (config === undefined) return undefined;
		const part = (p: { kind: string; name?: string; target?: string; path?: string }) =>
			p.name ?? p.target ?? p.path ?? "?";
		return `make ${[config.base, ...config.fragments].map(part).join(" ")}`;
	};
	return {
		repositoryUrl: (tree) => m?.trees.get(tree)?.url,
		configOf,
		...(file === undefined ? {} : { matrixFile: file }),
	};
}

/** Writes one report of a run; the file's directory is made if needed. */
export async function writeReport(
	view: RunView,
	format: ReportFormat,
	file: string,
	options: {
		readonly origin?: string;
		readonly matrix?: Matrix;
		readonly junitStrict?: boolean;
		readonly from?: string;
	},
): Promise<void> {
	const text = renderReport(format, view, {
		origin: options.origin ?? DEFAULT_KCIDB_ORIGIN,
		junitStrict: options.junitStrict === true,
		...(options.from === undefined ? {} : { mailFrom: options.from }),
		...(await fromMatrix(view.dir, options.matrix)),
	});
	makeDirectory(path.dirname(file));
	writeFileSync(file, text);
}

/** `kvm-matrix report RUN_DIR --format junit|kcidb|markdown|html [--out FILE]`: stdout unless --out. */
export async function reportCommand(runDir: string, options: ReportCommandOptions, io: CliIo): Promise<ExitCode> {
	if (!KCIDB_ORIGIN.test(options.origin)) {
		io.stderr(`kvm-matrix report: --origin ${options.origin}: KCIDB origins are lower-case letters, digits and _\n`);
		return EXIT.usage;
	}
	if (options.from !== undefined && !isMailAddress(options.from)) {
		io.stderr(
			`kvm-matrix report: --from ${JSON.stringify(options.from)}: expected one address, 'Name <user@host>' or 'user@host'\n`,
		);
		return EXIT.usage;
	}
	if (options.history === true && options.format !== "html") {
		io.stderr(`kvm-matrix report: --history goes with --format html (a page), not ${options.format}\n`);
		return EXIT.usage;
	}
	const dir = path.resolve(io.cwd, runDir);
	let view: RunView;
	try {
		view = readRunView(dir, options.failOn);
	} catch (error) {
		if (error instanceof RunSetupError) {
			io.stderr(`kvm-matrix report: ${error.message}\n`);
			return EXIT.usage;
		}
		throw error;
	}
	if (options.history === true) {
		let page: string;
		try {
			page = historyHtml(dir, view, io);
		} catch (error) {
			io.stderr(
				`kvm-matrix report: the history index cannot be read: ${error instanceof Error ? error.message : String(error)}\n`,
			);
			return EXIT.usage;
		}
		if (options.out === undefined) {
			io.stdout(page);
			return EXIT.ok;
		}
		const file = path.resolve(io.cwd, options.out);
		try {
			makeDirectory(path.dirname(file));
			writeFileSync(file, page);
		} catch (error) {
			io.stderr(`kvm-matrix report: ${file} not written: ${error instanceof Error ? error.message : String(error)}\n`);
			return EXIT.usage;
		}
		io.stderr(`kvm-matrix report: history page up to ${view.runId} in ${file}\n`);
		return EXIT.ok;
	}
	if (options.out === undefined) {
		io.stdout(
			renderReport(options.format, view, {
				origin: options.origin,
				junitStrict: options.junitStrict === true,
				...(options.from === undefined ? {} : { mailFrom: options.from }),
				...(await fromMatrix(dir)),
			}),
		);
		return EXIT.ok;
	}
	const file = path.resolve(io.cwd, options.out);
	try {
		await writeReport(view, options.format, file, {
			origin: options.origin,
			junitStrict: options.junitStrict === true,
			...(options.from === undefined ? {} : { from: options.from }),
		});
	} catch (error) {
		io.stderr(`kvm-matrix report: ${file} not written: ${error instanceof Error ? error.message : String(error)}\n`);
		return EXIT.usage;
	}
	io.stderr(`kvm-matrix report: ${options.format} report of ${view.runId} in ${file}\n`);
	return EXIT.ok;
}

/**
 * `run --report FORMAT:PATH ...` at the end of a run: every report, from the run directory
 * like `report` makes them. A report that cannot be written is one line; the run stands.
 */
export async function writeRunReports(
	dir: string,
	specs: readonly ReportSpec[],
	failOn: FailOn,
	matrix: Matrix,
	io: CliIo,
	command: string,
	junitStrict = false,
): Promise<boolean> {
	if (specs.length === 0) return true;
	let ok = true;
	const view = readRunView(dir, failOn);
	for (const spec of specs) {
		const file = path.resolve(io.cwd, spec.path);
		try {
			await writeReport(view, spec.format, file, { matrix, junitStrict });
			io.stderr(`kvm-matrix ${command}: ${spec.format} report in ${file}\n`);
		} catch (error) {
			ok = false;
			io.stderr(
				`kvm-matrix ${command}: ${spec.format} report ${file} not written: ${error instanceof Error ? error.message : String(error)}\n`,
			);
		}
	}
	return ok;
}
