export { ensureDemoTree, findLinuxSource } from "./demo/linux-source.js";
export {
	type CellSummary,
	executeRun,
	RunCommands,
	type RunOptions,
	RunSetupError,
	type RunSummary,
} from "./engine/run.js";
export * from "./events/index.js";
export { LinkIndex, loadLinkIndex, updateLinkStore } from "./links/index.js";
export * from "./matrix/index.js";
export { type CachePaths, cachePaths, cacheRoot } from "./paths/cache.js";
export * from "./plan/index.js";
export { CancelledError, streamRecords } from "./proc/run.js";
export { err, ok, type Result } from "./result.js";
export { SourceError } from "./sources/git.js";
export { ExplainError, explainTest, type TestExplanation } from "./verdicts/explain.js";
export { reclassifyRun, runMatrixFile } from "./verdicts/reclassify.js";
