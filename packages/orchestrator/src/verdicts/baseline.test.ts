import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { baselineResult, findPreviousRun, type PreviousRun } from "./baseline.js";

const cell = (kernelId: string, sha: string, status: "pass" | "fail") => ({
	cell: `${kernelId}/t`,
	kernelId,
	target: "t",
	kernel: { sha },
	results: [{ suite: "kut" as const, testId: "vmx", status }],
});

test("a baseline kernel's cell on the same target, with the commit range", (t) => {
	const base = cell("kvm@next", "a".repeat(40), "pass");
	const here = cell("kvm@master", "b".repeat(40), "fail");
	const cells = new Map([base, here].map((c) => [c.cell, c]));
	t.deepEqual(baselineResult({ kind: "kernel", kernelId: "kvm@next" }, cells, here, "kut:vmx"), {
		kernel: "kvm@next",
		sha: "a".repeat(40),
		status: "pass",
		range: `${"a".repeat(40)}..${"b".repeat(40)}`,
	});
	// The baseline kernel has no baseline; nor does a test it did not run.
	t.is(baselineResult({ kind: "kernel", kernelId: "kvm@next" }, cells, base, "kut:vmx"), undefined);
	t.is(baselineResult({ kind: "kernel", kernelId: "kvm@next" }, cells, here, "kut:pmu"), undefined);
	t.is(baselineResult({ kind: "none" }, cells, here, "kut:vmx"), undefined);
});

test("a baseline that passed only on a retry is no baseline result: it is flaky there", (t) => {
	const flaky = {
		...cell("kvm@next", "a".repeat(40), "pass"),
		results: [
			{
				suite: "kut" as const,
				testId: "vmx",
				status: "pass" as const,
				earlier: [{ suite: "kut" as const, testId: "vmx", status: "fail" as const, durationMs: 1, attempt: 1 }],
			},
		],
	};
	const here = cell("kvm@master", "b".repeat(40), "fail");
	const cells = new Map([flaky, here].map((c) => [c.cell, c]));
	t.is(baselineResult({ kind: "kernel", kernelId: "kvm@next" }, cells, here, "kut:vmx"), undefined);
});

test("the previous run: the same cell, with that run's id", (t) => {
	const here = cell("kvm@master", "b".repeat(40), "fail");
	const run: PreviousRun = {
		runId: "20261124-010000-nightly",
		started: "2026-11-24T01:00:00.000Z",
		cells: [
			{
				id: "kvm@master/t",
				kernel: { id: "kvm@master", sha: "c".repeat(40) },
				results: [{ suite: "kut", testId: "vmx", status: "pass" }],
			},
		],
	};
	t.deepEqual(baselineResult({ kind: "previous-run", run }, new Map(), here, "kut:vmx"), {
		kernel: "kvm@master",
		sha: "c".repeat(40),
		status: "pass",
		run: "20261124-010000-nightly",
		range: `${"c".repeat(40)}..${"b".repeat(40)}`,
	});
	t.is(baselineResult({ kind: "previous-run" }, new Map(), here, "kut:vmx"), undefined);
});

test("the previous run is the newest completed run of the same matrix that started earlier", (t) => {
	const runs = mkdtempSync(path.join(os.tmpdir(), "runs-"));
	const write = (name: string, body: object | string) => {
		mkdirSync(path.join(runs, name));
		writeFileSync(path.join(runs, name, "results.json"), typeof body === "string" ? body : JSON.stringify(body));
	};
	const run = (runId: string, started: string, extra: object = {}) => ({
		runId,
		matrix: "nightly",
		outcome: "completed",
		started,
		cells: [],
		...extra,
	});
	write("a", run("a", "2026-11-20T00:00:00.000Z"));
	write("b", run("b", "2026-11-22T00:00:00.000Z"));
	write("c", run("c", "2026-11-23T00:00:00.000Z", { outcome: "cancelled" }));
	write("d", run("d", "2026-11-23T12:00:00.000Z", { matrix: "other" }));
	write("e", "{ not json");
	write("now", run("now", "2026-11-24T00:00:00.000Z"));
	write("later", run("later", "2026-11-25T00:00:00.000Z"));
	t.is(findPreviousRun(runs, "nightly", "2026-11-24T00:00:00.000Z", path.join(runs, "now"))?.runId, "b");
	t.is(findPreviousRun(runs, "nightly", "2026-11-21T00:00:00.000Z")?.runId, "a");
	t.is(findPreviousRun(runs, "nightly", "2026-11-19T00:00:00.000Z"), undefined);
	t.is(findPreviousRun(path.join(runs, "missing"), "nightly", "2026-11-24T00:00:00.000Z"), undefined);
});

test("runs are chosen by the fields results.json opens with; a head that cannot be trusted is read whole", (t) => {
	const runs = mkdtempSync(path.join(os.tmpdir(), "runs-"));
	const write = (name: string, body: string) => {
		mkdirSync(path.join(runs, name));
		writeFileSync(path.join(runs, name, "results.json"), body);
	};
	const head = (runId: string, started: string) =>
		`{"runId":"${runId}","matrix":"nightly","outcome":"completed","started":"${started}","cells":[`;
	write("a", `${head("a", "2026-11-20T00:00:00.000Z")}]}`);
	// The newest by its head, but cut short after it (a disk that filled): passed over.
	write("cut", `${head("cut", "2026-11-23T00:00:00.000Z")}{"id":"k/t","kernel":{"id":"k"},"res`);
	t.is(findPreviousRun(runs, "nightly", "2026-11-24T00:00:00.000Z")?.runId, "a");
	// Fields after a nested value (another writer's order) are not taken from the head: read whole.
	write(
		"late-fields",
		JSON.stringify({
			cells: [{ id: "x", matrix: "other" }],
			runId: "late",
			matrix: "nightly",
			outcome: "completed",
			started: "2026-11-22T00:00:00.000Z",
		}),
	);
	t.is(findPreviousRun(runs, "nightly", "2026-11-24T00:00:00.000Z")?.runId, "late");
	// A matrix name with brackets and escapes in its head.
	write(
		"odd",
		JSON.stringify({
			runId: "odd",
			matrix: 'a [b] "c"',
			outcome: "completed",
			started: "2026-11-23T06:00:00.000Z",
			cells: [],
		}),
	);
	t.is(findPreviousRun(runs, 'a [b] "c"', "2026-11-24T00:00:00.000Z")?.runId, "odd");
	t.is(findPreviousRun(runs, "nightly", "2026-11-24T00:00:00.000Z")?.runId, "late");
});
