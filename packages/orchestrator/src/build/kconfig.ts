import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { KernelConfig } from "../matrix/types.js";
import { runCommand } from "../proc/run.js";
import { KVM_TEST_FRAGMENT } from "./kvm-test-fragment.js";

export const SELFTESTS_CONFIG = "tools/testing/selftests/kvm/config";

export interface ConfigSteps {
	/** `make O=out <target>` commands, then a merge of files, then `olddefconfig`. */
	readonly baseTarget?: string;
	readonly baseFile?: string;
	readonly inTreeFragments: readonly string[];
	readonly fileFragments: readonly string[];
}

/**
 * How the config is made, in order (pure): the base; in-tree fragments through the kernel's own
 * `make <name>.config` (it knows where they live); the user's files, kvm-matrix's fragment and the
 * selftests' `config` merged by `scripts/kconfig/merge_config.sh`, which later lines win.
 */
export function configSteps(
	config: KernelConfig,
	kvmFragment: string,
	selftestsConfig: string | undefined,
): ConfigSteps {
	return {
		...(config.base.kind === "make-target" ? { baseTarget: config.base.target } : { baseFile: config.base.path }),
		inTreeFragments: config.fragments.flatMap((f) => (f.kind === "in-tree" ? [f.name] : [])),
		fileFragments: [
			...config.fragments.flatMap((f) => (f.kind === "file" ? [f.path] : [])),
			kvmFragment,
			...(selftestsConfig === undefined ? [] : [selftestsConfig]),
		],
	};
}

export const hashText = (text: string): string => createHash("sha256").update(text).digest("hex");

/** Writes `out/.config` for `config` in `worktree`; returns the final config's text. */
export async function makeConfig(options: {
	readonly worktree: string;
	readonly out: string;
	readonly config: KernelConfig;
	readonly signal?: AbortSignal | undefined;
	readonly onLine?: ((line: string) => void) | undefined;
}): Promise<string> {
	const { worktree, out } = options;
	const run = (file: string, args: string[]) =>
		runCommand(file, args, { cwd: worktree, signal: options.signal, onLine: options.onLine });
	const kvmFragment = path.join(out, "kvm-matrix.config");
	await writeFile(kvmFragment, KVM_TEST_FRAGMENT);
	const selftests = path.join(worktree, SELFTESTS_CONFIG);
	const steps = configSteps(options.config, kvmFragment, existsSync(selftests) ? selftests : undefined);
	if (steps.baseTarget !== undefined) await run("make", [`O=${out}`, steps.baseTarget]);
	else if (steps.baseFile !== undefined) await copyFile(steps.baseFile, path.join(out, ".config"));
	for (const fragment of steps.inTreeFragments) await run("make", [`O=${out}`, fragment]);
	await run("scripts/kconfig/merge_config.sh", ["-m", "-O", out, path.join(out, ".config"), ...steps.fileFragments]);
	await run("make", [`O=${out}`, "olddefconfig"]);
	return readFile(path.join(out, ".config"), "utf8");
}

/** Options a fragment asked for that the final config does not have (a typo, or a missing dependency). */
export function droppedOptions(fragment: string, finalConfig: string): string[] {
	const wanted = [...fragment.matchAll(/^(CONFIG_\w+)=(\S+)/gm)].map(([, name, value]) => `${name}=${value}`);
	const have = new Set(finalConfig.split("\n"));
	return wanted.filter((line) => !have.has(line));
}
