export { formatDuration, parseDuration } from "./duration.js";
export { formatMatrixError, type MatrixError } from "./errors.js";
export { loadMatrixFile } from "./load.js";
export { type ParseOptions, parseMatrix } from "./parse.js";
export { formatSize, parseSize } from "./size.js";
export type * from "./types.js";
