export { type FirstFailure, firstFailures, type RunPoint } from "./first-failure.js";
export { HistoryIndex, historyDbPath, indexEndedRun, type RefreshStats } from "./index-db.js";
export { type HistoryPageOptions, renderHistoryPage } from "./page.js";
export {
	earlierOnRevision,
	type FlakyTest,
	flakyTests,
	indexedRuns,
	lastGoodRunOfCell,
	lastResultsOfCells,
	type TimelineEntry,
	type TimelineFilter,
	testIds,
	timeline,
} from "./queries.js";
export { type HistoryRun, historyRun } from "./rows.js";
export { parseSince } from "./since.js";
