// Every parser that reads outside input, and what must hold for whatever it is given: it returns,
// or throws only its documented typed error (unittests.cfg's UnsafeTestNameError; the others
// return their problems, so they may throw nothing), and well-formed input comes back as what it
// says. One entry per parser; test/fuzz.test.ts runs each a few hundred times, `pnpm fuzz` 100,000.
import assert from "node:assert/strict";
import fc from "fast-check";
import { type JournalRecord, parseJournal } from "../../packages/orchestrator/src/engine/journal.js";
import { findSummary, parseChecks, parseStatusLine, parseSummary } from "../../packages/orchestrator/src/kut/output.js";
import { kutResult } from "../../packages/orchestrator/src/kut/run-host.js";
import { parseDepFile, parseImageRules } from "../../packages/orchestrator/src/kut/sources.js";
import {
	parseUnittestsCfg,
	timeoutSeconds,
	UnsafeTestNameError,
} from "../../packages/orchestrator/src/kut/unittests-cfg.js";
import { parseMbox, parseMessage } from "../../packages/orchestrator/src/links/mail.js";
import { describePosting, normalisePatchSubject } from "../../packages/orchestrator/src/links/posting.js";
import {
	citationsOf,
	normaliseMessageId,
	referenceFromUrl,
	referencesOf,
	seriesOf,
} from "../../packages/orchestrator/src/links/trailers.js";
import { parseMatrix } from "../../packages/orchestrator/src/matrix/parse.js";
import { parseForeignResults, parseKutLogDir } from "../../packages/orchestrator/src/results/foreign.js";
import { parseTapSubtests, skipReason } from "../../packages/orchestrator/src/selftests/status.js";
import {
	commitMessage,
	depFileText,
	depPath,
	foreignText,
	hugeSubjectMail,
	kutLine,
	kutTapLine,
	lines,
	mailText,
	makefileText,
	matrixText,
	mboxText,
	messageId,
	noise,
	outsideInput,
	repeated,
	resultsCells,
	tapLine,
	tapName,
	testName,
	unittestsCfg,
	validMatrix,
	wellFormedCfg,
	word,
} from "./inputs.js";

/** One parser of outside input, as the fuzz runs it. */
export interface ParserProperty {
	/** What it reads, as `pnpm fuzz` prints it. */
	readonly name: string;
	/** A fresh property: `fc.check(entry.property(), { numRuns })`. */
	readonly property: () => fc.IProperty<[unknown]>;
	/** The parser on one raw text, as `pnpm fuzz` times it against its budget. */
	readonly parseText: (text: string) => void;
}

/** The parser threw something that is not its typed error: the failure every entry looks for. */
export class UntypedThrow extends Error {
	override readonly name = "UntypedThrow";
	constructor(parser: string, error: unknown) {
		const what = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
		super(`${parser} threw ${what.split("\n")[0]}`, { cause: error });
		// The report shows where the parser threw, not where this was made.
		if (error instanceof Error && error.stack !== undefined)
			this.stack = [
				`${this.name}: ${this.message}`,
				...error.stack.split("\n").filter((l) => l.trimStart().startsWith("at ")),
			].join("\n");
	}
}

/**
 * A parser's entry. `parse` must return for every input, or throw only what `typedError` accepts;
 * `expect` then checks the output, for every input or for the well-formed ones the input marks.
 */
export function parser<T, R>(spec: {
	readonly name: string;
	readonly input: fc.Arbitrary<T>;
	readonly parse: (input: T) => R;
	/** One raw text as this parser's input, for the time budget's adversarial texts. */
	readonly fromText: (text: string) => T;
	readonly typedError?: (error: unknown) => boolean;
	readonly expect?: (output: R, input: T) => void;
}): ParserProperty {
	const run = (input: T): void => {
		let output: R;
		try {
			output = spec.parse(input);
		} catch (error) {
			if (spec.typedError?.(error) === true) return;
			throw new UntypedThrow(spec.name, error);
		}
		spec.expect?.(output, input);
	};
	const parseText = (text: string): void => {
		try {
			spec.parse(spec.fromText(text));
		} catch (error) {
			if (spec.typedError?.(error) !== true) throw new UntypedThrow(spec.name, error);
		}
	};
	return { name: spec.name, property: () => fc.property(spec.input, run), parseText };
}

const lineCount = (text: string) => text.split("\n").length;
// An error message is printed as one `FILE:LINE:COL: message` line: it must not carry C0 control
// characters from the input (line breaks, the ESC that starts a terminal sequence).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const ONE_LINE = /^[^\u0000-\u001f]+$/;

// ---- matrix ------------------------------------------------------------------------------------

type MatrixCase = {
	readonly text: string;
	readonly exists: boolean;
	/** The kernels and targets a valid matrix has. */
	readonly valid?: { readonly kernels: readonly string[]; readonly targets: readonly string[] };
};

const matrix = parser({
	name: "matrix",
	input: fc.oneof(
		{
			weight: 9,
			arbitrary: fc.tuple(matrixText, fc.boolean()).map(([text, exists]): MatrixCase => ({ text, exists })),
		},
		{
			weight: 2,
			arbitrary: validMatrix.map(
				({ text, kernels, targets, valid }): MatrixCase => ({
					text,
					exists: true,
					...(valid ? { valid: { kernels, targets } } : {}),
				}),
			),
		},
	),
	fromText: (text): MatrixCase => ({ text, exists: true }),
	parse: ({ text, exists }: MatrixCase) =>
		parseMatrix(text, {
			label: "m.yaml",
			file: "/fuzz/m.yaml",
			baseDir: "/fuzz",
			homeDir: "/home/u",
			exists: () => exists,
		}),
	expect: (result, { text, valid }) => {
		if (valid !== undefined) {
			assert.ok(result.ok, `a valid matrix was refused: ${JSON.stringify(result.ok ? "" : result.error)}`);
			assert.deepEqual(
				result.value.kernels.map((k) => k.id),
				valid.kernels,
			);
			assert.deepEqual(
				result.value.targets.map((t) => t.name),
				valid.targets,
			);
		}
		if (!result.ok) {
			assert.ok(result.error.length > 0, "refused without a reason");
			for (const e of result.error) {
				assert.equal(e.file, "m.yaml");
				assert.ok(Number.isInteger(e.line) && e.line >= 1 && e.line <= lineCount(text), `line ${e.line}`);
				assert.ok(Number.isInteger(e.col) && e.col >= 1, `column ${e.col}`);
				assert.match(e.message, ONE_LINE);
			}
			return;
		}
		// What a run is started with: numbers a timer, QEMU's -m and a shell can take.
		const m = result.value;
		for (const t of m.targets) {
			assert.ok(Number.isInteger(t.qemu.smp) && t.qemu.smp >= 1 && t.qemu.smp <= 1024, `smp ${t.qemu.smp}`);
			assert.ok(Number.isSafeInteger(t.qemu.memoryBytes) && t.qemu.memoryBytes > 0, `memory ${t.qemu.memoryBytes}`);
		}
		for (const ms of [m.suites.selftests?.timeoutMs, m.suites.kut?.timeoutMs])
			if (ms !== undefined) assert.ok(Number.isSafeInteger(ms) && ms > 0 && ms <= 2 ** 31 - 1, `timeout ${ms} ms`);
		assert.ok(Number.isInteger(m.retries) && m.retries >= 0 && m.retries <= 10);
	},
});

// ---- kvm-unit-tests ------------------------------------------------------------------------------

type CfgCase = { readonly text: string; readonly names?: readonly string[] };

const unittestsCfgEntry = parser({
	name: "unittests.cfg",
	input: fc.oneof(
		{ weight: 4, arbitrary: outsideInput(unittestsCfg).map((text): CfgCase => ({ text })) },
		{ weight: 1, arbitrary: wellFormedCfg },
	),
	fromText: (text): CfgCase => ({ text }),
	parse: ({ text }: CfgCase) => {
		const cfg = parseUnittestsCfg(text);
		return { ...cfg, timeouts: cfg.entries.map((e) => timeoutSeconds(e.timeout)) };
	},
	// A section name that would be unsafe in a script or a path refuses the whole file, in one line.
	typedError: (error) => error instanceof UnsafeTestNameError && ONE_LINE.test(error.message),
	expect: ({ entries, problems, timeouts }, { text, names }) => {
		for (const at of [...entries.map((e) => e.line), ...problems.map((p) => p.line)])
			assert.ok(at >= 1 && at <= lineCount(text), `line ${at}`);
		for (const s of timeouts) assert.ok(!Number.isNaN(s) && s >= 0, `timeout ${s}`);
		if (names !== undefined) {
			assert.deepEqual(problems, []);
			assert.deepEqual(
				entries.map((e) => e.name),
				names,
			);
			for (const e of entries) assert.equal(e.file, "x.flat");
		}
	},
});

type KutOutputCase = {
	readonly lines: readonly string[];
	readonly status?: { readonly word: "PASS" | "FAIL" | "SKIP"; readonly name: string; readonly tests: number };
	readonly checks?: readonly { readonly word: string; readonly text: string }[];
};

const RESULT_OF = { PASS: "pass", FAIL: "fail", SKIP: "skip" } as const;

const kutOutput = parser({
	name: "KUT output",
	input: fc.oneof(
		{
			weight: 3,
			arbitrary: outsideInput(
				lines(kutLine, 20),
				lines(repeated(fc.constantFrom(" ", "PASS ", "(", "1 tests, "), 2000)),
			).map((text): KutOutputCase => ({ lines: text.split("\n") })),
		},
		{
			weight: 1,
			arbitrary: fc
				.tuple(
					fc.constantFrom("PASS", "FAIL", "SKIP"),
					testName,
					fc.nat({ max: Number.MAX_SAFE_INTEGER }),
					fc.array(fc.tuple(fc.constantFrom("PASS", "FAIL", "SKIP", "XFAIL", "XPASS", "KFAIL"), tapName), {
						maxLength: 5,
					}),
				)
				.map(
					([status, name, tests, checks]): KutOutputCase => ({
						lines: [...checks.map(([w, text]) => `${w}: ${text}`), `SUMMARY: ${tests} tests`],
						status: { word: status, name, tests },
						checks: checks.map(([w, text]) => ({ word: w, text })),
					}),
				),
		},
	),
	fromText: (text): KutOutputCase => ({ lines: text.split("\n") }),
	parse: ({ lines: log, status }: KutOutputCase) => {
		const line = status === undefined ? (log[0] ?? "") : `${status.word} ${status.name} (${status.tests} tests)`;
		return {
			statuses: log.map(parseStatusLine),
			summaries: log.map((l) => parseSummary(l)),
			checks: parseChecks(log),
			summary: findSummary(log),
			line: parseStatusLine(line),
			result: kutResult(line, log, 0, "/logs/x.log"),
		};
	},
	expect: (out, { status, checks }) => {
		if (status === undefined || checks === undefined) return;
		assert.deepEqual(out.line?.status, status.word);
		assert.equal(out.line?.name, status.name);
		assert.equal(out.line?.summary?.tests, status.tests);
		assert.equal(out.summary?.tests, status.tests);
		assert.equal(out.result?.testId, status.name);
		assert.equal(out.result?.status, RESULT_OF[status.word]);
		assert.deepEqual(
			out.checks,
			checks.map((c) => ({ status: c.word.toLowerCase(), text: c.text })),
		);
	},
});

// ---- TAP ---------------------------------------------------------------------------------------

type TapCase = { readonly text: string; readonly subtests?: readonly { name: string; ok: boolean }[] };

const selftestsTap = parser({
	name: "kselftest TAP",
	input: fc.oneof(
		{
			weight: 3,
			arbitrary: outsideInput(lines(tapLine, 20), repeated(fc.constantFrom(" ", "ok 1 ", "\t#"), 2000)).map(
				(text): TapCase => ({ text }),
			),
		},
		{
			weight: 1,
			arbitrary: fc.array(fc.record({ name: tapName, ok: fc.boolean() }), { maxLength: 10 }).map(
				(subtests): TapCase => ({
					text: [
						"TAP version 13",
						`1..${subtests.length}`,
						...subtests.flatMap((s, i) => [`# ${s.name}: starting`, `${s.ok ? "ok" : "not ok"} ${i + 1} ${s.name}`]),
						"# Totals: pass:0 fail:0",
					].join("\n"),
					subtests,
				}),
			),
		},
	),
	fromText: (text): TapCase => ({ text }),
	parse: ({ text }: TapCase) => {
		const list = text.split(/\r?\n/);
		return { subtests: parseTapSubtests(list), skip: skipReason(list) };
	},
	expect: (out, { subtests }) => {
		if (subtests === undefined) return;
		assert.deepEqual(
			out.subtests,
			subtests.map((s) => ({ name: s.name, status: s.ok ? "pass" : "fail" })),
		);
	},
});

type ForeignCase = {
	readonly text: string;
	readonly json?: readonly { readonly id: string; readonly results: readonly Record<string, unknown>[] }[];
	readonly kselftests?: readonly { readonly name: string; readonly ok: boolean }[];
};

const STATUSES = new Set(["pass", "fail", "skip", "timeout", "crash", "error"]);

const foreignResults = parser({
	name: "foreign results",
	input: fc.oneof(
		{ weight: 6, arbitrary: outsideInput(foreignText).map((text): ForeignCase => ({ text })) },
		{
			weight: 1,
			arbitrary: resultsCells.map((cells): ForeignCase => ({ text: JSON.stringify({ cells }), json: cells })),
		},
		{
			weight: 1,
			arbitrary: fc
				.uniqueArray(fc.record({ name: testName, ok: fc.boolean() }), {
					minLength: 1,
					maxLength: 6,
					selector: (t) => t.name,
				})
				.map(
					(tests): ForeignCase => ({
						text: [
							"TAP version 13",
							`1..${tests.length}`,
							...tests.flatMap((t, i) => [
								`# selftests: kvm: ${t.name}`,
								"# Random seed: 0x6b8b4567",
								`${t.ok ? "ok" : "not ok"} ${i + 1} selftests: kvm: ${t.name}`,
							]),
						].join("\n"),
						kselftests: tests,
					}),
				),
		},
	),
	fromText: (text): ForeignCase => ({ text }),
	parse: ({ text }: ForeignCase) => parseForeignResults(text, { name: "in.txt" }),
	expect: (read, { json, kselftests }) => {
		if ("error" in read) {
			assert.ok(read.error.startsWith("in.txt: "), read.error);
			assert.match(read.error, ONE_LINE);
		} else {
			assert.ok(read.results.length > 0, "results without a result");
			for (const r of read.results) {
				assert.ok(r.testId.length > 0, "a result without a test id");
				assert.ok(STATUSES.has(r.status), r.status);
			}
		}
		if (json !== undefined) {
			assert.ok(!("error" in read), "error" in read ? read.error : "");
			assert.equal(read.format, "kvm-matrix-json");
			// Through JSON, as a file holds them: plain objects, not the generator's.
			const written: unknown = JSON.parse(
				JSON.stringify(json.flatMap((c) => c.results.map((r) => ({ ...r, cell: c.id })))),
			);
			assert.deepEqual(read.results, written);
		}
		if (kselftests !== undefined) {
			assert.ok(!("error" in read), "error" in read ? read.error : "");
			assert.equal(read.format, "kselftest-tap");
			assert.deepEqual(
				read.results.map((r) => [r.testId, r.status]),
				kselftests.map((t) => [t.name, t.ok ? "pass" : "fail"]),
			);
		}
	},
});

const kutLogDir = parser({
	name: "KUT log directory",
	input: fc.record({
		summary: fc.option(outsideInput(lines(kutLine, 10))),
		logs: fc.array(fc.tuple(fc.oneof(testName, noise(8)), outsideInput(lines(fc.oneof(kutLine, kutTapLine), 12))), {
			maxLength: 4,
		}),
	}),
	fromText: (text) => ({ summary: text, logs: [["x", text] as [string, string]] }),
	parse: ({ summary, logs }) =>
		parseKutLogDir({ dir: "/logs", ...(summary === null ? {} : { summary }), logs: new Map(logs) }),
	expect: (read, { logs }) => {
		if ("error" in read) return assert.match(read.error, ONE_LINE);
		assert.ok(read.results.length > 0);
		// Every log is judged, listed in SUMMARY or not.
		for (const [name] of logs)
			assert.ok(
				read.results.some((r) => r.testId === name),
				`no result for log ${name}`,
			);
	},
});

// ---- trailers and mail ---------------------------------------------------------------------------

// How a commit links a mail: lore's short and long forms, patch.msgid.link, a bare Message-ID.
const LINK_SHAPES: readonly ((id: string) => string)[] = [
	(id) => `Link: https://lore.kernel.org/r/${id}`,
	(id) => `Link: https://lore.kernel.org/kvm/${id}/T/#u`,
	(id) => `link:https://patch.msgid.link/${encodeURIComponent(id)}`,
	(id) => `Link: <https://lkml.kernel.org/r/${id}> # [1]`,
	(id) => `Message-ID: <${id}>`,
	(id) => `Closes: https://lore.kernel.org/all/${id}/`,
];

type TrailerCase = {
	readonly message: string;
	readonly link?: { readonly id: string; readonly series?: number };
};

const trailers = parser({
	name: "trailers",
	input: fc.oneof(
		{ weight: 3, arbitrary: outsideInput(commitMessage).map((message): TrailerCase => ({ message })) },
		{
			weight: 2,
			arbitrary: fc
				.tuple(
					outsideInput(commitMessage),
					fc.oneof(
						messageId.map((id) => ({ id })),
						fc
							.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 99 }))
							.map(([pid, n]) => ({ id: `20240131123456.${pid}-${n}-seanjc@google.com`, series: n })),
					),
					fc.nat(LINK_SHAPES.length - 1),
					outsideInput(commitMessage),
				)
				.map(
					([before, link, shape, after]): TrailerCase => ({
						message: `${before}\n${LINK_SHAPES[shape]?.(link.id)}\n${after}`,
						link,
					}),
				),
		},
	),
	fromText: (message): TrailerCase => ({ message }),
	parse: ({ message }: TrailerCase) => {
		const each = message.split("\n");
		return {
			references: referencesOf(message),
			citations: citationsOf(message),
			urls: each.map(referenceFromUrl),
			series: each.map((l) => seriesOf(normaliseMessageId(l))),
		};
	},
	expect: (out, { link }) => {
		if (link === undefined) return;
		assert.ok(
			out.references.some((r) => r.kind === "message-id" && r.id === link.id),
			`${link.id} not found in ${JSON.stringify(out.references)}`,
		);
		if (link.series !== undefined) assert.equal(seriesOf(link.id)?.index, link.series);
	},
});

// A subject `git am` keeps as it is: printable, single-spaced, not starting with `Re:`, `[` or `:`.
const plainSubject = fc
	.array(word("KVMxabc019", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_()./-", 12), {
		minLength: 1,
		maxLength: 6,
	})
	.map((words) => words.join(" "))
	.filter((s) => !/^re:/i.test(s));

type MailCase = { readonly text: string; readonly sent?: { readonly id: string; readonly subject: string } };

const mail = parser({
	name: "mail",
	input: fc.oneof(
		{ weight: 100, arbitrary: outsideInput(mailText).map((text): MailCase => ({ text })) },
		// Rare: each takes tens of milliseconds.
		{ weight: 1, arbitrary: hugeSubjectMail.map((text): MailCase => ({ text })) },
		{ weight: 30, arbitrary: outsideInput(mboxText).map((text): MailCase => ({ text })) },
		{
			weight: 30,
			arbitrary: fc.tuple(messageId, plainSubject, fc.constantFrom("\n", "\r\n"), lines(noise(30))).map(
				([id, subject, eol, body]): MailCase => ({
					text: [`Message-ID: <${id}>`, `Subject: ${subject}`, "", body].join(eol),
					sent: { id, subject },
				}),
			),
		},
	),
	fromText: (text): MailCase => ({ text }),
	parse: ({ text }: MailCase) => ({ message: parseMessage(text), mbox: parseMbox(text) }),
	expect: ({ message, mbox }, { sent }) => {
		// Subjects are compared across postings: always unfolded and single-spaced. (Ids of a broken
		// header, `<<x`, stay as broken as they came: they match nothing either way.)
		for (const m of [message, ...mbox]) assert.doesNotMatch(m.subject, /^\s|\s$|\s\s/);
		if (sent !== undefined) {
			assert.equal(message.messageId, sent.id);
			assert.equal(message.subject, sent.subject);
		}
	},
});

type SubjectCase = {
	readonly subject: string;
	readonly plain?: string;
	readonly mbox?: string;
	/** For a generated series: the subjects of its patches, which its cover letter stands for. */
	readonly series?: readonly string[];
};

/** A cover letter and its patches as `git send-email` threads them, in a shuffled mbox. */
const seriesThread = fc
	.tuple(fc.array(plainSubject, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 4 }), fc.boolean())
	.chain(([subjects, version, kut]) => {
		const tag = (i: number) =>
			`[${kut ? "kvm-unit-tests " : ""}PATCH${version > 1 ? ` v${version}` : ""} ${i}/${subjects.length}]`;
		const mails = [
			["<cover@x>", undefined, `${tag(0)} The series`],
			...subjects.map((s, i) => [`<p${i + 1}@x>`, "<cover@x>", `${tag(i + 1)} ${s}`] as const),
		].map(([id, parent, subject]) =>
			[
				"From mboxrd@z Thu Jan  1 00:00:00 1970",
				`Message-ID: ${id}`,
				...(parent === undefined ? [] : [`In-Reply-To: ${parent}`, `References: ${parent}`]),
				`Subject: ${subject}`,
				"",
				"body",
				"",
			].join("\n"),
		);
		return fc
			.shuffledSubarray(mails, { minLength: mails.length })
			.map((shuffled): SubjectCase => ({ subject: "", mbox: shuffled.join("\n"), series: subjects }));
	});

const posting = parser({
	name: "patch subjects",
	input: fc.oneof(
		{ weight: 2, arbitrary: outsideInput(noise(40)).map((subject): SubjectCase => ({ subject })) },
		{
			weight: 2,
			arbitrary: fc
				.tuple(
					fc.constantFrom("", "Re: ", "RE: re: ", " Re:Re: "),
					fc.constantFrom(
						"[PATCH]",
						"[PATCH v2 3/7]",
						"[kvm-unit-tests PATCH 0/2]",
						"[RFC PATCHv3 01/10]",
						"[PATCH] [PATCH]",
						"",
					),
					fc.constantFrom(" ", "  ", ": ", "\t"),
					plainSubject,
				)
				.map(([re, tag, gap, plain]): SubjectCase => ({ subject: `${re}${tag}${gap}${plain}`, plain })),
		},
		{ weight: 1, arbitrary: outsideInput(mboxText).map((mbox): SubjectCase => ({ subject: "", mbox })) },
		{ weight: 1, arbitrary: seriesThread },
	),
	fromText: (text): SubjectCase => ({ subject: text, mbox: text }),
	parse: ({ subject, mbox }: SubjectCase) => {
		const thread = mbox === undefined ? [] : parseMbox(mbox);
		return {
			subject: normalisePatchSubject(subject),
			postings: thread.map((m) => describePosting(m, thread)),
		};
	},
	expect: (out, { plain, series }) => {
		// What `git am` made of a subject is what it makes of it again.
		assert.equal(normalisePatchSubject(out.subject), out.subject);
		if (plain !== undefined) assert.equal(out.subject, plain);
		if (series !== undefined) {
			const cover = out.postings.find((p) => p.messageId === "cover@x");
			assert.equal(cover?.kind, "cover-letter");
			assert.deepEqual(cover?.patchSubjects, series);
		}
	},
});

// ---- dependency files and Makefiles --------------------------------------------------------------

type DepCase = { readonly text: string; readonly prerequisites?: readonly string[] };

const depFiles = parser({
	name: "dependency files",
	input: fc.oneof(
		{ weight: 3, arbitrary: outsideInput(depFileText).map((text): DepCase => ({ text })) },
		{
			weight: 1,
			arbitrary: fc
				.tuple(depPath, fc.array(depPath, { maxLength: 8 }), fc.constantFrom(" ", " \\\n ", " \\\r\n\t"))
				.map(
					([object, prerequisites, gap]): DepCase => ({
						text: `${object}.o: ${prerequisites.join(gap)}\n\n${prerequisites.map((p) => `${p}:\n`).join("\n")}`,
						prerequisites,
					}),
				),
		},
	),
	fromText: (text): DepCase => ({ text }),
	parse: ({ text }: DepCase) => parseDepFile(text),
	expect: (files, { prerequisites }) => {
		if (prerequisites !== undefined) assert.deepEqual(files, [...new Set(prerequisites)]);
	},
});

// An image as KUT's rules name it, `[\w-]+`, and the objects it links.
const imageWord = word("abcdefghijklmnopqrstuvwxyz_0123456789", "abcdefghijklmnopqrstuvwxyz_0123456789-", 16);

type MakeCase = { readonly texts: readonly string[]; readonly image?: string; readonly objects?: readonly string[] };

const imageRules = parser({
	name: "Makefile image rules",
	input: fc.oneof(
		{
			weight: 3,
			arbitrary: fc.array(outsideInput(makefileText), { maxLength: 2 }).map((texts): MakeCase => ({ texts })),
		},
		{
			weight: 1,
			arbitrary: fc.tuple(imageWord, fc.array(imageWord, { maxLength: 5 }), fc.constantFrom(" ", " \\\n\t", "  ")).map(
				([image, objects, gap]): MakeCase => ({
					texts: [
						[
							"# image rules",
							`$(TEST_DIR)/${image}.$(bin): ${objects.map((o) => `$(TEST_DIR)/${o}.o`).join(gap)}`,
							"\t$(CC) -o $@ $^",
							`$(TEST_DIR)/${image}.o: CFLAGS += -O0`,
						].join("\n"),
					],
					image,
					objects: [...new Set(objects.filter((o) => o !== image).map((o) => `x86/${o}.o`))],
				}),
			),
		},
	),
	fromText: (text): MakeCase => ({ texts: [text] }),
	parse: ({ texts }: MakeCase) => parseImageRules(texts),
	expect: (rules, { image, objects }) => {
		if (image === undefined || objects === undefined) return;
		assert.deepEqual(rules.get(image) ?? [], objects);
	},
});

const journalName = word("abcxyz", "abcxyz0123456789_@/-", 12);
/** A journal record as the engine writes it, one of the kinds a killed run leaves. */
const journalRecord: fc.Arbitrary<JournalRecord> = fc.oneof(
	fc.record({
		type: fc.constant("run-started" as const),
		runId: journalName,
		at: fc.constant("2026-12-02T00:00:00.000Z"),
		cells: fc.array(journalName, { maxLength: 3 }),
	}),
	fc.record({ type: fc.constant("cell-note" as const), cell: journalName, text: fc.string({ maxLength: 40 }) }),
	fc.record({
		type: fc.constant("test-result" as const),
		cell: journalName,
		result: fc.record({
			suite: fc.constantFrom("selftests" as const, "kut" as const),
			testId: journalName,
			status: fc.constantFrom("pass" as const, "fail" as const, "skip" as const, "timeout" as const),
			durationMs: fc.nat(),
			attempt: fc.integer({ min: 1, max: 3 }),
		}),
	}),
	fc.record({
		type: fc.constant("cell-state" as const),
		cell: journalName,
		state: fc.constantFrom({ stage: "running" as const }, { stage: "done" as const }),
	}),
	fc.record({
		type: fc.constant("run-finished" as const),
		outcome: fc.constantFrom("completed" as const, "cancelled" as const),
	}),
);

interface JournalCase {
	readonly text: string;
	/** The records written whole before any damage; undefined for noise. */
	readonly whole?: readonly JournalRecord[];
}

/**
 * journal.jsonl as a killed run leaves it: whole records, then a last one torn at any byte; or
 * mutated and noise text. It never throws; whole records before a tear all come back, and each
 * line it drops is one problem line.
 */
const journal = parser({
	name: "journal lines",
	input: fc.oneof(
		{
			weight: 3,
			arbitrary: fc
				.tuple(fc.array(journalRecord, { maxLength: 8 }), journalRecord, fc.double({ min: 0, max: 1, noNaN: true }))
				.map(([whole, last, cut]): JournalCase => {
					const torn = JSON.stringify(last);
					const head = whole.map((r) => `${JSON.stringify(r)}\n`).join("");
					return { text: head + torn.slice(0, Math.floor(cut * torn.length)), whole };
				}),
		},
		{
			weight: 2,
			arbitrary: outsideInput(lines(journalRecord.map((r) => JSON.stringify(r)))).map(
				(text): JournalCase => ({ text }),
			),
		},
	),
	fromText: (text): JournalCase => ({ text }),
	parse: ({ text }: JournalCase) => parseJournal(text),
	expect: (read, { text, whole }) => {
		for (const problem of read.problems) assert.match(problem, ONE_LINE);
		const nonEmpty = text.split("\n").filter((l) => l.trim() !== "").length;
		assert.equal(read.records.length + read.problems.length, nonEmpty);
		// Through JSON: fast-check's records have no prototype, the parser's do.
		if (whole !== undefined)
			assert.deepEqual(read.records.slice(0, whole.length), JSON.parse(JSON.stringify(whole)) as unknown);
	},
});

/**
 * Every parser of outside input. To add one, append an
 * entry built with `parser`: its name, an input arbitrary (see inputs.ts: `outsideInput(shape)`
 * mixes a well-formed shape, its mutations and noise), the call, `typedError` if it documents one
 * (`(e) => e instanceof JournalError`), and what must hold of its output.
 */
export const parserProperties: readonly ParserProperty[] = [
	matrix,
	unittestsCfgEntry,
	kutOutput,
	selftestsTap,
	foreignResults,
	kutLogDir,
	trailers,
	mail,
	posting,
	depFiles,
	imageRules,
	journal,
];
