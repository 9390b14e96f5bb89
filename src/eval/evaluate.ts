/**
 * The evaluation driver: samples n responses per benchmark problem through the Engine interface, grades them,
 * stores every sample in the run store, and computes the paper's metrics from what is stored.
 *
 * Resumable and deterministic: the work item is one (benchmark, problem); its n completions come from one
 * engine request seeded by deriveSeed(run seed, "eval", "<benchmark>/<problem id>", "generate"), and completion
 * i depends only on (that seed, i) (the Engine contract). So results do not depend on concurrency, batching or
 * on being killed and resumed; `concurrency` problems are in flight at once so the engine can batch them.
 *
 * What is stored (the later HTML report reads it):
 *   eval_samples   one row per sample: text, token count, finish/stop reason, extracted answer, correct, level,
 *                  subject — key (benchmark, problemId, sampleIndex)
 *   eval_problems  one row per problem: question, reference answer, level, subject, the rendered prompt and
 *                  its token count, the request seed — key (benchmark, problemId)
 * Metrics are always recomputed from eval_samples, never stored, so they cannot drift from the samples.
 */
import type { Engine, FinishReason } from "../engines/engine.js";
import type { Problem } from "../data/problem.js";
import { defineTable, runStage, type RunStore, type StageResult } from "../store/index.js";
import { fingerprint } from "../store/json.js";
import type { ProgressReporter } from "../util/progress.js";
import { benchmarkMetrics, type BenchmarkMetrics, type SampleRecord } from "./metrics.js";
import { PAPER_SYSTEM, CHAT_INSTRUCTION, type PromptPreset } from "../sampling/prompts.js";
import { sampledResponseColumns, sampleProblem } from "../sampling/sample-problem.js";

export const EVAL_STAGE = "eval";
/** Bump when the evaluation's algorithm changes in a way that changes stored records. */
export const EVAL_STAGE_VERSION = 1;

export interface EvalSampleRow {
  benchmark: string;
  problemId: string;
  sampleIndex: number;
  /** The completion as generated (without the prompt and without a matched stop string). */
  text: string;
  /** Generated tokens, counted by the model's own tokenizer (the engine's token ids). */
  tokens: number;
  finishReason: FinishReason;
  /** The stop string or token id that ended generation, when the engine reports it. */
  stopReason?: string | number;
  /** The answer the grader extracted; absent when it found none. */
  extracted?: string;
  correct: boolean;
  level?: number;
  subject?: string;
}

export const evalSamplesTable = defineTable<EvalSampleRow>()({
  name: "eval_samples",
  version: 1,
  key: ["benchmark", "problemId", "sampleIndex"],
  columns: {
    benchmark: "text",
    problemId: "text",
    ...sampledResponseColumns,
    level: { type: "integer", optional: true },
    subject: { type: "text", optional: true },
  },
  indexes: [["benchmark"]],
  description: "evaluation samples: one graded completion per (benchmark, problem, sample)",
});

export interface EvalProblemRow {
  benchmark: string;
  problemId: string;
  question: string;
  answer: string;
  level?: number;
  subject?: string;
  /** The prompt exactly as sent to the engine. */
  prompt: string;
  promptTokens: number;
  /** The generate request's seed (completion i uses (seed, i)). */
  seed: number;
}

export const evalProblemsTable = defineTable<EvalProblemRow>()({
  name: "eval_problems",
  version: 1,
  key: ["benchmark", "problemId"],
  columns: {
    benchmark: "text",
    problemId: "text",
    question: "text",
    answer: "text",
    level: { type: "integer", optional: true },
    subject: { type: "text", optional: true },
    prompt: "text",
    promptTokens: "integer",
    seed: "integer",
  },
  description: "evaluation problems: question, reference answer and the prompt sent",
});

/** The sampling settings of an evaluation (the `evaluation` section of a run config, minus the benchmarks). */
export interface EvalSettings {
  /** Samples per problem (16 in the paper). */
  samples: number;
  temperature: number;
  topP: number;
  /** Max new tokens per sample (32768 in the paper). */
  maxTokens: number;
  prompt: PromptPreset;
  /** B of the AUC metric (default maxTokens). Not part of the stored records' identity: only a metric. */
  aucBudget?: number;
}

export interface EvalBenchmark {
  /** The benchmark's name (`math500`, …, or the dataset reference as given). */
  name: string;
  problems: readonly Problem[];
}

export interface EvaluateOptions {
  store: RunStore;
  engine: Engine;
  benchmarks: readonly EvalBenchmark[];
  settings: EvalSettings;
  /** Problems in flight at once (each a request for `samples` completions). Default 4. */
  concurrency?: number;
  progress?: ProgressReporter;
  signal?: AbortSignal;
  /** When the run holds samples made with other settings: refuse (default) or archive them (--force). */
  onParamsChange?: "error" | "archive";
  /** The command that resumes this evaluation, for the interruption message. */
  resumeCommand?: string;
  /** Install SIGINT/SIGTERM handlers while sampling (default true). */
  handleSignals?: boolean;
}

/** Problems that could not be sampled (e.g. a prompt that fills the model's context): counted, never samples. */
export interface EvalErrors {
  problems: number;
  /** The first error, by problem id. */
  first?: { problemId: string; error: string };
}

export interface EvalReport {
  /** Metrics per benchmark, in the order the benchmarks were given. */
  benchmarks: Record<string, BenchmarkMetrics>;
  /** Recorded errors per benchmark (every benchmark has an entry). */
  errors: Record<string, EvalErrors>;
  budget: number;
  stage: StageResult;
}

interface WorkItem {
  benchmark: string;
  problem: Problem;
}

/** The stage parameters: everything that determines the stored samples besides the seed and the model. */
export function evalStageParams(settings: EvalSettings): Record<string, unknown> {
  return {
    stageVersion: EVAL_STAGE_VERSION,
    samples: settings.samples,
    temperature: settings.temperature,
    topP: settings.topP,
    maxTokens: settings.maxTokens,
    prompt: settings.prompt,
    // Changing a preset's wording changes the samples: the fingerprint must see it.
    promptTemplate: fingerprint(settings.prompt === "paper" ? PAPER_SYSTEM : CHAT_INSTRUCTION),
  };
}

/** Samples, grades and stores every benchmark problem (resuming what is stored), then computes the metrics. */
export async function evaluate(opts: EvaluateOptions): Promise<EvalReport> {
  const { store, engine, settings } = opts;
  checkSettings(settings);
  const names = new Set<string>();
  for (const b of opts.benchmarks) {
    if (names.has(b.name)) throw new Error(`evaluate: benchmark "${b.name}" given twice`);
    names.add(b.name);
    const ids = new Set<string>();
    for (const p of b.problems) {
      if (ids.has(p.id)) throw new Error(`evaluate: ${b.name} has two problems with id "${p.id}"`);
      ids.add(p.id);
    }
  }
  const items: WorkItem[] = opts.benchmarks.flatMap((b) => b.problems.map((problem) => ({ benchmark: b.name, problem })));

  const stage = await runStage({
    store,
    stage: EVAL_STAGE,
    params: evalStageParams(settings),
    onParamsChange: opts.onParamsChange,
    items,
    keyOf: (it) => `${it.benchmark}/${it.problem.id}`,
    output: evalSamplesTable,
    concurrency: opts.concurrency ?? 4,
    progress: opts.progress,
    signal: opts.signal,
    resumeCommand: opts.resumeCommand,
    handleSignals: opts.handleSignals,
    // A problem that cannot be sampled (its prompt fills the context) is recorded as an error and counted,
    // never stored as a sample; the stage goes on with the others.
    onItemError: "record",
    process: async ({ benchmark, problem }, ctx) => {
      const seed = ctx.seedFor("generate");
      const sampled = await sampleProblem(engine, problem, { ...settings, n: settings.samples }, seed, { signal: ctx.signal });
      ctx.put(evalProblemsTable, [
        {
          benchmark,
          problemId: problem.id,
          question: problem.question,
          answer: problem.answer,
          level: problem.meta.level,
          subject: problem.meta.subject,
          prompt: sampled.prompt,
          promptTokens: sampled.promptTokens,
          seed,
        },
      ]);
      return sampled.responses.map(
        (r): EvalSampleRow => ({
          benchmark,
          problemId: problem.id,
          ...r,
          level: problem.meta.level,
          subject: problem.meta.subject,
        }),
      );
    },
  });

  const budget = settings.aucBudget ?? settings.maxTokens;
  const benchmarks: Record<string, BenchmarkMetrics> = {};
  const table = store.table(evalSamplesTable);
  for (const b of opts.benchmarks) {
    const wanted = new Set(b.problems.map((p) => p.id));
    // Streamed and reduced to what the metrics need: the texts of a long evaluation can be gigabytes.
    const records: SampleRecord[] = [];
    for (const r of table.iterate({ benchmark: b.name })) if (wanted.has(r.problemId)) records.push(toSampleRecord(r));
    if (records.length === 0) continue;
    benchmarks[b.name] = benchmarkMetrics(records, { budget });
  }
  const errors: Record<string, EvalErrors> = {};
  for (const b of opts.benchmarks) errors[b.name] = { problems: 0 };
  const wantedKeys = new Map<string, { benchmark: string; problemId: string }>();
  for (const it of items) wantedKeys.set(`${it.benchmark}/${it.problem.id}`, { benchmark: it.benchmark, problemId: it.problem.id });
  for (const e of store.itemErrors(EVAL_STAGE)) {
    const item = wantedKeys.get(e.key);
    if (item === undefined) continue;
    const entry = errors[item.benchmark];
    entry.problems++;
    entry.first ??= { problemId: item.problemId, error: e.error };
  }
  return { benchmarks, errors, budget, stage };
}

export function toSampleRecord(r: EvalSampleRow): SampleRecord {
  return {
    problemId: r.problemId,
    sampleIndex: r.sampleIndex,
    tokens: r.tokens,
    correct: r.correct,
    finishReason: r.finishReason,
    level: r.level,
    subject: r.subject,
  };
}

function checkSettings(s: EvalSettings): void {
  const bad = (what: string) => {
    throw new RangeError(`evaluate: ${what}`);
  };
  if (!Number.isInteger(s.samples) || s.samples < 1) bad(`samples must be a positive integer (got ${s.samples})`);
  if (!Number.isInteger(s.maxTokens) || s.maxTokens < 1) bad(`maxTokens must be a positive integer (got ${s.maxTokens})`);
  if (!(s.temperature >= 0)) bad(`temperature must be ≥ 0 (got ${s.temperature})`);
  if (!(s.topP > 0 && s.topP <= 1)) bad(`topP must be in (0, 1] (got ${s.topP})`);
}
