import test from "ava";
import { shellWord } from "./triage.js";

test("the command an answer prints pastes back into a shell as it was given", (t) => {
	t.is(shellWord("matrices/kvm-x86-nightly.yaml"), "matrices/kvm-x86-nightly.yaml");
	t.is(shellWord("kvm@v6.1"), "kvm@v6.1");
	t.is(
		shellWord("https://bugzilla.kernel.org/show_bug.cgi?id=216725&x=1"),
		"'https://bugzilla.kernel.org/show_bug.cgi?id=216725&x=1'",
	);
	t.is(shellWord("my report.txt"), "'my report.txt'");
	t.is(shellWord("it's"), "'it'\\''s'");
	t.is(shellWord(""), "''");
});
