/**
 * Private channels (`BootRequest.channels`): byte streams from the payload to the host on
 * virtio-serial ports that only the payload holds open. The guest's init opens each before the
 * payload starts, hands it over on a file descriptor and deletes its device node; a virtio port
 * admits one opener at a time, so nothing else in the guest can open it again. When the payload
 * has exited, the init writes an end marker carrying the boot's nonce (which the payload never
 * sees), so the host knows it has every byte; the marker is cut off before the bytes are handed on.
 */

export const CHANNEL_NAME = /^[a-z][a-z0-9-]{0,15}$/;
/** Descriptors 3 to 6: busybox's shell keeps its own from 10 up. */
export const MAX_CHANNELS = 4;

/** The virtio-serial port name QEMU gives a channel; the init finds the port by it. */
export const CHANNEL_PORT_PREFIX = "kvm-matrix.ch.";
export const channelPortName = (name: string): string => `${CHANNEL_PORT_PREFIX}${name}`;

/** The payload's file descriptor for the channel at `index` in the request's list. */
export const channelFd = (index: number): number => 3 + index;

/** The marker the init writes on a channel once the payload has exited. */
export const channelEndMarker = (nonce: string): string => `@@kvm-matrix-end ${nonce}@@`;

const EMPTY = Buffer.alloc(0);

/**
 * Passes a channel's bytes on and stops at the end marker: bytes that might be the start of the
 * marker are held until the next chunk shows whether they are.
 */
export class ChannelEnd {
	readonly #marker: Buffer;
	#held: Buffer = EMPTY;
	#ended = false;

	constructor(marker: string) {
		this.#marker = Buffer.from(marker);
	}

	/** True once the marker arrived: the payload's bytes are all there. */
	get ended(): boolean {
		return this.#ended;
	}

	/** The bytes of `chunk` (after what was held) that are surely the payload's. */
	push(chunk: Buffer): Buffer {
		if (this.#ended) return EMPTY;
		const all = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
		const at = all.indexOf(this.#marker);
		if (at !== -1) {
			this.#ended = true;
			this.#held = EMPTY;
			return all.subarray(0, at);
		}
		const keep = this.#partialMarkerAtEnd(all);
		this.#held = Buffer.from(all.subarray(all.length - keep));
		return all.subarray(0, all.length - keep);
	}

	/** What was held when the stream ends without its marker (the guest died): it was the payload's. */
	flush(): Buffer {
		const rest = this.#held;
		this.#held = EMPTY;
		return rest;
	}

	#partialMarkerAtEnd(bytes: Buffer): number {
		for (let k = Math.min(this.#marker.length - 1, bytes.length); k > 0; k--) {
			if (bytes.subarray(bytes.length - k).equals(this.#marker.subarray(0, k))) return k;
		}
		return 0;
	}
}
