/** A problem found before anything started: an unknown ref, an unreachable tree, no kernel image. */
export class RunSetupError extends Error {
	override readonly name = "RunSetupError";
}
