// One machine's KVM, shared by the cells that run there: cells that want the same module
// parameters run together, a cell that wants others waits until they are all done, and the
// first of a group sets the machine up (`enter`) while the last puts it back (`leave`). Groups
// take turns in the order they first asked, so a long line of one group cannot starve another.

const cancelled = (signal: AbortSignal) =>
	signal.reason instanceof Error ? signal.reason : new Error("cancelled while waiting for the machine's KVM");

interface Group<E> {
	readonly key: string;
	users: number;
	entered?: Promise<E>;
	/** The last user is putting the machine back: no one joins it now. */
	leaving?: boolean;
	readonly admitted: Promise<void>;
	admit: () => void;
}

export class SharedLease<E> {
	private active: Group<E> | undefined;
	private readonly queue: Group<E>[] = [];

	/** Runs `body` while the machine is in `key`'s state, entering it first if no one has. */
	async use<T>(
		key: string,
		enter: () => Promise<E>,
		leave: (entered: E) => Promise<void>,
		body: (entered: E) => Promise<T>,
		/** A cancelled cell stops waiting, and never sets the machine up for nothing. */
		signal?: AbortSignal,
	): Promise<T> {
		const group = this.join(key);
		await this.admission(group, signal);
		if (signal?.aborted && group.entered === undefined) {
			this.done(group);
			throw cancelled(signal);
		}
		group.entered ??= enter();
		let entered: E;
		try {
			entered = await group.entered;
		} catch (error) {
			this.done(group);
			throw error;
		}
		try {
			return await body(entered);
		} finally {
			if (group.users === 1) {
				group.leaving = true;
				await leave(entered).catch(() => undefined);
			}
			this.done(group);
		}
	}

	private async admission(group: Group<E>, signal: AbortSignal | undefined): Promise<void> {
		if (signal === undefined) return group.admitted;
		if (signal.aborted && this.active !== group) return this.leaveQueue(group, signal);
		let onAbort = () => {};
		const aborted = new Promise<"aborted">((resolve) => {
			onAbort = () => resolve("aborted");
			signal.addEventListener("abort", onAbort, { once: true });
		});
		const how = await Promise.race([group.admitted.then(() => "admitted" as const), aborted]);
		signal.removeEventListener("abort", onAbort);
		if (how === "aborted" && this.active !== group) return this.leaveQueue(group, signal);
	}

	/** A waiting user gives up its place; a group no one waits in any more leaves the queue. */
	private leaveQueue(group: Group<E>, signal: AbortSignal): never {
		group.users--;
		if (group.users === 0) {
			const at = this.queue.indexOf(group);
			if (at >= 0) this.queue.splice(at, 1);
		}
		throw cancelled(signal);
	}

	private join(key: string): Group<E> {
		// Joining the active group is fair only while no other group waits for the machine.
		if (this.active?.key === key && this.active.leaving !== true && this.queue.length === 0) {
			this.active.users++;
			return this.active;
		}
		const waiting = this.queue.find((g) => g.key === key);
		if (waiting !== undefined) {
			waiting.users++;
			return waiting;
		}
		let admit = () => {};
		const admitted = new Promise<void>((resolve) => {
			admit = resolve;
		});
		const group: Group<E> = { key, users: 1, admitted, admit };
		this.queue.push(group);
		this.next();
		return group;
	}

	private done(group: Group<E>): void {
		group.users--;
		if (group.users > 0 || this.active !== group) return;
		this.active = undefined;
		this.next();
	}

	private next(): void {
		if (this.active !== undefined) return;
		const group = this.queue.shift();
		if (group === undefined) return;
		this.active = group;
		group.admit();
	}
}
