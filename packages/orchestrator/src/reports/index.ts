// Reports from a run directory, by format. Each is a pure function of the run's view.
import { htmlReport } from "./html.js";
import { junitXml } from "./junit.js";
import { KCIDB_ORIGIN, kcidbDocument } from "./kcidb.js";
import { mailReport } from "./mail.js";
import { markdownReport } from "./markdown.js";
import type { RunView } from "./run-view.js";

export const REPORT_FORMATS = ["junit", "kcidb", "markdown", "html", "mail"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export const isReportFormat = (text: string): text is ReportFormat =>
	(REPORT_FORMATS as readonly string[]).includes(text);

export interface ReportOptions {
	/** KCIDB's origin for the submission's ids. */
	readonly origin?: string;
	readonly repositoryUrl?: (tree: string) => string | undefined;
	/** mail: who sends it, and the matrix file its commands name. */
	readonly mailFrom?: string;
	readonly matrixFile?: string;
	readonly configOf?: (kernelId: string) => string | undefined;
	/** JUnit: explained failures (`pending-fix`, `known`) stay `<failure>` instead of `<skipped>`. */
	readonly junitStrict?: boolean;
}

export const DEFAULT_KCIDB_ORIGIN = "kvm_matrix";

export function renderReport(format: ReportFormat, view: RunView, options: ReportOptions = {}): string {
	switch (format) {
		case "junit":
			return junitXml(view, { strict: options.junitStrict === true });
		case "kcidb":
			return `${JSON.stringify(kcidbDocument(view, { origin: options.origin ?? DEFAULT_KCIDB_ORIGIN, ...(options.repositoryUrl === undefined ? {} : { repositoryUrl: options.repositoryUrl }) }), null, 2)}\n`;
		case "markdown":
			return markdownReport(view);
		case "html":
			return htmlReport(view);
		case "mail":
			return mailReport(view, {
				...(options.mailFrom === undefined ? {} : { from: options.mailFrom }),
				...(options.repositoryUrl === undefined ? {} : { repositoryUrl: options.repositoryUrl }),
				...(options.matrixFile === undefined ? {} : { matrixFile: options.matrixFile }),
				...(options.configOf === undefined ? {} : { configOf: options.configOf }),
			});
	}
}

/** `--report junit:out/junit.xml` as a format and a path, or why not in one line. */
export function parseReportSpec(
	spec: string,
):
	| { readonly ok: true; readonly format: ReportFormat; readonly path: string }
	| { readonly ok: false; readonly error: string } {
	const colon = spec.indexOf(":");
	const format = colon < 0 ? spec : spec.slice(0, colon);
	const file = colon < 0 ? "" : spec.slice(colon + 1);
	if (!isReportFormat(format))
		return {
			ok: false,
			error: `--report ${spec}: expected FORMAT:PATH with FORMAT one of ${REPORT_FORMATS.join(", ")}`,
		};
	if (file === "")
		return {
			ok: false,
			error: `--report ${spec}: no path after ${format}: (e.g. ${format}:report.${EXTENSION[format]})`,
		};
	return { ok: true, format, path: file };
}

export const EXTENSION: Readonly<Record<ReportFormat, string>> = {
	junit: "xml",
	kcidb: "json",
	markdown: "md",
	html: "html",
	mail: "mbox",
};

export { cellShade, escapeHtml } from "./html.js";
export { type JunitOptions, junitXml, xmlSafe } from "./junit.js";
export { kcidbDocument, kcidbPath, kcidbStatus } from "./kcidb.js";
export { DEFAULT_MAIL_FROM, isMailAddress, mailReport, type RegressionMail, regressionMails } from "./mail.js";
export { markdownReport } from "./markdown.js";
export { LOG_TAIL, localLogPath, type RunView, readRunView, tailOf } from "./run-view.js";
export { KCIDB_ORIGIN };
