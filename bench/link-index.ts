// The Link: index at kernel scale: a generated history of N commits (git fast-import, default
// 1,000,000, kept in the cache for the next run), indexed cold and compared with `git log` alone
// over the same history, then updated with 1,000 new commits, then queried.
// Run: pnpm build && pnpm bench:link-index [N]
// Targets (issue 6): cold ≤ 1.2 × git log, incremental ≤ 1 s, query ≤ 1 ms.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
// The built package, not its sources: a TypeScript loader's per-call helpers would be measured too.
import { cacheRoot, loadLinkIndex, streamRecords, updateLinkStore } from "@kvm-matrix/orchestrator";
import { execa } from "execa";

const N = Number(process.argv[2] ?? 1_000_000);
const NEW = 1_000;
const LOG_FORMAT = "--format=%H%x00%s%x00%B%x1e";

const AREAS = ["x86", "nSVM", "VMX", "MMU", "selftests", "arm64", "s390", "x86/pmu", "SVM", "guest_memfd"];

/** Commit `i`'s message: about a third of kernel commits in this era carry a Link to their posting,
 * some a Message-Id, a few cite another commit or close a bug. Deterministic, so runs compare. */
function message(i: number): string {
	const area = AREAS[i % AREAS.length];
	const series = `2025${String(1_000_000 + (i >> 3)).slice(1)}.${1000 + (i % 977)}`;
	const lines = [`KVM: ${area}: change number ${i}`, "", `Body of change ${i}, explaining why.`, ""];
	if (i % 7 === 0)
		lines.push(`Fixes: ${(i * 2654435761).toString(16).padStart(12, "0").slice(0, 12)} ("KVM: ${area}: older change")`);
	if (i % 23 === 0)
		lines.push(
			`This undoes commit ${(i * 40503).toString(16).padStart(12, "0").slice(0, 12)} ("KVM: ${area}: change number ${i - 1}").`,
			"",
		);
	lines.push(`Signed-off-by: Dev ${i % 50} <dev${i % 50}@example.org>`);
	if (i % 3 === 0) lines.push(`Link: https://lore.kernel.org/r/${series}-${(i % 8) + 1}-dev${i % 50}@example.org`);
	else if (i % 3 === 1 && i % 2 === 0) lines.push(`Message-Id: <${series}-${(i % 8) + 1}-dev${i % 50}@example.org>`);
	if (i % 101 === 0) lines.push(`Closes: https://bugzilla.kernel.org/show_bug.cgi?id=${200000 + i}`);
	return `${lines.join("\n")}\n`;
}

/** A repository with `count` commits on `base` and NEW more on `tip`, written by git fast-import. */
async function generate(dir: string, count: number): Promise<void> {
	rmSync(dir, { recursive: true, force: true });
	mkdirSync(dir, { recursive: true });
	await execa("git", ["init", "-q", "-b", "base", dir]);
	const importer = execa("git", ["-C", dir, "fast-import", "--quiet", "--done"], { stdin: "pipe" });
	const stdin = importer.stdin;
	if (stdin === null) throw new Error("no stdin for git fast-import");
	const write = (text: string) =>
		stdin.write(text) ? Promise.resolve() : new Promise<void>((resolve) => stdin.once("drain", () => resolve()));
	const commit = async (i: number, ref: string) => {
		const msg = message(i);
		const when = 1_600_000_000 + i * 60;
		await write(
			`commit refs/heads/${ref}\nmark :${i + 1}\ncommitter Dev <dev@example.org> ${when} +0000\ndata ${Buffer.byteLength(msg)}\n${msg}${i === 0 ? "" : `from :${i}\n`}\n`,
		);
	};
	for (let i = 0; i < count; i++) await commit(i, "base");
	for (let i = count; i < count + NEW; i++) await commit(i, "tip");
	await write("done\n");
	stdin.end();
	await importer;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main() {
	const repo = path.join(cacheRoot(process.env), "bench", `link-index-${N}`);
	if (!existsSync(path.join(repo, ".git", "refs", "heads", "tip"))) {
		const t0 = performance.now();
		console.log(`generating ${N.toLocaleString("en")} + ${NEW} commits with git fast-import in ${repo} ...`);
		await generate(repo, N);
		console.log(`  generated in ${seconds(performance.now() - t0)}`);
	}
	const store = path.join(mkdtempSync(path.join(os.tmpdir(), "link-index-")), "bench");

	// git log alone: the floor any index built from history has to stand on.
	let t = performance.now();
	await execa("sh", ["-c", `git -C "${repo}" log '${LOG_FORMAT}' base > /dev/null`]);
	const gitLogMs = performance.now() - t;

	// The same output read back the way the index reads it (streamRecords) and thrown away: what
	// reading costs before a single commit is parsed.
	t = performance.now();
	let records = 0;
	await streamRecords("git", ["-C", repo, "log", LOG_FORMAT, "base"], "\u001e", () => {
		records++;
	});
	const pipeMs = performance.now() - t;

	t = performance.now();
	const cold = await updateLinkStore(repo, ["base"], store);
	const coldMs = performance.now() - t;

	t = performance.now();
	const added = await updateLinkStore(repo, ["base", "tip"], store);
	const incrementalMs = performance.now() - t;

	t = performance.now();
	const index = await loadLinkIndex(store);
	const loadMs = performance.now() - t;

	// Queries as verdicts make them: a message-id (exact and series), a subject, a sha prefix.
	const queries = 10_000;
	const ids = Array.from({ length: queries }, (_, q) => {
		const i = ((q * 7919) % Math.floor(N / 3)) * 3;
		return `2025${String(1_000_000 + (i >> 3)).slice(1)}.${1000 + (i % 977)}-${(i % 8) + 1}-dev${i % 50}@example.org`;
	});
	let found = 0;
	t = performance.now();
	for (const id of ids) if (index.commitsFor(id).exact.length > 0) found++;
	const idMs = (performance.now() - t) / queries;
	t = performance.now();
	for (let q = 0; q < queries; q++) index.commitsWithSubject(`KVM: x86: change number ${q * 10}`);
	const subjectMs = (performance.now() - t) / queries;

	console.log(
		`history: ${N.toLocaleString("en")} commits (+${NEW} for the update), ${index.size.toLocaleString("en")} indexed`,
	);
	console.log(`git log alone:        ${seconds(gitLogMs)}  (to /dev/null)`);
	console.log(
		`git log, read back:   ${seconds(pipeMs)}  (${records.toLocaleString("en")} records read and dropped: ${(pipeMs / gitLogMs).toFixed(2)} × git log)`,
	);
	console.log(
		`cold index:           ${seconds(coldMs)}  (${cold.toLocaleString("en")} commits, ${(coldMs / gitLogMs).toFixed(2)} × git log; target ≤ 1.2)`,
	);
	console.log(`incremental update:   ${seconds(incrementalMs)}  (${added} commits; target ≤ 1 s)`);
	console.log(`load index:           ${seconds(loadMs)}  (once per tree per run, before the first query)`);
	console.log(`query by message-id:  ${(idMs * 1000).toFixed(1)} µs  (${found}/${queries} found; target ≤ 1 ms)`);
	console.log(`query by subject:     ${(subjectMs * 1000).toFixed(1)} µs`);
}

main().catch((error: unknown) => {
	console.error(`bench:link-index: ${error instanceof Error ? error.message : String(error)}`);
	process.exit(1);
});
