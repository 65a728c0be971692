import os from "node:os";
import path from "node:path";
import {
	DEFAULT_FAIL_ON,
	DEFAULT_KCIDB_ORIGIN,
	ensureDemoTree,
	type FailOn,
	inboxUrl,
	isReportFormat,
	joinLines,
	parseFailOn,
	parseReportSpec,
	REPORT_FORMATS,
	type ReportFormat,
} from "@kvm-matrix/orchestrator";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { BisectOptions } from "./commands/bisect.js";
import type { BootOptions } from "./commands/boot.js";
import type { CiMergeOptions, CiPlanOptions, CiRunOptions } from "./commands/ci.js";
import type { ClassifyOptions } from "./commands/classify.js";
import type { HistoryOptions } from "./commands/history.js";
import type { ReportCommandOptions, ReportSpec } from "./commands/report.js";
import type { ResumeCommandOptions, RunCommandOptions } from "./commands/run.js";
import type { TriageOptions } from "./commands/triage.js";
import { EXIT, type ExitCode } from "./exit-codes.js";
import type { CliIo } from "./io.js";
import { packageVersion } from "./version.js";

const EXAMPLES = `
Examples:
  $ kvm-matrix validate matrices/kvm-x86-nightly.yaml
  $ kvm-matrix plan matrices/kvm-x86-nightly.yaml
  $ kvm-matrix plan matrices/demo.yaml --json | jq .summary

Exit status:
  0  success
  1  the run finished with a regression (or a verdict named by --fail-on)
  2  bad input or usage (a malformed matrix, an unknown option); nothing was started
  3  an internal error in kvm-matrix

Environment:
  NO_COLOR     set (and not empty) to turn colour off
  FORCE_COLOR  set (and not "0") to keep colour when output is not a terminal
  CI           set (and not "0" or "false") for plain line output even in a terminal
`;

/** Usage errors as one line, like every other error kvm-matrix prints. */
export function usageLine(message: string): string {
	const oneLine = joinLines(message.trim().replace(/^error: /, "")).replaceAll(" (Did you mean", " (did you mean");
	return `kvm-matrix: ${oneLine} (see kvm-matrix --help)\n`;
}

const output = (io: CliIo) => ({
	writeOut: io.stdout,
	writeErr: io.stderr,
	outputError: (message: string, write: (text: string) => void) => write(usageLine(message)),
});

/** `--lore URL`: refused at once when it is not an http(s) URL, as a matrix's `lore:` is. */
function loreUrl(value: string): string {
	const url = inboxUrl(value);
	if (!url.ok) throw new InvalidArgumentError(url.error);
	return value;
}

/** `--fail-on new-failure,infra,flaky`, repeatable; every name checked at once. */
function failOnList(value: string, previous: FailOn): FailOn {
	const parsed = parseFailOn([value]);
	if (!parsed.ok) throw new InvalidArgumentError(parsed.error.replace(/^--fail-on /, ""));
	return new Set([...previous, ...parsed.failOn]);
}

const failOnOption = () =>
	new Option(
		"--fail-on <verdicts>",
		"also exit 1 for these verdicts, comma-separated (new-failure,infra,flaky,...); a regression, build-regression and boot-regression always do",
	)
		.argParser(failOnList)
		.default(DEFAULT_FAIL_ON, "regression,build-regression,boot-regression");

function reportFormat(value: string): ReportFormat {
	if (!isReportFormat(value)) throw new InvalidArgumentError(`one of ${REPORT_FORMATS.join(", ")}`);
	return value;
}

/** `--report FORMAT:PATH`, repeatable, each checked before the run starts. */
function reportSpecs(value: string, previous: readonly ReportSpec[]): ReportSpec[] {
	const parsed = parseReportSpec(value);
	if (!parsed.ok) throw new InvalidArgumentError(parsed.error.replace(/^--report \S+: /, ""));
	return [...previous, { format: parsed.format, path: parsed.path }];
}

const reportOption = () =>
	new Option(
		"--report <format:path>",
		`also write a report at the end (${REPORT_FORMATS.join(", ")}), e.g. junit:out/junit.xml (repeatable)`,
	)
		.argParser(reportSpecs)
		.default([]);

const junitStrictOption = () =>
	new Option(
		"--junit-strict",
		"JUnit: report pending-fix and known failures as <failure>, not <skipped> (default: skipped, as the exit code sees them)",
	).default(false);

function buildProgram(io: CliIo, setExit: (code: ExitCode) => void): Command {
	const program = new Command("kvm-matrix")
		.description(
			"Build KVM trees, boot them under QEMU, run KVM selftests and kvm-unit-tests, and tell " +
				'"fix not yet merged" apart from real regressions.',
		)
		.version(packageVersion(), "-V, --version", "print the version")
		.helpOption("-h, --help", "show this help")
		.addHelpText("after", EXAMPLES)
		.showSuggestionAfterError(true)
		.exitOverride()
		.configureOutput(output(io));

	program
		.command("validate")
		.description("check a matrix file; print every problem as FILE:LINE:COL: message")
		.argument("<file>", "the matrix file (YAML)")
		.action(async (file: string) => setExit(await (await import("./commands/validate.js")).validateCommand(file, io)));

	program
		.command("plan")
		.description("show the cells and the deduplicated build jobs a matrix expands to")
		.argument("<file>", "the matrix file (YAML)")
		.option("--json", "print the plan as JSON", false)
		.action(async (file: string, options: { json: boolean }) =>
			setExit(await (await import("./commands/plan.js")).planCommand(file, options, io)),
		);

	program
		.command("run")
		.description("build, boot and test every cell of a matrix; results go to a run directory")
		.argument("<file>", "the matrix file (YAML)")
		.option(
			"--headless",
			"plain line output even in a terminal (the default when stdout is not one, or CI is set)",
			false,
		)
		.option("--run-dir <dir>", "where results go, a directory without a run in it (default: runs/<timestamp>-<name>)")
		.option("--json <file>", "also write the run summary as JSON to FILE")
		.option("--only <glob>", "run only the cells whose id matches (e.g. 'kvm@*/default')")
		.option("-v, --verbose", "also print build output and guest consoles", false)
		.option(
			"--lore <url>",
			"look links no configured tree has up on this public-inbox (overrides the matrix's lore)",
			loreUrl,
		)
		.addOption(failOnOption())
		.addOption(reportOption())
		.addOption(junitStrictOption())
		.option(
			"--changed-since <run-dir>",
			"run only the cells whose kernel, config, suites or target changed since that run; carry the others' results",
		)
		.option(
			"--bisect-regressions",
			"after the run, bisect each regression between the commit it passed on and this one; its first bad commit goes into the evidence and reports",
			false,
		)
		.option(
			"--max-builds <n>",
			"with --bisect-regressions: kernel builds all bisections may make (cache hits are free)",
		)
		.action(async (file: string, options: RunCommandOptions) =>
			setExit(await (await import("./commands/run.js")).runCommand(file, options, io)),
		);

	program
		.command("resume")
		.description(
			"continue a run that was killed or cancelled, or whose cells lost their machine, in its own directory; what it finished is kept",
		)
		.argument("<run-dir>", "the run's directory (runs/<timestamp>-<name>)")
		.option("--matrix <file>", "resume with this matrix file, even if it changed since the run started")
		.option("--headless", "plain line output even in a terminal", false)
		.option("--json <file>", "also write the run summary as JSON to FILE")
		.option("-v, --verbose", "also print build output and guest consoles", false)
		.option("--lore <url>", "look links no configured tree has up on this public-inbox", loreUrl)
		.addOption(failOnOption())
		.action(async (dir: string, options: ResumeCommandOptions) =>
			setExit(await (await import("./commands/run.js")).resumeCommand(dir, options, io)),
		);

	program
		.command("report")
		.description(
			"write a report of a run directory: JUnit XML, KCIDB JSON, Markdown, one offline HTML file, or the mails (an mbox) to send for its bisected regressions",
		)
		.argument("<run-dir>", "the run's directory (runs/<timestamp>-<name>, or a merged one)")
		.requiredOption("--format <format>", `one of ${REPORT_FORMATS.join(", ")}`, reportFormat)
		.option("--out <file>", "write it to FILE instead of stdout")
		.option("--origin <origin>", "with --format kcidb: the submitter's KCIDB origin", DEFAULT_KCIDB_ORIGIN)
		.option(
			"--from <address>",
			"with --format mail: the sender, in From: and Reported-by: (default: kvm-matrix <kvm-matrix@localhost>)",
		)
		.addOption(junitStrictOption())
		.option("--history", "with --format html: the history page of the run's runs directory, up to this run", false)
		.addOption(failOnOption())
		.addHelpText(
			"after",
			`
Examples:
  $ kvm-matrix report runs/20261202-030000-nightly --format junit --out junit.xml
  $ kvm-matrix report runs/20261202-030000-nightly --format markdown >> "$GITHUB_STEP_SUMMARY"
  $ kvm-matrix report runs/20261202-030000-nightly --format html --out report.html
  $ kvm-matrix report runs/20261202-030000-nightly --format kcidb --origin my_lab | kcidb-submit
  $ kvm-matrix report runs/20261202-030000-nightly --format mail --from 'QA Lab <qa@example.org>' > regressions.mbox`,
		)
		.action(async (dir: string, options: ReportCommandOptions) =>
			setExit(await (await import("./commands/report.js")).reportCommand(dir, options, io)),
		);

	const collect = (value: string, previous: string[]) => [...previous, value];
	program
		.command("history")
		.description(
			"look back over every run under a runs directory: a test's timeline, the flaky tests, when a test started failing",
		)
		.argument("[test]", "SUITE:TEST (kut:vmx, selftests:x86_64/cpuid_test), or a test id in any suite")
		.option("--runs <dir>", "a runs directory (or one run's) to look in (repeatable; default runs/)", collect, [])
		.option("--kernel <kernel>", "only this kernel: an id (kvm@next) or a commit")
		.option("--target <name>", "only this target")
		.option("--flaky", "list the tests that both passed and failed on one kernel build and target, with rates", false)
		.option("--since <when>", "only runs since then: a span (30d, 12h, 2w) or a date (2026-11-01)")
		.option("--first-failure", "the run TEST last passed in, the first it failed in, and the commits between", false)
		.option("--json", "print the answer as JSON", false)
		.option("--rebuild", "read every run again (the index is derived from the journals; this rebuilds it)", false)
		.option("--html <dir>", "write the history page (timeline, flaky tests, bisections) to DIR/index.html")
		.addHelpText(
			"after",
			`
The index is an SQLite file in the cache (<cache>/history/index.sqlite), brought up to date from
the runs' journals by every history command and every run as it ends; removing it loses nothing.

Examples:
  $ kvm-matrix history kut:vmx --kernel kvm-x86@next --target tcg
  $ kvm-matrix history --flaky --since 30d
  $ kvm-matrix history --first-failure selftests:x86_64/cpuid_test --json
  $ kvm-matrix history --html public/history`,
		)
		.action(async (test: string | undefined, options: HistoryOptions) =>
			setExit(await (await import("./commands/history.js")).historyCommand(test, options, io)),
		);

	const ci = program
		.command("ci")
		.description("the headless CI matrix: plan shards across CI jobs, run one shard, merge the shards into one run");
	ci.command("plan")
		.description("partition a matrix's cells into N shards balanced by earlier runs' times, as a CI job matrix")
		.argument("<file>", "the matrix file (YAML)")
		.requiredOption("--shards <n>", "how many shards (CI jobs)")
		.addOption(
			new Option("--format <format>", "github (strategy.matrix JSON), gitlab (a parallel:matrix include) or json")
				.choices(["github", "gitlab", "json"])
				.default("json"),
		)
		.option("--out <file>", "also write the whole plan to FILE, for ci run --plan")
		.option(
			"--history <dir>",
			"earlier runs to take times from: a run directory or a directory of them (repeatable; default runs/)",
			collect,
			[],
		)
		.action(async (file: string, options: CiPlanOptions) =>
			setExit(await (await import("./commands/ci.js")).ciPlanCommand(file, options, io)),
		);
	ci.command("run")
		.description("run one shard of a ci plan into DIR (run it again to resume it); ci merge gives the verdict")
		.argument("<file>", "the matrix file (YAML)")
		.requiredOption("--shard <k/n>", "which shard, e.g. 2/3")
		.requiredOption("--run-dir <dir>", "the shard's run directory")
		.option("--plan <file>", "the plan ci plan --out wrote (default: plan again, from --history)")
		.option("--history <dir>", "without --plan: earlier runs to take times from (repeatable)", collect, [])
		.option("--headless", "plain line output even in a terminal", false)
		.option("-v, --verbose", "also print build output and guest consoles", false)
		.option("--lore <url>", "look links no configured tree has up on this public-inbox", loreUrl)
		.addOption(failOnOption())
		.addOption(reportOption())
		.addOption(junitStrictOption())
		.option(
			"--changed-since <run-dir>",
			"carry the results of cells unchanged since that run (e.g. last night's merge)",
		)
		.action(async (file: string, options: CiRunOptions) =>
			setExit(await (await import("./commands/ci.js")).ciRunCommand(file, options, io)),
		);
	ci.command("merge")
		.description("merge shard run directories into one run, derive verdicts across all of them, exit by the policy")
		.argument("<dirs...>", "the shards' run directories")
		.requiredOption("--out <dir>", "the merged run's directory (new or empty)")
		.option("--matrix <file>", "the matrix (default: the one the first shard names)")
		.option("--partial", "merge the shards that are there when some are missing", false)
		.option(
			"--bisect-regressions",
			"after the merge, bisect each regression; its first bad commit goes into the evidence",
			false,
		)
		.option("--max-builds <n>", "with --bisect-regressions: kernel builds all bisections may make")
		.option("--lore <url>", "look links no configured tree has up on this public-inbox", loreUrl)
		.addOption(failOnOption())
		.addOption(reportOption())
		.addOption(junitStrictOption())
		.addHelpText(
			"after",
			`
Examples:
  $ kvm-matrix ci plan matrices/kvm-x86-nightly.yaml --shards 3 --format github --out plan.json
  $ kvm-matrix ci run matrices/kvm-x86-nightly.yaml --shard 2/3 --plan plan.json --run-dir shard-2
  $ kvm-matrix ci merge shard-1 shard-2 shard-3 --out nightly --report junit:junit.xml --report html:report.html`,
		)
		.action(async (dirs: string[], options: CiMergeOptions) =>
			setExit(await (await import("./commands/ci.js")).ciMergeCommand(dirs, options, io)),
		);

	const collectResults = (value: string, previous: string[]) => [...previous, value];
	program
		.command("classify")
		.description(
			"give failures their verdicts, running nothing: a run directory again, or results produced elsewhere (--results)",
		)
		.argument("[run-dir]", "a run directory (runs/<timestamp>-<name>)")
		.option("--matrix <file>", "the matrix whose trees to look in (for a run directory: instead of the run's)")
		.option(
			"--results <kernel=file>",
			"results of KERNEL (tree@ref or tree@sha of the matrix's trees): run_tests.sh output, a KUT log directory, TAP, or results.json (repeatable)",
			collectResults,
			[],
		)
		.option("--json", "print the verdicts as JSON", false)
		.option(
			"--lore <url>",
			"look links no configured tree has up on this public-inbox (e.g. https://lore.kernel.org/all)",
			loreUrl,
		)
		.addOption(failOnOption())
		.addHelpText(
			"after",
			`
Examples:
  $ kvm-matrix classify runs/20261125-101010-nightly
  $ kvm-matrix classify --matrix m.yaml --results kvm@master=run_tests.out --results kvm-x86@next=logs/
  $ kvm-matrix classify --matrix m.yaml --results kvm@v6.1=report.txt --json | jq '.results[]'`,
		)
		.action(async (runDir: string | undefined, options: ClassifyOptions) =>
			setExit(await (await import("./commands/classify.js")).classifyCommand(runDir, options, io)),
		);

	program
		.command("explain")
		.description("show the KVM patches a test depends on and every configured branch that has each, running nothing")
		.argument("<test>", "SUITE:TEST, e.g. selftests:x86_64/cpuid_test or kut:vmx")
		.requiredOption("--matrix <file>", "the matrix whose trees and branches to look in")
		.option("--all", "also show every commit that touched the test, with each of its links typed", false)
		.option("--lore <url>", "look links no configured tree has up on this public-inbox", loreUrl)
		.option("--run <dir>", "also show the test's results in this run, each target's parameter sets grouped")
		.action(async (test: string, options: { matrix: string; all: boolean; lore?: string; run?: string }) =>
			setExit(await (await import("./commands/explain.js")).explainCommand(test, options, io)),
		);

	program
		.command("bisect")
		.description(
			"find the commit that broke a test (--good/--bad) or fixed it (--fixed), building, booting and running it at each step",
		)
		.option("--matrix <file>", "the matrix whose trees, config, target and suites to use")
		.option("--test <suite:test>", "the test, e.g. selftests:x86_64/cpuid_test or kut:vmx")
		.option("--good <ref>", "a commit where the test passes (a regression)")
		.option("--bad <ref>", "a later commit where it fails")
		.option("--fixed", "find the commit that fixed the test instead", false)
		.option("--broken <ref>", "with --fixed: a commit where the test fails")
		.option("--fixed-at <ref>", "with --fixed: a later commit where it passes")
		.option("--tree <name>", "the tree to bisect (default: the first tree the matrix builds a kernel from)")
		.option("--target <name>", "the target to boot each step on (default: the matrix's first that boots)")
		.option("--max-steps <n>", "stop after this many steps (default 20); --resume goes on as far again, or this far")
		.option("--dir <dir>", "where the bisection's state goes (default: runs/<timestamp>-bisect)")
		.option("--resume <dir>", "continue the bisection in DIR")
		.option("--json", "print the outcome as JSON", false)
		.action(async (options: BisectOptions) =>
			setExit(await (await import("./commands/bisect.js")).bisectCommand(options, io)),
		);

	program
		.command("triage")
		.description(
			"read a bug report (bugzilla, a mail, pasted output), find its failing tests and kernel, and say whether the fix is merged yet",
		)
		.argument("[bug]", "a bugzilla bug number or URL (https://bugzilla.kernel.org/show_bug.cgi?id=N)")
		.requiredOption("--matrix <file>", "the matrix whose trees, branches and tests to look in")
		.option("--from <file>", "read the report from FILE instead: saved bugzilla JSON, a mail or mbox, or plain text")
		.option(
			"--bugzilla <url>",
			"the bugzilla to ask (default: the matrix's bugzilla, else https://bugzilla.kernel.org)",
		)
		.option("--kernel <tree@ref>", "the kernel under test, when the report does not say (kvm@v6.1, kvm@next)")
		.option(
			"--test <name>",
			"a failing test, when the report does not name it (repeatable)",
			(value: string, previous: string[]) => [...previous, value],
			[],
		)
		.option("--json", "print the answer as JSON", false)
		.option("--lore <url>", "look links no configured tree has up on this public-inbox", loreUrl)
		.option(
			"--reproduce",
			"run the failing tests on the report's kernel and the matrix's branches, and classify with that evidence",
			false,
		)
		.option(
			"--runs <n>",
			"with --reproduce: how many times each test runs on each kernel (default 3; 5 when the report says it fails only sometimes)",
		)
		.option(
			"--bisect",
			"with --reproduce: bisect the range the evidence found (first fixed or first bad commit)",
			false,
		)
		.option("--target <name>", "with --reproduce: the target to boot on (default: the matrix's first that boots)")
		.option("--dir <dir>", "with --reproduce: the run directory (default: runs/<timestamp>-<matrix>-triage)")
		.option("--headless", "with --reproduce: plain progress lines, no interactive view", false)
		.option("--verbose", "with --reproduce: every test's start and end in the progress lines", false)
		.action(async (bug: string | undefined, options: TriageOptions) =>
			setExit(await (await import("./commands/triage.js")).triageCommand(bug, options, io)),
		);

	program
		.command("demo-tree")
		.description("create the demo's kernel tree from Debian's linux-source, once (branches debian and demo)")
		.option("--dir <dir>", "where", path.join(os.homedir(), ".cache/kvm-matrix/demo/linux"))
		.action(async (options: { dir: string }) => {
			try {
				const dir = await ensureDemoTree(options.dir, (step) => io.stdout(`demo-tree: ${step}\n`));
				io.stdout(`demo-tree: ${dir} (branches debian, demo)\n`);
				setExit(EXIT.ok);
			} catch (error) {
				io.stderr(`kvm-matrix demo-tree: ${error instanceof Error ? error.message : String(error)}\n`);
				setExit(EXIT.usage);
			}
		});

	program
		.command("boot")
		.description("boot a kernel under QEMU, run COMMAND in it, and exit with COMMAND's status")
		.requiredOption("--kernel <file>", "the kernel image (bzImage)")
		.option("--modules <dir>", "the modules directory (default: /lib/modules/<release> if it exists)")
		.option("--load <mods>", "modules to load, comma-separated, each with its dependencies (kvm_amd:nested=1)")
		.option("--add <host:guest>", "put a host file into the guest (repeatable)", collect, [])
		.option("--share <host:guest>", "share a host directory read-only over 9p (repeatable)", collect, [])
		.option("--append <arg>", "add to the kernel command line (repeatable)", collect, [])
		.option("--cpu <model>", "QEMU CPU model (default: max under TCG, host under KVM)")
		.option("--smp <n>", "virtual CPUs", "2")
		.option("--memory <size>", "guest memory", "1G")
		.option("--accel <accel>", "auto, kvm or tcg; auto uses KVM only if it can boot a guest here", "auto")
		.option("--timeout <duration>", "give up after this long", "10m")
		.option("--hang-timeout <duration>", "call the guest hung after this long without any output", "2m")
		.option("--console", "show the kernel console on stderr", false)
		.option("--work-dir <dir>", "where to keep the console log and records (default: a new temporary directory)")
		.option("--json", "print the outcome as JSON on stdout (the command's output goes to stderr)", false)
		.argument("[command...]", "the command to run in the guest, after --")
		.addHelpText(
			"after",
			`
Examples:
  $ kvm-matrix boot --kernel /boot/vmlinuz-6.1.0-28-amd64 -- uname -r
  $ kvm-matrix boot --kernel bzImage --load kvm_amd:nested=1 -- ls -l /dev/kvm
  $ kvm-matrix boot --kernel bzImage --share ./selftests:/st -- /st/kvm/x86_64/cpuid_test

Exit status: COMMAND's own, or 123 kernel panic/oops, 124 timeout or hang, 125 QEMU or boot
failure, 2 bad options, 130 interrupted.`,
		)
		.action(async (command: string[], options: BootOptions) =>
			setExit(await (await import("./commands/boot.js")).bootCommand(options, command, io, io.signal)),
		);

	for (const command of [...program.commands, ...ci.commands]) command.exitOverride().configureOutput(output(io));
	return program;
}

/** Runs the command line `argv` (without node and script) and returns the exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
	let code: ExitCode = EXIT.ok;
	const program = buildProgram(io, (c) => {
		code = c;
	});
	if (argv.length === 0) {
		io.stderr(program.helpInformation());
		return EXIT.usage;
	}
	try {
		await program.parseAsync([...argv], { from: "user" });
	} catch (error) {
		if (error instanceof CommanderError) {
			const shown = ["commander.helpDisplayed", "commander.version", "commander.help"].includes(error.code);
			return shown && error.exitCode === 0 ? EXIT.ok : EXIT.usage;
		}
		throw error;
	}
	return code;
}
