import test from "ava";
import fc from "fast-check";
import { terminalSafe, terminalText } from "./terminal-text.js";

const ESC = "\u001b";

test("a title, a clear-screen, a cursor move and a carriage return are removed; colour stays", (t) => {
	const hostile = `${ESC}]0;owned${ESC}\\${ESC}[2J${ESC}[H\rPASS all tests${ESC}[31m red${ESC}[0m\tend\n`;
	t.is(terminalText(hostile), `PASS all tests${ESC}[31m red${ESC}[0m\tend\n`);
});

test("OSC ended by BEL, DCS, 8-bit CSI, lone ESC commands and C0/C1 controls are removed", (t) => {
	t.is(terminalText(`a${ESC}]52;c;ZXZpbA==\u0007b`), "ab");
	t.is(terminalText(`a${ESC}P1$r${ESC}\\b`), "ab");
	t.is(terminalText("a\u009b2Jb\u009d0;x\u009cc"), "abc");
	t.is(terminalText(`a${ESC}cb${ESC}7c\u0008d\u0000e\u007ff`), "abcdef");
	// Never closed: the rest is the sequence's, not text.
	t.is(terminalText(`a${ESC}]0;title to the end`), "a");
	// SGR with anything but digits and separators is not colour.
	t.is(terminalText(`a${ESC}[?25lb${ESC}[1;31mc`), `ab${ESC}[1;31mc`);
});

test("what comes out has no control character but tab, line feed and whole SGR sequences", (t) => {
	const unit = fc.constantFrom(
		ESC,
		"[",
		"]",
		"\\",
		"\u0007",
		"\u009b",
		"\u009c",
		"\u009d",
		"\r",
		"\n",
		"\t",
		"m",
		"2",
		";",
		"J",
		"a",
		"\u0000",
	);
	fc.assert(
		fc.property(fc.string({ unit, maxLength: 40 }), (s) => {
			const out = terminalText(s);
			// biome-ignore lint/suspicious/noControlCharactersInRegex: the ESC of a colour sequence
			const withoutSgr = out.replace(/\u001b\[[0-9;:]*m/g, "");
			// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
			t.false(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(withoutSgr), JSON.stringify(out));
			t.is(terminalText(out), out);
		}),
	);
});

test("terminalSafe cleans every string of an event and leaves plain text as it was", (t) => {
	const event = {
		type: "log-line",
		subject: { kind: "cell", id: "k/t" },
		line: `${ESC}]0;x\u0007ok`,
		n: 3,
		list: ["\rfake"],
	};
	t.deepEqual(terminalSafe(event), {
		type: "log-line",
		subject: { kind: "cell", id: "k/t" },
		line: "ok",
		n: 3,
		list: ["fake"],
	});
	const plain = "nothing to remove here";
	t.is(terminalText(plain), plain);
	const clean = { type: "log-line", subject: { kind: "cell", id: "k/t" }, line: "ok", list: ["a"] };
	t.is(terminalSafe(clean), clean);
});
