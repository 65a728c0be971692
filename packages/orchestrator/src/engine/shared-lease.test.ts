import test from "ava";
import { SharedLease } from "./shared-lease.js";

const tick = () => new Promise((r) => setTimeout(r, 5));

/** A body that waits until told to finish, and the log of what happened in which order. */
function harness() {
	const log: string[] = [];
	const lease = new SharedLease<string>();
	const ends = new Map<string, () => void>();
	const use = (who: string, key: string) =>
		lease.use(
			key,
			async () => {
				log.push(`enter ${key} by ${who}`);
				return key;
			},
			async (k) => {
				log.push(`leave ${k} by ${who}`);
			},
			async (k) => {
				log.push(`${who} runs under ${k}`);
				await new Promise<void>((resolve) => ends.set(who, resolve));
				log.push(`${who} done`);
			},
		);
	const finish = async (who: string) => {
		ends.get(who)?.();
		await tick();
	};
	return { log, use, finish };
}

test("SharedLease: users of one key share one enter and one leave; another key waits for them", async (t) => {
	const h = harness();
	const a = h.use("a", "nested-off");
	const b = h.use("b", "nested-off");
	const c = h.use("c", "");
	await tick();
	t.deepEqual(h.log, ["enter nested-off by a", "a runs under nested-off", "b runs under nested-off"]);
	await h.finish("a");
	t.false(h.log.includes("leave nested-off by a"));
	await h.finish("b");
	t.deepEqual(h.log.slice(4), ["b done", "leave nested-off by b", "enter  by c", "c runs under "]);
	await h.finish("c");
	await Promise.all([a, b, c]);
});

test("SharedLease: a key that waits is not overtaken by later users of the active one", async (t) => {
	const h = harness();
	const a = h.use("a", "x");
	await tick();
	const b = h.use("b", "y");
	const c = h.use("c", "x");
	await tick();
	await h.finish("a");
	t.deepEqual(h.log, ["enter x by a", "a runs under x", "a done", "leave x by a", "enter y by b", "b runs under y"]);
	await h.finish("b");
	t.deepEqual(h.log.slice(6), ["b done", "leave y by b", "enter x by c", "c runs under x"]);
	await h.finish("c");
	await Promise.all([a, b, c]);
});

test("SharedLease: an enter that fails fails its group and frees the machine", async (t) => {
	const lease = new SharedLease<string>();
	const left: string[] = [];
	const failing = lease.use(
		"x",
		async () => {
			throw new Error("in use");
		},
		async () => {
			left.push("x");
		},
		async () => "ran",
	);
	const next = lease.use(
		"y",
		async () => "y",
		async () => {
			left.push("y");
		},
		async () => "ran y",
	);
	await t.throwsAsync(failing, { message: "in use" });
	t.is(await next, "ran y");
	t.deepEqual(left, ["y"]);
});

test("SharedLease: no one joins a group while its last user puts the machine back", async (t) => {
	const lease = new SharedLease<string>();
	const log: string[] = [];
	let release = () => {};
	const slowLeave = new Promise<void>((r) => {
		release = r;
	});
	const first = lease.use(
		"x",
		async () => {
			log.push("enter 1");
			return "x";
		},
		async () => {
			log.push("leave 1 starts");
			await slowLeave;
			log.push("leave 1 ends");
		},
		async () => {},
	);
	await tick();
	const second = lease.use(
		"x",
		async () => {
			log.push("enter 2");
			return "x";
		},
		async () => {},
		async () => {
			log.push("2 runs");
		},
	);
	await tick();
	release();
	await Promise.all([first, second]);
	t.deepEqual(log, ["enter 1", "leave 1 starts", "leave 1 ends", "enter 2", "2 runs"]);
});

test("SharedLease: a cancelled cell stops waiting and its group never enters", async (t) => {
	const lease = new SharedLease<string>();
	const entered: string[] = [];
	let finishA = () => {};
	const a = lease.use(
		"x",
		async () => "x",
		async () => {},
		() =>
			new Promise<void>((r) => {
				finishA = r;
			}),
	);
	const controller = new AbortController();
	const b = lease.use(
		"y",
		async () => {
			entered.push("y");
			return "y";
		},
		async () => {},
		async () => "ran",
		controller.signal,
	);
	await tick();
	controller.abort(new Error("run cancelled"));
	await t.throwsAsync(b, { message: "run cancelled" });
	finishA();
	await a;
	t.deepEqual(entered, []);
	// The machine is free again: a later group enters at once.
	t.is(
		await lease.use(
			"z",
			async () => "z",
			async () => {},
			async (e) => e,
		),
		"z",
	);
});
