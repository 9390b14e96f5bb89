/**
 * The run store and the resumable stage runner: the one way stages keep their records.
 *
 *   RunStore      a run directory (run.sqlite + config.json + run.json): create/open with config checks,
 *                 command history, typed tables, stage status                       (./run-store.ts)
 *   defineTable   declare a record table once per record type; store.table(def) binds it  (./table.ts)
 *   runStage      process work items resumably, deterministically, with bounded concurrency (./stage.ts)
 *   writeJsonl    derive a JSONL export from a table                                 (./export.ts)
 *   withRun       run a command against a store and record how it ended             (./command.ts)
 *   commandLine   a command line as the user would type it again (npx or not)      (./invocation.ts)
 *
 * Progress reporting lives in ../util/progress.ts (createProgress, progressModeFrom).
 */
export * from "./run-store.js";
export * from "./table.js";
export * from "./stage.js";
export * from "./export.js";
export * from "./command.js";
export * from "./summary.js";
export * from "./invocation.js";
export { canonicalJson, fingerprint, diffJson, type JsonValue, type JsonDifference } from "./json.js";
