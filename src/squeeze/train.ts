/**
 * Stage 3 on the embedded trainer: DPO-L + SFT (METHOD.md) on a squeeze run's pairs, in the run.
 *
 *   reference   item = a problem's pairs → reference_logps: log πref of both responses of each pair, computed once
 *               with the starting weights through the engine's scoring path (the prompt encoded once, each distinct
 *               response scored once)
 *   train       the embedded trainer (AdamW, warmup + decay, accumulation to the global batch, clipping,
 *               data-parallel threads) with a checkpoint in <run>/train/ that a killed run resumes from to the
 *               exact weights; every step's metrics go to train_steps; the model goes to <run>/model
 *
 * Pairs of a held-out share of the problems (training.heldOutFraction, chosen by a hash of the run seed and the
 * problem id) are never trained on: their implicit-reward accuracy and loss, before (from the reference values)
 * and after (the trained model scored like the reference), say whether the preference generalises.
 */
import { existsSync, mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { RunConfig } from "../config/schema.js";
import type { Engine } from "../engines/engine.js";
import { openEngine, resolveModelPath } from "../engines/factory.js";
import { loadModelFolder, saveModelFolder, trainingEosTokenId, type ModelFolder } from "../model/folder.js";
import { LlamaModel } from "../model/llama.js";
import { initTf } from "../model/tf.js";
import { defineTable, fingerprint, runStage, type RunStore, type StageResult } from "../store/index.js";
import { llamaParameters } from "../train/llama.js";
import { gradientSourceFor, siblingModule } from "../train/parallel.js";
import { pairLosses, preferenceObjective, type PairExample, type PreferenceSettings } from "../train/preference.js";
import type { PreferenceReplicaArgs } from "../train/preference-replica.js";
import { promptCompletion } from "../train/sft-data.js";
import { train, TrainerResumeError, type StepReport } from "../train/trainer.js";
import { stepShape, trainerConfigFrom } from "../train/trainer-config.js";
import { UserError } from "../util/errors.js";
import { deriveSeed, Rng } from "../util/rng.js";
import { pairTexts } from "./pairs.js";
import type { StageDriverOptions } from "./stages.js";

export const REFERENCE_STAGE = "reference";
export const TRAIN_DIR = "train";
export const MODEL_DIR = "model";
const CHECKPOINT_FILE = "checkpoint.safetensors";

export interface ReferenceRow {
  problemId: string;
  chosenIndex: number;
  rejectedIndex: number;
  refChosen: number;
  refRejected: number;
}

export const referenceLogpsTable = defineTable<ReferenceRow>()({
  name: "reference_logps",
  version: 1,
  key: ["problemId", "chosenIndex", "rejectedIndex"],
  columns: { problemId: "text", chosenIndex: "integer", rejectedIndex: "integer", refChosen: "real", refRejected: "real" },
  description: "stage 3: the frozen reference model's summed response log-probs per pair",
});

export interface TrainStepRow {
  step: number;
  loss: number;
  dpo: number;
  sft: number;
  margin: number;
  rewardAccuracy: number;
  chosenReward: number;
  rejectedReward: number;
  chosenLength: number;
  rejectedLength: number;
  lr: number;
  gradNorm: number;
  tokensPerSecond: number;
}

export const trainStepsTable = defineTable<TrainStepRow>()({
  name: "train_steps",
  version: 1,
  key: ["step"],
  columns: {
    step: "integer",
    loss: "real",
    dpo: "real",
    sft: "real",
    margin: "real",
    rewardAccuracy: "real",
    chosenReward: "real",
    rejectedReward: "real",
    chosenLength: "real",
    rejectedLength: "real",
    lr: "real",
    gradNorm: "real",
    tokensPerSecond: "real",
  },
  description: "stage 3: metrics of every optimizer step",
});

export interface TrainSummary {
  backend: "embedded";
  objective: string;
  /** Training pairs, held-out pairs, and pairs left out for exceeding training.maxLength. */
  pairs: number;
  heldOutPairs: number;
  tooLong: number;
  steps: number;
  resumedFromStep: number;
  globalBatchSize: number;
  lossFirst: number | null;
  lossLast: number | null;
  heldOutLossBefore: number | null;
  heldOutLossAfter: number | null;
  heldOutRewardAccuracy: number | null;
  /** The trained model folder (absolute). */
  model: string;
  seconds: number;
}

/** A pair as stage 3 trains on it: prompt + response token ids, the loss mask on the response. */
export interface TokenizedPair {
  problemId: string;
  chosenIndex: number;
  rejectedIndex: number;
  chosen: PairExample["chosen"];
  rejected: PairExample["rejected"];
}

/**
 * Whether a problem's pairs are held out (never trained on). The derived seed goes through the generator first:
 * FNV-1a's raw value barely changes with the last characters of an id (world-L1-train-000001, …002), so used
 * directly it held out whole runs of neighbouring problems (184 of 387 pairs at a 10% fraction).
 */
export function isHeldOut(seed: number, problemId: string, fraction: number): boolean {
  return new Rng(deriveSeed(seed, "held-out", problemId)).next() < fraction;
}

/** A run's pairs, tokenized; pairs with a sequence over `maxLength` tokens are left out and counted. */
export function tokenizePairs(store: RunStore, folder: ModelFolder, maxLength: number): { pairs: TokenizedPair[]; tooLong: number } {
  const eos = trainingEosTokenId(folder);
  const out: TokenizedPair[] = [];
  let tooLong = 0;
  for (const row of pairTexts(store)) {
    // Prompt and response are tokenized apart, as they were generated: the mask boundary is exact.
    const prompt = folder.tokenizer.encode(row.prompt, { addSpecialTokens: true });
    const seq = (text: string) => promptCompletion(prompt, [...folder.tokenizer.encode(text, { addSpecialTokens: false }), ...(eos === undefined ? [] : [eos])]);
    const chosen = seq(row.chosen);
    const rejected = seq(row.rejected);
    if (chosen.ids.length > maxLength || rejected.ids.length > maxLength) {
      tooLong++;
      continue;
    }
    out.push({ problemId: row.problemId, chosenIndex: row.chosenIndex, rejectedIndex: row.rejectedIndex, chosen, rejected });
  }
  return { pairs: out, tooLong };
}

export function preferenceSettingsOf(config: RunConfig): PreferenceSettings {
  const t = config.training;
  return { objective: t.objective, beta: t.beta, lambda: t.lambda, eta: t.eta };
}

export interface TrainStageOptions extends StageDriverOptions {
  /** Gradient threads (default: one per core, at most 8). */
  threads?: number;
  cwd?: string;
}

const key = (p: { problemId: string; chosenIndex: number; rejectedIndex: number }): string => `${p.problemId}\u0000${p.chosenIndex}\u0000${p.rejectedIndex}`;

/** Stage 3 end to end on the embedded trainer: reference log-probs, training, the model, held-out metrics. */
export async function runTrainStage(opts: TrainStageOptions): Promise<{ summary: TrainSummary; stages: StageResult[] }> {
  const t0 = performance.now();
  const { store, config } = opts;
  const t = config.training;
  const log = (m: string): void => opts.progress?.log(m);
  const folder = loadModelFolder(resolveModelPath(config.engine.model, opts.cwd ?? process.cwd()));
  const maxLength = Math.min(t.maxLength, folder.config.maxPositionEmbeddings);
  const { pairs, tooLong } = tokenizePairs(store, folder, maxLength);
  if (tooLong > 0) log(`warning: ${tooLong} pair(s) left out: longer than ${maxLength} tokens (training.maxLength / the model's context)`);
  const heldOut = pairs.filter((p) => isHeldOut(store.seed, p.problemId, t.heldOutFraction));
  const trainPairs = pairs.filter((p) => !isHeldOut(store.seed, p.problemId, t.heldOutFraction));
  if (trainPairs.length === 0) throw new UserError(`train: no training pairs in run ${store.dir} (${pairs.length} pairs, ${heldOut.length} held out)`);
  const settings = preferenceSettingsOf(config);

  await initTf("wasm");
  const model = LlamaModel.fromWeights(folder.config, folder.weights);
  try {
    // Reference log-probs of every pair (held out too) with the starting weights, before any update, through the
    // engine's scoring path (KV cache, and the engine the run config names). It and the trainer's forward agree
    // to ~1e-5 per token, so Δ starts within ~1e-4 of 0 rather than exactly at it. One item per problem: its
    // prompt is encoded once and each distinct response scored once (a problem's pairs share the chosen answer).
    const engine = await openEngine(config.engine, { cwd: opts.cwd });
    let reference: StageResult;
    try {
      reference = await runStage({
        store,
        stage: REFERENCE_STAGE,
        params: { stageVersion: 2, model: folder.weightsSha256, maxLength, pairs: fingerprint(pairs.map(key)) },
        onParamsChange: opts.force ? "archive" : "error",
        items: groupByPrompt(pairs),
        keyOf: (g) => g.key,
        output: referenceLogpsTable,
        concurrency: config.engine.concurrency,
        progress: opts.progress,
        signal: opts.signal,
        resumeCommand: opts.resumeCommand,
        handleSignals: opts.handleSignals,
        process: async (g, ctx) =>
          (await scorePairGroup(engine, g, ctx.signal)).map((r, i) => ({
            problemId: g.pairs[i].problemId,
            chosenIndex: g.pairs[i].chosenIndex,
            rejectedIndex: g.pairs[i].rejectedIndex,
            refChosen: r.chosen,
            refRejected: r.rejected,
          })),
      });
    } finally {
      await engine.close();
    }
    const refs = new Map<string, ReferenceRow>();
    for (const r of store.table(referenceLogpsTable).iterate()) refs.set(key(r), r);
    const example = (p: TokenizedPair): PairExample => {
      const r = refs.get(key(p));
      if (r === undefined) throw new Error(`reference log-probs missing for ${p.problemId} ${p.chosenIndex}/${p.rejectedIndex}`);
      return { chosen: p.chosen, rejected: p.rejected, refChosen: r.refChosen, refRejected: r.refRejected };
    };
    const examples = trainPairs.map(example);
    const heldOutExamples = heldOut.map(example);
    // Before any update the policy is the reference: the held-out loss at step 0 is the loss at Δ = 0.
    const heldOutLossBefore = heldOutExamples.length > 0 ? pairMetrics(heldOutExamples, heldOutExamples.map((e) => ({ chosen: e.refChosen, rejected: e.refRejected })), settings).loss : null;

    // The optimizer step: microBatchSize pairs per forward pass, accumulated to the global batch.
    const shape = stepShape(t, examples.length);
    const { micro, gradAccum, perStep, steps } = shape;
    const dir = join(store.dir, TRAIN_DIR);
    mkdirSync(dir, { recursive: true });
    const trainerConfig = trainerConfigFrom(t, shape, { seed: store.seed, checkpointPath: join(dir, CHECKPOINT_FILE) });
    const params = llamaParameters(model);
    const objective = preferenceObjective(folder.config, settings);
    const threads = Math.max(1, Math.min(opts.threads ?? Math.min(8, availableParallelism()), perStep));
    const replicaArgs: PreferenceReplicaArgs = { config: folder.config, weights: folder.weights, settings };
    const source = await gradientSourceFor({ params, objective, threads, replica: { module: siblingModule(new URL("../train/", import.meta.url).href, "preference-replica"), args: replicaArgs } });
    const resuming = existsSync(trainerConfig.checkpointPath as string);
    log(
      `train: ${examples.length} pairs (${heldOutExamples.length} held out), ${steps} steps of ${micro}×${gradAccum} pairs, lr ${t.learningRate}, ` +
        `${settings.objective} (β ${t.beta}, λ ${t.lambda}, η ${t.eta}), ${threads} thread(s)${resuming ? ", resuming from the checkpoint" : ""}`,
    );
    const stepsTable = store.table(trainStepsTable);
    const onStep = (r: StepReport): void => {
      const m = r.metrics;
      stepsTable.put(
        {
          step: r.step,
          loss: r.loss,
          dpo: m.dpo ?? 0,
          sft: m.sft ?? 0,
          margin: m.margin ?? 0,
          rewardAccuracy: m.rewardAccuracy ?? 0,
          chosenReward: m.chosenReward ?? 0,
          rejectedReward: m.rejectedReward ?? 0,
          chosenLength: m.chosenLength ?? 0,
          rejectedLength: m.rejectedLength ?? 0,
          lr: r.lr,
          gradNorm: r.gradNorm,
          tokensPerSecond: r.tokensPerSecond,
        },
        // A step redone after a kill between its checkpoint and this write has the same values.
        { onConflict: "replace" },
      );
      opts.progress?.update({ done: r.step, failed: 0, resumed: 0, total: r.totalSteps });
      if (r.step === 1 || r.step === r.totalSteps || r.step % Math.max(1, Math.floor(r.totalSteps / 20)) === 0) {
        log(`train: step ${r.step}/${r.totalSteps} loss ${r.loss.toFixed(4)} (dpo ${(m.dpo ?? 0).toFixed(4)}, sft ${(m.sft ?? 0).toFixed(4)}) reward acc ${(100 * (m.rewardAccuracy ?? 0)).toFixed(1)}% margin ${(m.margin ?? 0).toFixed(3)} lr ${r.lr.toExponential(2)}`);
      }
    };
    opts.progress?.stageStart({ stage: "train", total: steps });
    let result;
    try {
      result = await train({
        params,
        objective,
        examples,
        config: trainerConfig,
        resume: true,
        gradientSource: source,
        // Resuming on other pairs or from other starting weights would silently make another model.
        fingerprint: { model: folder.weightsSha256, pairs: fingerprint(trainPairs.map(key)), settings, maxLength },
        onStep,
      });
    } catch (err) {
      if (err instanceof TrainerResumeError) throw new UserError(`${err.message}\nThe checkpoint in ${dir} was written with other settings: remove it (or use a new run) to train afresh.`);
      throw err;
    } finally {
      await source.close();
    }
    opts.progress?.stageEnd({ done: steps, failed: 0, resumed: result.resumedFromStep, status: "complete" });
    const out = join(store.dir, MODEL_DIR);
    saveModelFolder(out, { config: folder.config, weights: model.getWeights(), tokenizer: folder.tokenizer.files, generationConfig: folder.generationConfig });
    // The trained model's held-out metrics, scored like the reference (the embedded engine on the saved folder).
    let after: { loss: number; rewardAccuracy: number } | null = null;
    if (heldOut.length > 0) {
      const trained = await openEngine({ ...config.engine, kind: "embedded", model: out }, { cwd: opts.cwd });
      try {
        const groups = groupByPrompt(heldOut);
        const scored = await Promise.all(groups.map((g) => scorePairGroup(trained, g, opts.signal)));
        after = pairMetrics(
          groups.flatMap((g) => g.pairs.map(example)),
          scored.flat(),
          settings,
        );
      } finally {
        await trained.close();
      }
    }
    const rows = stepsTable.all();
    return {
      stages: [reference],
      summary: {
        backend: "embedded",
        objective: settings.objective,
        pairs: examples.length,
        heldOutPairs: heldOutExamples.length,
        tooLong,
        steps: result.steps,
        resumedFromStep: result.resumedFromStep,
        globalBatchSize: perStep,
        lossFirst: rows[0]?.loss ?? null,
        lossLast: rows.at(-1)?.loss ?? null,
        heldOutLossBefore,
        heldOutLossAfter: after?.loss ?? null,
        heldOutRewardAccuracy: after?.rewardAccuracy ?? null,
        model: out,
        seconds: (performance.now() - t0) / 1000,
      },
    };
  } finally {
    model.dispose();
  }
}

/** A problem's pairs that share one prompt: scored together by `scorePairGroup`. */
interface PairGroup {
  key: string;
  pairs: TokenizedPair[];
}

function promptOf(p: TokenizedPair): number[] {
  return p.chosen.ids.slice(0, p.chosen.lossMask?.indexOf(1) ?? 1);
}

/** Groups pairs by problem and prompt tokens, in first-seen order. */
function groupByPrompt(pairs: readonly TokenizedPair[]): PairGroup[] {
  const groups = new Map<string, PairGroup>();
  for (const p of pairs) {
    const k = `${p.problemId}\u0000${promptOf(p).join(",")}`;
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = { key: `${p.problemId}\u0000${groups.size}`, pairs: [] }));
    g.pairs.push(p);
  }
  return [...groups.values()];
}

/**
 * Each pair's summed response log-probs (over the response tokens the trainer scores), with the prompt encoded
 * once and every distinct response scored once, in one engine request.
 */
async function scorePairGroup(engine: Engine, group: PairGroup, signal?: AbortSignal): Promise<Array<{ chosen: number; rejected: number }>> {
  const prompt = promptOf(group.pairs[0]);
  const index = new Map<string, number>();
  const responses: number[][] = [];
  const slot = (seq: TokenizedPair["chosen"]): number => {
    const ids = seq.ids.slice(prompt.length);
    const k = ids.join(",");
    let i = index.get(k);
    if (i === undefined) {
      index.set(k, (i = responses.length));
      responses.push(ids);
    }
    return i;
  };
  const slots = group.pairs.map((p) => [slot(p.chosen), slot(p.rejected)]);
  const res = await engine.score({ prefix: prompt, continuations: responses, distributions: "none" }, { signal });
  const sums = res.continuations.map((c) => c.logprobs.reduce((a, x) => a + x, 0));
  return slots.map(([c, r]) => ({ chosen: sums[c], rejected: sums[r] }));
}

/** Mean loss and implicit-reward accuracy of pairs, given the policy's summed log-probs of each pair's responses. */
function pairMetrics(pairs: readonly PairExample[], policy: ReadonlyArray<{ chosen: number; rejected: number }>, settings: PreferenceSettings): { loss: number; rewardAccuracy: number } {
  const sums = Float64Array.from([...policy.map((p) => p.chosen), ...policy.map((p) => p.rejected)]);
  const terms = pairLosses(pairs, sums, settings);
  const loss = terms.reduce((a, t) => a + t.loss, 0);
  const correct = terms.filter((t) => t.chosenReward > t.rejectedReward).length;
  return { loss: loss / pairs.length, rewardAccuracy: correct / pairs.length };
}
