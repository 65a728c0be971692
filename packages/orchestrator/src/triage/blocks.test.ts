// The environment blocks of real report shapes (bench/triage/reports holds the reports themselves):
// which block is the kernel's, and what each field says.
import test from "ava";
import { type EnvBlock, envBlocks } from "./blocks.js";

const blocks = (text: string) => envBlocks(text.split("\n"), "description").map(({ text: _t, where: _w, ...b }) => b);

test("the QA template: the kernel's, QEMU's and kvm-unit-tests' blocks, told apart by label and URL", (t) => {
	const got = blocks(
		[
			"Environment:",
			"CPU Architecture: x86_64",
			"Host kernel: 6.1.0-rc4",
			"Host kernel source: https://git.kernel.org/pub/scm/virt/kvm/kvm.git",
			"Branch: next",
			"Commit: d72cf8ff",
			"",
			"Qemu source: https://git.qemu.org/git/qemu.git",
			"Branch: master",
			"Commit: 6d71357a",
			"",
			"kvm-unit-tests source: https://gitlab.com/kvm-unit-tests/kvm-unit-tests.git",
			"Branch: master",
			"Commit: 952cf19c9143e307fe229af8bf909016a02fcc6c",
		].join("\n"),
	);
	t.deepEqual(got, [
		{ owner: "kernel", repo: "https://git.kernel.org/pub/scm/virt/kvm/kvm.git", branch: "next", commit: "d72cf8ff" },
		{ owner: "qemu", repo: "https://git.qemu.org/git/qemu.git", branch: "master", commit: "6d71357a" },
		{
			owner: "kut",
			repo: "https://gitlab.com/kvm-unit-tests/kvm-unit-tests.git",
			branch: "master",
			commit: "952cf19c9143e307fe229af8bf909016a02fcc6c",
		},
	]);
});

test("the QA template with the URL on its own line and a Tag: line", (t) => {
	t.deepEqual(
		blocks(
			"Host kernel source:\nhttps://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git\nBranch: master\nCommit: 4b0986a3613c92f4ec1bdc7f60ec66fea135991f\nTag: v5.18",
		),
		[
			{
				owner: "kernel",
				repo: "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git",
				branch: "master",
				commit: "4b0986a3613c92f4ec1bdc7f60ec66fea135991f",
				tag: "v5.18",
			},
		],
	);
});

test("the short form: KVM commit/branch, Kernel commit, kvm.git next branch commit id", (t) => {
	t.deepEqual(
		blocks(
			"KVM commit/branch: 332d2c1d/next\nQemu commit/branch: a7ddb48b/master\nkvm-unit-tests commit: 201b9e8bdc84c6436dd53b45d93a60c681b92719",
		),
		[
			{ owner: "kernel", repo: "kvm", commit: "332d2c1d", branch: "next" },
			{ owner: "qemu", commit: "a7ddb48b", branch: "master" },
			{ owner: "kut", commit: "201b9e8bdc84c6436dd53b45d93a60c681b92719" },
		],
	);
	t.deepEqual(blocks("kvm.git next branch commit id: e9e60c82fe391d04db55a91c733df4a017c28b2f"), [
		{ owner: "kernel", repo: "kvm", branch: "next", commit: "e9e60c82fe391d04db55a91c733df4a017c28b2f" },
	]);
	t.deepEqual(blocks("Kernel commit: 02b0d3b9"), [{ owner: "kernel", commit: "02b0d3b9" }]);
});

test("lkp: the tested commit over its tree and branch, its subject wrapped; the tips it also failed on", (t) => {
	t.deepEqual(
		blocks(
			[
				'commit: 5fc3cfa62b85fb60d2383229791f755f333963ed ("KVM: x86: Drop guest',
				'CPUID ...")',
				"https://git.kernel.org/cgit/linux/kernel/git/stable/linux-stable-rc.git linux-5.15.y",
				"",
				"[test failed on linux-next/master 6906a84c482f098d31486df8dc98cead21cce2d0]",
				"base: https://git.kernel.org/cgit/virt/kvm/kvm.git linux-next",
			].join("\n"),
		),
		[
			{
				owner: "kernel",
				commit: "5fc3cfa62b85fb60d2383229791f755f333963ed",
				repo: "https://git.kernel.org/cgit/linux/kernel/git/stable/linux-stable-rc.git",
				branch: "linux-5.15.y",
			},
			{ owner: "kernel", repo: "linux-next", branch: "master", commit: "6906a84c482f098d31486df8dc98cead21cce2d0" },
			{ owner: "kernel", repo: "https://git.kernel.org/cgit/virt/kvm/kvm.git", branch: "linux-next" },
		],
	);
});

test("syzbot's HEAD commit and git tree; LKFT's metadata; a bare commit: line is no block", (t) => {
	t.deepEqual(
		blocks(
			"HEAD commit:    d3e1ee0e67e7 Add linux-next specific files for 20230421\ngit tree:       linux-next\nconsole output: https://syzkaller.appspot.com/x/log.txt?x=16ac3de0280000",
		),
		[{ owner: "kernel", commit: "d3e1ee0e67e7", repo: "linux-next" }],
	);
	const lkft: Partial<EnvBlock>[] = blocks(
		"  git_describe: v5.17-rc8\n  git_ref: master\n  git_repo: https://gitlab.com/Linaro/lkft/mirrors/torvalds/linux-mainline\n  git_sha: 09688c0166e76ce2fb85e86b9d99be8b0084cdf9",
	);
	t.deepEqual(lkft, [
		{
			owner: "kernel",
			describe: "v5.17-rc8",
			branch: "master",
			repo: "https://gitlab.com/Linaro/lkft/mirrors/torvalds/linux-mainline",
			commit: "09688c0166e76ce2fb85e86b9d99be8b0084cdf9",
		},
	]);
	t.deepEqual(blocks("sha: 9f8e7d6c5b4a"), []);
	// A guest kernel's block is not the kernel under test.
	t.deepEqual(blocks("Guest kernel source: https://example.org/linux.git\nBranch: master"), [
		{ owner: "other", repo: "https://example.org/linux.git", branch: "master" },
	]);
});
