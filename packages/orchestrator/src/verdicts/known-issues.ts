import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument } from "yaml";
import * as z from "zod";
import type { Matrix } from "../matrix/types.js";
import type { KnownIssue } from "./classify.js";

const entry = z.strictObject({
	test: z.string().min(1),
	kernel: z.string().min(1).optional(),
	bug: z.string().min(1).optional(),
	reason: z.string().min(1),
});

/**
 * A known-issues file: a YAML list of `{ test: "kut:vmx*", kernel: "kvm@*", bug: URL, reason }`.
 * Problems are one line each with the file and position, like matrix errors.
 */
export async function loadKnownIssues(file: string): Promise<{ issues: KnownIssue[]; problems: string[] }> {
	const text = await readFile(file, "utf8");
	const lines = new LineCounter();
	const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
	const at = (offset: number | undefined) => {
		const pos = lines.linePos(offset ?? 0);
		return `${file}:${pos.line}:${pos.col}`;
	};
	if (doc.errors.length > 0)
		return { issues: [], problems: doc.errors.map((e) => `${at(e.pos[0])}: YAML: ${e.message.split("\n")[0]}`) };
	const parsed = z.array(entry).safeParse(doc.toJS() ?? []);
	if (parsed.success) return { issues: parsed.data.map((i) => ({ ...i })) as KnownIssue[], problems: [] };
	return {
		issues: [],
		problems: parsed.error.issues.map((issue) => {
			const node = doc.getIn(issue.path as (string | number)[], true) as
				| { range?: [number, number, number] }
				| undefined;
			return `${at(node?.range?.[0])}: ${issue.path.join(".")}: ${issue.message}`;
		}),
	};
}

/** The matrix's known-issues file, or none; its first problem as an error. */
export async function loadKnownIssuesOf(matrix: Matrix): Promise<KnownIssue[]> {
	if (matrix.knownIssues === undefined) return [];
	const loaded = await loadKnownIssues(matrix.knownIssues);
	if (loaded.problems.length > 0) throw new Error(loaded.problems[0]);
	return loaded.issues;
}
