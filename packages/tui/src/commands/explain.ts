import { cacheRoot, ExplainError, explainTest, SourceError } from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { loadOrReport } from "./load.js";

/** `kvm-matrix explain TEST --matrix FILE`: the test's linked fixes and where each is merged. */
export async function explainCommand(test: string, options: { readonly matrix: string }, io: CliIo): Promise<ExitCode> {
	const matrix = await loadOrReport(options.matrix, io);
	if (matrix === undefined) return EXIT.usage;
	try {
		const e = await explainTest(test, matrix, cacheRoot(io.env));
		io.stdout(`${e.test} (from ${e.source})\n`);
		for (const c of e.testCommits) {
			io.stdout(`  ${c.sha.slice(0, 12)} ${c.subject}\n`);
			if (c.fixes.length === 0) io.stdout("    links no KVM patch\n");
			for (const f of c.fixes) {
				if (f.commits.length === 0) {
					io.stdout(`    needs https://lore.kernel.org/r/${f.messageId}: posted, not applied in any configured tree\n`);
					continue;
				}
				for (const k of f.commits) {
					const where = `${k.in.length === 0 ? "in no configured kernel" : `in ${k.in.join(", ")}`}${k.notIn.length === 0 ? "" : `; not in ${k.notIn.join(", ")}`}`;
					io.stdout(`    needs ${k.sha.slice(0, 12)} ("${k.subject}") via ${f.messageId}: ${where}\n`);
				}
			}
		}
		return EXIT.ok;
	} catch (error) {
		if (error instanceof ExplainError || error instanceof SourceError) {
			io.stderr(`kvm-matrix explain: ${error.message}\n`);
			return EXIT.usage;
		}
		throw error;
	}
}
