import { Command, CommanderError } from "commander";
import { planCommand } from "./commands/plan.js";
import { validateCommand } from "./commands/validate.js";
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
  1  the run finished with results that need attention
  2  bad input or usage (a malformed matrix, an unknown option); nothing was started
  3  an internal error in kvm-matrix

Environment:
  NO_COLOR     set (and not empty) to turn colour off
  FORCE_COLOR  set (and not "0") to keep colour when output is not a terminal
`;

/** Usage errors as one line, like every other error kvm-matrix prints. */
export function usageLine(message: string): string {
	const oneLine = message
		.trim()
		.replace(/^error: /, "")
		.replace(/\s*\n\s*\(Did you mean/g, " (did you mean")
		.replace(/\s*\n\s*/g, " ");
	return `kvm-matrix: ${oneLine} (see kvm-matrix --help)\n`;
}

const output = (io: CliIo) => ({
	writeOut: io.stdout,
	writeErr: io.stderr,
	outputError: (message: string, write: (text: string) => void) => write(usageLine(message)),
});

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
		.action(async (file: string) => setExit(await validateCommand(file, io)));

	program
		.command("plan")
		.description("show the cells and the deduplicated build jobs a matrix expands to")
		.argument("<file>", "the matrix file (YAML)")
		.option("--json", "print the plan as JSON", false)
		.action(async (file: string, options: { json: boolean }) => setExit(await planCommand(file, options, io)));

	for (const command of program.commands) command.exitOverride().configureOutput(output(io));
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
