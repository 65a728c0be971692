import test from "ava";
import { guestSlots, selftestGuests } from "./guests.js";

const GiB = 1024 ** 3;

test("guests at once follow the CPUs over the widest guest: 1, 2 and 8 cores", (t) => {
	const two = [{ smp: 2, memoryBytes: GiB }];
	t.is(guestSlots(1, 64 * GiB, two), 1);
	t.is(guestSlots(2, 64 * GiB, two), 1);
	t.is(guestSlots(8, 64 * GiB, two), 4);
	t.is(guestSlots(8, 64 * GiB, [{ smp: 1, memoryBytes: GiB }]), 8);
	t.is(guestSlots(8, 64 * GiB, [...two, { smp: 4, memoryBytes: GiB }]), 2);
});

test("guests at once follow the memory: three quarters of it over the largest guest", (t) => {
	t.is(guestSlots(64, 8 * GiB, [{ smp: 1, memoryBytes: 2 * GiB }]), 3);
	t.is(guestSlots(64, GiB, [{ smp: 1, memoryBytes: 2 * GiB }]), 1);
	t.is(guestSlots(8, 64 * GiB, []), 1);
});

test("a cell's selftests spread over its share of the slots, each guest worth its boot", (t) => {
	// One cell on a machine with 8 slots and 100 tests: 8 guests.
	t.is(selftestGuests(8, 1, 100, 1), 8);
	// Four cells share the 8 slots.
	t.is(selftestGuests(8, 4, 100, 1), 2);
	// More cells than slots: each cell one guest.
	t.is(selftestGuests(2, 3, 100, 1), 1);
	// Seven tests make one guest's worth (4 each), not seven boots.
	t.is(selftestGuests(8, 1, 7, 1), 1);
	t.is(selftestGuests(8, 1, 8, 1), 2);
	// Side by side, a guest takes more tests before another is worth booting.
	t.is(selftestGuests(8, 1, 16, 2), 2);
	t.is(selftestGuests(8, 1, 0, 1), 1);
});
