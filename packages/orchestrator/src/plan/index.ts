export { type CellSelection, cellId, type Selection, selectCells } from "./cells.js";
export { planToJson } from "./json.js";
export { configKey, countJobs, planRun, type Resolutions, refKey } from "./plan.js";
export type * from "./types.js";
