import test from "ava";
import { kutSlots } from "./kut-selection.js";

// The real x86/unittests.cfg (June 2026): 62 entries without smp, 22 with smp = 2, one 3, two 4.
const realSuite = [...Array(62).fill("1"), ...Array(22).fill("2"), "3", "4", "4"];

test("host KUT slots follow the machine's CPUs and the tests' own smp, as run_tests.sh -j would", (t) => {
	t.is(kutSlots(1, realSuite), 1);
	t.is(kutSlots(2, realSuite), 2);
	t.is(kutSlots(8, realSuite), 8);
});

test("a selection of two-vCPU tests gets half the CPUs; $MAX_SMP takes them all; never none", (t) => {
	t.is(kutSlots(8, ["2", "2", "2", "1"]), 4);
	t.is(kutSlots(2, ["2", "2"]), 1);
	t.is(kutSlots(8, ["$MAX_SMP", "$MAX_SMP"]), 1);
	t.is(kutSlots(1, ["4"]), 1);
	t.is(kutSlots(4, []), 4);
});
