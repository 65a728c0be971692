import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { basename } from "node:path";

export const DEFAULT_LOG_CAP = 64 * 1024 * 1024;

/**
 * An append-only log file that stops growing at `capBytes`, says so in the file, and counts
 * what it dropped. `write` waits when the disk is slower than the guest, so a flood is held
 * back in QEMU's pipe rather than in this process's memory.
 *
 * A log that cannot be written (a full disk, a directory removed) stops taking lines and keeps the
 * error for the outcome to say: the guest's results come through their own channel and must not
 * be lost to it, nor the run to an exception no one handles.
 */
export class CappedLog {
	readonly #stream: WriteStream;
	#written = 0;
	#dropped = 0;
	#error: NodeJS.ErrnoException | undefined;

	constructor(
		readonly path: string,
		readonly capBytes = DEFAULT_LOG_CAP,
	) {
		this.#stream = createWriteStream(path);
		this.#stream.on("error", (error) => {
			this.#error ??= error;
		});
	}

	get truncated(): boolean {
		return this.#dropped > 0;
	}

	/** Why the log stopped being written, if it did: `console.log: ENOSPC`. */
	get failure(): string | undefined {
		return this.#error === undefined ? undefined : `${basename(this.path)}: ${this.#error.code ?? this.#error.message}`;
	}

	async write(line: string): Promise<void> {
		const size = Buffer.byteLength(line) + 1;
		if (await this.#over(size)) return;
		this.#written += size;
		await this.#put(`${line}\n`);
	}

	/** Appends bytes as they are (a channel's stream is not made of lines). */
	async append(bytes: Uint8Array): Promise<void> {
		if (await this.#over(bytes.length)) return;
		this.#written += bytes.length;
		await this.#put(bytes);
	}

	async #over(size: number): Promise<boolean> {
		if (this.#error !== undefined) {
			this.#dropped += size;
			return true;
		}
		if (this.#dropped === 0 && this.#written + size <= this.capBytes) return false;
		if (this.#dropped === 0) {
			await this.#put(`[kvm-matrix: log capped at ${this.capBytes} bytes; the rest is dropped]\n`);
		}
		this.#dropped += size;
		return true;
	}

	async close(): Promise<void> {
		if (this.#dropped > 0) await this.#put(`[kvm-matrix: ${this.#dropped} bytes dropped]\n`);
		if (this.#stream.closed) return;
		const closed = once(this.#stream, "close").catch(() => undefined);
		this.#stream.end();
		await closed;
	}

	async #put(data: string | Uint8Array): Promise<void> {
		if (this.#error !== undefined || this.#stream.destroyed) return;
		try {
			if (!this.#stream.write(data)) await once(this.#stream, "drain");
		} catch (error) {
			// `once` gives up on the stream's error: the listener above has kept it.
			this.#error ??= error as NodeJS.ErrnoException;
		}
	}
}
