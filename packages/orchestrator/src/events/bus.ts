export type Listener<E> = (event: E) => void;

/** The side views see: they can listen, not emit. */
export interface EventSource<E> {
	subscribe(listener: Listener<E>): () => void;
}

/** The side the engine holds. */
export interface EventBus<E> extends EventSource<E> {
	emit(event: E): void;
}

export interface EventBusOptions<E> {
	/**
	 * Called when a listener throws. The listener is dropped (a broken view must not break the
	 * run or the other views) and the others still get the event. By default the error is
	 * rethrown on a later tick, so a bug in a view is loud rather than silent.
	 */
	readonly onListenerError?: (error: unknown, event: E) => void;
}

/** A synchronous, in-order event bus: listeners see events in emit order, each exactly once. */
export function createEventBus<E>(options: EventBusOptions<E> = {}): EventBus<E> {
	const listeners = new Set<Listener<E>>();
	const onError =
		options.onListenerError ??
		((error: unknown) =>
			setImmediate(() => {
				throw error;
			}));
	return {
		subscribe(listener) {
			// Wrapped so the same function can subscribe twice and unsubscribe each independently.
			const entry: Listener<E> = (event) => listener(event);
			listeners.add(entry);
			return () => listeners.delete(entry);
		},
		emit(event) {
			for (const listener of [...listeners]) {
				try {
					listener(event);
				} catch (error) {
					listeners.delete(listener);
					onError(error, event);
				}
			}
		},
	};
}
