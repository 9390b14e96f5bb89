/**
 * The run config's `training` section as the embedded trainer's settings: the one mapping both training commands
 * (`train`, stage 3 on pairs; `train-sft`, SFT on a JSONL file) use, so their steps, accumulation and schedule
 * mean the same thing.
 */
import type { TrainingConfig } from "../config/schema.js";
import { defaultAdamWConfig } from "./adamw.js";
import type { TrainerConfig } from "./trainer.js";

export interface StepShape {
  /** Examples per forward pass (training.microBatchSize, at most the global batch). */
  micro: number;
  gradAccum: number;
  /** Examples per optimizer step: micro × gradAccum, the global batch rounded to a whole number of micro-batches. */
  perStep: number;
  steps: number;
}

/** Micro-batch, accumulation and step count for `examples` examples: training.steps, or training.epochs over them. */
export function stepShape(t: TrainingConfig, examples: number): StepShape {
  const micro = Math.min(t.microBatchSize, t.globalBatchSize);
  const gradAccum = Math.max(1, Math.round(t.globalBatchSize / micro));
  const perStep = micro * gradAccum;
  const steps = t.steps ?? Math.max(1, Math.ceil((t.epochs * examples) / perStep));
  return { micro, gradAccum, perStep, steps };
}

export function trainerConfigFrom(t: TrainingConfig, shape: StepShape, opts: { seed: number; checkpointPath: string }): TrainerConfig {
  return {
    steps: shape.steps,
    batchSize: shape.micro,
    gradAccum: shape.gradAccum,
    seed: opts.seed,
    lr: t.learningRate,
    // Warmup never takes the whole run: the last step always trains at the decayed rate.
    warmupSteps: Math.min(Math.floor(shape.steps * t.warmupRatio), Math.max(0, shape.steps - 1)),
    decay: t.decay,
    minLrRatio: t.minLrRatio,
    adamw: { ...defaultAdamWConfig, weightDecay: t.weightDecay },
    maxGradNorm: t.maxGradNorm,
    shuffle: true,
    checkpointPath: opts.checkpointPath,
    checkpointEvery: t.checkpointEvery,
  };
}
