import { writeFileSync } from "node:fs";
import path from "node:path";
import {
	DEFAULT_KCIDB_ORIGIN,
	type FailOn,
	KCIDB_ORIGIN,
	loadMatrixFile,
	type Matrix,
	makeDirectory,
	type ReportFormat,
	RunSetupError,
	type RunView,
	readRunView,
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
}

/** A tree's URL from the run's matrix, when it can still be read: only KCIDB wants it. */
async function repositoryUrls(dir: string, matrix?: Matrix): Promise<(tree: string) => string | undefined> {
	let m = matrix;
	if (m === undefined) {
		try {
			const loaded = await loadMatrixFile(await runMatrixFile(dir));
			if (loaded.ok) m = loaded.value;
		} catch {
			// The matrix moved or went: the report simply has no repository URLs.
		}
	}
	return (tree) => m?.trees.get(tree)?.url;
}

/** Writes one report of a run; the file's directory is made if needed. */
export async function writeReport(
	view: RunView,
	format: ReportFormat,
	file: string,
	options: { readonly origin?: string; readonly matrix?: Matrix; readonly junitStrict?: boolean },
): Promise<void> {
	const text = renderReport(format, view, {
		origin: options.origin ?? DEFAULT_KCIDB_ORIGIN,
		junitStrict: options.junitStrict === true,
		repositoryUrl: await repositoryUrls(view.dir, options.matrix),
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
	if (options.out === undefined) {
		io.stdout(
			renderReport(options.format, view, {
				origin: options.origin,
				repositoryUrl: await repositoryUrls(dir),
				junitStrict: options.junitStrict === true,
			}),
		);
		return EXIT.ok;
	}
	const file = path.resolve(io.cwd, options.out);
	try {
		await writeReport(view, options.format, file, {
			origin: options.origin,
			junitStrict: options.junitStrict === true,
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
