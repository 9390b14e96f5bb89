/**
 * Supervised fine-tuning objective: mean next-token negative log-likelihood over the target tokens of the step
 * (tokens whose loss mask is 1, e.g. only the response after a prompt). Also the per-sequence summed
 * log-probabilities stage 3's preference losses are built from.
 */
import * as tf from "@tensorflow/tfjs";
import type { PaddedBatch } from "../model/llama.js";
import type { Objective, Trainable } from "./objective.js";
import { collateTokenBatch, correctTargets, targetCountOf, targetLogprobs, type TokenSequence } from "./token-loss.js";

/** A causal language model as the trainer needs it. */
export interface CausalLm extends Trainable {
  /** Differentiable logits [B, T, V] for a right-padded batch (LlamaModel.forwardLogits). */
  forwardLogits(batch: PaddedBatch): tf.Tensor3D;
}

export interface SftObjectiveOptions {
  /** Token id written into padding; any valid id works since padded targets carry weight 0. */
  padId?: number;
}

export function sftObjective(model: CausalLm, opts: SftObjectiveOptions = {}): Objective<TokenSequence> {
  const padId = opts.padId ?? 0;
  return {
    name: "sft",
    weight: (batch) => batch.reduce((n, s) => n + targetCountOf(s), 0),
    tokens: (batch) => batch.reduce((n, s) => n + Math.max(0, s.ids.length - 1), 0),
    lossSum(batch) {
      const b = collateTokenBatch(batch, padId);
      const logits = model.forwardLogits(b.inputs);
      const logprobs = targetLogprobs(logits, b.targets);
      const sum = tf.neg(tf.sum(tf.mul(logprobs, b.weights))) as tf.Scalar;
      const correct = correctTargets(logits, b.targets, b.weights);
      return { sum, metrics: { accuracy: correct } };
    },
  };
}

/**
 * Σ_t log P(token_t | tokens_<t) over each sequence's masked target tokens: the log π(y|x) of a response given
 * its prompt when the mask covers the response. Returns [B]; differentiable when called inside a gradient tape,
 * and usable outside one (under tf.tidy) to precompute a frozen reference model's values.
 */
export function sequenceLogprobSums(model: Pick<CausalLm, "forwardLogits">, seqs: readonly TokenSequence[], padId = 0): tf.Tensor1D {
  return tf.tidy(() => {
    const b = collateTokenBatch(seqs, padId);
    const logprobs = targetLogprobs(model.forwardLogits(b.inputs), b.targets);
    return tf.sum(tf.mul(logprobs, b.weights), -1) as tf.Tensor1D;
  });
}
