export { ensureDemoTree, findLinuxSource } from "./demo/linux-source.js";
export { type CellSummary, executeRun, type RunOptions, RunSetupError, type RunSummary } from "./engine/run.js";
export * from "./events/index.js";
export * from "./matrix/index.js";
export { type CachePaths, cachePaths, cacheRoot } from "./paths/cache.js";
export * from "./plan/index.js";
export { CancelledError } from "./proc/run.js";
export { err, ok, type Result } from "./result.js";
export { reclassifyRun, runMatrixFile } from "./verdicts/reclassify.js";
