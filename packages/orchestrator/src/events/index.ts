export {
	collapseAttempts,
	type FinalResult,
	failingInAttempt,
	isFailing,
	isFailingStatus,
	testKey,
} from "./attempts.js";
export { createEventBus, type EventBus, type EventBusOptions, type EventSource, type Listener } from "./bus.js";
export type * from "./types.js";
export { CELL_STAGES } from "./types.js";
