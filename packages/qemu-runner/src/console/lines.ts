import { StringDecoder } from "node:string_decoder";

/**
 * Splits a byte stream into lines. A line longer than `maxLength` is cut into pieces of that
 * length, so a guest printing without newlines cannot make the host buffer grow without end.
 */
export class LineSplitter {
	readonly #decoder = new StringDecoder("utf8");
	#partial = "";

	constructor(readonly maxLength = 16 * 1024) {}

	push(chunk: Uint8Array | string): string[] {
		const text = this.#partial + (typeof chunk === "string" ? chunk : this.#decoder.write(chunk as Buffer));
		const parts = text.split("\n");
		this.#partial = parts.pop() ?? "";
		const lines: string[] = [];
		for (const part of parts) lines.push(...this.#cut(part.endsWith("\r") ? part.slice(0, -1) : part));
		while (this.#partial.length > this.maxLength) {
			lines.push(this.#partial.slice(0, this.maxLength));
			this.#partial = this.#partial.slice(this.maxLength);
		}
		return lines;
	}

	/** The unterminated rest, if any. */
	end(): string[] {
		const rest = this.#partial + this.#decoder.end();
		this.#partial = "";
		return rest === "" ? [] : this.#cut(rest);
	}

	#cut(line: string): string[] {
		if (line.length <= this.maxLength) return [line];
		const pieces: string[] = [];
		for (let i = 0; i < line.length; i += this.maxLength) pieces.push(line.slice(i, i + this.maxLength));
		return pieces;
	}
}
