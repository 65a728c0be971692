import test from "ava";
import { kutGuestScript } from "./run-guest.js";
import { parseUnittestsCfg, UnsafeTestNameError } from "./unittests-cfg.js";

const cfg = (header: string) => `# a cfg\n\n[pass]\nfile = pass.flat\n\n${header}\nfile = pass.flat\n`;

// Section names a hostile or broken tree may hold: each refuses the whole file, in one line.
const hostile = [
	"a$(touch /tmp/PWNED-x)",
	"$(reboot -f)",
	"../../x",
	"a/b",
	"a b",
	"a'b",
	'a"b',
	"a;b",
	"`id`",
	"-g",
	".hidden",
	"",
	"a\rb",
	"x".repeat(201),
];
for (const name of hostile) {
	test(`unittests.cfg: [${JSON.stringify(name).slice(1, -1).slice(0, 30)}] is refused with FILE:LINE`, (t) => {
		const error = t.throws(() => parseUnittestsCfg(cfg(`[${name}]`), "x86/unittests.cfg"), {
			instanceOf: UnsafeTestNameError,
		});
		t.is(error?.line, 6);
		t.regex(error?.message ?? "", /^x86\/unittests\.cfg:6: /);
		t.false(error?.message.includes("\n"));
		t.notRegex(error?.message ?? "", /[\r\n]/);
	});
}

test("unittests.cfg: a line that opens a section but is not one is refused, not folded into the entry before", (t) => {
	for (const line of ["[a", "[a] ", "[a]b"]) {
		const error = t.throws(() => parseUnittestsCfg(cfg(line)), { instanceOf: UnsafeTestNameError });
		t.regex(error?.message ?? "", /^x86\/unittests\.cfg:6: ".*" opens a section but is not a "\[name\]" line$/);
	}
	// A name split by a newline is two such lines.
	t.throws(() => parseUnittestsCfg(cfg("[a\nb]")), { message: /^x86\/unittests\.cfg:6: "\[a"/ });
});

test("unittests.cfg: real names are kept", (t) => {
	const names = ["vmx_pf_exception_test_reduced_maxphyaddr", "apic-split", "pmu_lbr", "hyperv_stimer", "x2apic"];
	const { entries } = parseUnittestsCfg(names.map((n) => `[${n}]\nfile = ${n}.flat\n`).join("\n"));
	t.deepEqual(
		entries.map((e) => e.name),
		names,
	);
});

test("the guest script refuses an unsafe name or argument instead of quoting it", (t) => {
	t.throws(() => kutGuestScript("/kut", ["a$(reboot -f)"], "tcg"), { message: /^refusing to run "a\$\(reboot -f\)"/ });
	t.throws(() => kutGuestScript("/kut", ["pass"], "tcg", () => ["-g", "a b"]), {
		message: /^refusing to pass "a b" to run_tests.sh$/,
	});
	const script = kutGuestScript(
		"/kut",
		["pass"],
		"tcg",
		() => ["-g", "vmx", "pass"],
		() => "90s",
	);
	t.true(script.includes(String.raw`./run_tests.sh '\''-g'\'' '\''vmx'\'' '\''pass'\''`));
	// Nothing the host reads is printed on the console: records go to descriptor 3.
	t.false(script.includes("@@kvm-matrix"));
	t.true(script.includes("kvmm_start 0"));
});
