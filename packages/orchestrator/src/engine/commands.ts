/**
 * The engine's side of a view's commands (DESIGN.md: views never call in otherwise). A view
 * calls `retry`; the run that was given this object answers with what it did, in words.
 */
export class RunCommands {
	#handler: ((cellId: string, testKey?: string) => string) | undefined;

	retry(cellId: string, testKey?: string): string {
		return this.#handler?.(cellId, testKey) ?? "retry: the run is not running";
	}

	/** For the engine: answer commands until the returned function is called. */
	serve(handler: (cellId: string, testKey?: string) => string): () => void {
		this.#handler = handler;
		return () => {
			this.#handler = undefined;
		};
	}
}
