/**
 * Supervised fine-tuning objective: mean next-token negative log-likelihood over the target tokens of the step
 * (tokens whose loss mask is 1, e.g. only the response after a prompt).
 */
import type { LlamaConfig } from "../model/config.js";
import { llamaObjective } from "./llama.js";
import { LlamaGrad } from "./llama-grad.js";
import type { Objective, SequenceLoss } from "./objective.js";
import { targetCountOf, type TokenSequence } from "./token-loss.js";

/** −Σ log p over every target token; reports the number of targets predicted right (→ token accuracy). */
export const sftLoss: SequenceLoss<TokenSequence> = {
  name: "sft",
  weight: (batch) => batch.reduce((n, s) => n + targetCountOf(s), 0),
  tokens: (batch) => batch.reduce((n, s) => n + Math.max(0, s.ids.length - 1), 0),
  sequences: (batch) => [...batch],
  loss(batch, sums, correct) {
    let lossSum = 0;
    for (const x of sums) lossSum -= x;
    return { lossSum, metrics: { accuracy: correct }, dSums: new Float64Array(sums.length).fill(-1) };
  },
};

export function sftObjective(config: LlamaConfig): Objective<TokenSequence> {
  return llamaObjective(new LlamaGrad(config), sftLoss);
}
