import test from "ava";
import type { KernelConfig } from "../matrix/types.js";
import { configSteps, droppedOptions } from "./kconfig.js";
import { KVM_TEST_FRAGMENT, KVM_TEST_FRAGMENT_OPTIONS } from "./kvm-test-fragment.js";

test("config steps: base, in-tree fragments by make, then files, kvm-matrix's fragment, the selftests' config", (t) => {
	const config: KernelConfig = {
		base: { kind: "make-target", target: "tinyconfig" },
		fragments: [
			{ kind: "in-tree", name: "kvm_guest.config" },
			{ kind: "file", path: "/m/extra.config" },
		],
	};
	t.deepEqual(configSteps(config, "/o/kvm-matrix.config", "/w/tools/testing/selftests/kvm/config"), {
		baseTarget: "tinyconfig",
		inTreeFragments: ["kvm_guest.config"],
		fileFragments: ["/m/extra.config", "/o/kvm-matrix.config", "/w/tools/testing/selftests/kvm/config"],
	});
	t.deepEqual(
		configSteps({ base: { kind: "file", path: "/m/full.config" }, fragments: [] }, "/o/k.config", undefined),
		{
			baseFile: "/m/full.config",
			inTreeFragments: [],
			fileFragments: ["/o/k.config"],
		},
	);
});

test("kvm-matrix's fragment builds KVM in and keeps what FACTS.md found the selftests need", (t) => {
	for (const option of [
		"KVM",
		"KVM_AMD",
		"KVM_INTEL",
		"ADVISE_SYSCALLS",
		"VIRTIO_CONSOLE",
		"9P_FS",
		"SERIAL_8250_CONSOLE",
	]) {
		t.true(KVM_TEST_FRAGMENT.includes(`CONFIG_${option}=y\n`), option);
	}
	t.is(new Set(KVM_TEST_FRAGMENT_OPTIONS).size, KVM_TEST_FRAGMENT_OPTIONS.length);
});

test("droppedOptions names what the final config lost", (t) => {
	t.deepEqual(droppedOptions("CONFIG_KVM=y\nCONFIG_TYPO=y\n# c\n", "CONFIG_KVM=y\n# CONFIG_TYPO is not set\n"), [
		"CONFIG_TYPO=y",
	]);
});
