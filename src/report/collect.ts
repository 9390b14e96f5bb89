/**
 * Reads what the report shows from the run store, read-only: an evaluation's metrics (recomputed from its samples,
 * as `compare` does) and sample lengths; a squeeze run's selections, refined steps and responses, and training
 * steps. A stage a run has not got is `null`, so the page can say it is not in this run.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { evalSamplesTable } from "../eval/evaluate.js";
import { readEvalRun, type EvalRunResults } from "../eval/results.js";
import type { JsonValue } from "../store/index.js";
import { RunStore, type CodeVersion } from "../store/index.js";
import { REFINE_STAGE, SELECT_STAGE } from "../squeeze/stages.js";
import { refinedResponsesTable, refinedStepsTable, selectionsTable, type RefinedResponseRow, type RefinedStepRow, type SelectionRow } from "../squeeze/tables.js";
import { MODEL_DIR, trainStepsTable, type TrainStepRow } from "../squeeze/train.js";
import type { ModelIdentity } from "../util/model-identity.js";
import type { ReportRun } from "./inputs.js";

/** Who made a run and with what: shown in the report's collapsible configuration section. */
export interface RunInfo {
  kind: ReportRun["kind"];
  label: string;
  dir: string;
  model: ModelIdentity;
  createdAt: string;
  seed: number;
  code: CodeVersion;
  configHash: string;
  config: JsonValue;
  stages: Array<{ name: string; status: string; done: number; failed: number }>;
}

export interface EvalRunData {
  info: RunInfo;
  results: EvalRunResults;
  /** Per benchmark: every sample's token count and correctness (for the length histograms). */
  samples: Record<string, Array<{ tokens: number; correct: boolean }>>;
}

export interface SqueezeRunData {
  info: RunInfo;
  /** Stage 1; null when selection has not run. */
  selections: SelectionRow[] | null;
  /** Stage 2; null when refinement has not run. `enabled` is the run's refinement.enabled. */
  refinement: { enabled: boolean; steps: RefinedStepRow[]; responses: RefinedResponseRow[] } | null;
  /** Stage 3 (embedded trainer); null when no training step is stored. */
  training: { steps: TrainStepRow[]; model: string | null } | null;
}

function runInfo(store: RunStore, run: ReportRun): RunInfo {
  const m = store.manifest();
  return {
    kind: run.kind,
    label: run.label,
    dir: store.dir,
    model: m.model,
    createdAt: m.createdAt,
    seed: m.seed,
    code: m.code,
    configHash: m.configHash,
    config: store.config,
    stages: store.stages().map((s) => ({ name: s.name, status: s.status, done: s.done, failed: s.failed })),
  };
}

function hasRows(store: RunStore, name: string): boolean {
  return store.tables().some((t) => t.name === name && t.rows > 0);
}

/** An evaluation's data, or null when it has no samples yet (an evaluation that was stopped before its first). */
export function collectEvalRun(run: ReportRun): EvalRunData | null {
  const store = RunStore.open(run.dir, { readonly: true });
  try {
    if (!hasRows(store, evalSamplesTable.name)) return null;
    const results = readEvalRun(run.dir);
    const samples: EvalRunData["samples"] = {};
    for (const r of store.table(evalSamplesTable).iterate()) (samples[r.benchmark] ??= []).push({ tokens: r.tokens, correct: r.correct });
    return { info: runInfo(store, run), results, samples };
  } finally {
    store.close();
  }
}

export function collectSqueezeRun(run: ReportRun): SqueezeRunData {
  const store = RunStore.open(run.dir, { readonly: true });
  try {
    const info = runInfo(store, run);
    const selections = store.stage(SELECT_STAGE) && hasRows(store, selectionsTable.name) ? store.table(selectionsTable).all() : null;
    const refineRan = store.stage(REFINE_STAGE) !== undefined && store.tables().some((t) => t.name === refinedResponsesTable.name);
    const config = info.config as { refinement?: { enabled?: boolean } } | null;
    const refinement = refineRan
      ? {
          enabled: config?.refinement?.enabled !== false,
          steps: hasRows(store, refinedStepsTable.name) ? store.table(refinedStepsTable).all() : [],
          responses: store.table(refinedResponsesTable).all(),
        }
      : null;
    const training = hasRows(store, trainStepsTable.name)
      ? { steps: store.table(trainStepsTable).all().sort((a, b) => a.step - b.step), model: existsSync(join(store.dir, MODEL_DIR)) ? join(store.dir, MODEL_DIR) : null }
      : null;
    return { info, selections, refinement, training };
  } finally {
    store.close();
  }
}

/** A demo directory's demo.json (the demo's own summary), or null when it is missing or unreadable. */
export function readDemoSummary(dir: string): JsonValue | null {
  const path = join(dir, "demo.json");
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as JsonValue;
  } catch {
    // A demo killed while writing leaves no valid summary; the runs themselves are what the report reads.
    return null;
  }
}
