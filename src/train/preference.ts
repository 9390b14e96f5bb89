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
 * its completion mask) measure lengths the same way. The loss and its gradient are the pure functions of
 * ./preference-loss.ts (tested against the shared vectors); the model's passes are ./llama-grad.ts. The reference
 * log-probabilities are data, computed once before training; the trainer never sees a reference model.
 */
import type { TrainingObjective } from "../config/schema.js";
import type { LlamaConfig } from "../model/config.js";
import { llamaObjective } from "./llama.js";
import { LlamaGrad } from "./llama-grad.js";
import type { Objective, SequenceLoss } from "./objective.js";
import { pairLoss, type PairLoss } from "./preference-loss.js";
import { targetCountOf, type TokenSequence } from "./token-loss.js";

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

/** The sequences of a batch of pairs in the order the loss reads them: [chosen…, rejected…]. */
export function pairSequences(batch: readonly PairExample[]): TokenSequence[] {
  return [...batch.map((p) => p.chosen), ...batch.map((p) => p.rejected)];
}

/** Each pair's loss terms from the policy's summed log-probs laid out as `pairSequences` orders them. */
export function pairLosses(batch: readonly PairExample[], sums: Float64Array, s: PreferenceSettings): PairLoss[] {
  const n = batch.length;
  return batch.map((p, i) =>
    pairLoss(
      { policyChosen: sums[i], policyRejected: sums[n + i], refChosen: p.refChosen, refRejected: p.refRejected, chosenTokens: responseLength(p.chosen), rejectedTokens: responseLength(p.rejected) },
      s,
    ),
  );
}

export function preferenceLoss(settings: PreferenceSettings): SequenceLoss<PairExample> {
  return {
    name: `preference:${settings.objective}`,
    weight: (batch) => batch.length,
    tokens: (batch) => batch.reduce((n, p) => n + Math.max(0, p.chosen.ids.length - 1) + Math.max(0, p.rejected.ids.length - 1), 0),
    sequences: pairSequences,
    loss(batch, sums) {
      const n = batch.length;
      const terms = pairLosses(batch, sums, settings);
      const dSums = new Float64Array(2 * n);
      const metrics = { dpo: 0, sft: 0, margin: 0, chosenReward: 0, rejectedReward: 0, rewardAccuracy: 0, chosenLength: 0, rejectedLength: 0 };
      let lossSum = 0;
      terms.forEach((t, i) => {
        lossSum += t.loss;
        dSums[i] = t.dPolicyChosen;
        dSums[n + i] = t.dPolicyRejected;
        metrics.dpo += t.dpo;
        metrics.sft += t.sft;
        metrics.margin += t.margin;
        metrics.chosenReward += t.chosenReward;
        metrics.rejectedReward += t.rejectedReward;
        if (t.chosenReward > t.rejectedReward) metrics.rewardAccuracy++;
        metrics.chosenLength += responseLength(batch[i].chosen);
        metrics.rejectedLength += responseLength(batch[i].rejected);
      });
      return { lossSum, metrics, dSums };
    },
  };
}

export function preferenceObjective(config: LlamaConfig, settings: PreferenceSettings): Objective<PairExample> {
  return llamaObjective(new LlamaGrad(config), preferenceLoss(settings));
}
