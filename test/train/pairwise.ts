/**
 * A minimal pairwise preference objective (sigmoid DPO with precomputed reference log-probs), written only against
 * the trainer's public interface — a loss over per-sequence log-prob sums, the shape stage 3's DPO-L + SFT loss
 * takes. Also a replica module for the data-parallel test (`createReplica`).
 */
import type { LlamaConfig } from "../../src/model/config.js";
import { LlamaModel } from "../../src/model/llama.js";
import type { LlamaWeights } from "../../src/model/weights.js";
import { llamaObjective, llamaParameters, llamaWeights, sequenceLogprobSums } from "../../src/train/llama.js";
import { LlamaGrad } from "../../src/train/llama-grad.js";
import type { Objective } from "../../src/train/objective.js";
import type { Replica } from "../../src/train/parallel.js";
import type { TokenSequence } from "../../src/train/token-loss.js";

export interface PreferencePair {
  chosen: TokenSequence;
  rejected: TokenSequence;
  /** log π_ref of each response, computed once before training. */
  refChosen: number;
  refRejected: number;
}

export function pairwiseObjective(config: LlamaConfig, beta: number): Objective<PreferencePair> {
  return llamaObjective(new LlamaGrad(config), {
    name: `dpo-sigmoid(beta=${beta})`,
    weight: (batch) => batch.length,
    tokens: (batch) => batch.reduce((n, p) => n + p.chosen.ids.length + p.rejected.ids.length - 2, 0),
    sequences: (batch) => [...batch.map((p) => p.chosen), ...batch.map((p) => p.rejected)],
    loss(batch, sums) {
      const n = batch.length;
      const dSums = new Float64Array(2 * n);
      let lossSum = 0;
      let preferred = 0;
      batch.forEach((p, i) => {
        const margin = beta * (sums[i] - sums[n + i] - (p.refChosen - p.refRejected));
        // −log σ(m) = softplus(−m); d/dm = −σ(−m).
        lossSum += Math.max(-margin, 0) + Math.log1p(Math.exp(-Math.abs(margin)));
        const g = -1 / (1 + Math.exp(margin));
        dSums[i] = beta * g;
        dSums[n + i] = -beta * g;
        if (margin > 0) preferred++;
      });
      return { lossSum, metrics: { preferred }, dSums };
    },
  });
}

/** Reference log-probs from a frozen copy of the starting model: forward passes only. */
export function withReference(model: LlamaModel, pairs: Array<Omit<PreferencePair, "refChosen" | "refRejected">>): PreferencePair[] {
  const net = new LlamaGrad(model.config);
  const weights = llamaWeights(model);
  const c = sequenceLogprobSums(net, weights, pairs.map((p) => p.chosen));
  const r = sequenceLogprobSums(net, weights, pairs.map((p) => p.rejected));
  return pairs.map((p, i) => ({ ...p, refChosen: c[i], refRejected: r[i] }));
}

export async function createReplica(args: { config: LlamaConfig; weights: LlamaWeights; beta: number }): Promise<Replica<PreferencePair>> {
  const model = LlamaModel.fromWeights(args.config, args.weights);
  return { params: llamaParameters(model), objective: pairwiseObjective(args.config, args.beta) };
}
