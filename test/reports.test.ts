// Reports of a real run (the KUT fixture on two host targets): `run --report` writes each format
// at the end, `report RUN_DIR` writes the same from the directory alone, JUnit reads back with a
// JUnit reader, KCIDB validates against the schema, and the HTML opens in a real headless
// Chromium, where the grid shows every cell and a click shows a cell's failures.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import test from "ava";
import { parse } from "junit2json";
import { launchChromium } from "./support/chromium.js";
import { kvmMatrix, REPO } from "./support/cli.js";
import { hostMatrix, kutFixture } from "./support/kut-fixture.js";

const schema = JSON.parse(readFileSync(path.join(REPO, "test/schemas/kcidb-v5.3.schema.json"), "utf8"));
const validKcidb = new Ajv({
	allErrors: true,
	formats: { "date-time": /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/ },
}).compile(schema);

test("run --report writes every format; report RUN_DIR gives the same; the HTML works in headless Chromium", async (t) => {
	t.timeout(600_000);
	const repo = await kutFixture();
	const { dir, file } = hostMatrix(
		repo,
		"kut-reports",
		"{ tree: kut, ref: master, accel: tcg, include: [pass, fail, skip, crash] }",
	);
	// Two targets, so the grid has two cells.
	writeFileSync(
		file,
		readFileSync(file, "utf8").replace(
			"  - { name: host, host: true }",
			"  - { name: host, host: true }\n  - { name: host2, host: true }",
		),
	);
	const runDir = path.join(dir, "run");
	const out = path.join(dir, "out");
	const run = await kvmMatrix(
		dir,
		"run",
		file,
		"--run-dir",
		runDir,
		"--report",
		`junit:${out}/junit.xml`,
		"--report",
		`kcidb:${out}/kcidb.json`,
		"--report",
		`markdown:${out}/summary.md`,
		"--report",
		`html:${out}/report.html`,
	);
	t.is(run.exitCode, 0, run.stderr);
	t.regex(run.stderr, /kvm-matrix run: junit report in .*junit\.xml/);

	// The directory alone gives the same reports.
	for (const [format, name] of [
		["junit", "junit.xml"],
		["kcidb", "kcidb.json"],
		["markdown", "summary.md"],
		["html", "report.html"],
	] as const) {
		const again = await kvmMatrix(dir, "report", runDir, "--format", format);
		t.is(again.exitCode, 0, again.stderr);
		t.is(`${again.stdout}\n`.trimEnd(), readFileSync(path.join(out, name), "utf8").trimEnd(), format);
	}

	const junit = await parse(readFileSync(path.join(out, "junit.xml"), "utf8"));
	if (junit === undefined || junit === null || !("testsuite" in junit)) return t.fail("no <testsuites>");
	t.deepEqual(
		junit.testsuite?.map((s) => [s.name, s.tests, s.failures, s.skipped]),
		[
			["running/host", 4, 2, 1],
			["running/host2", 4, 2, 1],
		],
	);
	const fail = junit.testsuite?.[0]?.testcase?.find((c) => c.name === "fail");
	t.regex(fail?.failure?.[0]?.message ?? "", /^new-failure: no baseline result and no linked fix/);
	t.regex(fail?.["system-out"]?.[0] ?? "", /FAIL: msr: MSR_IA32_TSC_ADJUST/);

	const kcidb = JSON.parse(readFileSync(path.join(out, "kcidb.json"), "utf8"));
	t.true(validKcidb(kcidb), JSON.stringify(validKcidb.errors));
	t.is(kcidb.tests.length, 8);

	const md = readFileSync(path.join(out, "summary.md"), "utf8");
	t.regex(md, /\*\*green: no regressions; 4 new-failure; --fail-on new-failure would make it red\*\*/);

	const browser = await launchChromium();
	if (typeof browser === "string") return t.fail(browser);
	try {
		const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
		const requests: string[] = [];
		page.on("request", (r) => requests.push(r.url()));
		await page.goto(`file://${path.join(out, "report.html")}`);
		const buttons = page.locator("table.grid button[data-cell]");
		t.is(await buttons.count(), 2);
		t.deepEqual(await Promise.all([0, 1].map((i) => buttons.nth(i).getAttribute("title"))), [
			"running/host: new-failure",
			"running/host2: new-failure",
		]);
		// Nothing is shown until a click, and a click shows that cell's failures only.
		t.is(await page.locator("section.cell:visible").count(), 0);
		await buttons.nth(1).click();
		const shown = page.locator("section.cell:visible");
		t.is(await shown.count(), 1);
		t.is(await shown.locator("h2").textContent(), "running/host2");
		const failing = shown.locator('tr.result[data-status="fail"]');
		t.deepEqual(await failing.locator("td:first-child").allTextContents(), ["kut:fail", "kut:crash"]);
		t.regex((await failing.first().textContent()) ?? "", /new-failure/);
		await failing.first().locator("summary").click();
		t.regex((await failing.first().locator("pre").textContent()) ?? "", /MSR_IA32_TSC_ADJUST/);
		const shot = path.join(runDir, "report.png");
		await page.screenshot({ path: shot, fullPage: true });
		t.true(readFileSync(shot).subarray(1, 4).toString() === "PNG");
		// One offline file: nothing but the file itself was fetched.
		t.deepEqual(requests, [`file://${path.join(out, "report.html")}`]);
	} finally {
		await browser.close();
	}
});

test("report refuses, in one line, what it cannot do", async (t) => {
	const dir = path.join(REPO, "matrices");
	const none = await kvmMatrix(dir, "report", "/nonexistent/run", "--format", "junit");
	t.is(none.exitCode, 2);
	t.regex(none.stderr, /^kvm-matrix report: \/nonexistent\/run holds no run \(no plan\.json\)/);
	t.is(none.stderr.trim().split("\n").length, 1);
	const format = await kvmMatrix(dir, "report", "/nonexistent/run", "--format", "pdf");
	t.is(format.exitCode, 2);
	t.regex(format.stderr, /argument 'pdf' is invalid\. one of junit, kcidb, markdown, html, mail/);
	const spec = await kvmMatrix(dir, "run", "matrices/demo.yaml", "--report", "junit");
	t.is(spec.exitCode, 2);
	t.regex(spec.stderr, /no path after junit: \(e\.g\. junit:report\.xml\)/);
});
