/**
 * A stream that is `stream` in every way but remembers whether the last thing written ended a
 * line. Ink leaves a frame as tall as the terminal without its final newline, and whatever is
 * printed after the app exits must not be glued to that frame's last line.
 */
export function lineTracking<S extends NodeJS.WritableStream>(stream: S): { stream: S; atLineStart: () => boolean } {
	let atLineStart = true;
	const write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
		if (chunk.length > 0) atLineStart = typeof chunk === "string" ? chunk.endsWith("\n") : chunk.at(-1) === 0x0a;
		return (stream.write as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean)(chunk, ...rest);
	};
	const proxy = new Proxy(stream, {
		get(target, property) {
			if (property === "write") return write;
			const value: unknown = Reflect.get(target, property, target);
			// Methods run on the stream itself: its listeners and internal state live there.
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
	return { stream: proxy, atLineStart: () => atLineStart };
}
