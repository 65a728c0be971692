import test from "ava";
import fc from "fast-check";
import {
	BALANCE_SLACK,
	DEFAULT_CELL_MS,
	type Durations,
	parseShardSpec,
	planShards,
	type ShardableCell,
} from "./shards.js";

const MIN = 60_000;
const durations = (cells: Record<string, number>, builds: Record<string, number> = {}): Durations => ({
	cellMs: new Map(Object.entries(cells)),
	buildMs: new Map(Object.entries(builds)),
});
const largest = (plan: ReturnType<typeof planShards>) => Math.max(...plan.shards.map((s) => s.estimateMs));
const withinBound = (plan: ReturnType<typeof planShards>) =>
	largest(plan) <= Math.max(plan.idealMs * (1 + BALANCE_SLACK), plan.largestCellMs) + 1e-6;

test("balance, any durations: every cell once, and no shard above the ideal plus the largest cell", (t) => {
	// The bound no greedy plan can miss; the 10 % bound needs cells small beside the ideal (below).
	fc.assert(
		fc.property(
			fc.integer({ min: 1, max: 6 }),
			fc.array(fc.integer({ min: 1, max: 40 * MIN }), { minLength: 1, maxLength: 80 }),
			(n, times) => {
				const cells = times.map((_, i) => ({ id: `k${i}/tcg` }));
				const plan = planShards(cells, durations(Object.fromEntries(times.map((ms, i) => [`k${i}/tcg`, ms]))), n);
				const all = plan.shards.flatMap((s) => s.cells).sort();
				return (
					JSON.stringify(all) === JSON.stringify(cells.map((c) => c.id).sort()) &&
					largest(plan) <= plan.idealMs + plan.largestCellMs
				);
			},
		),
	);
	t.pass();
});

test("balance: many cells of similar size split within 10 %", (t) => {
	fc.assert(
		fc.property(
			fc.integer({ min: 2, max: 6 }),
			fc.array(fc.integer({ min: 2 * MIN, max: 12 * MIN }), { minLength: 40, maxLength: 120 }),
			(n, times) => {
				const cells = times.map((_, i) => ({ id: `c${String(i).padStart(3, "0")}` }));
				return withinBound(
					planShards(cells, durations(Object.fromEntries(cells.map((c, i) => [c.id, times[i] ?? 0]))), n),
				);
			},
		),
	);
	t.pass();
});

test("balance on a nightly: 6 kernels built once each, 3 targets, 3 shards", (t) => {
	const kernels = ["kvm-x86@next", "kvm@next", "kvm@queue", "kvm@master", "linux@master", "stable@6.12"];
	const targets = ["tcg", "icx", "genoa"];
	const cells: ShardableCell[] = kernels.flatMap((k) => targets.map((tg) => ({ id: `${k}/${tg}`, build: k })));
	const times = Object.fromEntries(cells.map((c, i) => [c.id, (4 + ((i * 7) % 11)) * MIN]));
	const plan = planShards(cells, durations(times, Object.fromEntries(kernels.map((k, i) => [k, (12 + i) * MIN]))), 3);
	t.true(withinBound(plan), JSON.stringify(plan));
	t.deepEqual(plan.estimated, []);
	// A kernel is built where its cells run: 6 builds unless the balance needed a split.
	const builds = plan.shards.reduce((n, s) => n + s.builds.length, 0);
	t.true(builds >= 6 && builds <= 8, `${builds} builds`);
	for (const s of plan.shards) for (const id of s.cells) t.true(s.builds.includes(id.split("/")[0] ?? ""), id);
});

test("cells that share a kernel build stay together when that saves a build", (t) => {
	const cells = [
		{ id: "a/t1", build: "a" },
		{ id: "a/t2", build: "a" },
		{ id: "b/t1", build: "b" },
		{ id: "b/t2", build: "b" },
	];
	const plan = planShards(
		cells,
		durations({ "a/t1": 5 * MIN, "a/t2": 5 * MIN, "b/t1": 5 * MIN, "b/t2": 5 * MIN }, { a: 20 * MIN, b: 20 * MIN }),
		2,
	);
	t.deepEqual(
		plan.shards.map((s) => [s.cells, s.builds, s.estimateMs / MIN]),
		[
			[["a/t1", "a/t2"], ["a"], 30],
			[["b/t1", "b/t2"], ["b"], 30],
		],
	);
});

test("a shared build is split when one kernel is most of the matrix, and each part builds it", (t) => {
	const cells = [
		...Array.from({ length: 6 }, (_, i) => ({ id: `big/t${i}`, build: "big" })),
		{ id: "small/t0", build: "small" },
	];
	const times = Object.fromEntries(cells.map((c) => [c.id, 10 * MIN]));
	const plan = planShards(cells, durations(times, { big: 5 * MIN, small: 5 * MIN }), 2);
	t.deepEqual(
		plan.shards.map((s) => s.builds).sort((a, b) => a.length - b.length),
		[["big"], ["big", "small"]],
	);
	t.true(largest(plan) <= 45 * MIN, JSON.stringify(plan));
});

test("deterministic: the same input in any order gives the same shards", (t) => {
	fc.assert(
		fc.property(
			fc.uniqueArray(
				fc.record({ id: fc.stringMatching(/^[a-z]{1,6}\/[a-z]{1,3}$/), ms: fc.integer({ min: 1, max: 1000 }) }),
				{
					selector: (c) => c.id,
					minLength: 1,
					maxLength: 30,
				},
			),
			fc.integer({ min: 1, max: 5 }),
			(cells, n) => {
				const d = durations(Object.fromEntries(cells.map((c) => [c.id, c.ms])));
				const cs = cells.map((c) => ({ id: c.id, build: c.id.split("/")[0] ?? "" }));
				const a = planShards(cs, d, n);
				const b = planShards([...cs].reverse(), d, n);
				return JSON.stringify(a) === JSON.stringify(b);
			},
		),
	);
	t.pass();
});

test("cells no run timed get the median of those timed, and are named", (t) => {
	const plan = planShards([{ id: "a" }, { id: "b" }, { id: "c" }], durations({ a: 2 * MIN, b: 4 * MIN }), 1);
	t.deepEqual(plan.estimated, ["c"]);
	t.is(plan.shards[0]?.estimateMs, 2 * MIN + 4 * MIN + 4 * MIN);
	const none = planShards([{ id: "a" }], durations({}), 1);
	t.is(none.shards[0]?.estimateMs, DEFAULT_CELL_MS);
});

test("more shards than cells leaves some shards empty, never a cell twice", (t) => {
	const plan = planShards([{ id: "a" }, { id: "b" }], durations({}), 4);
	t.is(plan.shards.length, 4);
	t.deepEqual(plan.shards.map((s) => s.cells.length).sort(), [0, 0, 1, 1]);
});

test("--shard K/N", (t) => {
	t.deepEqual(parseShardSpec("2/3"), { ok: true, index: 2, count: 3 });
	for (const bad of ["0/3", "4/3", "3", "a/b", "1/0", ""]) t.false(parseShardSpec(bad).ok, bad);
});

test("shards that tie for the largest are all split: 4 kernels × 6 targets fill 24 shards", (t) => {
	const kernels = ["kvm-x86@next", "kvm@next", "kvm@queue", "linux@master"];
	const targets = ["tcg", "icx", "spr", "genoa", "milan", "tcg-noept"];
	const cells: ShardableCell[] = kernels.flatMap((k) => targets.map((tg) => ({ id: `${k}/${tg}`, build: k })));
	const times = Object.fromEntries(cells.map((c) => [c.id, 5 * MIN]));
	const plan = planShards(cells, durations(times, Object.fromEntries(kernels.map((k) => [k, 15 * MIN]))), 24);
	// Each cell with its own build is the most a shard must take (20 min); before, 4 shards took
	// 45 min each and 20 were empty.
	t.is(plan.shards.filter((s) => s.cells.length > 0).length, 24, JSON.stringify(plan.shards.map((s) => s.cells)));
	t.is(largest(plan), 20 * MIN);
	for (const s of plan.shards) for (const id of s.cells) t.true(s.builds.includes(id.split("/")[0] ?? ""), id);
	// Fewer shards than cells: each kernel split in two, not peeled a cell at a time.
	const eight = planShards(cells, durations(times, Object.fromEntries(kernels.map((k) => [k, 15 * MIN]))), 8);
	// Three cells and their build on each (30 min): the best any plan does with 4 builds of 15 min.
	t.is(largest(eight), 30 * MIN, JSON.stringify(eight.shards.map((s) => s.estimateMs / MIN)));
	t.is(eight.shards.filter((s) => s.cells.length > 0).length, 8);
});
