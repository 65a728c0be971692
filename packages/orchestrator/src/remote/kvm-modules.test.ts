import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import {
	applyScript,
	forgetScript,
	type KvmProbe,
	parseProbe,
	parseScriptOutput,
	planReload,
	probeKvm,
	restoreScript,
	STATE_FILE,
} from "./kvm-modules.js";
import { localShell } from "./shell.js";

const AMD_LINES = [
	"uid 0",
	"vendor AuthenticAMD",
	"modprobe yes",
	"module kvm loaded 1 kvm_amd",
	"param kvm enable_pmu Y",
	"param kvm halt_poll_ns 200000",
	"module kvm_intel absent",
	"module kvm_amd loaded 0",
	"param kvm_amd nested 1",
	"param kvm_amd npt Y",
];
const amd = (more: string[] = [], drop: string[] = []): KvmProbe =>
	parseProbe([...AMD_LINES.filter((l) => !drop.includes(l)), ...more]);
const nestedOff = [{ module: "kvm_amd", param: "nested", value: "0" }];

test("parseProbe: modules, their parameters, KVM's users and a set left applied", (t) => {
	const state = JSON.stringify({
		runId: "r1",
		cell: "k/host/npt-off",
		set: "npt-off",
		owner: { host: "qa-01", pid: 4242, start: "981" },
		restore: { modules: [{ name: "kvm_amd", loaded: true, params: { npt: "Y" }, was: { npt: "Y", nested: "1" } }] },
	});
	const p = amd(["user 812 qemu-system-x86", `pending ${state}`]);
	t.is(p.uid, 0);
	t.is(p.vendor, "AuthenticAMD");
	t.deepEqual(
		p.modules.find((m) => m.name === "kvm"),
		{
			name: "kvm",
			state: "loaded",
			refcnt: 1,
			holders: ["kvm_amd"],
			params: { enable_pmu: "Y", halt_poll_ns: "200000" },
		},
	);
	t.is(p.modules.find((m) => m.name === "kvm_intel")?.state, "absent");
	t.deepEqual(p.users, [{ pid: 812, comm: "qemu-system-x86" }]);
	t.is(p.pending?.set, "npt-off");
	t.deepEqual(p.pending?.restore.modules[0]?.params, { npt: "Y" });
});

test("parseProbe: a state file that could be read into a script as more than words is not trusted", (t) => {
	const evil = JSON.stringify({
		runId: "r",
		cell: "c",
		set: "s",
		owner: { host: "h", pid: 1 },
		restore: { modules: [{ name: "kvm", loaded: true, params: { x: "1; reboot" }, was: {} }] },
	});
	const p = amd([`pending ${evil}`]);
	t.is(p.pending, undefined);
	t.is(p.pendingUnreadable, evil);
	t.is(amd(["pending {not json"]).pendingUnreadable, "{not json");
});

test("planReload: a vendor module's parameter reloads that module alone and remembers its value", (t) => {
	const plan = planReload(amd(), nestedOff, "this machine", "nested-off");
	if (plan.kind !== "reload") return t.fail(JSON.stringify(plan));
	t.deepEqual(plan.unload, ["kvm_amd"]);
	t.deepEqual(plan.load, [{ module: "kvm_amd", args: ["nested=0"] }]);
	t.deepEqual(plan.restore, {
		modules: [{ name: "kvm_amd", loaded: true, params: { nested: "1" }, was: { nested: "1", npt: "Y" } }],
	});
});

test("planReload: kvm's own parameter reloads the vendor module with kvm, kvm first on the way back", (t) => {
	const asked = [
		{ module: "kvm", param: "enable_pmu", value: "0" },
		{ module: "kvm_intel", param: "ept", value: "0" },
	];
	const plan = planReload(amd(), asked, "this machine", "pmu-off");
	if (plan.kind !== "reload") return t.fail(JSON.stringify(plan));
	t.deepEqual(plan.unload, ["kvm_amd", "kvm"]);
	t.deepEqual(plan.load, [
		{ module: "kvm", args: ["enable_pmu=0"] },
		{ module: "kvm_amd", args: [] },
	]);
	t.deepEqual(plan.notHere, [{ module: "kvm_intel", param: "ept", value: "0" }]);
	t.deepEqual(
		plan.restore.modules.map((m) => [m.name, m.loaded, m.params]),
		[
			["kvm", true, { enable_pmu: "Y" }],
			["kvm_amd", true, {}],
		],
	);
	const script = restoreScript(plan.restore, '{"runId":"r"}');
	t.true(script.indexOf("rmmod -- kvm_amd") < script.indexOf("rmmod -- kvm;"));
	t.true(script.indexOf("step modprobe -- kvm 'enable_pmu=Y'") < script.indexOf("step modprobe -- kvm_amd"));
	// Every modprobe and rmmod ends its options before the module: nothing after it is one.
	for (const line of script.split("\n").filter((l) => /\b(modprobe|rmmod) /.test(l) && l.includes("step ")))
		t.regex(line, /step (modprobe|rmmod) -- /, line);
	t.true(script.trimEnd().endsWith(forgetScript('{"runId":"r"}')));
});

test("planReload: KVM not loaded at all is loaded for the set and unloaded after", (t) => {
	const probe = parseProbe(["uid 0", "vendor AuthenticAMD", "modprobe yes"]);
	const plan = planReload(probe, nestedOff, "this machine", "nested-off");
	if (plan.kind !== "reload") return t.fail(JSON.stringify(plan));
	t.deepEqual(plan.unload, []);
	t.deepEqual(plan.load, [{ module: "kvm_amd", args: ["nested=0"] }]);
	t.deepEqual(plan.restore.modules, [{ name: "kvm_amd", loaded: false, params: {}, was: {} }]);
	t.regex(restoreScript(plan.restore, "{}"), /if loaded kvm_amd; then step rmmod -- kvm_amd; fi/);
});

test("planReload: another vendor's parameters skip the cell, with the reason", (t) => {
	const plan = planReload(amd(), [{ module: "kvm_intel", param: "ept", value: "0" }], "qa-01", "ept-off");
	t.deepEqual(plan, { kind: "skip", reason: "kvm_intel.ept=0: for Intel CPUs, and qa-01's CPU is AuthenticAMD" });
});

test("planReload: KVM in use, built in, no root or no modprobe refuse in one line", (t) => {
	const reason = (p: KvmProbe) => {
		const plan = planReload(p, nestedOff, "this machine", "nested-off");
		return plan.kind === "refused" ? plan.reason : plan.kind;
	};
	t.is(
		reason(amd(["user 812 qemu-system-x86", "user 900 kvm_selftest"])),
		"parameter set nested-off: KVM is in use on this machine by qemu-system-x86 (pid 812), kvm_selftest (pid 900): not reloading its modules",
	);
	t.is(
		reason(amd(["module kvm_amd loaded 2"])),
		"parameter set nested-off: kvm_amd is in use on this machine (2 references, by processes not visible here): not reloading it",
	);
	t.is(
		reason(amd(["module kvm builtin"])),
		"parameter set nested-off: kvm is built into this machine's kernel, so its parameters can be set on its command line only",
	);
	t.is(
		reason(amd(["uid 1000"])),
		"parameter set nested-off: reloading KVM's modules needs root on this machine (uid 1000)",
	);
	t.is(reason(amd(["modprobe no"])), "parameter set nested-off: no modprobe or rmmod on this machine");
	t.is(
		reason(amd(["module kvm loaded 2 kvm_amd kvmgt"])),
		"parameter set nested-off: kvm is needed by kvmgt on this machine: not unloading it",
	);
	t.is(reason(amd()), "reload");
});

test("applyScript: the state file is written before anything is unloaded, values quoted", (t) => {
	const plan = planReload(amd(), nestedOff, "this machine", "nested-off");
	if (plan.kind !== "reload") return t.fail(plan.kind);
	const script = applyScript(plan, {
		runId: "r",
		cell: "c",
		set: "nested-off",
		owner: { host: "h", pid: 1 },
		restore: plan.restore,
	});
	const write = script.indexOf(STATE_FILE);
	// Created exclusively: a state file already there means another set is applied.
	t.regex(script, /\(set -C; printf/);
	t.true(write > 0 && write < script.indexOf("step rmmod -- kvm_amd"));
	t.true(script.indexOf("step rmmod -- kvm_amd") < script.indexOf("step modprobe -- kvm_amd 'nested=0'"));
	t.regex(script, /readback kvm_amd nested$/m);
});

test("a restore forgets the state it restored, and leaves a state another run wrote since", async (t) => {
	const file = path.join(mkdtempSync(path.join(os.tmpdir(), "kvm-state-")), "kvm-params.json");
	const mine = JSON.stringify({ runId: "mine", note: "it's quoted" });
	const forget = (state: string) => execa("sh", ["-c", forgetScript(state, file)]);
	writeFileSync(file, `${mine}\n`);
	await forget(JSON.stringify({ runId: "other" }));
	t.true(existsSync(file), "another run's state file is not this restore's to remove");
	await forget(mine);
	t.false(existsSync(file));
	await forget(mine);
	t.false(existsSync(file), "no state file at all is no error");
});

test("parseScriptOutput: read-back values, missing ones, and the step that failed", (t) => {
	t.deepEqual(parseScriptOutput(["read kvm_amd nested 0", "read kvm_amd nope -missing-param"]), {
		ok: true,
		read: [
			{ module: "kvm_amd", param: "nested", got: "0" },
			{ module: "kvm_amd", param: "nope", missing: "param" },
		],
	});
	t.deepEqual(parseScriptOutput(["read kvm_amd nested 0", "failed modprobe kvm_amd nested=0 : modprobe: ERROR"]), {
		ok: false,
		reason: "modprobe kvm_amd nested=0 : modprobe: ERROR",
		unchanged: false,
		read: [{ module: "kvm_amd", param: "nested", got: "0" }],
	});
	t.deepEqual(parseScriptOutput(["unchanged rmmod kvm_amd : rmmod: ERROR: Module kvm_amd is in use"]), {
		ok: false,
		reason: "rmmod kvm_amd : rmmod: ERROR: Module kvm_amd is in use",
		unchanged: true,
		read: [],
	});
});

test("probeKvm: the probe runs in this machine's sh and reads what it has", async (t) => {
	const p = await probeKvm(localShell, "/");
	t.is(p.uid, process.getuid?.() ?? p.uid);
	t.not(p.vendor, "");
	t.is(p.modules.length, 3);
});
