/**
 * What kvm-matrix adds to every kernel it builds, whatever the matrix's base config: enough to
 * boot under QEMU with kvm-matrix's initramfs (serial console, gzip initramfs, devtmpfs,
 * virtio-console for the payload's output, 9p for shared directories), KVM built in, and what the
 * KVM selftests need beyond `tools/testing/selftests/kvm/config`. The list is FACTS.md's set that
 * made 14 selftests behave on tinyconfig exactly as on Debian's full kernel (13 pass, 1 skip);
 * without ADVISE_SYSCALLS every test fails, without the timer and APIC options some hang.
 */
export const KVM_TEST_FRAGMENT_OPTIONS = [
	// Boot and console
	"64BIT",
	"PRINTK",
	"PRINTK_TIME",
	"TTY",
	"UNIX98_PTYS",
	"SERIAL_8250",
	"SERIAL_8250_CONSOLE",
	"MAGIC_SYSRQ",
	"BLK_DEV_INITRD",
	"RD_GZIP",
	"BINFMT_ELF",
	"BINFMT_SCRIPT",
	"PROC_FS",
	"SYSFS",
	"DEVTMPFS",
	"TMPFS",
	"SHMEM",
	"MULTIUSER",
	// kvm-matrix's channels: virtio-console for output, 9p for shares
	"PCI",
	"VIRTIO_MENU",
	"VIRTIO",
	"VIRTIO_PCI",
	"VIRTIO_CONSOLE",
	"NET",
	"NETWORK_FILESYSTEMS",
	"NET_9P",
	"NET_9P_VIRTIO",
	"9P_FS",
	// KVM itself
	"VIRTUALIZATION",
	"KVM",
	"KVM_INTEL",
	"KVM_AMD",
	// What the selftests use (FACTS.md)
	"FUTEX",
	"EPOLL",
	"SMP",
	"HIGH_RES_TIMERS",
	"POSIX_TIMERS",
	"MEMFD_CREATE",
	"TRANSPARENT_HUGEPAGE",
	"ADVISE_SYSCALLS",
	"X86_TSC",
	"HPET_TIMER",
	"X86_LOCAL_APIC",
	"X86_X2APIC",
	"PREEMPT_VOLUNTARY",
	"NO_HZ_IDLE",
	"UNIX",
	"SIGNALFD",
	"TIMERFD",
	"EVENTFD",
	"AIO",
	"IO_URING",
	"PERF_EVENTS",
	"USERFAULTFD",
	"HUGETLBFS",
	"CGROUPS",
	"NUMA",
] as const;

export const KVM_TEST_FRAGMENT = `# Added by kvm-matrix to every kernel it builds.\n${KVM_TEST_FRAGMENT_OPTIONS.map((o) => `CONFIG_${o}=y`).join("\n")}\n`;
