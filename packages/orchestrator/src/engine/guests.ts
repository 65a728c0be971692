// How many guests a run boots at once, and over how many guests one cell's selftests are spread:
// both follow the machine (its CPUs and memory) and the guests' own size, never a fixed count.

export interface GuestSize {
	readonly smp: number;
	readonly memoryBytes: number;
}

/**
 * Guests at once: the CPUs over the widest guest's vCPUs, and three quarters of the memory over
 * the largest guest's (the rest is the host's and QEMU's own). Never 0: one guest always runs.
 */
export function guestSlots(cpus: number, memoryBytes: number, guests: readonly GuestSize[]): number {
	if (guests.length === 0) return 1;
	const widest = Math.max(1, ...guests.map((g) => g.smp));
	const largest = Math.max(1, ...guests.map((g) => g.memoryBytes));
	return Math.max(1, Math.min(Math.floor(cpus / widest), Math.floor((memoryBytes * 0.75) / largest)));
}

/**
 * A guest is worth its boot when it runs at least this many tests one after the other: under TCG a
 * boot costs about 9 s and a short KVM selftest about 3 s (FACTS.md).
 */
export const TESTS_PER_BOOT = 4;

/**
 * Over how many guests one cell's selftests are spread: its share of the run's guest slots (the
 * cells run at once and share them), and no more guests than keep each one `TESTS_PER_BOOT` rounds
 * of `sideBySide` tests busy.
 */
export function selftestGuests(slots: number, cells: number, tests: number, sideBySide: number): number {
	const share = Math.floor(slots / Math.max(1, cells));
	const worthBooting = Math.floor(tests / (TESTS_PER_BOOT * Math.max(1, sideBySide)));
	return Math.max(1, Math.min(share, worthBooting));
}
