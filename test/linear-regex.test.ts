// Every regular expression written in the packages' source runs in time linear in its input.
// Reports, logs, results files and mails are outside text of any size (bugzilla takes 8 MiB
// attachments): one pattern with overlapping quantifiers turns a long line into minutes of
// backtracking. Each literal is found by parsing the source (so a new one is checked without
// anyone listing it) and analysed by recheck, which proves a pattern safe or names the attack
// string that makes it polynomial or exponential. Patterns built at run time with `new RegExp`
// are not seen here; the sources build none from outside text.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parse } from "acorn";
import { full } from "acorn-walk";
import test from "ava";
import { transformSync } from "esbuild";
import { checkSync } from "recheck";

const root = join(import.meta.dirname, "..");

function sourceFiles(): string[] {
	const files: string[] = [];
	for (const pkg of readdirSync(join(root, "packages"))) {
		const src = join(root, "packages", pkg, "src");
		for (const entry of readdirSync(src, { recursive: true, encoding: "utf8" }))
			if (/\.tsx?$/.test(entry) && !/\.test\.tsx?$/.test(entry)) files.push(join(src, entry));
	}
	return files.sort();
}

interface Literal {
	readonly pattern: string;
	readonly flags: string;
	readonly where: string;
}

function literalsIn(file: string): Literal[] {
	const { code } = transformSync(readFileSync(file, "utf8"), {
		loader: file.endsWith(".tsx") ? "tsx" : "ts",
		jsx: "automatic",
		target: "esnext",
	});
	const found: Literal[] = [];
	full(parse(code, { ecmaVersion: "latest", sourceType: "module" }), (node) => {
		if (node.type !== "Literal") return;
		const regex = (node as { regex?: { pattern: string; flags: string } }).regex;
		if (regex !== undefined) found.push({ ...regex, where: relative(root, file) });
	});
	return found;
}

test("the sources' regular expressions have no super-linear backtracking", (t) => {
	// Each pattern is checked once, and named with every file that writes it.
	const seen = new Map<string, Literal>();
	for (const file of sourceFiles())
		for (const literal of literalsIn(file)) {
			const key = `/${literal.pattern}/${literal.flags}`;
			const before = seen.get(key);
			seen.set(key, before === undefined ? literal : { ...before, where: `${before.where}, ${literal.where}` });
		}
	// The walk found the sources' patterns, not nothing (a parser change could make it see none).
	t.true(seen.size > 100, `only ${seen.size} patterns found`);

	const unsafe: string[] = [];
	for (const [text, { pattern, flags, where }] of seen) {
		// A fixed seed: recheck's fuzzing checker must give every run the same answer.
		const result = checkSync(pattern, flags, { randomSeed: 26, timeout: 30_000 });
		if (result.status === "safe") continue;
		const why =
			result.status === "vulnerable"
				? `${result.complexity.summary}, attack ${JSON.stringify(result.attack.pattern)}`
				: `not shown linear (${result.error.kind})`;
		unsafe.push(`${where}: ${text} — ${why}`);
	}
	t.deepEqual(unsafe, []);
});
