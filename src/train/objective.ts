/**
 * What the trainer optimises. An objective turns a micro-batch of examples into a differentiable *summed* loss;
 * the trainer divides by the total weight of the optimizer step (summed over its micro-batches). Because the
 * normaliser is known before any forward pass, k accumulated micro-batches give the same gradient as one batch
 * k times larger — for token-averaged SFT (weight = target tokens) and pair-averaged DPO (weight = pairs) alike.
 *
 * Stage 3 plugs in its DPO-L + SFT loss by implementing this interface over its own example type; the frozen
 * reference model's log-probabilities are data (precomputed once and stored on the examples), so the trainer
 * never needs to know a reference model exists.
 */
import type * as tf from "@tensorflow/tfjs";
import type { NamedParameter } from "./adamw.js";

export interface LossOutput {
  /** Σ of per-unit losses over the micro-batch (units: target tokens, pairs, ... as `weight` counts them). */
  sum: tf.Scalar;
  /**
   * Summed statistics to report, normalised by the same weight as the loss (e.g. correct tokens → accuracy).
   * The trainer keeps and disposes them; they are never differentiated.
   */
  metrics?: Record<string, tf.Scalar>;
}

export interface Objective<E> {
  readonly name: string;
  /** Normaliser contribution of a micro-batch, computed from the data alone (must be > 0 for a whole step). */
  weight(batch: readonly E[]): number;
  /** Tokens the forward pass processes for this micro-batch (for tokens/s). */
  tokens(batch: readonly E[]): number;
  /** The differentiable summed loss; called inside the gradient tape, so it must use the trainable variables. */
  lossSum(batch: readonly E[]): LossOutput;
}

/** The trainable side of a model: its parameters under stable names (checkpoints and the optimizer use them). */
export interface Trainable {
  parameters(): NamedParameter[];
}
