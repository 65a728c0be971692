import test from "ava";
import { indexFromText, moduleName, resolveModules } from "./modules.js";

// Lines as Debian 6.1's modules.dep has them.
const DEP = `kernel/virt/lib/irqbypass.ko:
kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko
kernel/arch/x86/kvm/kvm-amd.ko: kernel/drivers/crypto/ccp/ccp.ko kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko
kernel/drivers/crypto/ccp/ccp.ko:
kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
kernel/net/9p/9pnet.ko:
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/fs/netfs/netfs.ko:
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
`;
const index = indexFromText(DEP, "kernel/drivers/tty/serial/8250/8250.ko\n", []);

test("moduleName normalises dashes, paths and compression suffixes", (t) => {
	t.is(moduleName("kvm-amd"), "kvm_amd");
	t.is(moduleName("kernel/arch/x86/kvm/kvm-amd.ko.xz"), "kvm_amd");
	t.is(moduleName("9pnet_virtio.ko"), "9pnet_virtio");
});

test("kvm-amd pulls in its dependencies first, in the order FACTS.md found works", (t) => {
	t.deepEqual(
		resolveModules(index, [{ name: "kvm-amd", params: ["nested=1"] }]).map((m) => [m.name, m.params.join(" ")]),
		[
			["irqbypass", ""],
			["kvm", ""],
			["ccp", ""],
			["kvm_amd", "nested=1"],
		],
	);
});

test("each module is loaded once; explicit params win over a dependency's place", (t) => {
	const mods = resolveModules(index, [{ name: "kvm_amd" }, { name: "kvm", params: ["enable_pmu=0"] }, { name: "9p" }]);
	t.deepEqual(
		mods.map((m) => m.name),
		["irqbypass", "kvm", "ccp", "kvm_amd", "netfs", "fscache", "9pnet", "9p"],
	);
	t.deepEqual(mods.find((m) => m.name === "kvm")?.params, ["enable_pmu=0"]);
});

test("built-in modules are skipped, unknown ones are a clear error", (t) => {
	t.deepEqual(resolveModules(index, [{ name: "8250" }]), []);
	t.throws(() => resolveModules(index, [{ name: "kvm-intel" }]), {
		message: 'module "kvm_intel" not found in the modules directory',
	});
});

test("without modules.dep, modules are found by file name", (t) => {
	const bare = indexFromText(undefined, undefined, ["extra/foo.ko.xz"]);
	t.deepEqual(resolveModules(bare, [{ name: "foo" }]), [{ name: "foo", relPath: "extra/foo.ko.xz", params: [] }]);
});
