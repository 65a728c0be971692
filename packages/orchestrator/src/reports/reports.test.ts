import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import test from "ava";
import { parse } from "junit2json";
import type { CellSummary } from "../engine/summary.js";
import { describeVerdict, type Verdict } from "../verdicts/classify.js";
import { decideExit } from "../verdicts/exit-policy.js";
import { cellShade, htmlReport } from "./html.js";
import { junitXml, xmlSafe } from "./junit.js";
import { kcidbDocument, kcidbPath } from "./kcidb.js";
import { isMailAddress, mailReport, regressionMails } from "./mail.js";
import { markdownReport } from "./markdown.js";
import { type RunView, tailKey, tailOf } from "./run-view.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const schema = JSON.parse(readFileSync(path.join(here, "../../../../test/schemas/kcidb-v5.3.schema.json"), "utf8"));
const ajv = new Ajv({
	allErrors: true,
	formats: { "date-time": /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/ },
});
const validKcidb = ajv.compile(schema);

const SHA = "1".repeat(40);
const BASE = "2".repeat(40);
type Result = CellSummary["results"][number];
const result = (testId: string, status: Result["status"], verdict?: Verdict, extra: Partial<Result> = {}): Result => ({
	suite: "selftests",
	testId,
	status,
	durationMs: 1234,
	attempt: 1,
	...extra,
	...(verdict === undefined ? {} : { verdict, explanation: describeVerdict(verdict) }),
});
const counts = (rs: readonly Result[]) => {
	const c = { pass: 0, fail: 0, skip: 0, timeout: 0, crash: 0, error: 0 };
	for (const r of rs) c[r.status]++;
	return c;
};
const cell = (
	id: string,
	kernel: string,
	target: string,
	results: Result[],
	more: Partial<CellSummary> = {},
): CellSummary => ({
	id,
	kernel: { id: kernel, ...(kernel === "kvm@next" ? { sha: SHA, build: { key: "k1", cacheHit: false } } : {}) },
	target,
	state: "done",
	counts: counts(results),
	results,
	verdicts: {},
	notes: [],
	...more,
});

const regression: Verdict = {
	verdict: "regression",
	evidence: {
		passed: { kernel: "kvm@master", sha: BASE, status: "pass", relation: { kind: "ancestor", count: 3 } },
		here: SHA,
		notes: [],
	},
};
const pending: Verdict = {
	verdict: "pending-fix",
	evidence: {
		fixes: [
			{
				link: "20221006001956.329314-1-seanjc@google.com",
				patch: "20221006001956.329314-1-seanjc@google.com",
				subject: "KVM: nVMX: Inject #GP",
				commit: BASE,
				status: "missing",
				in: ["kvm-x86@next"],
			},
		],
		notes: [],
		unresolved: [
			"20240907005440.500075-5-mlevitsk@redhat.com, not found in any configured tree",
			"aMahfvF1r39Xq6zK@intel.com, not found in any configured tree",
		],
	},
};

/** A run with every kind of result a report must carry, and names that need escaping. */
function sampleView(): RunView {
	const cells = [
		cell("kvm@next/tcg", "kvm@next", "tcg", [
			result("x86_64/cpuid_test", "fail", regression, { logPath: "/x/cpuid.log", detail: "exit status 1" }),
			result("x86_64/set_sregs_test", "fail", pending),
			result("x86_64/smm_test", "skip", undefined, { detail: "SMM not supported" }),
			result("x86_64/ok_test", "pass"),
			result("x86_64/<script>alert(1)</script>", "timeout", { verdict: "new-failure", evidence: { notes: [] } }),
		]),
		cell("kvm@next/icx", "kvm@next", "icx", [
			result("vmx", "crash", { verdict: "infra", evidence: { reason: "guest died" } }, { suite: "kut" }),
			result("x86_64/flaky_test", "pass", { verdict: "flaky", evidence: { attempts: ["fail", "pass"] } }),
		]),
		cell("kvm@broken/tcg", "kvm@broken", "tcg", [], {
			state: "failed",
			failure: { stage: "build", reason: "kernel build failed", evidence: ["kernel/fail.c:3:1: error: expected ';'"] },
		}),
	];
	const logTails = new Map([
		[
			tailKey("kvm@next/tcg", cells[0]?.results[0] as Result),
			"==== Test Assertion Failure ====\n\u001b[31mred\u001b[0m \u0007bell",
		],
	]);
	return {
		runId: "20261202-030000-nightly",
		matrix: "nightly",
		dir: "/runs/20261202-030000-nightly",
		outcome: "completed",
		started: "2026-12-02T03:00:00.000Z",
		finished: "2026-12-02T04:00:00.000Z",
		kernels: [
			{ id: "kvm@next", tree: "kvm", ref: "next", sha: SHA, config: "cfg-1" },
			{ id: "kvm@broken", tree: "kvm", ref: "broken" },
		],
		targets: ["tcg", "icx"],
		cells,
		logTails,
		decision: decideExit({ regression: 1, "pending-fix": 1, "new-failure": 1, infra: 2, flaky: 1 }),
	};
}

test("JUnit: parsed back by a JUnit reader, one suite per cell, verdict and evidence as the failure message", async (t) => {
	const view = sampleView();
	const parsed = await parse(junitXml(view));
	if (parsed === undefined || parsed === null || !("testsuite" in parsed)) return t.fail("no <testsuites>");
	const suites = parsed.testsuite ?? [];
	t.deepEqual(
		suites.map((s) => s.name),
		view.cells.map((c) => c.id),
	);
	const next = suites[0];
	t.is(next?.tests, 5);
	// The pending fix is explained, and green by the exit policy: skipped, its verdict the message.
	t.is(next?.failures, 2);
	t.is(next?.skipped, 2);
	const cpuid = next?.testcase?.find((c) => c.name === "x86_64/cpuid_test");
	t.is(cpuid?.classname, "kvm@next/tcg.selftests");
	t.is(cpuid?.failure?.[0]?.message, view.cells[0]?.results[0]?.explanation);
	t.is(cpuid?.failure?.[0]?.type, "regression");
	t.regex(cpuid?.failure?.[0]?.message ?? "", /^regression: passed on kvm@master/);
	// The log tail rides along, with terminal escapes gone and what XML cannot hold replaced.
	t.is(cpuid?.["system-out"]?.[0], "==== Test Assertion Failure ====\nred \ufffdbell");
	t.is(next?.testcase?.find((c) => c.name === "x86_64/smm_test")?.skipped?.[0]?.message, "SMM not supported");
	t.is(next?.testcase?.find((c) => c.name === "x86_64/<script>alert(1)</script>")?.failure?.[0]?.type, "new-failure");
	// A harness failure is an error, and a cell that never ran its tests is one error testcase.
	t.is(suites[1]?.testcase?.find((c) => c.name === "vmx")?.error?.[0]?.type, "infra");
	t.is(suites[1]?.errors, 1);
	const broken = suites[2];
	t.is(broken?.errors, 1);
	t.regex(broken?.testcase?.[0]?.error?.[0]?.message ?? "", /^build failed: kernel build failed/);
	// classname+name unique across the file: GitLab drops duplicates.
	const ids = suites.flatMap((s) => (s.testcase ?? []).map((c) => `${c.classname}\u0000${c.name}`));
	t.is(new Set(ids).size, ids.length);
	t.is(parsed.tests, 5 + 2 + 1);
	t.is(parsed.failures, 2);
	t.is(parsed.errors, 2);
});

test("JUnit: pending-fix and known are skipped with their verdict; --junit-strict and --fail-on keep them failures", async (t) => {
	const base = sampleView();
	const view: RunView = {
		...base,
		cells: [
			cell("kvm@next/tcg", "kvm@next", "tcg", [
				result("x86_64/set_sregs_test", "fail", pending),
				result("x86_64/hyperv_test", "fail", {
					verdict: "known",
					evidence: { issue: { test: "selftests:x86_64/hyperv*", reason: "needs Hyper-V", bug: "bz#218267" } },
				}),
				result("x86_64/cpuid_test", "fail", regression),
			]),
		],
	};
	const testcases = async (xml: string) => {
		const parsed = await parse(xml);
		if (parsed === undefined || parsed === null || !("testsuite" in parsed)) throw new Error("no <testsuites>");
		const suite = parsed.testsuite?.[0];
		return {
			counts: [suite?.failures, suite?.skipped, parsed.failures],
			of: (name: string) => suite?.testcase?.find((c) => c.name === name),
		};
	};

	const lenient = await testcases(junitXml(view));
	t.deepEqual(lenient.counts, [1, 2, 1]);
	t.regex(
		lenient.of("x86_64/set_sregs_test")?.skipped?.[0]?.message ?? "",
		/^pending-fix: needs 222222222222 \("KVM: nVMX: Inject #GP"\)/,
	);
	t.is(lenient.of("x86_64/hyperv_test")?.skipped?.[0]?.message, "known: needs Hyper-V (bz#218267)");
	t.is(lenient.of("x86_64/hyperv_test")?.failure, undefined);
	t.is(lenient.of("x86_64/cpuid_test")?.failure?.[0]?.type, "regression");

	const strict = await testcases(junitXml(view, { strict: true }));
	t.deepEqual(strict.counts, [3, 0, 3]);
	t.is(strict.of("x86_64/set_sregs_test")?.failure?.[0]?.type, "pending-fix");
	t.is(strict.of("x86_64/hyperv_test")?.failure?.[0]?.type, "known");

	// A run whose exit policy made pending fixes red shows them red in the test tab too.
	const red = await testcases(
		junitXml({
			...view,
			decision: decideExit({ regression: 1, "pending-fix": 1, known: 1 }, new Set(["regression", "pending-fix"])),
		}),
	);
	t.is(red.of("x86_64/set_sregs_test")?.failure?.[0]?.type, "pending-fix");
	t.truthy(red.of("x86_64/hyperv_test")?.skipped);
	t.deepEqual(red.counts, [2, 1, 2]);
});

test("JUnit: the same test twice in a cell stays two testcases with different names", async (t) => {
	const view = sampleView();
	const twice = { ...view, cells: [cell("c", "kvm@next", "tcg", [result("a", "pass"), result("a", "fail")])] };
	const parsed = await parse(junitXml(twice));
	const names =
		parsed !== undefined && parsed !== null && "testsuite" in parsed
			? parsed.testsuite?.[0]?.testcase?.map((c) => c.name)
			: [];
	t.deepEqual(names, ["a", "a #2"]);
});

test("xmlSafe drops terminal escapes and replaces characters XML 1.0 forbids", (t) => {
	t.is(xmlSafe("a\u001b[1;31mb\u001b[0m\u0000c\td\ne"), "ab\ufffdc\td\ne");
	t.is(xmlSafe("\ud800x"), "\ufffdx");
});

test("KCIDB: the document validates against the v5.3 schema, paths dot-separated, verdicts in misc", (t) => {
	const doc = kcidbDocument(sampleView(), {
		origin: "my_lab",
		repositoryUrl: () => "https://git.kernel.org/pub/scm/virt/kvm/kvm.git",
	});
	t.true(validKcidb(doc), JSON.stringify(validKcidb.errors));
	t.deepEqual(doc.version, { major: 5, minor: 3 });
	t.is(doc.checkouts.length, 2);
	t.is(doc.checkouts[0]?.git_commit_hash, SHA);
	const cpuid = doc.tests.find((x) => x.path === "selftests.x86_64.cpuid_test");
	t.is(cpuid?.status, "FAIL");
	t.is(cpuid?.misc.verdict, "regression");
	t.is(doc.tests.find((x) => x.path === "kut.vmx")?.status, "ERROR");
	t.is(doc.tests.find((x) => x.misc.test === "x86_64/smm_test")?.status, "SKIP");
	t.is(doc.builds.find((b) => b.misc.kernel === "kvm@broken")?.status, "FAIL");
	t.true(doc.tests.every((x) => x.id.startsWith("my_lab:") && x.build_id.startsWith("my_lab:")));
	t.is(new Set(doc.tests.map((x) => x.id)).size, doc.tests.length);
});

test("KCIDB: the schema refuses what KCIDB refuses (it is not a schema that takes anything)", (t) => {
	const doc = kcidbDocument(sampleView(), { origin: "my_lab" });
	const broken = (change: (d: Record<string, unknown>) => void) => {
		const copy = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
		change(copy);
		return validKcidb(copy);
	};
	t.true(broken(() => {}));
	t.false(broken((d) => (((d.tests as Record<string, unknown>[])[0] as Record<string, unknown>).verdict = "x")));
	t.false(
		broken((d) => (((d.tests as Record<string, unknown>[])[0] as Record<string, unknown>).path = "x86/cpuid_test")),
	);
	t.false(broken((d) => (((d.tests as Record<string, unknown>[])[0] as Record<string, unknown>).status = "CRASH")));
	t.false(
		broken((d) => (((d.checkouts as Record<string, unknown>[])[0] as Record<string, unknown>).origin = "My-Lab")),
	);
	t.false(
		broken(
			(d) =>
				(((d.checkouts as Record<string, unknown>[])[0] as Record<string, unknown>).git_repository_url = "git://x"),
		),
	);
	t.false(broken((d) => delete d.version));
	// A repository that is not https is left out rather than refused.
	const git = kcidbDocument(sampleView(), { origin: "my_lab", repositoryUrl: () => "git://git.kernel.org/kvm.git" });
	t.true(validKcidb(git));
	t.is(git.checkouts[0]?.git_repository_url, undefined);
	t.throws(() => kcidbDocument(sampleView(), { origin: "My Lab" }), { message: /must match/ });
});

test("KCIDB paths: every part in [a-zA-Z0-9_-]", (t) => {
	t.is(kcidbPath("selftests", "x86_64/cpuid_test"), "selftests.x86_64.cpuid_test");
	t.is(kcidbPath("kut", "vmx_apic.passthrough+tpr"), "kut.vmx_apic.passthrough_tpr");
	t.is(kcidbPath("kut", "a//b"), "kut.a.b");
});

test("Markdown: the decision, totals by verdict, regressions first with their range, pending fixes with their branch", (t) => {
	const md = markdownReport(sampleView());
	t.regex(md, /^# kvm-matrix: nightly, run `20261202-030000-nightly`/);
	t.regex(md, /\*\*red: 1 regression/);
	t.regex(md, /\| regression \| 1 \|/);
	t.regex(md, /\| pending-fix \| 1 \|/);
	const reg = md.indexOf("## Regressions");
	const pend = md.indexOf("## Pending fixes");
	t.true(reg > 0 && pend > reg, md);
	t.regex(
		md,
		/`kvm@next\/tcg` `selftests:x86_64\/cpuid_test`: passed on kvm@master \(222222222222\); commits 222222222222\.\.111111111111/,
	);
	t.regex(md, /needs 222222222222 \("KVM: nVMX: Inject #GP"\), in kvm-x86@next/);
	t.regex(md, /## Cells that did not finish\n\n- `kvm@broken\/tcg`: build failed: kernel build failed/);
	// A test name from a tree is in a code span: text, not markup.
	t.true(md.includes("`selftests:x86_64/<script>alert(1)</script>`"));
});

test("HTML: every cell in the grid coloured by its worst verdict, names escaped, no external resource", (t) => {
	const view = sampleView();
	const html = htmlReport(view);
	t.deepEqual(view.cells.map(cellShade), ["regression", "infra", "infra"]);
	t.is((html.match(/<button type="button" data-cell=/g) ?? []).length, view.cells.length);
	t.false(html.includes("<script>alert(1)"));
	t.true(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
	t.notRegex(html, /\b(src|href)=/);
});

test("tailOf keeps the last lines within the byte cap, cut at a line", (t) => {
	const text = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
	t.is(tailOf(text, 3, 10_000), "line 97\nline 98\nline 99");
	t.is(tailOf(`${text}\n`, 2, 10_000), "line 98\nline 99");
	t.is(tailOf(text, 50, 20), "line 98\nline 99");
});

/** A run on the `params` axis: one test fails alike under two of a target's three sets. */
function paramsView(): RunView {
	const onlyWith: Verdict = {
		verdict: "new-failure",
		evidence: { notes: ["fails only with ept-off, npt-off; passes with default"] },
	};
	const cells = ["default", "ept-off", "npt-off"].map((set) =>
		cell(`kvm@next/tcg/${set}`, "kvm@next", `tcg/${set}`, [
			set === "default" ? result("x86_64/vmx_test", "pass") : result("x86_64/vmx_test", "fail", onlyWith),
		]),
	);
	return {
		...sampleView(),
		kernels: [{ id: "kvm@next", tree: "kvm", ref: "next", sha: SHA }],
		targets: ["tcg/default", "tcg/ept-off", "tcg/npt-off"],
		cells,
		logTails: new Map(),
		decision: decideExit({ "new-failure": 2 }),
	};
}

test("reports group the params axis: one line per test with its sets, sets under their target, the set as a field", async (t) => {
	const view = paramsView();
	const md = markdownReport(view);
	t.regex(
		md,
		/^- `kvm@next\/tcg` `selftests:x86\\?_64\/vmx\\?_test` with `ept-off`, `npt-off`: no baseline result and no linked fix; needs a human; fails only with ept-off, npt-off; passes with default$/m,
	);
	t.is(md.match(/vmx\\?_test/g)?.length, 1);
	const html = htmlReport(view);
	t.regex(
		html,
		/<th rowspan="2">kernel \\ target<\/th><th scope="colgroup" colspan="3">tcg<\/th><\/tr><tr><th scope="col">default<\/th><th scope="col">ept-off<\/th>/,
	);
	const parsed = await parse(junitXml(view));
	if (parsed === undefined || parsed === null || !("testsuite" in parsed)) return t.fail("no <testsuites>");
	const props = (parsed.testsuite?.[1]?.properties ?? []) as { name: string; value: string }[];
	t.true(
		props.some((p) => p.name === "params" && p.value === "ept-off"),
		JSON.stringify(props),
	);
	const doc = kcidbDocument(view, { origin: "my_lab" });
	t.deepEqual(
		doc.tests.map((x) => (x.environment as { misc: unknown }).misc),
		["default", "ept-off", "npt-off"].map((set) => ({ target: `tcg/${set}`, params: set })),
	);
	t.true(validKcidb(doc), JSON.stringify(validKcidb.errors));
});

test("Markdown and HTML fold the whole evidence under the line: full shas, every unresolved link", (t) => {
	const md = markdownReport(sampleView());
	const line = md.split("\n").findIndex((l) => l.includes("`selftests:x86_64/set_sregs_test`"));
	t.true(line > 0, md);
	t.deepEqual(md.split("\n").slice(line + 1, line + 8), [
		"  <details><summary>evidence (3)</summary>",
		"",
		`  - needs ${BASE} "KVM: nVMX: Inject #GP": in kvm-x86@next`,
		"  - unresolved: 20240907005440.500075-5-mlevitsk@redhat.com, not found in any configured tree",
		"  - unresolved: aMahfvF1r39Xq6zK@intel.com, not found in any configured tree",
		"",
		"  </details>",
	]);
	const html = htmlReport(sampleView());
	t.regex(
		html,
		/<details class="evidence"><summary>evidence \(3\)<\/summary><ul><li>needs 2{40} &quot;KVM: nVMX: Inject #GP&quot;: in kvm-x86@next<\/li><li>unresolved: 20240907005440/,
	);
});

test("mail: one per bisected regression, to the author, Cc the trailers' people once each; header lines stay lines", (t) => {
	const base = sampleView();
	const bisected: Verdict = {
		verdict: "regression",
		evidence: {
			passed: { kernel: "kvm@master", sha: BASE, status: "pass", relation: { kind: "ancestor", count: 3 } },
			here: SHA,
			notes: [],
			bisected: {
				dir: "/runs/x/bisect/1",
				commit: {
					sha: "3".repeat(40),
					subject: "KVM: x86: Rework\nSubject: injected",
					author: "Ada Author <ada@example.org>",
					links: ["https://lore.kernel.org/r/20261201000000.4242-1-ada@example.org"],
					people: [
						"Ada Author <ada@example.org>",
						"Rex Reviewer <rex@example.org>",
						"kvm@vger.kernel.org",
						"not an address\nBcc: evil@example.org",
					],
				},
			},
		},
	};
	const view: RunView = {
		...base,
		cells: [
			cell("kvm@next/tcg", "kvm@next", "tcg", [
				result("x86_64/cpuid_test", "fail", bisected),
				result("x86_64/other_test", "fail", regression),
			]),
		],
	};
	const mails = regressionMails(view, { from: "QA <qa@example.org>", matrixFile: "/m.yaml" });
	t.is(mails.length, 1);
	const text = mails[0]?.text ?? "";
	const headers = text.slice(0, text.indexOf("\n\n")).split("\n");
	t.deepEqual(
		headers.filter((h) => /^[A-Za-z-]+:/.test(h)).map((h) => h.slice(0, h.indexOf(":"))),
		["From", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"],
	);
	t.true(headers.includes("To: Ada Author <ada@example.org>"));
	t.true(headers.includes("Cc: Rex Reviewer <rex@example.org>,"));
	t.true(headers.includes("    kvm@vger.kernel.org"));
	t.false(text.includes("Bcc:"));
	t.regex(
		text,
		/^Subject: \[kvm:next\] 333333333333 KVM: x86: Rework Subject: injected: KVM selftest x86_64\/cpuid_test fails$/m,
	);
	t.regex(text, /^\| Reported-by: QA <qa@example\.org>$/m);
	// A display name with a comma is quoted; one that is not ASCII is an encoded word.
	const named =
		regressionMails(
			{
				...view,
				cells: [
					cell("kvm@next/tcg", "kvm@next", "tcg", [
						result("x86_64/cpuid_test", "fail", {
							...bisected,
							evidence: {
								...(bisected as Extract<Verdict, { verdict: "regression" }>).evidence,
								bisected: {
									dir: "/b",
									commit: {
										sha: "4".repeat(40),
										subject: "KVM: x86: Réparer",
										author: "Doe, John <j@example.org>",
										links: [],
										people: ["Zoë Ärger <z@example.org>"],
									},
								},
							},
						}),
					]),
				],
			},
			{ from: "QA <qa@example.org>" },
		)[0]?.text ?? "";
	t.regex(named, /^To: "Doe, John" <j@example\.org>$/m);
	t.regex(named, /^Cc: =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?= <z@example\.org>,$/m);
	t.regex(named, /^Subject: =\?UTF-8\?B\?/m);
	t.true(isMailAddress("QA Lab <qa@example.org>"));
	t.false(isMailAddress("QA <qa@example.org>\nBcc: x@example.org"));
	t.false(isMailAddress("nobody"));
	// The same run gives the same Message-ID (and Closes: link): a mail written again is the same mail.
	t.is(regressionMails(view, { from: "QA <qa@example.org>" })[0]?.messageId, mails[0]?.messageId);
	// Nothing bisected: no mail.
	t.is(mailReport(base), "");
});
