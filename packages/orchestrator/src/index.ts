export * from "./events/index.js";
export * from "./matrix/index.js";
export * from "./plan/index.js";
export { err, ok, type Result } from "./result.js";
