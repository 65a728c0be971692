import test from "ava";
import { parseMatrix } from "./parse.js";

const options = { label: "m.yaml", file: "/work/m.yaml", baseDir: "/work", homeDir: "/home/u", exists: () => true };

const BASE = `name: m
trees:
  kvm: { url: https://example.org/kvm.git, path: ~/src/kvm }
config: { base: tinyconfig, fragments: [kvm_guest.config, ./extra.config] }
suites:
  selftests: { include: ["x86_64/*"], timeout: 2m }
kernels:
  - { tree: kvm, ref: next }
  - { name: q-def, tree: kvm, ref: queue, config: { base: defconfig } }
  - { name: debian, prebuilt: { kernel: /boot/vmlinuz }, source: { tree: kvm, ref: v6.1 } }
targets:
  - name: default
  - name: big
    qemu: { cpu: max, smp: 8, memory: 16G, accel: tcg }
    cmdline: [kvm.enable_pmu=0]
    modparams: { kvm_amd: { nested: "1" } }
`;

test("a valid matrix is converted: defaults, units, paths and ids", (t) => {
	const result = parseMatrix(BASE, options);
	if (!result.ok) return t.fail(JSON.stringify(result.error));
	const m = result.value;
	t.deepEqual(m.trees.get("kvm"), { name: "kvm", url: "https://example.org/kvm.git", path: "/home/u/src/kvm" });
	t.deepEqual(
		m.kernels.map((k) => k.id),
		["kvm@next", "q-def", "debian"],
	);
	const [next, queue] = m.kernels;
	t.deepEqual(next?.kind === "source" ? next.config : undefined, {
		base: { kind: "make-target", target: "tinyconfig" },
		fragments: [
			{ kind: "in-tree", name: "kvm_guest.config" },
			{ kind: "file", path: "/work/extra.config" },
		],
	});
	// A kernel's own config replaces the top-level one.
	t.deepEqual(queue?.kind === "source" ? queue.config.base : undefined, { kind: "make-target", target: "defconfig" });
	t.deepEqual(m.targets[0]?.qemu, { smp: 2, memoryBytes: 2 * 2 ** 30, accel: "auto" });
	t.deepEqual(m.targets[1]?.qemu, { cpu: "max", smp: 8, memoryBytes: 16 * 2 ** 30, accel: "tcg" });
	t.deepEqual(m.targets[1]?.cmdline, ["kvm.enable_pmu=0"]);
	t.deepEqual(m.targets[1]?.moduleParams, { kvm_amd: { nested: "1" } });
	t.deepEqual(m.suites.selftests, {
		source: { kind: "kernel" },
		include: ["x86_64/*"],
		exclude: [],
		timeoutMs: 120_000,
		parallel: 1,
	});
	t.deepEqual(m.exclude, []);
});

test("all problems are reported at once, sorted by position", (t) => {
	const text = BASE.replace("smp: 8", "smp: many")
		.replace("timeout: 2m", "timeout: 2")
		.replace("ref: next", "ref: nxt;");
	const result = parseMatrix(text, options);
	t.false(result.ok);
	if (result.ok) return;
	t.deepEqual(
		result.error.map((e) => `${e.line}:${e.col}`),
		["6:48", "8:23", "14:28"],
	);
});

test("a module parameter value with a space is refused (it would split on the kernel command line)", (t) => {
	const result = parseMatrix(BASE.replace('nested: "1"', 'nested: "1 rm"'), options);
	t.false(result.ok);
});

test("a module or parameter name starting with - is refused: modprobe, run as root, would read it as an option", (t) => {
	const refused = (modparams: string) => {
		const result = parseMatrix(
			BASE.replace('modparams: { kvm_amd: { nested: "1" } }', `modparams: ${modparams}`),
			options,
		);
		return result.ok ? [] : result.error.map((e) => e.message);
	};
	t.deepEqual(refused('{ kvm: { "--config": "/tmp/x/evil.conf" } }'), [
		'targets[1].modparams.kvm.--config: "--config" is not a parameter name',
	]);
	t.deepEqual(refused('{ "-C": { nested: "1" } }'), ['targets[1].modparams.-C: "-C" is not a module name']);
	t.deepEqual(refused('{ kvm: { "-v": "1" } }'), ['targets[1].modparams.kvm.-v: "-v" is not a parameter name']);
	// What modprobe accepts and KVM's modules are named: kept.
	t.deepEqual(refused('{ kvm-intel: { ept: "0" }, kvm: { enable_pmu: "0" } }'), []);
});

test("lore: an http(s) inbox URL is kept as written; absent means offline", (t) => {
	const withLore = parseMatrix(`${BASE}lore: https://lore.kernel.org/all\n`, options);
	t.is(withLore.ok ? withLore.value.lore : "refused", "https://lore.kernel.org/all");
	const local = parseMatrix(`${BASE}lore: http://127.0.0.1:8080/kvm/\n`, options);
	t.is(local.ok ? local.value.lore : "refused", "http://127.0.0.1:8080/kvm/");
	const without = parseMatrix(BASE, options);
	t.false(without.ok && "lore" in without.value);
});

test("bugzilla: an http(s) URL is kept as written, and refused with a query", (t) => {
	const local = parseMatrix(`${BASE}bugzilla: http://127.0.0.1:8081/bz\n`, options);
	t.is(local.ok ? local.value.bugzilla : "refused", "http://127.0.0.1:8081/bz");
	t.false((({ ok }) => ok)(parseMatrix(`${BASE}bugzilla: bugzilla.kernel.org\n`, options)));
	const query = parseMatrix(`${BASE}bugzilla: https://bugzilla.kernel.org/?id=1\n`, options);
	t.deepEqual(query.ok ? [] : query.error, [
		{
			file: "m.yaml",
			line: 17,
			col: 11,
			message: 'bugzilla: bugzilla URL "https://bugzilla.kernel.org/?id=1" names a bugzilla: no ?query or #fragment',
		},
	]);
});

const badLore: [value: string, message: string][] = [
	[
		"ftp://lore.kernel.org/all",
		'"ftp://lore.kernel.org/all" is not an http or https URL (e.g. https://lore.kernel.org/all)',
	],
	["lore.kernel.org/all", '"lore.kernel.org/all" is not an http or https URL (e.g. https://lore.kernel.org/all)'],
	[
		"https://user:pw@lore.kernel.org/all",
		'lore URL "https://user:pw@lore.kernel.org/all" must not carry a user name or password',
	],
	[
		"https://lore.kernel.org/all/?q=kvm",
		'lore URL "https://lore.kernel.org/all/?q=kvm" names an inbox: no ?query or #fragment',
	],
	["42", "expected a string, got the number 42"],
];
for (const [value, message] of badLore) {
	test(`lore: ${value} is refused at its position`, (t) => {
		const result = parseMatrix(`${BASE}lore: ${value}\n`, options);
		t.deepEqual(result.ok ? [] : result.error, [{ file: "m.yaml", line: 17, col: 7, message: `lore: ${message}` }]);
	});
}

test("ssh: a target on a remote machine runs on its running kernel; bad hosts, users and ports are refused", (t) => {
	const ssh = parseMatrix(
		`${BASE}  - { name: icx, ssh: { host: qa-icx-01, user: kvmqa } }\n  - { name: loop, ssh: { host: 127.0.0.1, port: 2222 } }\n`,
		options,
	);
	if (!ssh.ok) return t.fail(JSON.stringify(ssh.error));
	const [icx, loop] = ssh.value.targets.slice(2);
	t.deepEqual([icx?.host, icx?.ssh], [true, { host: "qa-icx-01", user: "kvmqa" }]);
	t.deepEqual([loop?.host, loop?.ssh], [true, { host: "127.0.0.1", port: 2222 }]);
	t.deepEqual(
		ssh.value.targets.slice(0, 2).map((x) => [x.host, x.ssh]),
		[
			[false, undefined],
			[false, undefined],
		],
	);
	const refused = (target: string) => {
		const result = parseMatrix(`${BASE}  - ${target}\n`, options);
		return result.ok ? [] : result.error.map((e) => `${e.line}:${e.col}: ${e.message}`);
	};
	t.deepEqual(refused("{ name: x, ssh: { host: -oProxyCommand=sh } }"), [
		"17:29: targets[2].ssh.host: not a host name, ssh config alias or address (letters, digits, . _ - : %; an IPv6 address without brackets)",
	]);
	t.is(refused("{ name: x, ssh: { host: '[::1]' } }").length, 1);
	t.deepEqual(refused("{ name: x, ssh: { host: '::1' } }"), []);
	t.deepEqual(refused("{ name: x, ssh: { host: a, user: '-l' } }"), ["17:38: targets[2].ssh.user: not a user name"]);
	t.deepEqual(refused("{ name: x, ssh: { host: a, port: 0 } }"), [
		"17:38: targets[2].ssh.port: port must be from 1 to 65535",
	]);
	t.deepEqual(refused("{ name: x, host: false, ssh: { host: a } }"), [
		"17:22: targets[2].host: an ssh target runs on the remote machine's running kernel: host: false contradicts it",
	]);
	t.regex(refused("{ name: x, ssh: { hots: a } }").join("\n"), /hots/);
});
