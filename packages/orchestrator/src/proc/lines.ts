// A command's output as lines, in time linear in its bytes and within caps, as the guest path
// has them. Re-splitting the unfinished line with each chunk made a 20 MB line without a line
// break cost 11 s (quadratic); a line is now cut at MAX_LINE and a command's output at MAX_OUTPUT.

/** The longest line kept, in characters; the rest of it is dropped and the cut is said. */
export const MAX_LINE = 64 * 1024;
/** The most output a command delivers, in characters; what comes after is dropped, and said. */
export const MAX_OUTPUT = 64 * 1024 * 1024;

export class LineSplitter {
	/** The unfinished line's pieces (joined once, when it ends). */
	#pieces: string[] = [];
	#length = 0;
	/** The unfinished line was cut: drop until its end. */
	#cut = false;
	#delivered = 0;
	#capped = false;

	constructor(
		private readonly emit: (line: string) => void,
		private readonly maxLine = MAX_LINE,
		private readonly maxOutput = MAX_OUTPUT,
	) {}

	push(chunk: string): void {
		let from = 0;
		while (from < chunk.length) {
			const end = chunk.indexOf("\n", from);
			const stop = end === -1 ? chunk.length : end;
			this.#take(chunk.slice(from, stop));
			if (end === -1) return;
			this.#endLine();
			from = end + 1;
		}
	}

	/** The last line, if the output did not end with a line break. */
	end(): void {
		if (this.#length > 0 || this.#cut) this.#endLine();
	}

	#take(text: string): void {
		if (this.#cut || text === "") return;
		const room = this.maxLine - this.#length;
		if (text.length > room) {
			this.#pieces.push(text.slice(0, room));
			this.#length += room;
			this.#cut = true;
			return;
		}
		this.#pieces.push(text);
		this.#length += text.length;
	}

	#endLine(): void {
		const line = this.#pieces.join("") + (this.#cut ? ` [kvm-matrix: line cut at ${this.maxLine} characters]` : "");
		this.#pieces = [];
		this.#length = 0;
		this.#cut = false;
		if (this.#capped) return;
		if (this.#delivered + line.length > this.maxOutput) {
			this.#capped = true;
			this.emit(`[kvm-matrix: output capped at ${this.maxOutput} characters; the rest is dropped]`);
			return;
		}
		this.#delivered += line.length + 1;
		this.emit(line);
	}
}
