import test from "ava";
import { createEventBus } from "./bus.js";
import type { EngineEvent } from "./types.js";

const line = (n: number): EngineEvent => ({
	type: "log-line",
	at: n,
	subject: { kind: "cell", id: "c" },
	stream: "engine",
	line: `line ${n}`,
});

test("listeners get every event once, in emit order", (t) => {
	const bus = createEventBus<EngineEvent>();
	const a: number[] = [];
	const b: number[] = [];
	bus.subscribe((e) => a.push(e.at));
	bus.subscribe((e) => b.push(e.at));
	for (let i = 0; i < 5; i++) bus.emit(line(i));
	t.deepEqual(a, [0, 1, 2, 3, 4]);
	t.deepEqual(b, [0, 1, 2, 3, 4]);
});

test("unsubscribe stops delivery to that subscription only", (t) => {
	const bus = createEventBus<EngineEvent>();
	const seen: string[] = [];
	const listener = (e: EngineEvent) => seen.push(String(e.at));
	const off1 = bus.subscribe(listener);
	bus.subscribe(listener);
	bus.emit(line(1));
	off1();
	bus.emit(line(2));
	t.deepEqual(seen, ["1", "1", "2"]);
});

test("a throwing listener is dropped and reported; the others still get the event", (t) => {
	const errors: unknown[] = [];
	const bus = createEventBus<EngineEvent>({ onListenerError: (error) => errors.push(error) });
	const good: number[] = [];
	let calls = 0;
	bus.subscribe(() => {
		calls++;
		throw new Error("view bug");
	});
	bus.subscribe((e) => good.push(e.at));
	bus.emit(line(1));
	bus.emit(line(2));
	t.is(calls, 1);
	t.deepEqual(good, [1, 2]);
	t.is(errors.length, 1);
	t.is((errors[0] as Error).message, "view bug");
});

test("a listener subscribed during an emit sees only later events", (t) => {
	const bus = createEventBus<EngineEvent>();
	const late: number[] = [];
	bus.subscribe(() => {
		if (late.length === 0) bus.subscribe((e) => late.push(e.at));
	});
	bus.emit(line(1));
	bus.emit(line(2));
	t.deepEqual(late, [2]);
});
