/**
 * The embedded trainer's stage-3 objective (src/train/preference.ts, tfjs) computes exactly the loss of the pure
 * definition both trainers are tested against (src/train/preference-loss.ts), for every objective: the same
 * per-sequence log-prob sums in, the same mean loss, DPO term, SFT term, margin and reward accuracy out.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModelFolder } from "../../src/model/folder.js";
import { LlamaModel } from "../../src/model/llama.js";
import { initTf } from "../../src/model/tf.js";
import { llamaCausalLm } from "../../src/train/llama.js";
import { preferenceObjective, responseLength, type PairExample } from "../../src/train/preference.js";
import { batchLoss, type PreferenceObjective } from "../../src/train/preference-loss.js";
import { sequenceLogprobSums } from "../../src/train/sft.js";
import { promptCompletion } from "../../src/train/sft-data.js";
import { repoRoot } from "../helpers.js";

describe("preferenceObjective (tfjs) = batchLoss (pure)", () => {
  let model: LlamaModel;
  let pairs: PairExample[];
  beforeAll(async () => {
    await initTf("wasm");
    const folder = loadModelFolder(join(repoRoot, "test", "fixtures", "tiny-llama"));
    model = LlamaModel.fromWeights(folder.config, folder.weights);
    const enc = (t: string, special: boolean) => folder.tokenizer.encode(t, { addSpecialTokens: special });
    const texts: Array<[string, string, string]> = [
      ["What is 3 times 4?", " 3 × 4 = 12.", " Let me think. 3 times 4 is 3 + 3 + 3 + 3, which is 12."],
      ["Bo has 5 coins and finds 7 more.", " 12 coins.", " He had 5, then 7 more: 5 + 7 = 13 coins."],
      ["Compute 9 - 4.", " 5.", " 9 - 4 = 5, let me double check: 4 + 5 = 9. Yes, 5."],
    ];
    pairs = texts.map(([q, c, r], i) => ({
      chosen: promptCompletion(enc(q, true), enc(c, false)),
      rejected: promptCompletion(enc(q, true), enc(r, false)),
      // Reference values off the policy's, so Δ ≠ 0 and the margin terms matter.
      refChosen: -20 - 3 * i,
      refRejected: -35 + 2 * i,
    }));
  });

  for (const objective of ["dpo-l+sft", "dpo+sft", "dpo", "sft"] as PreferenceObjective[]) {
    it(objective, () => {
      const settings = { objective, beta: 0.3, lambda: 0.7, eta: 0.4 };
      const causal = llamaCausalLm(model);
      const out = tf.tidy(() => {
        const r = preferenceObjective(causal, settings).lossSum(pairs);
        const m = r.metrics!;
        return { loss: r.sum.dataSync()[0], dpo: m.dpo.dataSync()[0], sft: m.sft.dataSync()[0], margin: m.margin.dataSync()[0], acc: m.rewardAccuracy.dataSync()[0] };
      });
      const sums = sequenceLogprobSums(causal, [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)]);
      const v = sums.dataSync();
      sums.dispose();
      const expected = batchLoss(
        pairs.map((p, i) => ({
          policyChosen: v[i],
          policyRejected: v[pairs.length + i],
          refChosen: p.refChosen,
          refRejected: p.refRejected,
          chosenTokens: responseLength(p.chosen),
          rejectedTokens: responseLength(p.rejected),
        })),
        settings,
      );
      const n = pairs.length;
      expect(out.loss / n).toBeCloseTo(expected.loss, 5);
      expect(out.dpo / n).toBeCloseTo(expected.dpo, 5);
      expect(out.sft / n).toBeCloseTo(expected.sft, 5);
      expect(out.margin / n).toBeCloseTo(expected.margin, 5);
      expect(out.acc / n).toBeCloseTo(expected.rewardAccuracy, 10);
    });
  }
});
