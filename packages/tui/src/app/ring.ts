/** The last `capacity` items, in O(1) per push: a log pane must not grow with log volume. */
export class Ring<T> {
	readonly #items: T[] = [];
	#start = 0;
	constructor(readonly capacity: number) {}

	push(item: T): void {
		if (this.#items.length < this.capacity) this.#items.push(item);
		else {
			this.#items[this.#start] = item;
			this.#start = (this.#start + 1) % this.capacity;
		}
	}

	/** The newest `n` items, oldest first. */
	last(n: number): T[] {
		const all = [...this.#items.slice(this.#start), ...this.#items.slice(0, this.#start)];
		return all.slice(Math.max(0, all.length - n));
	}

	get size(): number {
		return this.#items.length;
	}
}
