import { planRun, planToJson } from "@kvm-matrix/orchestrator";
import { EXIT, type ExitCode } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { colourEnabled, palette } from "../render/palette.js";
import { renderPlanText } from "../render/plan-text.js";
import { loadOrReport } from "./load.js";

export async function planCommand(file: string, options: { json: boolean }, io: CliIo): Promise<ExitCode> {
	const matrix = await loadOrReport(file, io);
	if (matrix === undefined) return EXIT.usage;
	const plan = planRun(matrix);
	io.stdout(
		options.json
			? `${JSON.stringify(planToJson(plan), null, 2)}\n`
			: renderPlanText(plan, palette(colourEnabled(io.env, io.isTty))),
	);
	return EXIT.ok;
}
