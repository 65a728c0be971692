/**
 * Recognises kernel faults in console output: a panic, or an oops, BUG or WARNING with its call
 * trace. Pure: it is fed lines and says what it saw, with the trace as an excerpt.
 */

export type FaultKind = "panic" | "oops";

export interface Fault {
	readonly kind: FaultKind;
	/** The line that names the fault, without its timestamp. */
	readonly headline: string;
	/** The lines around it: the trace, up to its end marker. */
	readonly excerpt: readonly string[];
	/** True once the end marker (or the line limit) was reached. */
	readonly complete: boolean;
}

const TIMESTAMP = /^\[\s*\d+\.\d+\]\s?/;
const PANIC = /^Kernel panic - not syncing:/;
const OOPS =
	/^(?:BUG: |Oops: |kernel BUG at |WARNING: CPU: \d+ PID: |general protection fault|Unable to handle kernel)/;
const END = /^---\[ end (?:trace [0-9a-f]+|Kernel panic - not syncing: .*) \]---/;

const CONTEXT_BEFORE = 10;
const MAX_EXCERPT = 120;

export const stripTimestamp = (line: string): string => line.replace(TIMESTAMP, "");

interface Capture {
	readonly kind: FaultKind;
	readonly headline: string;
	readonly lines: string[];
	complete: boolean;
}

const toFault = (c: Capture): Fault => ({
	kind: c.kind,
	headline: c.headline,
	excerpt: [...c.lines],
	complete: c.complete,
});

export class FaultScanner {
	readonly #recent: string[] = [];
	#current: Capture | undefined;
	#panic: Capture | undefined;
	#firstOops: Capture | undefined;
	#oopsCount = 0;

	/** Feeds one console line; returns the fault it started or completed, if any. */
	push(line: string): Fault | undefined {
		const text = stripTimestamp(line);
		const result = this.#step(line, text);
		this.#recent.push(line);
		if (this.#recent.length > CONTEXT_BEFORE) this.#recent.shift();
		return result;
	}

	#step(line: string, text: string): Fault | undefined {
		const current = this.#current;
		const open = current !== undefined && !current.complete;
		if (PANIC.test(text) && this.#panic === undefined) {
			// A panic after an oops ("Fatal exception") keeps the oops' trace: it is the cause.
			const before = open && current.kind === "oops" ? current.lines : this.#recent;
			this.#panic = { kind: "panic", headline: text, lines: [...before, line], complete: false };
			this.#current = this.#panic;
			return toFault(this.#panic);
		}
		if (open) {
			current.lines.push(line);
			if (END.test(text) || current.lines.length >= MAX_EXCERPT) {
				current.complete = true;
				return toFault(current);
			}
			return undefined;
		}
		if (OOPS.test(text)) {
			this.#oopsCount++;
			if (this.#firstOops === undefined) {
				this.#firstOops = { kind: "oops", headline: text, lines: [line], complete: false };
				this.#current = this.#firstOops;
				return toFault(this.#firstOops);
			}
		}
		return undefined;
	}

	get panic(): Fault | undefined {
		return this.#panic === undefined ? undefined : toFault(this.#panic);
	}

	/** The first oops; later ones are usually its consequences. */
	get oops(): Fault | undefined {
		return this.#firstOops === undefined ? undefined : toFault(this.#firstOops);
	}

	get oopsCount(): number {
		return this.#oopsCount;
	}
}

/** The last lines seen, for the excerpt of a hang or a boot that went nowhere. */
export class TailBuffer {
	readonly #lines: string[] = [];
	constructor(readonly size = 30) {}
	push(line: string): void {
		this.#lines.push(line);
		if (this.#lines.length > this.size) this.#lines.shift();
	}
	get lines(): readonly string[] {
		return [...this.#lines];
	}
}
