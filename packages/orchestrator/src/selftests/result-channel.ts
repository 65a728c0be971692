/**
 * The result channel between a guest harness (the shell script kvm-matrix writes for selftests
 * or KUT) and the host. It is the boot's private channel (qemu-runner's `channels`): the harness
 * holds it on descriptor 3 and runs every test with that descriptor closed, and the virtio port
 * admits no second opener, so nothing a test prints or does can write to it. Tests' output goes
 * to the console for people to watch, and comes back for its log as data inside a record.
 *
 * Records are lines of JSON. A `data` record is followed by its bytes in base64 lines, so what a
 * test printed can never be read as a record, whatever it is and however long. The host names
 * tests by their index in its own list (records carry no names or paths), and accepts the starts
 * in its order, at most `width` tests running at once, and data and ends only of tests that are
 * running: anything else is ignored with a note, and a line that is not a record at all breaks the
 * channel (nothing after it is trusted). Only the harness's main loop writes records, so a data
 * block is never cut by another test's record however many tests run side by side.
 */
import { type BootHandlers, channelFd } from "@kvm-matrix/qemu-runner";

export const RESULT_CHANNEL = "results";
/** The harness's descriptor for the channel: the boot's first channel. */
export const RESULT_FD = channelFd(0);
/** The most of one part (a test's output, a KUT log) the guest sends: its last bytes, as the end says most. */
export const MAX_PART_BYTES = 8 * 1024 * 1024;

/**
 * The harness's shell functions (busybox sh). `kvmm_run LIMIT CMD...` runs a command with the
 * channel closed, its output to the console and to `$kvmm_out`, killed after LIMIT seconds; it
 * sets `kvmm_rc` and `kvmm_ms`. The rest write records: `kvmm_start I`, `kvmm_send I PART FILE`,
 * `kvmm_end I`. Indexes and part names are the harness's own words, never a test's. `scratch`
 * holds the output while a test runs (in the guest, /tmp is its own tmpfs).
 */
export function harnessFunctions(scratch = "/tmp"): string {
	const fd = RESULT_FD;
	return [
		`kvmm_out=${scratch}/kvmm-out`,
		`kvmm_rc_file=${scratch}/kvmm-rc`,
		// Centiseconds since boot, from /proc/uptime ("12.34 ..."): busybox date has no %N.
		// biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
		'kvmm_now() { read up _ < /proc/uptime; echo "${up%%.*}${up#*.}"; }',
		`kvmm_record() { printf '%s\\n' "$1" >&${fd}; }`,
		`kvmm_start() { kvmm_record '{"t":"start","i":'"$1"'}'; }`,
		`kvmm_end() { kvmm_record '{"t":"end","i":'"$1"',"status":'"$kvmm_rc"',"ms":'"$kvmm_ms"'}'; }`,
		// A part is sent whole up to the cap, else its last bytes; base64 keeps its lines from looking like records.
		"kvmm_send() {",
		'\t[ -f "$3" ] || return 0',
		'\tkvmm_size=$(($(wc -c < "$3")))',
		"\tkvmm_skip=0",
		`\t[ "$kvmm_size" -gt ${MAX_PART_BYTES} ] && kvmm_skip=$((kvmm_size - ${MAX_PART_BYTES}))`,
		`\tkvmm_record '{"t":"data","i":'"$1"',"part":"'"$2"'","skipped":'"$kvmm_skip"'}'`,
		`\ttail -c ${MAX_PART_BYTES} "$3" | base64 >&${fd}`,
		"}",
		// The command's stdout and stderr go to a pipe, never to the channel: it gets the channel's
		// descriptor closed. tee has a limit of its own, in case something the command left behind
		// keeps the pipe open.
		"kvmm_run() {",
		"\tkvmm_limit=$1",
		"\tshift",
		'\trm -f "$kvmm_out" "$kvmm_rc_file"',
		"\tkvmm_t0=$(kvmm_now)",
		`\t{ timeout -s KILL "$kvmm_limit" "$@" < /dev/null 2>&1; echo $? > "$kvmm_rc_file"; } ${fd}>&- | timeout -s KILL $((kvmm_limit + 10)) tee "$kvmm_out" ${fd}>&-`,
		"\tkvmm_t1=$(kvmm_now)",
		"\tkvmm_ms=$(( (kvmm_t1 - kvmm_t0) * 10 ))",
		'\tkvmm_rc=$(cat "$kvmm_rc_file" 2>/dev/null)',
		'\tcase "$kvmm_rc" in ""|*[!0-9]*) kvmm_rc=255 ;; esac',
		"}",
		// The same for tests side by side: `kvmm_bg I LIMIT CMD...` runs the command in the
		// background, the channel closed for all of it, and leaves its output, status and time in
		// files of its own; `kvmm_bg_done I` says whether it ended; `kvmm_bg_result I` sets
		// `kvmm_out_bg`, `kvmm_rc` and `kvmm_ms` as `kvmm_run` does. Without job control (the
		// payload has no tty) ash starts background commands with SIGINT and SIGQUIT ignored;
		// KVM selftests and KUT are stopped by KILL and TERM, never by those two.
		"kvmm_bg() {",
		'\tkvmm_bf="$kvmm_out-$1"',
		"\tkvmm_bl=$2",
		"\tshift 2",
		'\trm -f "$kvmm_bf" "$kvmm_bf.rc" "$kvmm_bf.ms" "$kvmm_bf.done"',
		"\t(",
		"\t\tkvmm_t0=$(kvmm_now)",
		`\t\t{ timeout -s KILL "$kvmm_bl" "$@" < /dev/null 2>&1; echo $? > "$kvmm_bf.rc"; } | timeout -s KILL $((kvmm_bl + 10)) tee "$kvmm_bf"`,
		"\t\tkvmm_t1=$(kvmm_now)",
		'\t\techo $(( (kvmm_t1 - kvmm_t0) * 10 )) > "$kvmm_bf.ms"',
		'\t\t: > "$kvmm_bf.done"',
		`\t) ${fd}>&- &`,
		"}",
		'kvmm_bg_done() { [ -e "$kvmm_out-$1.done" ]; }',
		"kvmm_bg_result() {",
		'\tkvmm_bf="$kvmm_out-$1"',
		'\tkvmm_rc=$(cat "$kvmm_bf.rc" 2>/dev/null)',
		'\tcase "$kvmm_rc" in ""|*[!0-9]*) kvmm_rc=255 ;; esac',
		'\tkvmm_ms=$(cat "$kvmm_bf.ms" 2>/dev/null)',
		'\tcase "$kvmm_ms" in ""|*[!0-9]*) kvmm_ms=0 ;; esac',
		'\tkvmm_out_bg="$kvmm_bf"',
		"}",
		"",
	].join("\n");
}

export type ChannelEvent =
	| { readonly kind: "start"; readonly index: number }
	| {
			readonly kind: "data";
			readonly index: number;
			readonly part: string;
			readonly bytes: Buffer;
			/** Bytes of the part the guest did not send (it sends at most `MAX_PART_BYTES`, the last ones). */
			readonly skipped: number;
	  }
	| { readonly kind: "end"; readonly index: number; readonly status: number; readonly ms: number }
	/** A well-formed record the host did not ask for (another test, out of order): not used. */
	| { readonly kind: "ignored"; readonly note: string }
	/** A line that is not a record: nothing after it is read. */
	| { readonly kind: "broken"; readonly note: string };

const MAX_LINE = 4096;
const BASE64_LINE = /^[A-Za-z0-9+/=]*$/;
const MAX_BASE64 = Math.ceil((MAX_PART_BYTES * 4) / 3) + 64 * 1024;

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
// A record's own words in a note, kept short: they are the guest's.
const shown = (value: unknown): string => JSON.stringify(String(value)).slice(0, 40);

/**
 * Reads the result channel of one boot that runs `count` tests, up to `width` at once (1 when
 * omitted), whose data parts may be `parts`. Pure: fed bytes, it returns what they said, already
 * checked against what the host asked for.
 */
export class ResultChannelReader {
	readonly #count: number;
	readonly #parts: readonly string[];
	readonly #width: number;
	#pending = "";
	#next = 0;
	/** Running tests, by index, with the parts each has sent. */
	readonly #running = new Map<number, Set<string>>();
	#block: { index: number; part: string; skipped: number; lines: string[]; size: number } | undefined;
	#broken = false;
	#offset = 0;

	constructor(options: { readonly count: number; readonly parts: readonly string[]; readonly width?: number }) {
		this.#count = options.count;
		this.#parts = options.parts;
		this.#width = Math.max(1, options.width ?? 1);
	}

	/** True once a line that is not a record arrived. */
	get broken(): boolean {
		return this.#broken;
	}

	/** The tests that started and have not ended, by index, in the order they started. */
	get running(): readonly number[] {
		return [...this.#running.keys()];
	}

	push(bytes: Buffer): ChannelEvent[] {
		if (this.#broken) return [];
		// Records and base64 are ASCII: any other byte is caught as a line that is neither.
		const lines = (this.#pending + bytes.toString("latin1")).split("\n");
		this.#pending = lines.pop() ?? "";
		const events: ChannelEvent[] = [];
		for (const line of lines) {
			this.#line(line, events);
			this.#offset += line.length + 1;
			if (this.#broken) return events;
		}
		if (this.#pending.length > MAX_LINE) this.#break(`a line of more than ${MAX_LINE} bytes`, events);
		return events;
	}

	/** The end of the stream: a data block still open ends here. */
	close(): ChannelEvent[] {
		const events: ChannelEvent[] = [];
		if (this.#broken) return events;
		if (this.#pending !== "") this.#line(this.#pending, events);
		this.#pending = "";
		if (!this.#broken) this.#endBlock(events);
		return events;
	}

	#line(line: string, events: ChannelEvent[]): void {
		const why = this.#read(line, events);
		if (why !== undefined) this.#break(why, events);
	}

	/** Reads one line; says why it breaks the channel when it does. */
	#read(line: string, events: ChannelEvent[]): string | undefined {
		const block = this.#block;
		if (block !== undefined && !line.startsWith("{")) {
			if (!BASE64_LINE.test(line)) return "a data line that is not base64";
			block.size += line.length;
			if (block.size > MAX_BASE64) return `a data part of more than ${MAX_PART_BYTES} bytes`;
			block.lines.push(line);
			return undefined;
		}
		this.#endBlock(events);
		if (line.length > MAX_LINE) return `a line of more than ${MAX_LINE} bytes`;
		let record: unknown;
		try {
			record = JSON.parse(line);
		} catch {
			return "a line that is not JSON";
		}
		if (typeof record !== "object" || record === null || Array.isArray(record))
			return "a line that is not a JSON object";
		this.#record(record as Record<string, unknown>, events);
		return undefined;
	}

	#record(r: Record<string, unknown>, events: ChannelEvent[]): void {
		const ignore = (why: string) => events.push({ kind: "ignored", note: `result channel: ${why}; ignored` });
		const index = r.i;
		if (!isCount(index) || index >= this.#count)
			return void ignore(`a ${shown(r.t)} record for test #${shown(index)}, which the host did not ask for`);
		switch (r.t) {
			case "start":
				if (index !== this.#next)
					return void ignore(`the start of test #${index} out of order (expected #${this.#next})`);
				if (this.#running.size >= this.#width)
					return void ignore(`the start of test #${index} while ${this.#running.size} run (at most ${this.#width})`);
				this.#running.set(index, new Set());
				this.#next = index + 1;
				events.push({ kind: "start", index });
				return;
			case "data": {
				const part = typeof r.part === "string" ? r.part : "";
				const skipped = isCount(r.skipped) ? r.skipped : 0;
				// The block's lines are read (and dropped) even when the record is not used: the framing holds.
				const got = this.#running.get(index);
				const use = got !== undefined && this.#parts.includes(part) && !got.has(part);
				if (!use) ignore(`data ${shown(part)} for test #${index}, which is not running or not a part it has`);
				else got.add(part);
				this.#block = { index: use ? index : -1, part, skipped, lines: [], size: 0 };
				return;
			}
			case "end":
				if (!this.#running.has(index)) return void ignore(`the end of test #${index}, which is not running`);
				if (!isCount(r.status) || r.status > 255 || !isCount(r.ms))
					return void ignore(`the end of test #${index} without a status and a duration`);
				this.#running.delete(index);
				events.push({ kind: "end", index, status: r.status, ms: r.ms });
				return;
			default:
				ignore(`a record of unknown type ${shown(r.t)}`);
		}
	}

	#endBlock(events: ChannelEvent[]): void {
		const block = this.#block;
		this.#block = undefined;
		if (block === undefined || block.index === -1) return;
		events.push({
			kind: "data",
			index: block.index,
			part: block.part,
			bytes: Buffer.from(block.lines.join(""), "base64"),
			skipped: block.skipped,
		});
	}

	#break(why: string, events: ChannelEvent[]): void {
		this.#broken = true;
		this.#block = undefined;
		events.push({ kind: "broken", note: `result channel: ${why} at byte ${this.#offset}; nothing after it is read` });
	}
}

/**
 * What a boot's channel said that was not used, bounded: a guest writing a million ignored
 * records must not become a million notes (each a journal line and an event). The first few
 * stand for the rest, which are counted.
 */
export class ChannelNotes {
	readonly #kept: string[] = [];
	#dropped = 0;
	#last: string | undefined;

	constructor(private readonly limit = 5) {}

	add(note: string): void {
		this.#last = note;
		if (this.#kept.length < this.limit) this.#kept.push(note);
		else this.#dropped++;
	}

	/** The most recent note, kept or not (why the channel broke, when it did). */
	last(): string | undefined {
		return this.#last;
	}

	list(): string[] {
		return this.#dropped === 0
			? [...this.#kept]
			: [...this.#kept, `… and ${this.#dropped} more result-channel records ignored`];
	}
}

/**
 * The console since each running test started, its last `limit` lines: a test's log if the guest
 * dies before it ends. Tests side by side share the console, so each one's lines are everyone's.
 */
export class ConsoleSinceStart {
	readonly #byTest = new Map<number, string[]>();

	constructor(private readonly limit = 10_000) {}

	start(index: number): void {
		this.#byTest.set(index, []);
	}

	end(index: number): void {
		this.#byTest.delete(index);
	}

	line(text: string): void {
		for (const lines of this.#byTest.values()) {
			lines.push(text);
			if (lines.length > this.limit + 1000) lines.splice(0, lines.length - this.limit);
		}
	}

	of(index: number): readonly string[] {
		return (this.#byTest.get(index) ?? []).slice(-this.limit);
	}
}

/**
 * The boot handlers of a harness guest (selftests or KUT): console lines go to the view and, while
 * a test runs, to `keep` (its log if the guest dies before it ends); channel bytes go to the
 * reader, whose events go to `onEvent`. Nothing on the console is ever read as a record.
 */
export function harnessHandlers(
	reader: ResultChannelReader,
	onEvent: (event: ChannelEvent) => void,
	options: { readonly onConsoleLine?: ((line: string) => void) | undefined; readonly keep: (line: string) => void },
): BootHandlers {
	return {
		onConsoleLine: ({ source, line }) => {
			options.onConsoleLine?.(line);
			if (source === "payload" && reader.running.length > 0) options.keep(line);
		},
		onChannelData: (channel, bytes) => {
			if (channel === RESULT_CHANNEL) for (const event of reader.push(bytes)) onEvent(event);
		},
	};
}
