import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = fileURLToPath(new URL("../../packages/tui/bin/kvm-matrix.js", import.meta.url));
const BUILT = fileURLToPath(new URL("../../packages/tui/dist/cli.js", import.meta.url));

export interface CliRun {
	readonly exitCode: number;
	readonly stdout: string;
	readonly stderr: string;
}

/** Runs the built `kvm-matrix` as a user would, in `cwd`, with a clean colour environment. */
export async function runCli(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
	if (!existsSync(BUILT)) throw new Error("the CLI is not built: run `pnpm build` (pnpm test does it first)");
	const result = await execa("node", [CLI, ...args], {
		cwd: options.cwd ?? REPO,
		env: { NO_COLOR: "", FORCE_COLOR: "0", ...options.env },
		reject: false,
		stripFinalNewline: false,
	});
	return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr } satisfies CliRun;
}

/** `kvm-matrix ARGS` as a user runs it, with its cache in `dir/cache` and colour off. */
export const kvmMatrix = (dir: string, ...args: string[]) =>
	execa("node", [CLI, ...args], {
		cwd: REPO,
		reject: false,
		env: { NO_COLOR: "1", KVM_MATRIX_CACHE: `${dir}/cache` },
	});
