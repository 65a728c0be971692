export {
	BisectCancelled,
	BisectError,
	type BisectMode,
	type BisectOutcome,
	type BisectStep,
	type CommitInfo,
	readBisect,
	runBisect,
	startBisect,
	TERMS,
} from "./bisect/bisect.js";
export { bisectCandidates, bisectRegressions, type RegressionBisections } from "./bisect/regressions.js";
export { recordedDurations, runDirsUnder } from "./ci/durations.js";
export { mergeProblems, mergeShards } from "./ci/merge.js";
export { type CiPlan, githubMatrix, gitlabMatrix, makeCiPlan, readCiPlan } from "./ci/plan.js";
export { parseShardSpec, planShards } from "./ci/shards.js";
export { ensureDemoTree, findLinuxSource } from "./demo/linux-source.js";
export { RunCommands } from "./engine/commands.js";
export { parseJournal } from "./engine/journal.js";
export { executeRun, matrixDigest, type ResumeResult, type RunOptions, resumeRun } from "./engine/run.js";
export { RunTakenOverError, RunWriteError } from "./engine/run-dir.js";
export { readRunRecordOf } from "./engine/run-record.js";
export { RunSetupError } from "./engine/setup-error.js";
export { type CellSummary, type RunSummary, runExit, runVerdictCounts } from "./engine/summary.js";
export * from "./events/index.js";
export * from "./history/index.js";
export {
	depFileOf,
	type ImageRules,
	imageName,
	kutBuildDir,
	kutEntrySources,
	kutImageRules,
	kutSources,
	parseDepFile,
	parseImageRules,
	readKutDepFiles,
	testsForFiles,
} from "./kut/sources.js";
export { LinkIndex, loadLinkIndex, updateLinkStore } from "./links/index.js";
export { createLoreClient, inboxUrl, type LoreAnswer, type LoreClient, type LoreClientOptions } from "./links/lore.js";
export { type LoreMessage, parseMbox, parseMessage } from "./links/mail.js";
export {
	describePosting,
	type LorePosting,
	type LorePostingKind,
	type LoreProject,
	type LoreSeries,
	normalisePatchSubject,
} from "./links/posting.js";
export { normalizeSourcePath, type TestSourceSet } from "./links/test-sources.js";
export { type TypedLink, targetText } from "./links/typing.js";
export * from "./matrix/index.js";
export { type CachePaths, cachePaths, cacheRoot } from "./paths/cache.js";
export { checkWritableFile, makeDirectory, UserPathError } from "./paths/user-paths.js";
export { targetParts } from "./plan/cells.js";
export * from "./plan/index.js";
export { CancelledError, streamRecords } from "./proc/run.js";
export {
	DEFAULT_KCIDB_ORIGIN,
	EXTENSION as REPORT_EXTENSION,
	isMailAddress,
	isReportFormat,
	KCIDB_ORIGIN,
	parseReportSpec,
	REPORT_FORMATS,
	type ReportFormat,
	type ReportOptions,
	type RunView,
	readRunView,
	renderReport,
} from "./reports/index.js";
export { err, ok, type Result } from "./result.js";
export {
	type ForeignFormat,
	type ForeignRead,
	type ForeignResult,
	type ForeignResults,
	type KutLogDir,
	parseForeignResults,
	parseKutLogDir,
	readForeignResults,
} from "./results/foreign.js";
export { selftestEntrySources, selftestSources } from "./selftests/sources.js";
export { SourceError } from "./sources/git.js";
export { joinLines } from "./text/trim.js";
export { fetchBug } from "./triage/bugzilla.js";
export { testsAbout } from "./triage/extract.js";
export { triageMarkdown } from "./triage/markdown.js";
export { parseBugArg, reportFromText } from "./triage/report.js";
export { reproduceRuns } from "./triage/reproduce.js";
export {
	keepAnswer,
	type ReproduceOptions,
	type Reproduction,
	reproduce,
	reproduceTarget,
} from "./triage/reproduce-run.js";
export { type TriageAnswer, type TriageInput, triageReport, triageWithTrees } from "./triage/triage.js";
export {
	type BugReport,
	type ReportedTest,
	type ReportFacts,
	type ReportKind,
	TriageError,
} from "./triage/types.js";
export {
	ALWAYS_RED,
	DEFAULT_FAIL_ON,
	decideExit,
	type ExitDecision,
	type FailOn,
	isVerdictName,
	parseFailOn,
	VERDICT_NAMES,
	type VerdictCounts,
	type VerdictName,
} from "./verdicts/exit-policy.js";
export {
	ExplainError,
	explainTest,
	type PatchDependency,
	type TestExplanation,
} from "./verdicts/explain.js";
export {
	classifyForeignResults,
	type ForeignClassified,
	ForeignResultsError,
} from "./verdicts/foreign.js";
export { reclassifyRun, recordBisections, runMatrixFile } from "./verdicts/reclassify.js";
