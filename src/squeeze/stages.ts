/**
 * The squeeze stages as resumable run-store stages (src/store/stage.ts): thin drivers around the pure cores
 * (sampling and grading in src/sampling/, selection in ./select.ts, step refinement in ./refine.ts).
 *
 *   sample   item = a training problem       → samples (+ problems)
 *   select   item = a sampled problem        → pairs (+ selections)
 *   refine   item = a chosen response in a pair → refined_responses (+ refined_steps)
 *
 * Every stage's parameters include its upstream stage's fingerprint, so redoing an upstream stage differently is
 * seen downstream as a parameter change (refused, or archived with --force) instead of silently mixing records.
 */
import type { RunConfig } from "../config/schema.js";
import type { Problem } from "../data/problem.js";
import type { Engine } from "../engines/engine.js";
import { PAPER_SYSTEM, CHAT_INSTRUCTION } from "../sampling/prompts.js";
import { sampleProblem } from "../sampling/sample-problem.js";
import { fingerprint, runStage, type RunStore, type StageResult } from "../store/index.js";
import { UserError } from "../util/errors.js";
import type { ProgressReporter } from "../util/progress.js";
import { refineStep, resolveEstimator, type RefineSettings } from "./refine.js";
import { selectAdaptiveDepth } from "./select.js";
import { joinSteps, splitSteps } from "./steps.js";
import {
  pairsTable,
  problemsTable,
  refinedResponsesTable,
  refinedStepsTable,
  samplesTable,
  selectionsTable,
  type RefinedStepRow,
  type SampleRow,
} from "./tables.js";

export const SAMPLE_STAGE = "sample";
export const SELECT_STAGE = "select";
export const REFINE_STAGE = "refine";

/** Bump when a stage's algorithm changes in a way that changes its stored records. */
const STAGE_VERSIONS = { sample: 1, select: 1, refine: 1 } as const;

export interface StageDriverOptions {
  store: RunStore;
  config: RunConfig;
  progress?: ProgressReporter;
  signal?: AbortSignal;
  /** Archive records made with other parameters instead of refusing (--force). */
  force?: boolean;
  resumeCommand?: string;
  handleSignals?: boolean;
}

function common(opts: StageDriverOptions) {
  return {
    store: opts.store,
    onParamsChange: opts.force ? ("archive" as const) : ("error" as const),
    progress: opts.progress,
    signal: opts.signal,
    resumeCommand: opts.resumeCommand,
    handleSignals: opts.handleSignals,
  };
}

function requireStage(store: RunStore, name: string, next: string): string {
  const info = store.stage(name);
  if (info === undefined || (info.status !== "complete" && info.status !== "complete-with-errors")) {
    const state = info === undefined ? "has not run" : `is ${info.status}`;
    throw new UserError(`${next}: stage "${name}" ${state} in run ${store.dir}; run \`tokensqueeze ${name} --run ${store.dir}\` (or \`squeeze\`) first`);
  }
  return info.paramsHash;
}

export function sampleStageParams(config: RunConfig): Record<string, unknown> {
  const s = config.sampling;
  return {
    stageVersion: STAGE_VERSIONS.sample,
    datasets: config.datasets,
    n: s.n,
    temperature: s.temperature,
    topP: s.topP,
    maxTokens: s.maxTokens,
    prompt: s.prompt,
    promptTemplate: fingerprint(s.prompt === "paper" ? PAPER_SYSTEM : CHAT_INSTRUCTION),
  };
}

/** Stage 1 input: N responses per training problem at the sampling temperature, graded and stored. */
export async function runSampleStage(opts: StageDriverOptions & { engine: Engine; problems: readonly Problem[] }): Promise<StageResult> {
  const { engine, config } = opts;
  const s = config.sampling;
  return runStage({
    ...common(opts),
    stage: SAMPLE_STAGE,
    params: sampleStageParams(config),
    items: opts.problems,
    keyOf: (p) => p.id,
    output: samplesTable,
    concurrency: config.engine.concurrency,
    // A problem whose prompt fills the context is an error the summary counts, never a sample.
    onItemError: "record",
    process: async (problem, ctx) => {
      const seed = ctx.seedFor("generate");
      const sampled = await sampleProblem(engine, problem, { n: s.n, temperature: s.temperature, topP: s.topP, maxTokens: s.maxTokens, prompt: s.prompt }, seed, { signal: ctx.signal });
      ctx.put(problemsTable, [
        { problemId: problem.id, question: problem.question, answer: problem.answer, level: problem.meta.level, prompt: sampled.prompt, promptTokens: sampled.promptTokens, seed },
      ]);
      return sampled.responses.map((r): SampleRow => ({ problemId: problem.id, ...r, level: problem.meta.level }));
    },
  });
}

/** Stage 1: adaptive-depth selection over every sampled problem (pure; no engine). */
export async function runSelectStage(opts: StageDriverOptions): Promise<StageResult> {
  const { store, config } = opts;
  const upstream = requireStage(store, SAMPLE_STAGE, SELECT_STAGE);
  const done = store.doneKeys(SAMPLE_STAGE);
  const problems = store.table(problemsTable).all().filter((p) => done.has(p.problemId));
  const samples = store.table(samplesTable);
  return runStage({
    ...common(opts),
    stage: SELECT_STAGE,
    params: { stageVersion: STAGE_VERSIONS.select, upstream, selection: config.selection },
    items: problems,
    keyOf: (p) => p.problemId,
    output: pairsTable,
    concurrency: 1,
    process: (problem, ctx) => {
      const rows = samples.all({ problemId: problem.problemId });
      const sel = selectAdaptiveDepth(rows, config.selection, ctx.rng);
      ctx.put(selectionsTable, [
        {
          problemId: problem.problemId,
          samples: sel.samples,
          correct: sel.correct,
          passRate: sel.passRate,
          ...(sel.quantile !== null ? { quantile: sel.quantile } : {}),
          k: sel.k,
          chosen: sel.chosen,
          rejectedPool: sel.rejectedPool,
          pairsBeforeCap: sel.pairsBeforeCap,
          pairs: sel.pairs.length,
          ...(sel.noPairs !== undefined ? { noPairs: sel.noPairs } : {}),
          level: problem.level,
        },
      ]);
      return sel.pairs.map((p) => ({ problemId: problem.problemId, ...p }));
    },
  });
}

/** The refinement settings of a configuration, with the estimator resolved against the engine. */
export async function refineSettingsOf(config: RunConfig, engine: Engine): Promise<RefineSettings> {
  const r = config.refinement;
  const { estimator, topK } = r.enabled ? await resolveEstimator(engine, r.estimator, r.topK) : { estimator: "exact" as const, topK: r.topK };
  return {
    candidates: r.candidates,
    temperature: r.temperature,
    epsilon: r.epsilon,
    window: r.window,
    lengthCapFactor: r.lengthCapFactor,
    reduction: r.reduction,
    topK,
    estimator,
    scoreBatch: r.scoreBatch,
    naive: !r.shortcuts,
  };
}

interface ChosenItem {
  problemId: string;
  sampleIndex: number;
}

/** The chosen responses that appear in at least one pair (only those become yw). */
export function chosenResponses(store: RunStore): ChosenItem[] {
  const seen = new Set<string>();
  const out: ChosenItem[] = [];
  for (const p of store.table(pairsTable).iterate()) {
    const key = `${p.problemId}\u0000${p.chosenIndex}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ problemId: p.problemId, sampleIndex: p.chosenIndex });
  }
  return out;
}

/**
 * Refinements another run already made of the same responses. A response's refinement depends only on the run's
 * seed, the response (problem, sample index, and so the sample stage) and the refinement settings — not on which
 * selection chose it — so the ablation's selection arms share one refinement of every response any of them chose.
 */
export interface RefineDonor {
  store: RunStore;
}

function refineParams(upstream: string, config: RunConfig, settings: RefineSettings): Record<string, unknown> {
  const enabled = config.refinement.enabled;
  return { stageVersion: STAGE_VERSIONS.refine, upstream, enabled, ...(enabled ? { settings } : {}) };
}

/** A stage's recorded parameters: the stage's own, under the run seed and the model that produced its records. */
interface RecordedParams {
  params?: Record<string, unknown>;
  seed?: unknown;
  model?: unknown;
}

/** The donors whose refinements are valid here: same samples, seed and model, same refinement settings. */
function usableDonors(store: RunStore, config: RunConfig, settings: RefineSettings, donors: readonly RefineDonor[]): RunStore[] {
  const mine = refineParams("", config, settings);
  const samples = store.stage(SAMPLE_STAGE);
  const sampled = samples?.params as RecordedParams | undefined;
  return donors
    .map((d) => d.store)
    .filter((d) => {
      const refine = d.stage(REFINE_STAGE);
      if (refine === undefined || samples === undefined || d.stage(SAMPLE_STAGE)?.paramsHash !== samples.paramsHash) return false;
      const theirs = refine.params as RecordedParams;
      if (fingerprint(theirs.seed ?? null) !== fingerprint(sampled?.seed ?? null) || fingerprint(theirs.model ?? null) !== fingerprint(sampled?.model ?? null)) return false;
      return fingerprint({ ...theirs.params, upstream: "" }) === fingerprint(mine);
    });
}

/** Stage 2: every step of every chosen response refined independently against the original prefix. */
export async function runRefineStage(opts: StageDriverOptions & { engine: Engine; reuse?: readonly RefineDonor[] }): Promise<StageResult> {
  const { store, config, engine } = opts;
  const upstream = requireStage(store, SELECT_STAGE, REFINE_STAGE);
  const settings = await refineSettingsOf(config, engine);
  const enabled = config.refinement.enabled;
  const problems = store.table(problemsTable);
  const samples = store.table(samplesTable);
  const items = chosenResponses(store);
  const donors = usableDonors(store, config, settings, opts.reuse ?? []);
  return runStage({
    ...common(opts),
    stage: REFINE_STAGE,
    params: refineParams(upstream, config, settings),
    items,
    keyOf: (c) => `${c.problemId}/${c.sampleIndex}`,
    output: refinedResponsesTable,
    concurrency: config.engine.concurrency,
    process: async (item, ctx) => {
      for (const donor of donors) {
        const done = donor.table(refinedResponsesTable).get(item);
        if (done === undefined) continue;
        ctx.put(refinedStepsTable, donor.table(refinedStepsTable).all(item));
        return [done];
      }
      const problem = problems.get({ problemId: item.problemId });
      const sample = samples.get({ problemId: item.problemId, sampleIndex: item.sampleIndex });
      if (problem === undefined || sample === undefined) throw new Error(`chosen response ${item.problemId}#${item.sampleIndex} is not in the run's samples`);
      const split = splitSteps(sample.text);
      const stepTokens = await Promise.all(split.steps.map(async (s) => (await engine.tokenize(s, { addSpecialTokens: false })).length));
      const before = stepTokens.reduce((a, b) => a + b, 0);
      if (!enabled || split.steps.length === 0) {
        return [{ ...item, text: sample.text, tokens: sample.tokens, originalTokens: sample.tokens, steps: split.steps.length, stepsChanged: 0, thinkingTokensBefore: before, thinkingTokensAfter: before }];
      }
      // Steps are independent (METHOD.md [decision]): all of them in flight at once keeps the engine's batches full.
      const refined = await Promise.all(
        split.steps.map((_, i) => refineStep(engine, { prompt: problem.prompt, split, stepIndex: i, seed: ctx.seedFor("step", i) }, settings, { signal: ctx.signal })),
      );
      const stepRows: RefinedStepRow[] = refined.map((r, i) => ({
        ...item,
        stepIndex: i,
        original: r.original,
        originalTokens: r.originalTokens,
        ...(r.accepted ? { accepted: r.accepted.text, acceptedTokens: r.accepted.tokens, acceptedDivergence: r.accepted.divergence } : {}),
        ...(r.bestDivergence !== undefined ? { bestDivergence: r.bestDivergence } : {}),
        candidates: r.candidates,
        eligible: r.eligible,
        distinct: r.distinct,
        scored: r.scored,
        window: r.window,
        generationPromptTokens: r.generationPromptTokens,
        generatedTokens: r.generatedTokens,
        scoredTokens: r.scoredTokens,
        estimator: settings.estimator,
      }));
      ctx.put(refinedStepsTable, stepRows);
      const newSteps = refined.map((r) => r.accepted?.text ?? r.original);
      const delta = refined.reduce((a, r) => a + (r.accepted ? r.accepted.tokens - r.originalTokens : 0), 0);
      return [
        {
          ...item,
          text: joinSteps(split, newSteps),
          tokens: sample.tokens + delta,
          originalTokens: sample.tokens,
          steps: split.steps.length,
          stepsChanged: refined.filter((r) => r.accepted).length,
          thinkingTokensBefore: before,
          thinkingTokensAfter: before + delta,
        },
      ];
    },
  });
}
