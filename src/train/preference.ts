/**
 * Stage 3's training objective over preference pairs (METHOD.md): with π the summed response log-probabilities
 * under the policy and the frozen reference,
 *
 *   Δ = (πθ(yw) − πref(yw)) − (πθ(yl) − πref(yl))
 *   z = β·Δ − λ·log(ℓl / ℓw)              (dpo-l+sft; z = β·Δ for dpo and dpo+sft)
 *   L = η·softplus(−z) + (1 − η)·(−πθ(yw) / ℓw)   (dpo: softplus(−z); sft: −πθ(yw)/ℓw)
 *
 * ℓ is the number of response tokens the sequence is trained on (the response, its stop string and EOS), so the
 * SFT term is the per-token mean NLL of yw and both implementations (this one and the TRL trainer, which counts
 * its completion mask) measure lengths the same way. The reference log-probabilities are data, computed once
 * before training; the trainer never sees a reference model. Tested against the pure ./preference-loss.ts.
 */
import * as tf from "@tensorflow/tfjs";
import type { TrainingObjective } from "../config/schema.js";
import type { Objective } from "./objective.js";
import type { CausalLm } from "./sft.js";
import { collateTokenBatch, targetCountOf, targetLogprobs, type TokenSequence } from "./token-loss.js";

export interface PreferenceSettings {
  objective: TrainingObjective;
  beta: number;
  lambda: number;
  eta: number;
}

/** One training pair: prompt + chosen and prompt + rejected, masked on the responses, with reference values. */
export interface PairExample {
  chosen: TokenSequence;
  rejected: TokenSequence;
  /** log πref of the chosen and rejected responses (summed over their target tokens). */
  refChosen: number;
  refRejected: number;
}

/** ℓ of a sequence: its target (response) tokens. */
export function responseLength(s: TokenSequence): number {
  return targetCountOf(s);
}

/** Per-pair terms as tensors [B]: the loss and what is reported beside it. */
export function preferenceTerms(pc: tf.Tensor1D, pr: tf.Tensor1D, pairs: readonly PairExample[], s: PreferenceSettings) {
  const refC = tf.tensor1d(pairs.map((p) => p.refChosen));
  const refR = tf.tensor1d(pairs.map((p) => p.refRejected));
  const lw = tf.tensor1d(pairs.map((p) => responseLength(p.chosen)));
  const ll = tf.tensor1d(pairs.map((p) => responseLength(p.rejected)));
  const chosenReward = tf.mul(s.beta, tf.sub(pc, refC));
  const rejectedReward = tf.mul(s.beta, tf.sub(pr, refR));
  let margin = tf.sub(chosenReward, rejectedReward);
  if (s.objective === "dpo-l+sft") margin = tf.sub(margin, tf.mul(s.lambda, tf.log(tf.div(ll, lw))));
  const dpo = tf.softplus(tf.neg(margin));
  const sft = tf.neg(tf.div(pc, lw));
  let loss: tf.Tensor;
  switch (s.objective) {
    case "dpo":
      loss = dpo;
      break;
    case "sft":
      loss = sft;
      break;
    default:
      loss = tf.add(tf.mul(s.eta, dpo), tf.mul(1 - s.eta, sft));
  }
  return { loss: loss as tf.Tensor1D, dpo, sft, margin, chosenReward, rejectedReward };
}

export function preferenceObjective(model: CausalLm, settings: PreferenceSettings, opts: { padId?: number } = {}): Objective<PairExample> {
  const padId = opts.padId ?? 0;
  return {
    name: `preference:${settings.objective}`,
    weight: (batch) => batch.length,
    tokens: (batch) => batch.reduce((n, p) => n + Math.max(0, p.chosen.ids.length - 1) + Math.max(0, p.rejected.ids.length - 1), 0),
    lossSum(batch) {
      // Chosen and rejected sequences in one forward pass: [chosen…, rejected…].
      const b = collateTokenBatch([...batch.map((p) => p.chosen), ...batch.map((p) => p.rejected)], padId);
      const logprobs = targetLogprobs(model.forwardLogits(b.inputs), b.targets);
      const sums = tf.sum(tf.mul(logprobs, b.weights), -1) as tf.Tensor1D;
      const n = batch.length;
      const pc = tf.slice(sums, [0], [n]);
      const pr = tf.slice(sums, [n], [n]);
      const t = preferenceTerms(pc, pr, batch, settings);
      // Metrics are read after the tape and never differentiated.
      const stop = (x: tf.Tensor): tf.Scalar => tf.sum(x);
      return {
        sum: tf.sum(t.loss) as tf.Scalar,
        metrics: {
          dpo: stop(t.dpo),
          sft: stop(t.sft),
          margin: stop(t.margin),
          chosenReward: stop(t.chosenReward),
          rejectedReward: stop(t.rejectedReward),
          rewardAccuracy: stop(tf.cast(tf.greater(t.chosenReward, t.rejectedReward), "float32")),
          chosenLength: tf.scalar(batch.reduce((a, p) => a + responseLength(p.chosen), 0)),
          rejectedLength: tf.scalar(batch.reduce((a, p) => a + responseLength(p.rejected), 0)),
        },
      };
    },
  };
}
