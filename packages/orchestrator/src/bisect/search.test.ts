import test from "ava";
import { applyStep, conclusion, nextCommit, startState } from "./search.js";

// A line of history a..f (a oldest); git's --bisect-all order is given by hand.
test("each step narrows the range; the answer is the first new commit once nothing is left", (t) => {
	let s = startState("a", "f");
	t.is(nextCommit(s, ["c", "d", "b", "e", "f"]), "c");
	s = applyStep(s, "c", "old");
	t.is(nextCommit(s, ["e", "d", "f"]), "e");
	s = applyStep(s, "e", "new");
	t.is(s.firstNew, "e");
	t.is(nextCommit(s, ["d", "e"]), "d");
	s = applyStep(s, "d", "new");
	t.is(nextCommit(s, ["d"]), undefined);
	t.deepEqual(conclusion(s, ["d"]), { kind: "found", sha: "d" });
});

test("a skipped commit is not tested again, and one left beside the answer makes it ambiguous", (t) => {
	let s = startState("a", "d");
	s = applyStep(s, "b", "skip");
	t.is(nextCommit(s, ["b", "c", "d"]), "c");
	s = applyStep(s, "c", "new");
	t.is(nextCommit(s, ["b", "c"]), undefined);
	t.deepEqual(conclusion(s, ["c", "b"]), { kind: "ambiguous", candidates: ["b", "c"] });
});
