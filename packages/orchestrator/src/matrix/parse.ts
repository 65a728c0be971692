import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, type Pair, parseDocument } from "yaml";
import type * as z from "zod";
import { err, ok, type Result } from "../result.js";
import { crossCheck, type PathIssue } from "./cross-check.js";
import type { MatrixError } from "./errors.js";
import { AT_KEY, matrixSchema, type PathContext } from "./schema.js";
import { allowedKeysAt } from "./schema-keys.js";
import { didYouMean } from "./suggest.js";
import type { Matrix } from "./types.js";

export interface ParseOptions extends PathContext {
	/** The file name to put in error messages, as the user wrote it. */
	readonly label: string;
	/** The absolute path recorded in the matrix. */
	readonly file: string;
}

/** Where a path points in the document: the value node, and the key node when it is a map entry. */
interface Located {
	readonly value?: Node;
	readonly key?: Node;
	/** The deepest node on the path that exists, for problems about something missing. */
	readonly nearest: Node;
}

function locate(doc: Document, path: readonly PropertyKey[]): Located {
	let current = doc.contents as Node | null;
	if (current === null) return { nearest: doc as unknown as Node };
	let key: Node | undefined;
	for (const segment of path) {
		if (isAlias(current)) current = current.resolve(doc) as Node;
		let next: Node | undefined;
		key = undefined;
		if (isMap(current)) {
			const pair: Pair<unknown, unknown> | undefined = current.items.find(
				(p) => isScalar(p.key) && String(p.key.value) === String(segment),
			);
			if (pair !== undefined) {
				key = pair.key as Node;
				// `key:` with nothing after it has no value node; the key marks the place.
				next = (pair.value as Node | null) ?? key;
			}
		} else if (isSeq(current) && typeof segment === "number") {
			next = current.items[segment] as Node | undefined;
		}
		if (next === undefined) return { nearest: current };
		current = next;
	}
	return { value: current, ...(key === undefined ? {} : { key }), nearest: current };
}

function pathText(path: readonly PropertyKey[]): string {
	let text = "";
	for (const segment of path) {
		text += typeof segment === "number" ? `[${segment}]` : text === "" ? String(segment) : `.${String(segment)}`;
	}
	return text;
}

function describeNode(node: Node | undefined): string {
	if (node === undefined) return "nothing";
	if (isMap(node)) return "a map";
	if (isSeq(node)) return "a list";
	if (isScalar(node)) {
		const value = node.value;
		if (value === null) return "nothing (null)";
		if (typeof value === "string") return `the string "${value}"`;
		if (typeof value === "number") return `the number ${value}`;
		if (typeof value === "boolean") return `${value}`;
	}
	return "something else";
}

const EXPECTED: Record<string, string> = {
	string: "a string",
	number: "a number",
	int: "a whole number",
	boolean: "true or false",
	object: "a map",
	record: "a map",
	array: "a list",
};

/** Turns one schema issue into path-tagged messages in the file's terms. */
function explain(issue: z.core.$ZodIssue, doc: Document, schema: z.ZodType): PathIssue[] {
	const path = issue.path;
	switch (issue.code) {
		case "unrecognized_keys": {
			const allowed = allowedKeysAt(schema, path);
			return issue.keys.map((key) => ({
				path: [...path, key],
				atKey: true,
				message: `unknown key "${key}"${didYouMean(key, allowed)}; expected one of: ${allowed.join(", ")}`,
			}));
		}
		case "invalid_type": {
			const found = locate(doc, path);
			const last = path.at(-1);
			if (found.value === undefined && last !== undefined) {
				return [{ path: path.slice(0, -1), message: `missing required key "${String(last)}"` }];
			}
			return [
				{ path, message: `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describeNode(found.value)}` },
			];
		}
		case "invalid_value": {
			const found = locate(doc, path).value;
			const got = isScalar(found) ? String(found.value) : describeNode(found);
			const allowed = issue.values.map(String);
			return [{ path, message: `"${got}" is not one of: ${allowed.join(", ")}${didYouMean(got, allowed)}` }];
		}
		case "invalid_union": {
			// When the input is a map, the map-shaped alternative says precisely what is wrong with it.
			const found = locate(doc, path).value;
			if (isMap(found)) {
				const branch = issue.errors.find(
					(issues) => !issues.some((i) => i.code === "invalid_type" && i.path.length === 0),
				);
				if (branch !== undefined) {
					return branch.flatMap((inner) => explain({ ...inner, path: [...path, ...inner.path] }, doc, schema));
				}
			}
			return [{ path, message: issue.message }];
		}
		default: {
			const atKey = issue.code === "custom" && issue.params?.at === AT_KEY.at;
			return [{ path, message: issue.message, ...(atKey ? { atKey } : {}) }];
		}
	}
}

/**
 * Drops "missing required key X" where the same map has an unknown key that was suggested as X:
 * one typo ("reff") is one problem, not two.
 */
function withoutEchoes(issues: PathIssue[]): PathIssue[] {
	const suggested = new Set(
		issues.flatMap((issue) => {
			const hint = /did you mean "([^"]+)"/.exec(issue.message);
			return issue.atKey && hint ? [JSON.stringify([...issue.path.slice(0, -1).map(String), hint[1]])] : [];
		}),
	);
	return issues.filter((issue) => {
		const missing = /^missing required key "([^"]+)"/.exec(issue.message);
		return !(missing && suggested.has(JSON.stringify([...issue.path.map(String), missing[1]])));
	});
}

// Messages quote what the file says; a quoted newline or escape sequence would break the one-line
// `FILE:LINE:COL: message` form or drive the terminal, so control characters are shown escaped.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const ESCAPES: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
const escapeControls = (text: string): string =>
	text.replace(CONTROL, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/**
 * Parses and validates a matrix file's text. Pure: the caller reads the file and supplies where
 * relative paths resolve from. Every problem comes back positioned; none is thrown.
 */
export function parseMatrix(text: string, options: ParseOptions): Result<Matrix, MatrixError[]> {
	const lineCounter = new LineCounter();
	// logLevel "error": a map used as a key (`? [a, b]`) is reported below as an unknown key; the
	// library's own warning would be printed to stderr from inside a parser.
	const doc = parseDocument(text, {
		lineCounter,
		prettyErrors: false,
		merge: true,
		uniqueKeys: true,
		logLevel: "error",
	});
	const at = (offset: number, message: string): MatrixError => {
		const { line, col } = lineCounter.linePos(offset);
		return { file: options.label, line, col, message: escapeControls(message) };
	};

	if (doc.errors.length > 0) {
		return err(
			doc.errors.map((e) =>
				at(
					e.pos[0],
					e.code === "DUPLICATE_KEY" ? "duplicate key (each key may appear once in a map)" : `YAML: ${e.message}`,
				),
			),
		);
	}
	if (doc.contents === null) return err([at(0, "the file is empty; a matrix needs name, kernels, targets and suites")]);

	let data: unknown;
	try {
		data = doc.toJS({ maxAliasCount: 100 });
	} catch (error) {
		return err([at(0, `YAML: ${error instanceof Error ? error.message : String(error)}`)]);
	}

	const position = (issue: PathIssue): MatrixError => {
		const found = locate(doc, issue.path);
		const node = (issue.atKey ? found.key : undefined) ?? found.value ?? found.nearest;
		const where = pathText(issue.path);
		return at(node.range?.[0] ?? 0, where === "" ? issue.message : `${where}: ${issue.message}`);
	};
	const sorted = (errors: MatrixError[]) => errors.sort((a, b) => a.line - b.line || a.col - b.col);

	const schema = matrixSchema(options);
	const parsed = schema.safeParse(data);
	if (!parsed.success) {
		return err(
			sorted(withoutEchoes(parsed.error.issues.flatMap((issue) => explain(issue, doc, schema))).map(position)),
		);
	}
	const checked = crossCheck(parsed.data, options.file);
	if (!checked.ok) return err(sorted(checked.issues.map(position)));
	return ok(checked.matrix);
}
