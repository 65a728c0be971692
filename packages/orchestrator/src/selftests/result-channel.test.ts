import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { selftestsScript } from "./guest-script.js";
import { type ChannelEvent, ChannelNotes, ConsoleSinceStart, ResultChannelReader } from "./result-channel.js";

const read = (text: string, count = 2, parts = ["output"]) => {
	const reader = new ResultChannelReader({ count, parts });
	// Fed in small pieces: records and data lines may arrive cut anywhere.
	const bytes = Buffer.from(text);
	const events: ChannelEvent[] = [];
	for (let i = 0; i < bytes.length; i += 7) events.push(...reader.push(bytes.subarray(i, i + 7)));
	events.push(...reader.close());
	return { events, reader };
};
const b64 = (text: string) => Buffer.from(text).toString("base64");
const kinds = (events: readonly ChannelEvent[]) =>
	events.map((e) => (e.kind === "ignored" || e.kind === "broken" ? e.kind : `${e.kind} #${e.index}`));

test("start, data and end of each test in order; data comes back byte for byte", (t) => {
	const output = 'line one\n@@kvm-matrix-test-end x@@\n{"t":"end","i":1,"status":0,"ms":1}\n\0binary';
	const { events } = read(
		[
			'{"t":"start","i":0}',
			'{"t":"data","i":0,"part":"output","skipped":0}',
			b64(output),
			'{"t":"end","i":0,"status":1,"ms":120}',
			'{"t":"start","i":1}',
			'{"t":"end","i":1,"status":0,"ms":5}',
			"",
		].join("\n"),
	);
	t.deepEqual(kinds(events), ["start #0", "data #0", "end #0", "start #1", "end #1"]);
	const data = events[1];
	t.is(data?.kind === "data" ? data.bytes.toString() : "", output);
	t.deepEqual(events[2], { kind: "end", index: 0, status: 1, ms: 120 });
});

test("with width 2, two tests run side by side and end in any order; a third start waits its turn", (t) => {
	const reader = new ResultChannelReader({ count: 3, parts: ["output"], width: 2 });
	const events = reader.push(
		Buffer.from(
			[
				'{"t":"start","i":0}',
				'{"t":"start","i":1}',
				'{"t":"start","i":2}',
				'{"t":"data","i":1,"part":"output","skipped":0}',
				b64("one"),
				'{"t":"end","i":1,"status":0,"ms":3}',
				'{"t":"start","i":2}',
				'{"t":"data","i":0,"part":"output","skipped":0}',
				b64("zero"),
				"",
			].join("\n"),
		),
	);
	t.deepEqual(kinds(events), ["start #0", "start #1", "ignored", "data #1", "end #1", "start #2"]);
	t.deepEqual(reader.running, [0, 2]);
	const rest = [...reader.push(Buffer.from('{"t":"end","i":0,"status":1,"ms":9}\n')), ...reader.close()];
	t.deepEqual(kinds(rest), ["data #0", "end #0"]);
	t.is(rest[0]?.kind === "data" ? rest[0].bytes.toString() : "", "zero");
	t.deepEqual(reader.running, [2]);
});

const ignoredCases: [string, string[], string][] = [
	['{"t":"start","i":5}', [], "for test #"],
	['{"t":"start","i":1}', [], "out of order"],
	['{"t":"start","i":0}\n{"t":"start","i":0}', ["start #0"], "out of order"],
	['{"t":"start","i":0}\n{"t":"start","i":1}', ["start #0"], "while 1 run \\(at most 1\\)"],
	['{"t":"start","i":0}\n{"t":"end","i":1,"status":0,"ms":1}', ["start #0"], "which is not running"],
	['{"t":"start","i":0}\n{"t":"end","i":0,"status":"0","ms":1}', ["start #0"], "without a status"],
	['{"t":"start","i":"../../../tmp/x"}', [], "for test #"],
	['{"t":"start","i":0}\n{"t":"reboot","i":0}', ["start #0"], "unknown type"],
];
for (const [text, used, note] of ignoredCases) {
	test(`a record the host did not ask for is ignored with a note: ${text.replaceAll("\n", " then ")}`, (t) => {
		const { events } = read(`${text}\n`);
		t.deepEqual(kinds(events), [...used, "ignored"]);
		const last = events.at(-1);
		t.regex(last?.kind === "ignored" ? last.note : "", new RegExp(note.replace(/[#]/g, "\\$&")));
	});
}

test("data for a test that is not running is read past and dropped: the framing holds", (t) => {
	const { events } = read(
		[
			'{"t":"data","i":0,"part":"output","skipped":0}',
			b64('{"t":"start","i":0}\n'),
			'{"t":"start","i":0}',
			'{"t":"data","i":0,"part":"secrets","skipped":0}',
			b64("x"),
			'{"t":"end","i":0,"status":0,"ms":1}',
			"",
		].join("\n"),
		1,
	);
	t.deepEqual(kinds(events), ["ignored", "start #0", "ignored", "end #0"]);
});

const brokenCases = ["kvm-matrix: not a record", "[1,2]", `{"t":"data","i":0,"part":"output"}\n!!not base64!!`];
for (const text of brokenCases) {
	test(`a line that is not a record breaks the channel, and nothing after it counts: ${text.slice(0, 30)}`, (t) => {
		const { events, reader } = read(`{"t":"start","i":0}\n${text}\n{"t":"end","i":0,"status":0,"ms":1}\n`);
		t.deepEqual(kinds(events), ["start #0", "broken"]);
		t.true(reader.broken);
	});
}

test("a line without an end is not buffered for ever", (t) => {
	const reader = new ResultChannelReader({ count: 1, parts: ["output"] });
	const events = reader.push(Buffer.alloc(10_000, "a"));
	t.deepEqual(kinds(events), ["broken"]);
});

// The harness itself, run by busybox sh on this machine with descriptor 3 on a file, as the guest's
// init hands it the channel: what tests print or try to write never becomes a record.
test("the selftests harness: tests cannot reach the channel, their output comes back as data", async (t) => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "harness-"));
	const tests = path.join(dir, "tests", "x86_64");
	const scratch = path.join(dir, "scratch");
	mkdirSync(tests, { recursive: true });
	mkdirSync(scratch);
	const program = (name: string, body: string) => {
		writeFileSync(path.join(tests, name), `#!/bin/sh\n${body}\n`);
		chmodSync(path.join(tests, name), 0o755);
	};
	program(
		"forger",
		[
			`echo '{"t":"end","i":0,"status":0,"ms":1}'`,
			`echo '{"t":"start","i":1}' >&3 && echo wrote-fd-3`,
			`echo '{"t":"end","i":1,"status":0,"ms":1}' >&2`,
			"echo '@@kvm-matrix-test-start ../../../tmp/x@@'",
			"exit 1",
		].join("\n"),
	);
	program("quiet", "exit 4");
	const script = selftestsScript(
		path.join(dir, "tests"),
		[
			{ id: "x86_64/forger", timeoutS: 10 },
			{ id: "x86_64/quiet", timeoutS: 10 },
		],
		scratch,
	);
	const channel = path.join(dir, "channel");
	writeFileSync(path.join(dir, "script.sh"), script);
	const ran = await execa("sh", ["-c", 'busybox sh "$0" 3>"$1"', path.join(dir, "script.sh"), channel], {
		reject: false,
	});
	t.is(ran.exitCode, 0, ran.stderr);
	// The console (stdout) has every test's output, forged lines included, as text.
	t.true(ran.stdout.includes("kvm-matrix: selftest x86_64/forger"));
	t.true(ran.stdout.includes("@@kvm-matrix-test-start ../../../tmp/x@@"));
	t.false(ran.stdout.includes("wrote-fd-3"));
	const { events, reader } = read(readFileSync(channel, "utf8"), 2);
	t.false(reader.broken);
	t.deepEqual(kinds(events), ["start #0", "data #0", "end #0", "start #1", "data #1", "end #1"]);
	const output = events[1]?.kind === "data" ? events[1].bytes.toString() : "";
	t.true(output.includes('{"t":"end","i":0,"status":0,"ms":1}'));
	t.true(output.includes('{"t":"end","i":1,"status":0,"ms":1}'));
	// The test's own attempt to write descriptor 3 failed: the harness closed it for the test.
	t.regex(output, /3: Bad file descriptor/);
	t.like(events[2], { kind: "end", index: 0, status: 1 });
	t.like(events[5], { kind: "end", index: 1, status: 4 });
});

// Side by side: two tests that each wait for the other pass only if they run at the same time;
// the first, which must run alone, fails if anything starts beside it.
test("the selftests harness side by side: two tests run at once, the one asked to run alone does", async (t) => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "harness-"));
	const tests = path.join(dir, "tests", "x86_64");
	const scratch = path.join(dir, "scratch");
	const meet = path.join(dir, "meet");
	mkdirSync(tests, { recursive: true });
	mkdirSync(scratch);
	mkdirSync(meet);
	const program = (name: string, body: string) => {
		writeFileSync(path.join(tests, name), `#!/bin/sh\n${body}\n`);
		chmodSync(path.join(tests, name), 0o755);
	};
	const waitFor = (mine: string, other: string) =>
		`touch ${meet}/${mine}; i=0; while [ ! -e ${meet}/${other} ]; do i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.05; done; echo met ${other}`;
	program("lonely", `sleep 0.5; [ -e ${meet}/a ] && exit 1; echo alone`);
	program("meet_a", waitFor("a", "b"));
	program("meet_b", waitFor("b", "a"));
	const script = selftestsScript(
		path.join(dir, "tests"),
		["lonely", "meet_a", "meet_b"].map((n) => ({ id: `x86_64/${n}`, timeoutS: 10 })),
		scratch,
		{ width: 2, alone: 1 },
	);
	const channel = path.join(dir, "channel");
	writeFileSync(path.join(dir, "script.sh"), script);
	const ran = await execa("sh", ["-c", 'busybox sh "$0" 3>"$1"', path.join(dir, "script.sh"), channel], {
		reject: false,
	});
	t.is(ran.exitCode, 0, ran.stderr);
	const reader = new ResultChannelReader({ count: 3, parts: ["output"], width: 2 });
	const events = [...reader.push(readFileSync(channel)), ...reader.close()];
	t.false(reader.broken);
	t.deepEqual(kinds(events).slice(0, 5), ["start #0", "data #0", "end #0", "start #1", "start #2"]);
	const ends = events.filter((e) => e.kind === "end");
	t.deepEqual(
		ends.map((e) => [e.index, e.status]).sort(),
		[
			[0, 0],
			[1, 0],
			[2, 0],
		],
		ran.stdout,
	);
	const outputs = events.flatMap((e) => (e.kind === "data" ? [`${e.index}:${e.bytes.toString().trim()}`] : []));
	t.deepEqual(outputs.sort(), ["0:alone", "1:met b", "2:met a"]);
	t.true(ends.every((e) => e.kind === "end" && e.ms >= 0));
});

test("a flood of ignored records is a few notes and a count, and the last one is still known", (t) => {
	const notes = new ChannelNotes(2);
	for (let i = 0; i < 100_000; i++) notes.add(`record ${i} ignored`);
	t.deepEqual(notes.list(), [
		"record 0 ignored",
		"record 1 ignored",
		"… and 99998 more result-channel records ignored",
	]);
	t.is(notes.last(), "record 99999 ignored");
});

test("the console since a test started is its own: earlier tests' lines are not in it, the last lines are kept", (t) => {
	const since = new ConsoleSinceStart(3);
	since.start(0);
	since.line("zero starts");
	since.start(1);
	since.line("one starts");
	since.end(0);
	for (let i = 0; i < 2000; i++) since.line(`one says ${i}`);
	t.deepEqual(since.of(1), ["one says 1997", "one says 1998", "one says 1999"]);
	t.deepEqual(since.of(0), []);
	since.start(2);
	since.line("two");
	t.deepEqual(since.of(2), ["two"]);
});
