// History across real runs: the KUT fixture on this machine's kernel (a host target, QEMU under
// TCG for each test), three nightly runs into one runs directory. A test whose outcome the test
// controls from outside (a file it looks for) fails, passes, fails on the same kernel and KUT
// commit: the third run calls it `flaky` with its rate, not the `regression` the previous run
// alone would make it. Then every `history` query is asked of those run directories.
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { HistoryIndex, historyDbPath, timeline as historyTimeline } from "@kvm-matrix/orchestrator";
import test from "ava";
import { launchChromium } from "./support/chromium.js";
import { kvmMatrix } from "./support/cli.js";
import { hostMatrix, kutFixture } from "./support/kut-fixture.js";

interface TimelineJson {
	readonly results: readonly { runId: string; cell: string; status: string; verdict?: string; explanation?: string }[];
}
interface FlakyJson {
	readonly flaky: readonly {
		test: string;
		target: string;
		runs: number;
		failed: number;
		rate: number;
		seen: unknown[];
	}[];
}
interface FirstFailureJson {
	readonly firstFailure: readonly {
		state: string;
		cell: string;
		lastPassed?: { runId: string };
		firstFailed?: { runId: string };
		failedRuns?: number;
	}[];
}

test("three runs on one kernel: a test that failed and passed there is flaky with its rate; history answers each query", async (t) => {
	t.timeout(900_000);
	const coinFails = path.join((await import("node:os")).tmpdir(), `kvm-matrix-coin-${process.pid}-${Date.now()}`);
	const repo = await kutFixture({
		extraImages: {
			coin: `int main(void) { if (access("${coinFails}", F_OK) == 0) { puts("FAIL: coin: tails"); puts("SUMMARY: 1 tests, 1 unexpected failures"); return 1; } puts("PASS: coin: heads"); puts("SUMMARY: 1 tests"); return 0; }`,
		},
		extraCfg: "\n[coin]\nfile = coin.flat\n",
	});
	const { dir, file } = hostMatrix(
		repo,
		"nightly-history",
		"{ tree: kut, ref: master, accel: tcg, include: [pass, fail, coin] }",
		"baseline: previous-run\n",
	);
	t.teardown(() => rmSync(coinFails, { force: true }));
	const runs = path.join(dir, "runs");
	mkdirSync(runs);
	const run = async (name: string, coin: "fails" | "passes") => {
		if (coin === "fails") writeFileSync(coinFails, "");
		else if (existsSync(coinFails)) unlinkSync(coinFails);
		const r = await kvmMatrix(
			dir,
			"run",
			file,
			"--headless",
			"--run-dir",
			path.join(runs, name),
			"--json",
			path.join(dir, `${name}.json`),
		);
		return r;
	};
	const verdictOf = async (name: string, test: string) => {
		const summary = JSON.parse((await import("node:fs")).readFileSync(path.join(dir, `${name}.json`), "utf8")) as {
			cells: { results: { suite: string; testId: string; verdict?: { verdict: string }; explanation?: string }[] }[];
		};
		return summary.cells[0]?.results.find((r) => `${r.suite}:${r.testId}` === test);
	};

	const r1 = await run("r1", "fails");
	t.is(r1.exitCode, 0, r1.stderr);
	const r2 = await run("r2", "passes");
	t.is(r2.exitCode, 0, r2.stderr);
	// Without history, r3's failure after r2's pass on the same kernel is a regression: red.
	const r3 = await run("r3", "fails");
	t.is(r3.exitCode, 0, `${r3.stdout}\n${r3.stderr}`);
	const coin = await verdictOf("r3", "kut:coin");
	t.is(coin?.verdict?.verdict, "flaky");
	t.regex(
		coin?.explanation ?? "",
		/^flaky: failed 2 of 3 runs on this kernel and target \(67%\) since run \S+; not a regression$/,
	);
	// A test that fails every run is not flaky: it still fails, as on the baseline.
	t.is((await verdictOf("r3", "kut:fail"))?.verdict?.verdict, "still-failing");

	// Each run went into the index as it ended, verdicts and all, before any history command.
	const index = HistoryIndex.open(historyDbPath(path.join(dir, "cache")));
	t.deepEqual(
		historyTimeline(index, [runs], "kut:coin").map((e) => [e.status, e.verdict]),
		[
			["fail", "new-failure"],
			["pass", undefined],
			["fail", "flaky"],
		],
	);
	index.close();

	// The timeline of one test, oldest run first.
	const timeline = await kvmMatrix(dir, "history", "kut:coin", "--runs", runs, "--json");
	t.is(timeline.exitCode, 0, timeline.stderr);
	const entries = (JSON.parse(timeline.stdout) as TimelineJson).results;
	t.deepEqual(
		entries.map((e) => [e.cell, e.status, e.verdict]),
		[
			["running/host", "fail", "new-failure"],
			["running/host", "pass", undefined],
			["running/host", "fail", "flaky"],
		],
	);
	const text = await kvmMatrix(dir, "history", "coin", "--runs", runs, "--target", "host");
	t.is(text.exitCode, 0, text.stderr);
	t.regex(text.stdout, /^kut:coin: 3 results in 3 of 3 runs\n/);
	t.regex(text.stdout, /running\/host +- +fail +flaky: failed 2 of 3 runs/);
	const otherTarget = await kvmMatrix(dir, "history", "kut:coin", "--runs", runs, "--target", "icx", "--json");
	t.deepEqual((JSON.parse(otherTarget.stdout) as TimelineJson).results, []);

	// The flaky list: coin with its rate, fail (always failing) and pass (always passing) not.
	const flaky = await kvmMatrix(dir, "history", "--flaky", "--since", "30d", "--runs", runs, "--json");
	t.is(flaky.exitCode, 0, flaky.stderr);
	const list = (JSON.parse(flaky.stdout) as FlakyJson).flaky;
	t.deepEqual(
		list.map((f) => [f.test, f.target, f.failed, f.runs]),
		[["kut:coin", "host", 2, 3]],
	);
	t.is(list[0]?.rate, 2 / 3);
	const flakyText = await kvmMatrix(dir, "history", "--flaky", "--runs", runs);
	t.regex(flakyText.stdout, /kut:coin +running - +host +failed 2 of 3 runs \(67%\) +FpF/);

	// When it started failing: coin last passed in r2 and failed from r3; fail never passed.
	const first = await kvmMatrix(dir, "history", "--first-failure", "kut:coin", "--runs", runs, "--json");
	t.is(first.exitCode, 0, first.stderr);
	const [coinFirst] = (JSON.parse(first.stdout) as FirstFailureJson).firstFailure;
	const ids = entries.map((e) => e.runId);
	t.is(coinFirst?.state, "failing");
	t.is(coinFirst?.lastPassed?.runId, ids[1]);
	t.is(coinFirst?.firstFailed?.runId, ids[2]);
	t.is(coinFirst?.failedRuns, 1);
	const never = await kvmMatrix(dir, "history", "--first-failure", "kut:fail", "--runs", runs);
	t.regex(
		never.stdout,
		new RegExp(
			`^kut:fail on running/host: first failed in ${ids[0]} .*failing in 3 runs since; never passed in the runs indexed`,
		),
	);

	// The history page: written by `history --html`, opened in headless Chromium, a click on r3's
	// coin shows its verdict with the rate and the end of its log; the flaky list has its rate.
	const pageDir = path.join(dir, "page");
	const html = await kvmMatrix(dir, "history", "--html", pageDir, "--runs", runs);
	t.is(html.exitCode, 0, html.stderr);
	const browser = await launchChromium();
	if (typeof browser === "string") return t.fail(browser);
	try {
		const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
		const requests: string[] = [];
		page.on("request", (r) => requests.push(r.url()));
		const file = `file://${path.join(pageDir, "index.html")}`;
		await page.goto(file);
		const row = page.locator("table.timeline tr", { hasText: "running/host kut:coin" });
		const points = row.locator("button[data-point]");
		t.deepEqual(await Promise.all([0, 1, 2].map((i) => points.nth(i).getAttribute("data-shade"))), [
			"new-failure",
			"pass",
			"flaky",
		]);
		t.is(await page.locator("section.point:visible").count(), 0);
		await points.nth(2).click();
		const shown = page.locator("section.point:visible");
		t.is(await shown.count(), 1);
		t.regex(
			(await shown.locator(".explanation").textContent()) ?? "",
			/^flaky: failed 2 of 3 runs on this kernel and target \(67%\)/,
		);
		t.regex((await shown.locator("pre.log").textContent()) ?? "", /FAIL: coin: tails/);
		t.deepEqual(await page.locator("table.flaky tr", { hasText: "kut:coin" }).locator("td").allTextContents(), [
			"kut:coin",
			"running",
			"host",
			"2 of 3 (67%)",
			"FpF",
		]);
		t.deepEqual(requests, [file]);
	} finally {
		await browser.close();
	}
	// The same page up to one run, from `report --format html --history`.
	const upTo = await kvmMatrix(dir, "report", path.join(runs, "r2"), "--format", "html", "--history");
	t.is(upTo.exitCode, 0, upTo.stderr);
	t.regex(upTo.stdout, /<p>2 runs, /);
	// Nothing bisected in these runs: no mail; a sender that is not one address is refused.
	const noMail = await kvmMatrix(dir, "report", path.join(runs, "r3"), "--format", "mail");
	t.is(noMail.exitCode, 0, noMail.stderr);
	t.is(noMail.stdout, "");
	const badFrom = await kvmMatrix(
		dir,
		"report",
		path.join(runs, "r3"),
		"--format",
		"mail",
		"--from",
		"QA <qa@example.org>\nBcc: x@example.org",
	);
	t.is(badFrom.exitCode, 2);
	t.regex(badFrom.stderr, /^kvm-matrix report: --from .*: expected one address, 'Name <user@host>' or 'user@host'$/);
	const notHtml = await kvmMatrix(dir, "report", path.join(runs, "r2"), "--format", "junit", "--history");
	t.is(notHtml.exitCode, 2);
	t.is(notHtml.stderr, "kvm-matrix report: --history goes with --format html (a page), not junit");

	// The index is derived: without it, the same answers; a run removed leaves it.
	rmSync(path.join(dir, "cache", "history"), { recursive: true });
	const again = await kvmMatrix(dir, "history", "kut:coin", "--runs", runs, "--json");
	t.deepEqual(JSON.parse(again.stdout), JSON.parse(timeline.stdout));
	rmSync(path.join(runs, "r2"), { recursive: true });
	const without = await kvmMatrix(dir, "history", "kut:coin", "--runs", runs, "--json");
	t.deepEqual(
		(JSON.parse(without.stdout) as TimelineJson).results.map((e) => e.status),
		["fail", "fail"],
	);

	// Bad input: one line, exit 2.
	const none = await kvmMatrix(dir, "history", "kut:coin", "--runs", path.join(dir, "nowhere"));
	t.is(none.exitCode, 2);
	t.regex(none.stderr, /^kvm-matrix history: no runs under .*nowhere \(give the runs directory with --runs DIR\)$/);
	const zero = await kvmMatrix(dir, "run", file, "--bisect-regressions", "--max-builds", "0");
	t.is(zero.exitCode, 2);
	t.is(zero.stderr, "kvm-matrix run: --max-builds 0: expected a whole number of at least 1");
	const alone = await kvmMatrix(dir, "run", file, "--max-builds", "3");
	t.is(alone.exitCode, 2);
	t.is(alone.stderr, "kvm-matrix run: --max-builds goes with --bisect-regressions");
	const since = await kvmMatrix(dir, "history", "--flaky", "--since", "yesterday", "--runs", runs);
	t.is(since.exitCode, 2);
	t.is(since.stderr, "kvm-matrix history: --since yesterday: expected a span (30d, 12h, 2w) or a date (2026-11-01)");
});

test("baseline: history compares each cell with the last run that ran it, whatever ran between", async (t) => {
	t.timeout(600_000);
	const coinFails = path.join((await import("node:os")).tmpdir(), `kvm-matrix-coin-b-${process.pid}-${Date.now()}`);
	const repo = await kutFixture({
		extraImages: {
			coin: `int main(void) { if (access("${coinFails}", F_OK) == 0) { puts("FAIL: coin: tails"); puts("SUMMARY: 1 tests, 1 unexpected failures"); return 1; } puts("PASS: coin: heads"); puts("SUMMARY: 1 tests"); return 0; }`,
		},
		extraCfg: "\n[coin]\nfile = coin.flat\n",
	});
	t.teardown(() => rmSync(coinFails, { force: true }));
	const { dir, file } = hostMatrix(
		repo,
		"nightly-baseline",
		"{ tree: kut, ref: master, accel: tcg, include: [pass, coin] }",
		"baseline: history\n",
	);
	writeFileSync(
		file,
		readFileSync(file, "utf8").replace(
			"  - { name: host, host: true }",
			"  - { name: host, host: true }\n  - { name: other, host: true }",
		),
	);
	const runs = path.join(dir, "runs");
	mkdirSync(runs);
	const run = (name: string, only: string) =>
		kvmMatrix(
			dir,
			"run",
			file,
			"--headless",
			"--only",
			only,
			"--run-dir",
			path.join(runs, name),
			"--json",
			path.join(dir, `${name}.json`),
		);
	// Night 1 runs both cells (coin passes); night 2 only the host cell; night 3 only the other,
	// where coin now fails. Its last run is night 1, two runs back.
	const r1 = await run("r1", "*");
	t.is(r1.exitCode, 0, r1.stderr);
	const r2 = await run("r2", "running/host");
	t.is(r2.exitCode, 0, r2.stderr);
	writeFileSync(coinFails, "");
	const r3 = await run("r3", "running/other");
	t.is(r3.exitCode, 1, `${r3.stdout}\n${r3.stderr}`);
	const summary = JSON.parse(readFileSync(path.join(dir, "r3.json"), "utf8")) as {
		runId: string;
		cells: { id: string; results: { testId: string; verdict?: { verdict: string }; explanation?: string }[] }[];
	};
	const first = JSON.parse(readFileSync(path.join(dir, "r1.json"), "utf8")) as { runId: string };
	const coin = summary.cells.find((c) => c.id === "running/other")?.results.find((r) => r.testId === "coin");
	t.is(coin?.verdict?.verdict, "regression");
	t.is(coin?.explanation, `regression: passed on running in run ${first.runId}`);
});
