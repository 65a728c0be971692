// Trims a regular expression would do in quadratic time: `/x+$/` tries every start of a long run
// of `x` not at the end (`"////a"`), each scanning to the run's end. Outside text is unbounded.

/** `text` without the run of `char` (one UTF-16 unit) that ends it. */
export function trimTrailing(text: string, char: string): string {
	let end = text.length;
	while (end > 0 && text[end - 1] === char) end--;
	return text.slice(0, end);
}

/** `text` up to its first `char`, or all of it. */
export const beforeFirst = (text: string, char: string): string => {
	const at = text.indexOf(char);
	return at === -1 ? text : text.slice(0, at);
};

/**
 * Every run of blanks that holds a line break as one space. By position: the pattern (blanks, a
 * line break, blanks) retries each blank of a long run with no line break in it to the run's end.
 */
export function joinLines(text: string): string {
	const pieces = text.split("\n");
	const last = pieces.length - 1;
	if (last === 0) return text;
	let joined = (pieces[0] ?? "").trimEnd();
	for (let i = 1; i <= last; i++) {
		const piece = i === last ? (pieces[i] ?? "").trimStart() : (pieces[i] ?? "").trim();
		if (piece !== "" || i === last) joined += ` ${piece}`;
	}
	return joined;
}
