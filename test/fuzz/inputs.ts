// Arbitraries of outside input: pure noise, and the shapes real files have (matrices, unittests.cfg,
// run_tests.sh transcripts, TAP, mails, dependency files, Makefiles) broken by random edits, so the
// fuzz reaches past a parser's first line instead of failing every case at the first character.
import fc from "fast-check";

// Characters line-based formats trip over: every kind of line end, the separators the formats
// use, escapes, a BOM, lone surrogates, combining marks and colour codes.
const AWKWARD = [
	...["\n", "\r\n", "\r", "\t", " ", "\0", "\u2028", "\u00a0", "\ufeff"],
	...["\x1b[31m", "\x1b[0m", "\ud800", "\udfff", "\u0301", "é", "😀", '"""'],
	...`#:=[]{}()<>%"'\\$@/-.*&!|,?`,
];

export const awkward = fc.constantFrom(...AWKWARD);

/** Any text at all: bytes, any code point, printable graphemes, or a mix heavy in awkward characters. */
export function noise(maxLength = 60): fc.Arbitrary<string> {
	return fc.oneof(
		fc.string({ unit: "binary-ascii", maxLength }),
		fc.string({ unit: "binary", maxLength }),
		fc.string({ unit: "grapheme", maxLength }),
		fc.string({ unit: fc.oneof(awkward, fc.string({ minLength: 1, maxLength: 1 })), maxLength }),
	);
}

/** Numbers as text that overflow, underflow or are not numbers at all in some reader. */
export const hugeNumber: fc.Arbitrary<string> = fc.oneof(
	fc.constantFrom(
		"99999999999999999999999999999",
		"1e400",
		"-1e400",
		"1e-400",
		"-0",
		"0x7fffffffffffffff",
		"18446744073709551616",
		"9007199254740993",
		"NaN",
		".inf",
		"-.inf",
		"0",
		"00000000000000000000001",
		"1".repeat(400),
	),
	fc.bigInt({ min: -(2n ** 256n), max: 2n ** 256n }).map(String),
	fc.double().map(String),
);

/** A short run of text repeated many times: long lines, long runs of blanks, big fields. */
export function repeated(unit: fc.Arbitrary<string>, maxTimes = 20_000): fc.Arbitrary<string> {
	return fc.tuple(unit, fc.integer({ min: 1, max: maxTimes })).map(([text, times]) => text.repeat(times));
}

/** Lines joined with LF or CRLF. */
export function lines(line: fc.Arbitrary<string>, maxLength = 12): fc.Arbitrary<string> {
	return fc
		.tuple(fc.array(line, { maxLength }), fc.constantFrom("\n", "\r\n"), fc.boolean())
		.map(([list, eol, final]) => list.join(eol) + (final && list.length > 0 ? eol : ""));
}

type Edit = {
	readonly kind: "insert" | "delete" | "cut" | "replace-line" | "duplicate-line" | "swap-lines";
	readonly at: number;
	readonly other: number;
	readonly text: string;
};

const edit: fc.Arbitrary<Edit> = fc.record({
	kind: fc.constantFrom("insert", "delete", "cut", "replace-line", "duplicate-line", "swap-lines"),
	at: fc.nat(),
	other: fc.nat({ max: 40 }),
	text: fc.oneof(awkward, noise(16), hugeNumber),
});

function applyEdit(text: string, e: Edit): string {
	// Positions are plain code units, so an edit may split a surrogate pair, as a truncated file does.
	const at = e.at % (text.length + 1);
	const all = text.split("\n");
	const line = e.at % all.length;
	switch (e.kind) {
		case "insert":
			return text.slice(0, at) + e.text + text.slice(at);
		case "delete":
			return text.slice(0, at) + text.slice(at + e.other);
		case "cut":
			return text.slice(0, at);
		case "replace-line":
			all[line] = e.text;
			return all.join("\n");
		case "duplicate-line":
			all.splice(line, 0, all[line] ?? "");
			return all.join("\n");
		case "swap-lines": {
			const there = (line + e.other) % all.length;
			[all[line], all[there]] = [all[there] ?? "", all[line] ?? ""];
			return all.join("\n");
		}
	}
}

/** A well-formed text broken by up to `maxEdits` random insertions, deletions, cuts and line edits. */
export function mutated(text: fc.Arbitrary<string>, maxEdits = 4): fc.Arbitrary<string> {
	return fc
		.tuple(text, fc.array(edit, { maxLength: maxEdits }))
		.map(([start, edits]) => edits.reduce(applyEdit, start));
}

/**
 * What a parser of `shape` should be fed: the well-formed shape, the shape broken by edits, and
 * pure noise; rarely, a huge one.
 */
export function outsideInput(shape: fc.Arbitrary<string>, huge?: fc.Arbitrary<string>): fc.Arbitrary<string> {
	return fc.oneof(
		{ weight: 3, arbitrary: shape },
		{ weight: 5, arbitrary: mutated(shape) },
		{ weight: 2, arbitrary: noise(200) },
		{ weight: 1, arbitrary: lines(noise(40)) },
		...(huge === undefined ? [] : [{ weight: 1, arbitrary: huge }]),
	);
}

// ---- names -----------------------------------------------------------------------------------

const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** A word from `first` then `rest` characters, at most `maxLength` long. */
export function word(first: string, rest: string, maxLength = 16): fc.Arbitrary<string> {
	return fc
		.tuple(
			fc.constantFrom(...first),
			fc.string({ unit: fc.constantFrom(...rest), maxLength: Math.max(0, maxLength - 1) }),
		)
		.map(([head, tail]) => head + tail);
}

/** A test name as KUT's cfg sections and selftests spell them (`vmx_apic_reg_virt`, `access-reduced`). */
export const testName = word(ALNUM, `${ALNUM}_.+-`, 24);

/** A message-id as mailers write them: `<local>@<domain>`, no `/`, `%`, blanks or `<>`. */
export const messageId: fc.Arbitrary<string> = fc.oneof(
	fc
		.tuple(word(ALNUM, `${ALNUM}._+=$-`, 40), word(ALNUM, `${ALNUM.toLowerCase()}.-`, 30))
		.map(([local, domain]) => `${local}@${domain}`),
	// git send-email's and b4's shapes, whose series the trailers module works out.
	fc
		.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 1, max: 40 }))
		.map(([pid, n]) => `20240131123456.${pid}-${n}-seanjc@google.com`),
	fc.integer({ min: 0, max: 40 }).map((n) => `20240131-kvm-pmu-fixes-v3-${n}-0c1a2b3d4e5f@google.com`),
);

// ---- matrix files ----------------------------------------------------------------------------

const junk: fc.Arbitrary<unknown> = fc.oneof(
	fc.jsonValue({ maxDepth: 1 }),
	hugeNumber,
	noise(12),
	fc.constantFrom(null, true, [], {}, "", "~", "-", "null"),
);

/** Usually the realistic value, sometimes anything at all. */
const orJunk = <T>(value: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
	fc.oneof({ weight: 6, arbitrary: value }, { weight: 1, arbitrary: junk });

const realName = fc.constantFrom("kvm", "next", "default", "kvm-x86", "ept-off", "linux", "stable", "m");
const anyName = orJunk(
	fc.oneof(realName, word(ALNUM, `${ALNUM}._-`, 12), fc.constantFrom("a..b", "x$(id)", "-rf", "a/b", "", "../etc")),
);
const ref = orJunk(
	fc.constantFrom("next", "queue", "v6.1", "for-next/x86", "a..b", "$(touch x)", "x.lock", "-f", "refs//x", "main"),
);
const filePath = orJunk(
	fc.constantFrom("./kvm.config", "~/x", "~", "/boot/vmlinuz", "-x", "a\0b", "fragments/a.config"),
);
const glob = orJunk(
	fc.constantFrom("*", "kvm@*", "**", "[z-a", "", " ", "x86_64/*", "{a,b}", "kvm@next", "default", "!(x)", "a\nb"),
);
// picomatch refuses patterns of 64 KiB and more: a matrix must not reach it with one. Rare and in
// one place only, since a matrix holding one takes long to parse.
const hugeGlob = fc
	.tuple(fc.constantFrom("a", "*", "{a,", "[", "?("), fc.integer({ min: 60_000, max: 70_000 }))
	.map(([unit, length]) => unit.repeat(Math.ceil(length / unit.length)));
const duration = orJunk(
	fc.oneof(
		fc.constantFrom("90s", "2m", "1h30m", "500ms", "0s", "90", "1.5m", " 30s ", "1d"),
		fc.tuple(hugeNumber, fc.constantFrom("ms", "s", "m", "h")).map(([n, u]) => `${n}${u}`),
		fc.integer(),
	),
);
const size = orJunk(
	fc.oneof(
		fc.constantFrom("2G", "512M", "4GiB", "1T", "63M", "0G", "4096", "1.5G", "4 G"),
		fc.tuple(hugeNumber, fc.constantFrom("K", "M", "G", "T", "TiB")).map(([n, u]) => `${n}${u}`),
	),
);
const count = orJunk(fc.oneof(fc.integer({ min: -3, max: 2000 }), fc.double(), hugeNumber.map(Number)));

/** Optional keys of a map: each present or not. */
const some = <T extends Record<string, unknown>>(shape: { [K in keyof T]: fc.Arbitrary<T[K]> }) =>
	fc.record(shape, { requiredKeys: [] });

/** A realistic map plus, sometimes, a key it does not know (a typo, or nonsense). */
const withStrays = (map: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Record<string, unknown>> =>
	fc
		.tuple(
			map,
			fc.option(
				fc.dictionary(fc.oneof(fc.constantFrom("reff", "taget", "__proto__", "name"), noise(8)), junk, { maxKeys: 2 }),
				{ freq: 5 },
			),
		)
		.map(([known, strays]) => ({ ...known, ...(strays ?? {}) }));

const treeRef = some({ tree: anyName, ref });
const config = some({
	base: orJunk(fc.constantFrom("defconfig", "tinyconfig", "./my.config", "kvm guest")),
	fragments: fc.array(filePath, { maxLength: 2 }),
});
const kernel = withStrays(
	some({
		name: anyName,
		tree: anyName,
		ref,
		config,
		prebuilt: some({ kernel: filePath, modules: filePath }),
		source: treeRef,
	}),
);
const target = withStrays(
	some({
		name: anyName,
		qemu: some({
			cpu: orJunk(fc.constantFrom("host", "max", "EPYC-v4,+svm", "$(x)")),
			smp: count,
			memory: size,
			accel: orJunk(fc.constantFrom("auto", "kvm", "tcg", "hvf")),
		}),
		cmdline: fc.array(orJunk(fc.constantFrom("kvm_intel.ept=0", "a b", "-x", "quiet")), { maxLength: 2 }),
		modparams: fc.dictionary(
			orJunk(fc.constantFrom("kvm", "kvm_intel", "bad name")).map(String),
			fc.dictionary(fc.constantFrom("ept", "nested", "x y"), orJunk(fc.oneof(fc.boolean(), fc.integer(), noise(6))), {
				maxKeys: 1,
			}),
			{ maxKeys: 1 },
		),
		host: orJunk(fc.boolean()),
	}),
);
const globs = fc.array(glob, { maxLength: 2 });
const suites = withStrays(
	some({
		selftests: withStrays(
			some({
				from: orJunk(fc.constant("kernel")),
				tree: anyName,
				ref,
				include: globs,
				exclude: globs,
				timeout: duration,
				parallel: count,
			}),
		),
		kut: withStrays(
			some({
				tree: anyName,
				ref,
				groups: fc.array(anyName, { maxLength: 2 }),
				include: globs,
				exclude: globs,
				accel: orJunk(fc.constantFrom("auto", "kvm", "tcg")),
				timeout: duration,
				all: orJunk(fc.boolean()),
			}),
		),
	}),
);
const filter = withStrays(
	some({ kernel: fc.oneof({ weight: 100, arbitrary: glob }, { weight: 1, arbitrary: hugeGlob }), target: glob }),
);

/** A matrix as data, mostly of the right shape, with wrong values and stray keys mixed in. */
export const matrixData: fc.Arbitrary<Record<string, unknown>> = withStrays(
	fc.record(
		{
			name: anyName,
			trees: orJunk(
				fc.dictionary(
					anyName.map(String),
					some({
						url: orJunk(fc.constantFrom("https://example.org/kvm.git", "git@github.com:k/k.git", "ftp://x", "-oX")),
						path: filePath,
					}),
					{ maxKeys: 2 },
				),
			),
			config,
			kernels: orJunk(fc.array(kernel, { maxLength: 2 })),
			targets: orJunk(fc.array(target, { maxLength: 2 })),
			suites,
			baseline: orJunk(fc.oneof(fc.constant("previous-run"), treeRef)),
			retries: count,
			"known-issues": filePath,
			lore: orJunk(
				fc.constantFrom("https://lore.kernel.org/all", "http://u:p@x/", "ftp://x", "https://x/?q", "not a url"),
			),
			exclude: orJunk(fc.array(filter, { maxLength: 2 })),
			include: orJunk(fc.array(filter, { maxLength: 2 })),
		},
		{ requiredKeys: [] },
	),
);

// A scalar YAML reads back as the same string: plain when it cannot be taken for anything else.
const PLAIN = /^[A-Za-z_./~][A-Za-z0-9_./~@+-]*$/;
const RESERVED = /^(?:true|false|null|yes|no|on|off|y|n|~|\.inf|\.nan)$/i;
const scalarText = (value: unknown): string =>
	typeof value === "string" && PLAIN.test(value) && !RESERVED.test(value) ? value : (JSON.stringify(value) ?? "null");

/** Block-style YAML, the way people write matrix files; flow style (JSON) is the other spelling. */
export function blockYaml(value: unknown, indent = ""): string {
	if (Array.isArray(value)) {
		if (value.length === 0) return " []";
		return value.map((item) => `\n${indent}-${blockYaml(item, `${indent}  `).replace(/^\n\s*/, " ")}`).join("");
	}
	if (typeof value === "object" && value !== null) {
		const entries = Object.entries(value);
		if (entries.length === 0) return " {}";
		return entries.map(([key, item]) => `\n${indent}${scalarText(key)}:${blockYaml(item, `${indent}  `)}`).join("");
	}
	return ` ${scalarText(value)}`;
}

const yamlOf = (data: Record<string, unknown>, flow: boolean) =>
	flow ? JSON.stringify(data) : blockYaml(data).replace(/^\n/, "");

/** A matrix file's text: generated data in block or flow style, or a real-looking file broken by edits. */
export const matrixText: fc.Arbitrary<string> = fc.oneof(
	{ weight: 4, arbitrary: fc.tuple(matrixData, fc.boolean()).map(([data, flow]) => yamlOf(data, flow)) },
	{
		weight: 4,
		arbitrary: mutated(fc.tuple(matrixData, fc.boolean()).map(([data, flow]) => yamlOf(data, flow))),
	},
	{ weight: 2, arbitrary: noise(120) },
	{
		weight: 1,
		// YAML's own hazards: deep nesting (past the stack's depth, rarely: it is slow), aliases,
		// merge keys, tags, anchors that go nowhere.
		arbitrary: fc.oneof(
			{ weight: 1, arbitrary: fc.integer({ min: 1, max: 2000 }).map((n) => `name: ${"[".repeat(n)}${"]".repeat(n)}`) },
			{
				weight: 1,
				arbitrary: fc.integer({ min: 1, max: 1000 }).map((n) => `name: ${"{a: ".repeat(n)}1${"}".repeat(n)}`),
			},
			{
				weight: 1,
				arbitrary: fc
					.integer({ min: 1, max: 300 })
					.map((n) => Array.from({ length: n }, (_, i) => `${" ".repeat(i)}- a`).join("\n")),
			},
			{
				weight: 12,
				arbitrary: fc.constantFrom(
					"a: &x [*x]",
					"a: &a [1, 2]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: &d [*c, *c, *c, *c]\nname: [*d, *d, *d, *d]",
					"<<: {name: m}\nkernels: *nope",
					"name: !!binary AAAA\nretries: !!float 1e400",
					"? [a, b]\n: c\nname: m",
					"name: m\n---\nname: n",
					"%YAML 9.9\n---\nname: m",
					"name: m\n...\n:",
				),
			},
		),
	},
);

/**
 * A matrix of the right shape: one tree, distinct kernels and targets with safe names. `valid` when
 * its timeout and memory are ordinary ones and it has no exclude; otherwise its timeout and memory
 * are numbers of any size with a unit, and an exclude pattern may be anything (patterns are compiled
 * only once the rest is valid, so this is how the fuzz reaches them).
 */
export const validMatrix: fc.Arbitrary<{ text: string; kernels: string[]; targets: string[]; valid: boolean }> = fc
	.tuple(
		fc.uniqueArray(word("abcdefghij", "abcdefghij0123456789_-", 10), { minLength: 1, maxLength: 4 }),
		fc.uniqueArray(word("abcdefghij", "abcdefghij0123456789_-", 10), { minLength: 1, maxLength: 4 }),
		fc.oneof(
			fc.constantFrom("90s", "2m", "1h30m", "500ms").map((t) => [t, true] as const),
			fc
				.tuple(fc.oneof(hugeNumber, fc.nat().map(String)), fc.constantFrom("ms", "s", "m", "h"))
				.map(([n, u]) => [`${n}${u}`, false] as const),
		),
		fc.oneof(
			fc.constantFrom("1G", "512M", "4GiB").map((m) => [m, true] as const),
			fc
				.tuple(fc.oneof(hugeNumber, fc.nat().map(String)), fc.constantFrom("K", "M", "G", "T"))
				.map(([n, u]) => [`${n}${u}`, false] as const),
		),
		fc.option(fc.oneof({ weight: 10, arbitrary: fc.oneof(glob, noise(20)) }, { weight: 1, arbitrary: hugeGlob })),
		fc.boolean(),
	)
	.map(([refs, targets, [timeout, saneTimeout], [memory, saneMemory], exclude, flow]) => {
		const data = {
			name: "fuzz",
			trees: { kvm: { url: "https://example.org/kvm.git" } },
			kernels: refs.map((r) => ({ tree: "kvm", ref: r })),
			targets: targets.map((name) => ({ name, qemu: { smp: 2, memory } })),
			suites: { selftests: { timeout }, kut: { tree: "kvm", ref: "master", timeout } },
			...(exclude === null ? {} : { exclude: [{ kernel: exclude }, { target: exclude }] }),
		};
		return {
			text: yamlOf(data, flow),
			kernels: refs.map((r) => `kvm@${r}`),
			targets,
			valid: saneTimeout && saneMemory && exclude === null,
		};
	});

// ---- kvm-unit-tests --------------------------------------------------------------------------

const cfgValue = fc.constantFrom(
	"vmx.flat",
	"apic.flat",
	"$MAX_SMP",
	"2",
	"-cpu max,+vmx -append vmx_test",
	"vmx nodefault",
	"90s",
	"180",
	"/sys/module/kvm_intel/parameters/nested=Y /sys/x=1",
	"x86_64",
	"q35",
	"kvm",
	"tcg",
	"`nproc`",
	"",
);
const cfgKey = fc.constantFrom(
	"file",
	"smp",
	"test_args",
	"extra_params",
	"qemu_params",
	"arch",
	"machine",
	"groups",
	"accel",
	"timeout",
	"check",
	"disabled_if",
	"unknown",
);
const cfgLine = fc.oneof(
	{ weight: 6, arbitrary: fc.tuple(cfgKey, fc.constantFrom(" = ", "=", "  =  "), cfgValue).map((p) => p.join("")) },
	{ weight: 2, arbitrary: fc.oneof(testName, noise(10)).map((n) => `[${n}]`) },
	{ weight: 1, arbitrary: fc.constantFrom("# comment", "", "   indented = 1", "[", "]") },
	{
		weight: 1,
		arbitrary: fc
			.array(fc.constantFrom("-cpu max \\", "-device x \\", '-append "a b"', ""), { maxLength: 4 })
			.map((parts) => `extra_params = """${parts.join("\n")}"""`),
	},
	{ weight: 1, arbitrary: fc.constant('qemu_params = """-cpu host') },
);

/** A unittests.cfg: sections and key lines in any order, real-looking values, blocks that may not end. */
export const unittestsCfg: fc.Arbitrary<string> = lines(cfgLine, 30);

/** Sections with safe names, each with a file, between comments and blank lines: the names come back in order. */
export const wellFormedCfg: fc.Arbitrary<{ text: string; names: string[] }> = fc
	.uniqueArray(
		fc.tuple(
			testName,
			fc.array(
				fc.constantFrom("smp = 2", "groups = vmx", 'extra_params = """-cpu max \\\n-append x"""', "# note", ""),
				{
					maxLength: 3,
				},
			),
		),
		{ maxLength: 8, selector: ([name]) => name },
	)
	.map((sections) => ({
		text: sections.map(([name, body]) => [`[${name}]`, "file = x.flat", ...body].join("\n")).join("\n\n"),
		names: sections.map(([name]) => name),
	}));

const ansi = fc.constantFrom("", "\x1b[32m", "\x1b[31m", "\x1b[33m");
const kutDetail = fc.oneof(
	fc.tuple(fc.nat(200), fc.nat(5), fc.nat(5)).map(([n, u, s]) => `${n} tests, ${u} unexpected failures, ${s} skipped`),
	fc.constantFrom("timeout; duration=90s", "terminated on SIGKILL", "QEMU Aborted", "no SUMMARY", "1 tests", "x"),
	hugeNumber.map((n) => `${n} tests`),
	noise(20),
);

/** One line of run_tests.sh output, mostly status lines, or a line of a test's log. */
export const kutLine: fc.Arbitrary<string> = fc.oneof(
	fc
		.tuple(ansi, fc.constantFrom("PASS", "FAIL", "SKIP"), ansi, fc.oneof(testName, noise(12)), fc.option(kutDetail))
		.map(([on, status, off, name, detail]) => `${on}${status}${off} ${name}${detail === null ? " " : ` (${detail})`}`),
	fc
		.tuple(fc.constantFrom("PASS", "FAIL", "SKIP", "XFAIL", "XPASS", "KFAIL"), noise(30))
		.map(([status, text]) => `${status}: ${text}`),
	kutDetail.map((d) => `SUMMARY: ${d}`),
	fc.constantFrom(
		"EXIT: STATUS=1",
		"EXIT: STATUS=3",
		"QEMU Aborted",
		"ABORT: x",
		"qemu-system-x86_64: terminating on signal 15 from pid 7 (timeout)",
	),
	noise(40),
);

// ---- TAP -------------------------------------------------------------------------------------

/** A TAP subtest name that survives the round trip: no `#`, no blanks at the ends, no leading `-`. */
export const tapName = word(`${ALNUM}_`, `${ALNUM}_.:/ ()+,=-`, 30).map((name) => name.trimEnd());

/** A line of kselftest (harness) TAP. */
export const tapLine: fc.Arbitrary<string> = fc.oneof(
	fc
		.tuple(
			fc.constantFrom("", "  ", "# ", "#   "),
			fc.constantFrom("ok", "not ok"),
			fc.oneof(fc.nat(99).map(String), hugeNumber),
			fc.constantFrom(" ", " - ", "  "),
			fc.oneof(tapName, noise(20)),
			fc.constantFrom("", " # SKIP", " # SKIP no vmx", " # TODO", " # TIMEOUT 45 seconds", " # exit=254", " # xfail"),
		)
		.map((parts) => parts.join("")),
	fc.constantFrom(
		"TAP version 13",
		"1..3",
		"1..0 # SKIP - Requirement not met: vmx",
		"# Totals: pass:1 fail:0",
		"Bail out!",
	),
	fc.tuple(fc.constantFrom("kvm", "x86/kvm", "net", "kvm/x86_64"), testName).map(([c, t]) => `# selftests: ${c}: ${t}`),
	fc
		.tuple(
			fc.constantFrom("ok", "not ok"),
			fc.nat(40),
			fc.constantFrom("kvm", "net"),
			testName,
			fc.option(fc.constantFrom("SKIP", "TIMEOUT 120 seconds", "exit=254", "exit=127", "XFAIL")),
		)
		.map(([v, n, c, t, d]) => `${v} ${n} selftests: ${c}: ${t}${d === null ? "" : ` # ${d}`}`),
	fc.constantFrom("# Warning: file cpuid_test is missing!", "Warning: file x is not executable"),
	noise(40),
);

/** KUT's `run_tests.sh -t` TAP, at check level. */
export const kutTapLine: fc.Arbitrary<string> = fc
	.tuple(
		fc.constantFrom("ok", "not ok"),
		fc.nat(500),
		fc.oneof(testName, noise(10)),
		fc.oneof(
			fc.constant(""),
			fc.constantFrom(": x2apic mode", ": timeout; duration=90s", ": terminated on SIGKILL", ": aborted"),
			noise(20).map((t) => `: ${t}`),
		),
		fc.constantFrom("", " # skip", " # SKIP (no vmx)", " # skip\t"),
	)
	.map(([v, n, test, check, directive]) => `${v} ${n} - ${test}${check}${directive}`);

const status = fc.constantFrom("pass", "fail", "skip", "timeout", "crash", "error");
const subtest = fc.record({ name: noise(12), status: fc.constantFrom("pass", "fail", "skip") });
const summaryCounts = fc.record({
	tests: fc.nat(),
	unexpectedFailures: fc.nat(),
	knownFailures: fc.nat(),
	expectedFailures: fc.nat(),
	skipped: fc.nat(),
});
const resultShape = {
	suite: fc.constantFrom("selftests", "kut"),
	testId: testName,
	status,
	durationMs: fc.nat(),
	attempt: fc.integer({ min: 1, max: 5 }),
	logPath: noise(20),
	detail: noise(20),
	subtests: fc.array(subtest, { maxLength: 3 }),
	checks: summaryCounts,
};
/** One test result as kvm-matrix writes it into results.json. */
export const testResult = fc.record(resultShape, {
	requiredKeys: ["suite", "testId", "status", "durationMs", "attempt"],
});
/** A valid results.json's cells. */
export const resultsCells = fc.array(
	fc.record({
		id: testName.map((t) => `kvm@next/${t}`),
		results: fc.array(
			fc.record(
				{ ...resultShape, earlier: fc.array(testResult, { maxLength: 2 }) },
				{ requiredKeys: ["suite", "testId", "status", "durationMs", "attempt"] },
			),
			{ minLength: 1, maxLength: 3 },
		),
	}),
	{ minLength: 1, maxLength: 3 },
);

/** results.json, valid or with junk in its fields. */
export const resultsJson: fc.Arbitrary<string> = fc.oneof(
	resultsCells.map((cells) => JSON.stringify({ cells, verdicts: {} })),
	fc
		.record({
			cells: orJunk(fc.array(fc.record({ id: orJunk(testName), results: orJunk(fc.array(orJunk(testResult))) }))),
		})
		.map((data) => JSON.stringify(data)),
	fc.integer({ min: 1, max: 20_000 }).map((n) => `{"cells": ${"[".repeat(n)}${"]".repeat(n)}}`),
	fc.constantFrom('{"cells": 1}', "{", '{"__proto__": {"cells": []}}', "{}", '{"cells": [{"id": "", "results": []}]}'),
);

/** Text a user could hand `kvm-matrix verdicts --results`: any of the formats, pasted, quoted or broken. */
export const foreignText: fc.Arbitrary<string> = fc.oneof(
	lines(tapLine, 20),
	lines(kutLine, 20),
	lines(kutTapLine, 20),
	lines(fc.oneof(tapLine, kutLine, kutTapLine), 20).map((text) => text.replace(/^/gm, "> ")),
	resultsJson,
	lines(kutLine).map((text) => `\uFEFF${text}`),
);

// ---- trailers and mail -----------------------------------------------------------------------

const trailerUrl = fc.oneof(
	messageId.map((id) => `https://lore.kernel.org/r/${id}`),
	messageId.map((id) => `https://lore.kernel.org/kvm/${id}/T/#u`),
	messageId.map((id) => `https://patch.msgid.link/${encodeURIComponent(id)}`),
	messageId.map((id) => `<https://lkml.kernel.org/r/${id}> # [1]`),
	fc.nat().map((n) => `https://bugzilla.kernel.org/show_bug.cgi?id=${n}`),
	fc.nat().map((n) => `https://gitlab.com/qemu-project/qemu/-/issues/${n}`),
	fc.nat().map((n) => `https://github.com/kvm-x86/linux/issues/${n}`),
	fc.constantFrom(
		"https://lore.kernel.org/r/",
		"https://lore.kernel.org/r/%",
		"https://lore.kernel.org/r/%E0%A4%A@x",
		"http://x",
	),
	noise(30),
);
const trailerLine = fc.oneof(
	fc
		.tuple(
			fc.constantFrom("Link", "link", "LINK", "Closes", "Message-ID", "Message-Id"),
			fc.constantFrom(": ", ":", ":\t", ":  "),
			trailerUrl,
		)
		.map((p) => p.join("")),
	messageId.map((id) => `Message-ID: <${id}>`),
	fc.constantFrom(
		"Signed-off-by: Sean Christopherson <seanjc@google.com>",
		"Reviewed-by: x",
		'Fixes: 0123456789ab ("KVM: x86: foo")',
		"Cc: stable@vger.kernel.org",
	),
	fc
		.tuple(
			fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 12, maxLength: 40 }),
			noise(20),
			fc.constantFrom(" ", "\n", "\n  "),
		)
		.map(([sha, subject, gap]) => `commit ${sha}${gap}("${subject}")`),
	noise(60),
);

/** A commit message: a subject, prose, and trailers among noise. */
export const commitMessage: fc.Arbitrary<string> = fc.oneof(
	lines(trailerLine, 15),
	repeated(fc.constantFrom(" ", "\t", "a ", "Link: "), 20_000),
);

const encodedWord = fc.oneof(
	fc
		.tuple(fc.constantFrom("utf-8", "UTF-8", "iso-8859-1", "utf-8*en", "x-bogus", "utf-16"), noise(20))
		.map(([charset, text]) => `=?${charset}?B?${Buffer.from(text).toString("base64")}?=`),
	fc
		.tuple(
			fc.constantFrom("utf-8", "iso-8859-1"),
			fc.string({ unit: fc.constantFrom("=C3", "=A9", "_", "a", "=", "=ZZ", "?"), maxLength: 20 }),
		)
		.map(([charset, text]) => `=?${charset}?Q?${text}?=`),
);
const subject = fc.oneof(
	fc
		.tuple(
			fc.constantFrom(
				"",
				"Re: ",
				"RE: Re: ",
				"[PATCH] ",
				"[PATCH v2 3/7] ",
				"[kvm-unit-tests PATCH 0/2] ",
				"[RFC PATCHv3 1/1] ",
			),
			noise(30),
		)
		.map(([tag, text]) => tag + text),
	fc.array(fc.oneof(encodedWord, noise(8)), { maxLength: 4 }).map((words) => words.join(" ")),
);
// Mails of one mbox refer to each other (a cover letter, its patches, replies) only if their ids
// meet: most are drawn from a pool of three.
const threadId = fc.oneof(
	{ weight: 3, arbitrary: fc.constantFrom("a@x", "b@x", "c@x") },
	{ weight: 1, arbitrary: messageId },
);
const header = fc.oneof(
	threadId.map((id) => `Message-ID: <${id}>`),
	subject.map((s) => `Subject: ${s}`),
	fc.constantFrom(
		"Date: Wed, 31 Jan 2024 12:34:56 -0800",
		"Date: +275760-09-13",
		"Date: nonsense",
		"Date: Sat, 13 Sep 275760 00:00:00 +0000",
	),
	fc.constantFrom("From: Sean <seanjc@google.com>", "From: =?utf-8?q?J=C3=B6rg?= <j@x>"),
	threadId.map((id) => `In-Reply-To: <${id}>`),
	fc.array(threadId, { maxLength: 4 }).map((ids) => `References: ${ids.map((id) => `<${id}>`).join("\n ")}`),
	fc.constantFrom(
		"List-Id: <kvm.vger.kernel.org>",
		"List-Id: kvm",
		"Content-Transfer-Encoding: quoted-printable",
		"Content-Transfer-Encoding: base64",
		"X-Folded: a\n\tb",
	),
	noise(30),
);
const bodyLine = fc.oneof(
	fc.constantFrom(
		"diff --git a/x86/apic.c b/x86/apic.c",
		"diff --git a/a b/c b/a b/c",
		"--- a/arch/x86/kvm/x86.c",
		"+++ b/arch/x86/kvm/x86.c",
		"--- /dev/null",
		"+++ b/lib/x86/a.h\t2024-01-01",
		"change-id: 20240131-kvm-fixes-0c1a2b",
		">From someone",
		">>From x",
	),
	fc.constantFrom("=3D", "=\n", "=C3=A9", "=E2=82", "QUFB", "====", "=ZZ"),
	noise(40),
);

/** One mail, the way public-inbox's /raw serves it. */
export const mailText: fc.Arbitrary<string> = fc
	.tuple(
		fc.option(fc.constant("From mboxrd@z Thu Jan  1 00:00:00 1970\n")),
		lines(header, 10),
		fc.constantFrom("\n\n", "\r\n\r\n", "\n"),
		lines(bodyLine, 12),
	)
	.map(([from, headers, gap, body]) => `${from ?? ""}${headers}${gap}${body}`);

/** An mbox of mails, each with its `From ` line. */
export const mboxText: fc.Arbitrary<string> = fc
	.array(mailText, { maxLength: 4 })
	.map((mails) => mails.map((m) => `From mboxrd@z Thu Jan  1 00:00:00 1970\n${m}`).join("\n"));

/** A subject split into encoded-words that together hold more bytes than a call's arguments may. */
export const hugeSubjectMail: fc.Arbitrary<string> = fc
	.tuple(fc.constantFrom("B", "Q"), fc.integer({ min: 100_000, max: 200_000 }))
	.map(
		([kind, n]) =>
			`Subject: =?utf-8?${kind}?YQ==?= =?utf-8?${kind}?${kind === "B" ? "QUFB".repeat(Math.ceil(n / 3)) : "=41".repeat(n)}?=\n\nbody`,
	);

// ---- dependency files and Makefiles ------------------------------------------------------------

/** A repository path a dependency file may name: no blanks, `$`, `\`, `#` or `:`. */
export const depPath = fc
	.tuple(
		fc.constantFrom("x86/", "lib/", "lib/x86/", "./x86/", "/usr/include/", ""),
		word(ALNUM, `${ALNUM}_.-`, 20),
		fc.constantFrom(".c", ".h", ""),
	)
	.map((parts) => parts.join(""));

/** A gcc `-MMD -MP` dependency file: the object's rule, then one empty rule per header. */
export const depFileText: fc.Arbitrary<string> = fc
	.tuple(
		depPath,
		fc.array(fc.oneof(depPath, fc.constantFrom("a\\ b.h", "$$x.h", "\\#x.h", "c:\\x.h", "C:/x.h")), { maxLength: 6 }),
		fc.constantFrom(" ", " \\\n ", "\t", " \\\r\n  "),
	)
	.map(
		([object, prerequisites, gap]) =>
			`${object}.o: ${prerequisites.join(gap)}\n\n${prerequisites.map((p) => `${p}:`).join("\n\n")}\n`,
	);

const makeTarget = fc.oneof(
	testName.map((n) => `$(TEST_DIR)/${n}.$(bin)`),
	testName.map((n) => `x86/${n}.flat`),
	testName.map((n) => `$(SRCDIR)/$(TEST_DIR)/${n}.elf`),
	fc.constantFrom("%.o", "$(TEST_DIR)/%.$(bin)", "all", "x86/a.o"),
);
const makeObject = fc.oneof(
	testName.map((n) => `$(TEST_DIR)/${n}.o`),
	testName.map((n) => `x86/${n}.o`),
	fc.constantFrom("$(cstart.o)", "$(FLATLIBS)", "lib/x.o", "x86/../lib/y.o", "/abs/x86/z.o", "x86/a.c"),
);
const makeLine = fc.oneof(
	fc
		.tuple(
			fc.array(makeTarget, { minLength: 1, maxLength: 2 }),
			fc.constantFrom(":", "::", " : "),
			fc.array(makeObject, { maxLength: 4 }),
			fc.constantFrom("", " | $(TEST_DIR)/order.o", " ; @echo", " # c"),
		)
		.map(([targets, colon, objects, tail]) => `${targets.join(" ")}${colon} ${objects.join(" ")}${tail}`),
	makeTarget.map((t) => `${t}: CFLAGS += -O0`),
	fc.constantFrom(
		"\t$(CC) -o $@ $^",
		"cflatobjs += lib/x.o",
		"x := y",
		"x ::= y",
		"a = b: c",
		"include $(SRCDIR)/x",
		"ifeq ($(x),y)",
		"# $(TEST_DIR)/a.$(bin): x86/b.o",
		"x86/a.flat: \\",
	),
	noise(40),
);

/** A KUT x86 Makefile: image rules among recipes, assignments, comments and continuations. */
export const makefileText: fc.Arbitrary<string> = lines(makeLine, 20);
