// The CI examples are what a QA team copies: every kvm-matrix command in them must be one the
// CLI has, with options it takes, and the jobs must chain plan → shards → merge.
import { readFileSync } from "node:fs";
import path from "node:path";
import test from "ava";
import { parse } from "yaml";
import { kvmMatrix, REPO } from "./support/cli.js";

const EXAMPLES = path.join(REPO, "ci", "examples");

const load = (name: string): Record<string, unknown> =>
	parse(readFileSync(path.join(EXAMPLES, name), "utf8")) as Record<string, unknown>;

/** Every shell line of a file that runs kvm-matrix, joined across `\` continuations and folds. */
function commands(name: string): string[] {
	const text = readFileSync(path.join(EXAMPLES, name), "utf8").replace(/\\\n\s*/g, " ");
	const doc = load(name);
	const scripts: string[] = [];
	const walk = (v: unknown): void => {
		if (typeof v === "string") scripts.push(...v.replace(/\\\n\s*/g, " ").split("\n"));
		else if (Array.isArray(v)) for (const x of v) walk(x);
		else if (typeof v === "object" && v !== null) for (const x of Object.values(v)) walk(x);
	};
	walk(doc);
	const found = scripts.filter((s) => s.includes("kvm-matrix ")).map((s) => s.slice(s.indexOf("kvm-matrix ")));
	if (found.length === 0) throw new Error(`${name}: no kvm-matrix command in ${text.length} characters`);
	return found;
}

/** The subcommand words and the `--options` of one command line. */
function split(line: string): { words: string[]; options: string[] } {
	const tokens = line.split(/\s+/).slice(1);
	const words: string[] = [];
	for (const t of tokens) {
		if (!/^[a-z]+$/.test(t)) break;
		words.push(t);
	}
	return { words, options: tokens.filter((t) => t.startsWith("--")).map((t) => t.replace(/=.*$/, "")) };
}

/** Options kept in shell variables (`since=(--changed-since last-night)`) for a command to take. */
function optionsInVariables(name: string): string[] {
	const text = readFileSync(path.join(EXAMPLES, name), "utf8");
	const found: string[] = [];
	for (const m of text.matchAll(/\b(?:since|partial)=["(]?([^")\n]*)/g))
		for (const o of (m[1] ?? "").match(/--[a-z-]+/g) ?? []) found.push(o);
	return found;
}

for (const file of ["github-nightly.yml", "gitlab-nightly.yml", "gitlab-nightly-shards.yml"]) {
	test(`${file}: every kvm-matrix command and option exists`, async (t) => {
		const lines = commands(file);
		const dir = path.join(REPO, "ci");
		const helps: string[] = [];
		for (const line of lines) {
			const { words, options } = split(line);
			t.true(words.length >= 1, line);
			const help = await kvmMatrix(dir, ...words, "--help");
			t.is(help.exitCode, 0, `${words.join(" ")}: ${help.stderr}`);
			helps.push(help.stdout);
			for (const o of options) t.regex(help.stdout, new RegExp(`(^|[ ,])${o}\\b`, "m"), `${line}: ${o}`);
		}
		// An option held in a variable must be one of the commands' own.
		if (file !== "gitlab-nightly.yml") t.deepEqual(optionsInVariables(file).sort(), ["--changed-since", "--partial"]);
		for (const o of optionsInVariables(file))
			t.true(
				helps.some((h) => new RegExp(`(^|[ ,])${o}\\b`, "m").test(h)),
				`${file}: ${o} is no option of its commands`,
			);
	});
}

test("github-nightly.yml: plan, then the plan's shards, then one merge that publishes JUnit and HTML", (t) => {
	const jobs = load("github-nightly.yml").jobs as Record<string, Record<string, unknown>>;
	t.deepEqual(Object.keys(jobs), ["plan", "shard", "merge"]);
	t.is(jobs.shard?.needs, "plan");
	t.is(jobs.merge?.needs, "shard");
	const strategy = jobs.shard?.strategy as { matrix: string };
	t.regex(strategy.matrix, /^\$\{\{ fromJSON\(needs\.plan\.outputs\.shards\) \}\}$/);
	const merge = commands("github-nightly.yml").find((c) => c.startsWith("kvm-matrix ci merge")) ?? "";
	t.regex(merge, /--report junit:\S+/);
	t.regex(merge, /--report html:\S+/);
	t.regex(commands("github-nightly.yml").join("\n"), /ci plan .*--format github/);
});

test("gitlab-nightly.yml: the plan's include drives a child pipeline whose shards extend it", (t) => {
	const parent = load("gitlab-nightly.yml");
	const trigger = (parent.nightly as { trigger: { include: Record<string, string>[] } }).trigger;
	t.deepEqual(
		trigger.include.map((i) => i.artifact ?? i.local),
		["shards.yml", "ci/examples/gitlab-nightly-shards.yml"],
	);
	t.regex(commands("gitlab-nightly.yml").join("\n"), /ci plan .*--format gitlab.*> shards\.yml/);
	const child = load("gitlab-nightly-shards.yml") as Record<string, Record<string, unknown>>;
	t.is(child.shard?.extends, ".kvm-matrix-shards");
	const artifacts = child.merge?.artifacts as { reports?: { junit?: string } } | undefined;
	t.is(artifacts?.reports?.junit, "junit.xml");
});
