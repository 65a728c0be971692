import type { z } from "zod";
/** A problem found before anything started: an unknown ref, an unreachable tree, no kernel image. */
export class RunSetupError extends Error {
	override readonly name = "RunSetupError";
}

/** A file's first schema problem in a few words: where in it, and what (`resolved.linux@master: not a commit id`). */
export function firstIssue(error: z.ZodError): string {
	const issue = error.issues[0];
	if (issue === undefined) return "its shape";
	const where = issue.path.map(String).join(".");
	return where === "" ? issue.message : `${where}: ${issue.message}`;
}
