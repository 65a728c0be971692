// Text from outside (guest consoles, results files, commit subjects, bug reports) reaches the
// terminal through here. A terminal obeys what it is sent: an OSC sets the window title or
// writes the clipboard, a CSI clears the screen or moves the cursor over lines already printed,
// a lone CR overwrites a line with a fake "all tests passed". Colour (SGR, `ESC [ ... m`) is
// the one sequence kept: kvm-matrix's own palette uses it and it cannot move or hide text.

const ESC = 0x1b;
const BEL = 0x07;
/** The 8-bit forms of CSI, OSC, DCS, SOS, PM and APC: one character each, ended like the 7-bit ones. */
const C1_CSI = 0x9b;
const C1_STRINGS = new Set([0x90, 0x98, 0x9d, 0x9e, 0x9f]);
const ST = 0x9c;

const isC0 = (c: number) => c < 0x20 || c === 0x7f;
const isC1 = (c: number) => c >= 0x80 && c <= 0x9f;

/**
 * `text` with every control character and escape sequence removed but SGR colour, tab and line
 * feed. One pass, so a megabyte of hostile console output costs linear time.
 */
export function terminalText(text: string): string {
	// Most text has nothing to remove: answer it without copying.
	// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
	if (!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(text)) return text;
	let out = "";
	let i = 0;
	while (i < text.length) {
		const c = text.charCodeAt(i);
		if (c === ESC || c === C1_CSI || C1_STRINGS.has(c)) {
			const [end, keep] = sequenceAt(text, i);
			if (keep) out += text.slice(i, end);
			i = end;
			continue;
		}
		if ((isC0(c) && c !== 0x09 && c !== 0x0a) || isC1(c)) {
			i++;
			continue;
		}
		out += text[i];
		i++;
	}
	return out;
}

/** Where the sequence starting at `start` ends, and whether it is SGR (kept). */
function sequenceAt(text: string, start: number): [end: number, keep: boolean] {
	const c = text.charCodeAt(start);
	let i = start + 1;
	let introducer = c;
	if (c === ESC) {
		if (i >= text.length) return [i, false];
		introducer = text.charCodeAt(i);
		i++;
		// ESC [ is CSI; ESC ] P X ^ _ open strings; any other ESC x is a two-character command.
		if (introducer === 0x5b) introducer = C1_CSI;
		else if (introducer === 0x5d) introducer = 0x9d;
		else if (introducer === 0x50) introducer = 0x90;
		else if (introducer === 0x58) introducer = 0x98;
		else if (introducer === 0x5e) introducer = 0x9e;
		else if (introducer === 0x5f) introducer = 0x9f;
		else return [i, false];
	}
	if (introducer === C1_CSI) {
		// Parameters and intermediates (0x20–0x3f), then one final byte (0x40–0x7e).
		const from = i;
		while (i < text.length && text.charCodeAt(i) >= 0x20 && text.charCodeAt(i) <= 0x3f) i++;
		if (i >= text.length) return [i, false];
		const final = text.charCodeAt(i);
		if (final < 0x40 || final > 0x7e) return [i, false]; // broken: drop what was read, keep the rest
		// Colour only in its 7-bit form, `ESC [`: the 8-bit CSI is a C1 character terminals disagree on.
		const sgr = c === ESC && final === 0x6d && /^[0-9;:]*$/.test(text.slice(from, i));
		return [i + 1, sgr];
	}
	// A string (OSC's title, a DCS): up to BEL, ST or ESC \ — or the end, if never closed.
	while (i < text.length) {
		const d = text.charCodeAt(i);
		if (d === BEL || d === ST) return [i + 1, false];
		if (d === ESC) return [text.charCodeAt(i + 1) === 0x5c ? i + 2 : i + 1, false];
		i++;
	}
	return [i, false];
}

/**
 * Every string in `value` (an event, a result) made terminal-safe; other values as they are. A
 * value with nothing to remove comes back itself, not copied: the TUI's store gets every log line.
 */
export function terminalSafe<T>(value: T): T {
	if (typeof value === "string") return terminalText(value) as T;
	if (Array.isArray(value)) {
		const out = value.map(terminalSafe);
		return (out.some((v, i) => v !== value[i]) ? out : value) as T;
	}
	if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
		let out: Record<string, unknown> | undefined;
		for (const [k, v] of Object.entries(value)) {
			const safe = terminalSafe(v);
			if (safe !== v) out = { ...(out ?? value), [k]: safe };
		}
		return (out ?? value) as T;
	}
	return value;
}
