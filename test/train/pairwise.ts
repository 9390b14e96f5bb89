/**
 * A minimal pairwise preference objective (sigmoid DPO with precomputed reference log-probs), written only against
 * the trainer's public interface — the shape stage 3's DPO-L + SFT loss takes. Also a replica module for the
 * data-parallel test (`createReplica`).
 */
import * as tf from "@tensorflow/tfjs";
import type { LlamaConfig } from "../../src/model/config.js";
import { LlamaModel } from "../../src/model/llama.js";
import type { LlamaWeights } from "../../src/model/weights.js";
import { llamaCausalLm, llamaParameters } from "../../src/train/llama.js";
import type { Objective } from "../../src/train/objective.js";
import type { Replica } from "../../src/train/parallel.js";
import { sequenceLogprobSums, type CausalLm } from "../../src/train/sft.js";
import type { TokenSequence } from "../../src/train/token-loss.js";

export interface PreferencePair {
  chosen: TokenSequence;
  rejected: TokenSequence;
  /** log π_ref of each response, computed once before training. */
  refChosen: number;
  refRejected: number;
}

export function pairwiseObjective(model: CausalLm, beta: number): Objective<PreferencePair> {
  return {
    name: `dpo-sigmoid(beta=${beta})`,
    weight: (batch) => batch.length,
    tokens: (batch) => batch.reduce((n, p) => n + p.chosen.ids.length + p.rejected.ids.length - 2, 0),
    lossSum(batch) {
      const n = batch.length;
      const logps = sequenceLogprobSums(model, [...batch.map((p) => p.chosen), ...batch.map((p) => p.rejected)]);
      const [chosen, rejected] = tf.split(logps, [n, n]);
      const ref = tf.tensor1d(batch.map((p) => p.refChosen - p.refRejected));
      const margin = tf.mul(tf.sub(tf.sub(chosen, rejected), ref), beta);
      // −log σ(m) = softplus(−m). Not tf.logSigmoid: its custom gradient reads its input from a closure, and the
      // gradient tape has disposed that intermediate by the time the backward pass runs (tfjs 4.22).
      const sum = tf.sum(tf.softplus(tf.neg(margin))) as tf.Scalar;
      return { sum, metrics: { preferred: tf.sum(tf.cast(tf.greater(margin, 0), "float32")) as tf.Scalar } };
    },
  };
}

/** Reference log-probs from a frozen copy of the starting model: plain forward passes, no gradient tape. */
export function withReference(model: CausalLm, pairs: Array<Omit<PreferencePair, "refChosen" | "refRejected">>): PreferencePair[] {
  const chosen = sequenceLogprobSums(model, pairs.map((p) => p.chosen));
  const rejected = sequenceLogprobSums(model, pairs.map((p) => p.rejected));
  const c = chosen.dataSync();
  const r = rejected.dataSync();
  chosen.dispose();
  rejected.dispose();
  return pairs.map((p, i) => ({ ...p, refChosen: c[i], refRejected: r[i] }));
}

export async function createReplica(args: { config: LlamaConfig; weights: LlamaWeights; beta: number }): Promise<Replica<PreferencePair>> {
  const model = LlamaModel.fromWeights(args.config, args.weights);
  return { params: llamaParameters(model), objective: pairwiseObjective(llamaCausalLm(model), args.beta) };
}
