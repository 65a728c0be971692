// The triage benchmark's git trees: five kernel trees shaped like mainline, kvm.git, kvm-x86,
// linux-next and stable (every release tag from v4.0 to v6.18 with its -rc1..-rc8, the branches
// reports name, the KVM selftests' sources from the first commit on) and a kvm-unit-tests tree,
// each written by one `git fast-import`; and the matrix that names them by their real URLs. git is
// told to read those URLs from here through the environment alone (`url.<local>.insteadOf`), so
// the CLI's URL matching sees what a user's matrix has and no git config file is touched.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { execa } from "execa";

/** The matrix's trees, by the URLs users write. */
export const TREE_URLS = {
	kvm: "https://git.kernel.org/pub/scm/virt/kvm/kvm.git",
	"kvm-x86": "https://github.com/kvm-x86/linux.git",
	linux: "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git",
	"linux-next": "https://git.kernel.org/pub/scm/linux/kernel/git/next/linux-next.git",
	stable: "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git",
	kut: "https://gitlab.com/kvm-unit-tests/kvm-unit-tests.git",
} as const;

export type TreeName = keyof typeof TREE_URLS;

/** KVM selftests, as `tools/testing/selftests/kvm/<id>.c` (real names from KVM's history). */
export const SELFTESTS: readonly string[] = `
	x86_64/amx_test x86_64/cpuid_test x86_64/cr4_cpuid_sync_test x86_64/debug_regs x86_64/emulator_error_test
	x86_64/evmcs_test x86_64/fix_hypercall_test x86_64/get_msr_index_features x86_64/hyperv_clock
	x86_64/hyperv_cpuid x86_64/hyperv_features x86_64/hyperv_svm_test x86_64/kvm_clock_test x86_64/kvm_pv_test
	x86_64/max_vcpuid_cap_test x86_64/mmio_warning_test x86_64/mmu_role_test x86_64/monitor_mwait_test
	x86_64/nested_exceptions_test x86_64/nx_huge_pages_test x86_64/platform_info_test x86_64/pmu_counters_test
	x86_64/pmu_event_filter_test x86_64/set_boot_cpu_id x86_64/set_memory_region_test x86_64/set_sregs_test
	x86_64/sev_migrate_tests x86_64/smm_test x86_64/state_test x86_64/svm_int_ctl_test
	x86_64/svm_nested_shutdown_test x86_64/svm_nested_soft_inject_test x86_64/svm_vmcall_test
	x86_64/sync_regs_test x86_64/triple_fault_event_test x86_64/tsc_msrs_test x86_64/tsc_scaling_sync
	x86_64/ucna_injection_test x86_64/userspace_io_test x86_64/userspace_msr_exit_test x86_64/vmx_apic_access_test
	x86_64/vmx_close_while_nested_test x86_64/vmx_dirty_log_test x86_64/vmx_exception_with_invalid_guest_state
	x86_64/vmx_invalid_nested_guest_state x86_64/vmx_msrs_test x86_64/vmx_nested_tsc_scaling_test
	x86_64/vmx_pmu_caps_test x86_64/vmx_pmu_msrs_test x86_64/vmx_preemption_timer_test
	x86_64/vmx_set_nested_state_test x86_64/vmx_tsc_adjust_test x86_64/xapic_ipi_test x86_64/xapic_state_test
	x86_64/xen_shinfo_test x86_64/xen_vmcall_test x86_64/xss_msr_test aarch64/aarch32_id_regs aarch64/arch_timer
	aarch64/debug-exceptions aarch64/get-reg-list aarch64/hypercalls aarch64/psci_test aarch64/vgic_init
	aarch64/vgic_irq access_tracking_perf_test demand_paging_test dirty_log_perf_test dirty_log_test
	hardware_disable_test kvm_binary_stats_test kvm_create_max_vcpus kvm_page_table_test max_guest_memory_test
	memslot_modification_stress_test memslot_perf_test rseq_test s390x/memop s390x/resets s390x/sync_regs_test
	s390x/tprot steal_time system_counter_offset_test
`
	.trim()
	.split(/\s+/);

/** kvm-unit-tests' x86 cfg entries, `name=image` (names from the real history of x86/unittests.cfg). */
export const KUT_ENTRIES: readonly { readonly name: string; readonly file: string }[] = `
	access=access_test.flat access-reduced-maxphyaddr=access_test.flat access_fep=access_test.flat apic=apic.flat
	apic-split=apic.flat asyncpf=asyncpf.flat cet=cet.flat cmpxchg8b=cmpxchg8b.flat debug=debug.flat
	emulator=emulator.flat ept=vmx.flat ept-mbec=vmx.flat eventinj=eventinj.flat hypercall=hypercall.flat
	hyperv_clock=hyperv_clock.flat hyperv_connections=hyperv_connections.flat hyperv_stimer=hyperv_stimer.flat
	hyperv_stimer_direct=hyperv_stimer.flat hyperv_synic=hyperv_synic.flat idt_test=idt_test.flat
	intel_cet=cet.flat intel_iommu=intel-iommu.flat ioapic=ioapic.flat ioapic-split=ioapic.flat
	kvmclock_test=kvmclock_test.flat la57=la57.flat lam=lam.flat memory=memory.flat msr=msr.flat msr64=msr.flat
	pcid=pcid.flat pcid-asymmetric=pcid.flat pcid-disabled=pcid.flat pcid-enabled=pcid.flat pks=pks.flat
	pku=pku.flat pmu=pmu.flat pmu_emulation=pmu.flat pmu_lbr=pmu_lbr.flat pmu_pebs=pmu_pebs.flat
	port80=port80.flat rdpru=rdpru.flat realmode=realmode.flat rmap_chain=rmap_chain.flat s3=s3.flat
	setjmp=setjmp.flat sieve=sieve.flat smap=smap.flat smptest=smptest.flat smptest3=smptest.flat svm=svm.flat
	svm-disabled=svm.flat svm_no_npt=svm.flat svm_npt=svm_npt.flat svm_pause_filter=svm.flat
	svm_unsupported_instruction_intercept_test=svm.flat syscall=syscall.flat taskswitch=taskswitch.flat
	taskswitch2=taskswitch2.flat tsc=tsc.flat tsc_adjust=tsc_adjust.flat tsx-ctrl=tsx-ctrl.flat umip=umip.flat
	vmexit=vmexit.flat vmexit_cpuid=vmexit.flat vmexit_cr0_wp=vmexit.flat vmexit_cr4_pge=vmexit.flat
	vmexit_inl_pmtimer=vmexit.flat vmexit_ipi=vmexit.flat vmexit_ipi_halt=vmexit.flat
	vmexit_mov_from_cr8=vmexit.flat vmexit_mov_to_cr8=vmexit.flat vmexit_ple_round_robin=vmexit.flat
	vmexit_tscdeadline=vmexit.flat vmexit_tscdeadline_immed=vmexit.flat vmexit_vmcall=vmexit.flat
	vmware_backdoors=vmware_backdoors.flat vmx=vmx.flat vmx_apic_passthrough_thread=vmx.flat
	vmx_apic_passthrough_tpr_threshold_test=vmx.flat vmx_apicv_test=vmx.flat vmx_eoi_bitmap_ioapic_scan=vmx.flat
	vmx_hlt_with_rvi_test=vmx.flat vmx_init_signal_test=vmx.flat vmx_pf_exception_test=vmx.flat
	vmx_pf_exception_test_fep=vmx.flat vmx_pf_exception_test_reduced_maxphyaddr=vmx.flat
	vmx_pf_invvpid_test=vmx.flat vmx_pf_no_vpid_test=vmx.flat vmx_pf_vpid_test=vmx.flat
	vmx_posted_intr_test=vmx.flat vmx_sipi_signal_test=vmx.flat vmx_vmcs_shadow_test=vmx.flat x2apic=apic.flat
	xapic=apic.flat xsave=xsave.flat
`
	.trim()
	.split(/\s+/)
	.map((pair) => {
		const [name = "", file = ""] = pair.split("=");
		return { name, file };
	});

/** Mainline releases in order, `[major, minor]`: v4.0..v4.20, v5.0..v5.19, v6.0..v6.18. */
export const RELEASES: readonly (readonly [number, number])[] = [
	...Array.from({ length: 21 }, (_, i) => [4, i] as const),
	...Array.from({ length: 20 }, (_, i) => [5, i] as const),
	...Array.from({ length: 19 }, (_, i) => [6, i] as const),
];

const STABLE_RELEASES = 60;
const atLeast = ([major, minor]: readonly [number, number], [m, n]: readonly [number, number]) =>
	major > m || (major === m && minor >= n);

/** A kernel tree: the branch its release history is written on (its HEAD), and the branches that get a commit of their own on top. */
interface KernelTreeShape {
	readonly history: string;
	readonly onTop: readonly string[];
	readonly stable?: true;
}

const KERNEL_TREES: Readonly<Record<Exclude<TreeName, "kut">, KernelTreeShape>> = {
	linux: { history: "master", onTop: [] },
	kvm: { history: "master", onTop: ["next", "queue", "fixes", "linux-next"] },
	"kvm-x86": {
		history: "next",
		onTop: ["next", "fixes", "mmu", "pmu", "svm", "vmx", "misc", "selftests", "generic", "xen", "apic"],
	},
	"linux-next": { history: "master", onTop: ["master"] },
	// stable's branches are linux-X.Y.y; the release history ends on the last of them.
	stable: { history: "linux-6.18.y", onTop: [], stable: true },
};

/** git with no user or system configuration: the same objects on any machine. */
const GIT_BASE_ENV = { GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", GIT_TERMINAL_PROMPT: "0" };

/**
 * For fast-import only: glibc's malloc otherwise grows and trims the heap with brk for every
 * object, which on a virtual machine costs more than the import itself (7 s instead of 0.5 s
 * for one tree). Other C libraries ignore these.
 */
const IMPORT_ENV = {
	...GIT_BASE_ENV,
	MALLOC_TOP_PAD_: String(64 * 2 ** 20),
	MALLOC_TRIM_THRESHOLD_: String(256 * 2 ** 20),
};

const LINUS = "Linus Torvalds <torvalds@linux-foundation.org>";
const PAOLO = "Paolo Bonzini <pbonzini@redhat.com>";
const SEAN = "Sean Christopherson <seanjc@google.com>";
const GREG = "Greg Kroah-Hartman <gregkh@linuxfoundation.org>";
const STEPHEN = "Stephen Rothwell <sfr@canb.auug.org.au>";
const THOMAS = "Thomas Huth <thuth@redhat.com>";

const SELFTESTS_DIR = "tools/testing/selftests/kvm";
/** v4.0-rc1's day (2015-02-22); then a tag a week, and a KVM change half-way between two tags. */
const START = 1_424_563_200;
const STEP = 302_400;

/** A fast-import stream, written as commands; marks count from 1. */
class FastImport {
	#parts: string[] = [];
	#mark = 0;

	#data(text: string): string {
		return `data ${Buffer.byteLength(text)}\n${text}\n`;
	}

	/** A commit on `ref`; its mark. Files are written whole (`M 100644 inline`); `from` only to fork or start over. */
	commit(spec: {
		readonly ref: string;
		readonly who: string;
		readonly at: number;
		readonly message: string;
		readonly from?: number;
		readonly files: Readonly<Record<string, string>>;
		readonly executable?: readonly string[];
	}): number {
		const mark = ++this.#mark;
		const files = Object.entries(spec.files).map(
			([file, text]) =>
				`M ${spec.executable?.includes(file) ? "100755" : "100644"} inline ${file}\n${this.#data(text)}`,
		);
		this.#parts.push(
			`commit refs/heads/${spec.ref}\nmark :${mark}\n`,
			`author ${spec.who} ${spec.at} +0000\ncommitter ${spec.who} ${spec.at} +0000\n`,
			this.#data(spec.message),
			spec.from === undefined ? "" : `from :${spec.from}\n`,
			...files,
			"\n",
		);
		return mark;
	}

	/** An annotated tag, as releases are tagged. */
	annotatedTag(name: string, mark: number, who: string, at: number, message: string): void {
		this.#parts.push(`tag ${name}\nfrom :${mark}\ntagger ${who} ${at} +0000\n`, this.#data(message));
	}

	/** A lightweight tag, or a branch: a ref at a commit. */
	ref(name: string, mark: number): void {
		this.#parts.push(`reset ${name}\nfrom :${mark}\n\n`);
	}

	done(): string {
		this.#parts.push("done\n");
		return this.#parts.join("");
	}
}

const makefile = (version: number, patchlevel: number, sublevel: number, extra: string) =>
	`# SPDX-License-Identifier: GPL-2.0\nVERSION = ${version}\nPATCHLEVEL = ${patchlevel}\nSUBLEVEL = ${sublevel}\nEXTRAVERSION = ${extra}\n`;

/** Every tag of the release history in order: `4.0-rc1` ... `4.0`, `4.1-rc1` ... `6.18`. */
const VERSIONS = RELEASES.flatMap(([major, minor]) =>
	[1, 2, 3, 4, 5, 6, 7, 8, 0].map((rc) => ({ major, minor, extra: rc === 0 ? "" : `-rc${rc}` })),
);

/** One kernel tree's stream: the release history on `shape.history`, then its branches. */
function kernelStream(shape: KernelTreeShape): string {
	const out = new FastImport();
	/** Each tag's commit and date, by version (`6.1-rc4`). */
	const tagged = new Map<string, { readonly mark: number; readonly at: number }>();
	// The first commit already has every selftest, so any commit lists them.
	const firstFiles: Record<string, string> = {
		"virt/kvm/kvm_main.c": "// SPDX-License-Identifier: GPL-2.0-only\n",
		[`${SELFTESTS_DIR}/Makefile`]: "# SPDX-License-Identifier: GPL-2.0-only\n",
	};
	for (const id of SELFTESTS) firstFiles[`${SELFTESTS_DIR}/${id}.c`] = "// SPDX-License-Identifier: GPL-2.0-only\n";
	let last: number | undefined;
	let at = START;
	for (const [i, { major, minor, extra }] of VERSIONS.entries()) {
		const version = `${major}.${minor}${extra}`;
		// Between two tags, a change of KVM's: the history is not only release commits.
		if (last !== undefined)
			last = out.commit({
				ref: shape.history,
				who: PAOLO,
				at: at + STEP,
				message: `KVM: x86: change ${i}\n\nSigned-off-by: ${PAOLO}\n`,
				files: { "virt/kvm/kvm_main.c": `// SPDX-License-Identifier: GPL-2.0-only\n/* change ${i} */\n` },
			});
		at = START + 2 * STEP * i;
		last = out.commit({
			ref: shape.history,
			who: LINUS,
			at,
			message: `Linux ${version}\n`,
			files: { ...(i === 0 ? firstFiles : {}), Makefile: makefile(major, minor, 0, extra) },
		});
		out.annotatedTag(`v${version}`, last, LINUS, at, `Linux ${version}\n`);
		tagged.set(version, { mark: last, at });
	}
	if (last === undefined) throw new Error("no releases");
	const tip = last;
	for (const branch of shape.onTop) {
		const who = branch === "master" ? STEPHEN : SEAN;
		const message =
			branch === "master"
				? "Add linux-next specific files for 20251201\n"
				: `KVM: ${branch}: queued change\n\nSigned-off-by: ${who}\n`;
		out.commit({
			ref: branch,
			who,
			at: at + STEP,
			message,
			from: tip,
			files: { [`Next/${branch}`]: `${branch}\n` },
		});
	}
	if (shape.stable === true) {
		for (const release of RELEASES) {
			const [major, minor] = release;
			if (!atLeast(release, [4, 4])) continue;
			const base = tagged.get(`${major}.${minor}`);
			if (base === undefined) throw new Error(`no v${major}.${minor}`);
			const branch = `linux-${major}.${minor}.y`;
			if (!atLeast(release, [4, 19])) {
				out.ref(`refs/heads/${branch}`, base.mark);
				continue;
			}
			let from = base.mark;
			for (let n = 1; n <= STABLE_RELEASES; n++) {
				from = out.commit({
					ref: branch,
					who: GREG,
					at: base.at + n * 86_400,
					message: `Linux ${major}.${minor}.${n}\n`,
					from,
					files: { Makefile: makefile(major, minor, n, "") },
				});
				out.ref(`refs/tags/v${major}.${minor}.${n}`, from);
			}
		}
	}
	return out.done();
}

/** The kvm-unit-tests tree: one commit with the cfg, the images' sources and run_tests.sh. */
function kutStream(): string {
	const out = new FastImport();
	const cfg = [
		"# Define your new unittest following the convention:",
		"# [unittest_name]",
		"# file = foo.flat # Name of the flat file to be used.",
		"",
		...KUT_ENTRIES.flatMap((e) => [`[${e.name}]`, `file = ${e.file}`, ""]),
	].join("\n");
	const files: Record<string, string> = {
		"x86/unittests.cfg": cfg,
		"run_tests.sh": '#!/usr/bin/env bash\necho "run_tests.sh: not built" >&2\nexit 2\n',
	};
	for (const { file } of KUT_ENTRIES) files[`x86/${file.replace(/\.flat$/, ".c")}`] = '#include "libcflat.h"\n';
	out.commit({
		ref: "master",
		who: THOMAS,
		at: START + STEP * 1200,
		message: "x86: the tests the triage benchmark names\n",
		files,
		executable: ["run_tests.sh"],
	});
	return out.done();
}

/** What every benchmark run needs: where things are, and the environment that reaches the trees. */
export interface TriageWork {
	readonly dir: string;
	/** `<dir>/matrix.yaml`, naming the trees by their real URLs. */
	readonly matrix: string;
	/** The CLI's cache (`KVM_MATRIX_CACHE`): its mirrors of the trees, made by the first run. */
	readonly cache: string;
	/** For the CLI process: the URL rewriting, the cache, no colour. */
	readonly env: Readonly<Record<string, string>>;
	/** How long building the trees took; undefined when they were reused. */
	readonly builtMs?: number;
}

const repoOf = (dir: string, tree: TreeName) => path.join(dir, "trees", `${tree}.git`);

/** Changes whenever what the trees hold changes, so a kept directory is rebuilt rather than trusted. */
function treesStamp(): string {
	return createHash("sha256")
		.update(JSON.stringify({ TREE_URLS, SELFTESTS, KUT_ENTRIES, RELEASES, KERNEL_TREES, START, STEP, version: 1 }))
		.digest("hex");
}

async function importTree(repo: string, head: string, stream: string): Promise<void> {
	await execa("git", ["init", "-q", "--bare", "-b", head, repo], { env: GIT_BASE_ENV });
	await execa("git", ["--git-dir", repo, "fast-import", "--quiet", "--done"], { input: stream, env: IMPORT_ENV });
}

/**
 * git's URL rewriting for the CLI: each real URL is read from the local repository, and any other
 * http(s), git or ssh URL is refused, so nothing reaches the network.
 */
export function gitEnv(dir: string): Record<string, string> {
	const config: [string, string][] = [
		...Object.entries(TREE_URLS).map(([tree, url]): [string, string] => [
			`url.file://${repoOf(dir, tree as TreeName)}.insteadOf`,
			url,
		]),
		["protocol.https.allow", "never"],
		["protocol.http.allow", "never"],
		["protocol.git.allow", "never"],
		["protocol.ssh.allow", "never"],
	];
	return {
		...GIT_BASE_ENV,
		GIT_CONFIG_COUNT: String(config.length),
		...Object.fromEntries(
			config.flatMap(([key, value], i) => [
				[`GIT_CONFIG_KEY_${i}`, key],
				[`GIT_CONFIG_VALUE_${i}`, value],
			]),
		),
	};
}

function matrixYaml(): string {
	const trees = Object.entries(TREE_URLS).map(([tree, url]) => `  ${tree}: { url: ${url} }`);
	return [
		"# The triage benchmark's matrix: the trees by their real URLs (git reads them from local",
		"# repositories through url.<dir>.insteadOf in the environment), the branches reports name.",
		"name: triage-bench",
		"",
		"trees:",
		...trees,
		"",
		"kernels:",
		"  - { tree: kvm-x86, ref: next }",
		"  - { tree: kvm, ref: next }",
		"  - { tree: kvm, ref: queue }",
		"  - { tree: kvm, ref: master }",
		"  - { tree: linux, ref: master }",
		"  - { tree: linux-next, ref: master }",
		"  - { tree: stable, ref: linux-6.1.y }",
		"",
		"targets:",
		"  - { name: host, host: true }",
		"",
		"suites:",
		"  selftests: { from: kernel }",
		"  kut: { tree: kut, ref: master }",
		"",
	].join("\n");
}

/**
 * Builds the trees and the matrix under `dir`, once: a directory that already holds this version
 * of them is reused (with the CLI's mirrors in its cache). Each tree is one fast-import, all at once.
 */
export async function prepareTriageWork(where: string): Promise<TriageWork> {
	const dir = path.resolve(where);
	const trees = path.join(dir, "trees");
	const stampFile = path.join(trees, "stamp");
	const stamp = treesStamp();
	const work = {
		dir,
		matrix: path.join(dir, "matrix.yaml"),
		cache: path.join(dir, "cache"),
	};
	const env = { ...gitEnv(dir), KVM_MATRIX_CACHE: work.cache, NO_COLOR: "1", FORCE_COLOR: "0" };
	let builtMs: number | undefined;
	if (!existsSync(stampFile) || readFileSync(stampFile, "utf8") !== stamp) {
		const t0 = performance.now();
		// The cache's mirrors were made from other trees: they go too.
		rmSync(trees, { recursive: true, force: true });
		rmSync(work.cache, { recursive: true, force: true });
		mkdirSync(trees, { recursive: true });
		await Promise.all([
			...Object.entries(KERNEL_TREES).map(([tree, shape]) =>
				importTree(repoOf(dir, tree as TreeName), shape.history, kernelStream(shape)),
			),
			importTree(repoOf(dir, "kut"), "master", kutStream()),
		]);
		writeFileSync(stampFile, stamp);
		builtMs = performance.now() - t0;
	}
	writeFileSync(work.matrix, matrixYaml());
	return { ...work, env, ...(builtMs === undefined ? {} : { builtMs }) };
}
