/**
 * What the trainer optimises. An objective computes, for a micro-batch of examples, the gradient of its *summed*
 * loss divided by the total weight of the optimizer step (summed over its micro-batches). Because the normaliser
 * is known before any forward pass, k accumulated micro-batches give the same gradient as one batch k times
 * larger — for token-averaged SFT (weight = target tokens) and pair-averaged DPO (weight = pairs) alike.
 *
 * The Llama objectives (./sft.ts, ./preference.ts) are built by `llamaObjective` (./llama.ts) from a loss over
 * per-sequence summed token log-probabilities; the frozen reference model's log-probabilities are data
 * (precomputed once and stored on the examples), so the trainer never needs to know a reference model exists.
 */
import type { TokenSequence } from "./token-loss.js";

export interface MicroBatchResult {
  /** Σ of per-unit losses over the micro-batch (units: target tokens, pairs, ... as `weight` counts them). */
  lossSum: number;
  /** Summed statistics to report, normalised by the same weight as the loss (e.g. correct tokens → accuracy). */
  metrics: Record<string, number>;
}

export interface Objective<E> {
  readonly name: string;
  /** Normaliser contribution of a micro-batch, computed from the data alone (must be > 0 for a whole step). */
  weight(batch: readonly E[]): number;
  /** Tokens the forward pass processes for this micro-batch (for tokens/s). */
  tokens(batch: readonly E[]): number;
  /**
   * Adds ∂(lossSum / totalWeight)/∂θ of the micro-batch into `grads` (one array per parameter, in the order of
   * `weights`, the current parameter values) and returns the summed loss and metrics.
   */
  accumulate(weights: readonly Float32Array[], batch: readonly E[], totalWeight: number, grads: Float32Array[]): MicroBatchResult;
}

/**
 * A loss over the summed target log-probabilities of some token sequences: what `llamaObjective` turns into an
 * objective by adding the model's forward and backward passes.
 */
export interface SequenceLoss<E> {
  readonly name: string;
  weight(batch: readonly E[]): number;
  tokens(batch: readonly E[]): number;
  /** The sequences whose log-probabilities the loss reads, in a fixed order. */
  sequences(batch: readonly E[]): TokenSequence[];
  /**
   * From sums[i] = Σ log p over the target tokens of sequences(batch)[i] (and the number of targets the model
   * predicts right): the summed loss, its gradient with respect to each sum, and summed metrics.
   */
  loss(batch: readonly E[], sums: Float64Array, correct: number): MicroBatchResult & { dSums: Float64Array };
}
