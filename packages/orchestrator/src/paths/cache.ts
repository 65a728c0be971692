import os from "node:os";
import path from "node:path";

/**
 * The one place cache paths come from: `KVM_MATRIX_CACHE`, else `$XDG_CACHE_HOME/kvm-matrix`,
 * else `~/.cache/kvm-matrix`. Mirrors, worktrees, builds and initramfs images live below it.
 */
export function cacheRoot(env: Readonly<Record<string, string | undefined>> = process.env): string {
	if (env.KVM_MATRIX_CACHE) return path.resolve(env.KVM_MATRIX_CACHE);
	return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "kvm-matrix");
}

export const cachePaths = (root: string) => ({
	root,
	mirrors: path.join(root, "mirrors"),
	worktrees: path.join(root, "worktrees"),
	builds: path.join(root, "builds"),
	selftests: path.join(root, "selftests"),
	buildStats: path.join(root, "build-stats"),
	/** What lore said of each message-id looked up (verdicts' optional look-ups). */
	lore: path.join(root, "lore"),
	/** Each kernel tree's Link: index. */
	links: path.join(root, "links"),
	/** Each suite commit's test history (`links/test-history.ts`), under the commit's sha. */
	testHistory: path.join(root, "test-history"),
	qemu: root,
});
export type CachePaths = ReturnType<typeof cachePaths>;
