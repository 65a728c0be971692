// Partitioning a matrix's cells into CI shards, balanced by what earlier runs took. A shard on
// its own machine builds every kernel it tests, so cells that share a kernel build go together
// unless the balance needs them apart; each part then pays the build again. Pure and
// deterministic: the same cells and durations give the same shards on every machine.

export interface ShardableCell {
	readonly id: string;
	/** The kernel build this cell needs (cells with the same key share it); none for a prebuilt kernel. */
	readonly build?: string;
}

export interface Durations {
	/** A cell's own time (boot and tests), by cell id. */
	readonly cellMs: ReadonlyMap<string, number>;
	/** A kernel build's time, by build key. */
	readonly buildMs: ReadonlyMap<string, number>;
}

export interface Shard {
	/** 1-based, as `--shard K/N` names it. */
	readonly index: number;
	readonly cells: readonly string[];
	/** The kernel builds this shard does. */
	readonly builds: readonly string[];
	readonly estimateMs: number;
}

export interface ShardPlan {
	readonly shards: readonly Shard[];
	/** Everything once, with each build once, split evenly: the bound a plan is measured by. */
	readonly idealMs: number;
	/** The costliest cell on its own (with its build): no plan's largest shard can be smaller. */
	readonly largestCellMs: number;
	/** Cells no earlier run timed, given the typical time instead. */
	readonly estimated: readonly string[];
}

/** When no run timed anything: a boot and a handful of tests, and a kernel build on 2 cores. */
export const DEFAULT_CELL_MS = 5 * 60_000;
export const DEFAULT_BUILD_MS = 15 * 60_000;

/** How far over the ideal the largest shard may be before a shared build is split. */
export const BALANCE_SLACK = 0.1;

interface Item {
	readonly key: string;
	readonly build?: string;
	readonly cells: readonly string[];
	readonly cost: number;
}

const median = (values: readonly number[]): number | undefined => {
	if (values.length === 0) return undefined;
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)];
};

const byCostThenKey = (a: Item, b: Item) => b.cost - a.cost || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Longest first, each to the least loaded shard (lowest index on a tie), then local moves. */
function assign(items: readonly Item[], n: number): Item[][] {
	const shards: Item[][] = Array.from({ length: n }, () => []);
	const load = new Array<number>(n).fill(0);
	for (const item of [...items].sort(byCostThenKey)) {
		let best = 0;
		for (let i = 1; i < n; i++) if ((load[i] ?? 0) < (load[best] ?? 0)) best = i;
		shards[best]?.push(item);
		load[best] = (load[best] ?? 0) + item.cost;
	}
	improve(shards, load);
	return shards;
}

/** Moves or swaps items off the largest shard while that makes the largest smaller. */
function improve(shards: Item[][], load: number[]): void {
	for (let round = 0; round < 200; round++) {
		const max = load.indexOf(Math.max(...load));
		const top = load[max] ?? 0;
		let best: { gain: number; apply: () => void } | undefined;
		const from = shards[max] ?? [];
		from.forEach((a, ai) => {
			shards.forEach((to, ti) => {
				if (ti === max) return;
				const other = load[ti] ?? 0;
				// Move a alone.
				const moved = Math.max(top - a.cost, other + a.cost);
				if (moved < top && (best === undefined || top - moved > best.gain))
					best = {
						gain: top - moved,
						apply: () => {
							from.splice(ai, 1);
							to.push(a);
							load[max] = top - a.cost;
							load[ti] = other + a.cost;
						},
					};
				to.forEach((b, bi) => {
					const delta = a.cost - b.cost;
					if (delta <= 0) return;
					const swapped = Math.max(top - delta, other + delta);
					if (swapped < top && (best === undefined || top - swapped > best.gain))
						best = {
							gain: top - swapped,
							apply: () => {
								from[ai] = b;
								to[bi] = a;
								load[max] = top - delta;
								load[ti] = other + delta;
							},
						};
				});
			});
		});
		if (best === undefined) return;
		best.apply();
	}
}

const loadsOf = (shards: readonly Item[][]) => shards.map((s) => s.reduce((t, i) => t + i.cost, 0));
const largest = (shards: readonly Item[][]) => Math.max(0, ...loadsOf(shards));

/**
 * How much better balanced plan `a` is than `b` (negative: better): first by the largest load,
 * then by how many shards carry it, then by the loads largest first. Not by the largest alone:
 * when shards tie for it, one split lowers one of them and leaves the largest as it was, and only
 * the next splits lower it (4 kernels on 24 shards used 4 of them and left 20 empty).
 */
function balanceOrder(a: readonly Item[][], b: readonly Item[][]): number {
	const x = loadsOf(a).sort((p, q) => q - p);
	const y = loadsOf(b).sort((p, q) => q - p);
	const top = (x[0] ?? 0) - (y[0] ?? 0);
	if (top !== 0) return top;
	const atTop = (l: readonly number[]) => l.filter((v) => v === l[0]).length;
	const ties = atTop(x) - atTop(y);
	if (ties !== 0) return ties;
	for (let i = 0; i < Math.max(x.length, y.length); i++) {
		const d = (x[i] ?? 0) - (y[i] ?? 0);
		if (d !== 0) return d;
	}
	return 0;
}

/**
 * The shards for `n` CI jobs. Cells with no recorded time get the median of those with one
 * (else DEFAULT_CELL_MS), builds likewise; `estimated` names them.
 */
export function planShards(cells: readonly ShardableCell[], durations: Durations, n: number): ShardPlan {
	if (!Number.isInteger(n) || n < 1) throw new RangeError(`shard count ${n}: must be a whole number ≥ 1`);
	const typicalCell = median([...durations.cellMs.values()]) ?? DEFAULT_CELL_MS;
	const typicalBuild = median([...durations.buildMs.values()]) ?? DEFAULT_BUILD_MS;
	const cellMs = (id: string) => durations.cellMs.get(id) ?? typicalCell;
	const buildMs = (key: string | undefined) => (key === undefined ? 0 : (durations.buildMs.get(key) ?? typicalBuild));
	const estimated = cells.filter((c) => !durations.cellMs.has(c.id)).map((c) => c.id);

	const groups = new Map<string, ShardableCell[]>();
	for (const c of [...cells].sort((a, b) => (a.id < b.id ? -1 : 1))) {
		const key = c.build === undefined ? `cell:${c.id}` : `build:${c.build}`;
		groups.set(key, [...(groups.get(key) ?? []), c]);
	}
	const itemOf = (key: string, build: string | undefined, ids: readonly string[]): Item => ({
		key,
		...(build === undefined ? {} : { build }),
		cells: ids,
		cost: buildMs(build) + ids.reduce((t, id) => t + cellMs(id), 0),
	});
	let items = [...groups].map(([key, cs]) =>
		itemOf(
			key,
			cs[0]?.build,
			cs.map((c) => c.id),
		),
	);
	const idealMs = items.reduce((t, i) => t + i.cost, 0) / n;
	const largestCellMs = Math.max(0, ...cells.map((c) => cellMs(c.id) + buildMs(c.build)));
	const bound = Math.max(idealMs * (1 + BALANCE_SLACK), largestCellMs);

	let shards = assign(items, n);
	// Split a shared build only when the balance needs it, and only while splitting helps.
	for (let splits = 0; largest(shards) > bound && splits < cells.length; splits++) {
		const loads = shards.map((s) => s.reduce((t, x) => t + x.cost, 0));
		const max = loads.indexOf(Math.max(...loads));
		const candidate = [...(shards[max] ?? [])].filter((i) => i.cells.length > 1).sort(byCostThenKey)[0];
		if (candidate === undefined) break;
		// Split off as much as fits beside the least loaded shard, its build paid again there; when
		// nothing fits (every shard already holds something), halve it instead.
		const gap = bound - Math.min(...loads) - buildMs(candidate.build);
		const longestFirst = [...candidate.cells].sort((a, b) => cellMs(b) - cellMs(a) || (a < b ? -1 : 1));
		const fitting: string[] = [];
		let pieceMs = 0;
		for (const id of longestFirst) {
			if (pieceMs + cellMs(id) > gap || fitting.length === candidate.cells.length - 1) continue;
			fitting.push(id);
			pieceMs += cellMs(id);
		}
		const half = longestFirst.filter((_, i) => i % 2 === 1);
		const tries = [fitting, half]
			.filter((piece) => piece.length > 0)
			.map((piece) => {
				const next = [
					...items.filter((i) => i !== candidate),
					itemOf(
						`${candidate.key}#${splits}a`,
						candidate.build,
						candidate.cells.filter((id) => !piece.includes(id)),
					),
					itemOf(`${candidate.key}#${splits}b`, candidate.build, piece),
				];
				return { next, shards: assign(next, n) };
			});
		const better = tries.sort((p, q) => balanceOrder(p.shards, q.shards))[0];
		if (better === undefined || balanceOrder(better.shards, shards) >= 0) break;
		items = better.next;
		shards = better.shards;
	}

	return {
		shards: shards.map((s, i) => {
			const ids = s.flatMap((item) => item.cells).sort();
			const builds = [...new Set(s.flatMap((item) => (item.build === undefined ? [] : [item.build])))].sort();
			return {
				index: i + 1,
				cells: ids,
				builds,
				// Each build once, even when both halves of a split build landed here.
				estimateMs: builds.reduce((t, b) => t + buildMs(b), 0) + ids.reduce((t, id) => t + cellMs(id), 0),
			};
		}),
		idealMs,
		largestCellMs,
		estimated,
	};
}

/** `--shard 2/3` as {index 2, count 3}, or why not in one line. */
export function parseShardSpec(
	text: string,
):
	| { readonly ok: true; readonly index: number; readonly count: number }
	| { readonly ok: false; readonly error: string } {
	const m = /^(\d+)\/(\d+)$/.exec(text.trim());
	const index = Number(m?.[1]);
	const count = Number(m?.[2]);
	if (m === null || count < 1 || index < 1 || index > count)
		return { ok: false, error: `--shard ${text}: expected K/N with 1 ≤ K ≤ N (e.g. 2/3)` };
	return { ok: true, index, count };
}
