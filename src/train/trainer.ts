/**
 * The supervised training loop of the embedded engine: deterministic data order, gradient accumulation,
 * global-norm clipping, AdamW with warmup + decay, and checkpoints that resume to bit-identical weights.
 *
 * It is generic over the example type and the objective (see objective.ts): plain SFT today, stage 3's
 * DPO-L + SFT tomorrow, with no change here.
 */
import * as tf from "@tensorflow/tfjs";
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { AdamW, defaultAdamWConfig, type AdamWConfig, type NamedParameter } from "./adamw.js";
import { checkpointFormatVersion, readCheckpoint, removeStaleTemporaries, writeCheckpointAtomic, type CheckpointState } from "./checkpoint.js";
import { clipByGlobalNorm } from "./clip.js";
import { DataOrder } from "./data-order.js";
import { LocalGradientSource, type GradientSource } from "./gradients.js";
import type { Objective } from "./objective.js";
import { learningRateAt, validateSchedule, type DecayKind, type LrSchedule } from "./schedule.js";

export interface TrainerConfig {
  /** Optimizer steps in the whole run (a resumed run continues to this number). */
  steps: number;
  /** Examples per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimizer step: each step consumes batchSize × gradAccum examples. */
  gradAccum: number;
  /** Seeds the data order; nothing else in the loop is random. */
  seed: number;
  lr: number;
  warmupSteps: number;
  decay: DecayKind;
  minLrRatio: number;
  adamw: AdamWConfig;
  /** Global gradient-norm limit; 0 disables clipping. */
  maxGradNorm: number;
  /** Shuffle each epoch (false keeps the given order, epoch after epoch). */
  shuffle: boolean;
  /** Checkpoint file (written atomically); undefined disables checkpoints. */
  checkpointPath?: string;
  /** Write a checkpoint every this many steps, and always after the last. */
  checkpointEvery: number;
}

export const defaultTrainerConfig: Omit<TrainerConfig, "steps"> = {
  batchSize: 8,
  gradAccum: 1,
  seed: 0,
  lr: 1e-3,
  warmupSteps: 0,
  decay: "cosine",
  minLrRatio: 0.1,
  adamw: defaultAdamWConfig,
  maxGradNorm: 1.0,
  shuffle: true,
  checkpointEvery: 50,
};

export interface StepReport {
  step: number;
  totalSteps: number;
  /** Step loss: Σ lossSum / Σ weight. */
  loss: number;
  /** Each metric sum divided by the step's weight (e.g. token accuracy). */
  metrics: Record<string, number>;
  lr: number;
  /** Gradient norm before clipping. */
  gradNorm: number;
  tokens: number;
  /** Throughput of this session so far. */
  tokensPerSecond: number;
  elapsedMs: number;
  etaMs: number;
  checkpointed: boolean;
}

export interface TrainOptions<E> {
  params: readonly NamedParameter[];
  objective: Objective<E>;
  examples: readonly E[];
  config: TrainerConfig;
  /** Continue from `config.checkpointPath` when it exists (otherwise start fresh). */
  resume?: boolean;
  /**
   * Describes the data and anything else a resume must agree with (e.g. a hash of the examples, the model's
   * identity); a checkpoint written under another fingerprint is refused.
   */
  fingerprint?: Record<string, unknown>;
  /** Where gradients are computed; defaults to this thread. */
  gradientSource?: GradientSource<E>;
  onStep?: (report: StepReport) => void;
}

export interface TrainResult {
  /** Steps completed in total (equals config.steps). */
  steps: number;
  /** The step the run resumed from (0 for a fresh run). */
  resumedFromStep: number;
  history: StepReport[];
}

export class TrainerResumeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainerResumeError";
  }
}

export function validateTrainerConfig(config: TrainerConfig): void {
  const positiveInt = (name: string, v: number): void => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt("steps", config.steps);
  positiveInt("batchSize", config.batchSize);
  positiveInt("gradAccum", config.gradAccum);
  positiveInt("checkpointEvery", config.checkpointEvery);
  if (!Number.isInteger(config.seed)) throw new Error(`seed must be an integer, got ${config.seed}`);
  if (!(config.maxGradNorm >= 0)) throw new Error(`maxGradNorm must be ≥ 0, got ${config.maxGradNorm}`);
  validateSchedule(scheduleOf(config));
}

function scheduleOf(config: TrainerConfig): LrSchedule {
  return { lr: config.lr, warmupSteps: config.warmupSteps, totalSteps: config.steps, decay: config.decay, minLrRatio: config.minLrRatio };
}

/** The settings a resumed run must share with the run that wrote the checkpoint. */
function resumeFingerprint(config: TrainerConfig, objectiveName: string, exampleCount: number, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    objective: objectiveName,
    examples: exampleCount,
    steps: config.steps,
    batchSize: config.batchSize,
    gradAccum: config.gradAccum,
    seed: config.seed,
    lr: config.lr,
    warmupSteps: config.warmupSteps,
    decay: config.decay,
    minLrRatio: config.minLrRatio,
    adamw: config.adamw,
    maxGradNorm: config.maxGradNorm,
    shuffle: config.shuffle,
    ...extra,
  };
}

function fingerprintDifferences(saved: Record<string, unknown>, current: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(saved), ...Object.keys(current)]);
  const diffs: string[] = [];
  for (const k of [...keys].sort()) {
    const a = JSON.stringify(saved[k]);
    const b = JSON.stringify(current[k]);
    if (a !== b) diffs.push(`${k}: checkpoint ${a ?? "(none)"}, now ${b ?? "(none)"}`);
  }
  return diffs;
}

export async function train<E>(opts: TrainOptions<E>): Promise<TrainResult> {
  const { params, objective, examples, config } = opts;
  validateTrainerConfig(config);
  if (examples.length === 0) throw new Error("train: no examples");
  const fingerprint = resumeFingerprint(config, objective.name, examples.length, opts.fingerprint ?? {});
  const optimizer = new AdamW(params, config.adamw);
  const order = new DataOrder(examples.length, config.seed, config.shuffle);
  const source = opts.gradientSource ?? new LocalGradientSource(params, objective);
  const schedule = scheduleOf(config);
  const perStep = config.batchSize * config.gradAccum;

  let step = 0;
  let examplesSeen = 0;
  if (config.checkpointPath !== undefined) {
    mkdirSync(dirname(config.checkpointPath), { recursive: true });
    removeStaleTemporaries(config.checkpointPath);
  }
  if (opts.resume && config.checkpointPath !== undefined && existsSync(config.checkpointPath)) {
    const ckpt = readCheckpoint(config.checkpointPath);
    const diffs = fingerprintDifferences(ckpt.state.fingerprint, fingerprint);
    if (diffs.length > 0) {
      throw new TrainerResumeError(`checkpoint ${config.checkpointPath} was written by a different run (${diffs.join("; ")}); start a fresh run without --resume or restore the settings`);
    }
    restoreParameters(params, ckpt.tensors.params, config.checkpointPath);
    optimizer.importState({ step: ckpt.state.optimizerStep, m: ckpt.tensors.adamM, v: ckpt.tensors.adamV });
    step = ckpt.state.step;
    examplesSeen = ckpt.state.examplesSeen;
  }
  const resumedFromStep = step;

  const history: StepReport[] = [];
  const started = performance.now();
  let sessionTokens = 0;
  try {
    while (step < config.steps) {
      const stepNumber = step + 1;
      const indices = order.slice(examplesSeen, perStep);
      const micro: E[][] = [];
      for (let k = 0; k < config.gradAccum; k++) {
        micro.push(indices.slice(k * config.batchSize, (k + 1) * config.batchSize).map((i) => examples[i]));
      }
      const totalWeight = micro.reduce((w, mb) => w + objective.weight(mb), 0);
      const result = await source.compute(micro, totalWeight);
      const clipped = clipByGlobalNorm(result.grads, config.maxGradNorm);
      const lr = learningRateAt(schedule, stepNumber);
      optimizer.apply(clipped.grads, lr);
      for (const g of clipped.grads.values()) g.dispose();
      step = stepNumber;
      examplesSeen += perStep;

      const checkpointed = config.checkpointPath !== undefined && (step % config.checkpointEvery === 0 || step === config.steps);
      const loss = result.lossSum / totalWeight;
      if (checkpointed) {
        const state: CheckpointState = {
          format: checkpointFormatVersion,
          step,
          examplesSeen,
          seed: config.seed,
          optimizerStep: optimizer.step,
          fingerprint,
          extras: { loss },
        };
        writeCheckpoint(config.checkpointPath!, params, optimizer, state);
      }
      sessionTokens += result.tokens;
      const elapsedMs = performance.now() - started;
      const sessionSteps = step - resumedFromStep;
      const metrics: Record<string, number> = {};
      for (const [k, v] of Object.entries(result.metricSums)) metrics[k] = v / totalWeight;
      const report: StepReport = {
        step,
        totalSteps: config.steps,
        loss,
        metrics,
        lr,
        gradNorm: clipped.norm,
        tokens: result.tokens,
        tokensPerSecond: sessionTokens / (elapsedMs / 1000),
        elapsedMs,
        etaMs: (elapsedMs / sessionSteps) * (config.steps - step),
        checkpointed,
      };
      history.push(report);
      opts.onStep?.(report);
    }
  } finally {
    optimizer.dispose();
    if (opts.gradientSource === undefined) await source.close();
  }
  return { steps: step, resumedFromStep, history };
}

function restoreParameters(params: readonly NamedParameter[], saved: Map<string, { shape: number[]; data: Float32Array }>, path: string): void {
  const names = new Set(params.map((p) => p.name));
  for (const name of saved.keys()) {
    if (!names.has(name)) throw new TrainerResumeError(`checkpoint ${path} holds parameter ${name}, which the model does not have`);
  }
  for (const p of params) {
    const s = saved.get(p.name);
    if (s === undefined) throw new TrainerResumeError(`checkpoint ${path} lacks parameter ${p.name}`);
    if (s.shape.join(",") !== p.variable.shape.join(",")) {
      throw new TrainerResumeError(`checkpoint ${path}: parameter ${p.name} has shape [${s.shape.join(", ")}], the model [${p.variable.shape.join(", ")}]`);
    }
    tf.tidy(() => p.variable.assign(tf.tensor(s.data, p.variable.shape, "float32")));
  }
}

function writeCheckpoint(path: string, params: readonly NamedParameter[], optimizer: AdamW, state: CheckpointState): void {
  const moments = optimizer.exportState();
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const p of params) tensors.set(p.name, { shape: p.variable.shape.slice(), data: Float32Array.from(p.variable.dataSync()) });
  writeCheckpointAtomic(path, { state, tensors: { params: tensors, adamM: moments.m, adamV: moments.v } });
}

/** A compact one-line progress report for stderr. */
export function formatStepReport(r: StepReport): string {
  const metrics = Object.entries(r.metrics)
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join(" ");
  return (
    `step ${r.step}/${r.totalSteps} loss ${r.loss.toFixed(4)}${metrics ? " " + metrics : ""} lr ${r.lr.toExponential(2)} ` +
    `|g| ${r.gradNorm.toFixed(3)} ${Math.round(r.tokensPerSecond)} tok/s eta ${formatDuration(r.etaMs)}${r.checkpointed ? " [ckpt]" : ""}`
  );
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** A progress printer that writes at most every `intervalMs` (and always the last step) to a stream. */
export function throttledProgress(write: (line: string) => void, intervalMs = 2000): (r: StepReport) => void {
  let last = -Infinity;
  return (r) => {
    const now = performance.now();
    if (now - last >= intervalMs || r.step === r.totalSteps) {
      last = now;
      write(formatStepReport(r) + "\n");
    }
  };
}
