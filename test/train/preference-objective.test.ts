/**
 * The embedded trainer's stage-3 objective (src/train/preference.ts: the pure loss of src/train/preference-loss.ts
 * over the hand-written forward/backward of src/train/llama-grad.ts) against an independent tfjs autograd of the
 * same loss through the differentiable LlamaModel forward, for every objective: the same loss and metrics, and the
 * same parameter gradients (≤ 1e-4 relative).
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModelFolder } from "../../src/model/folder.js";
import { LlamaModel, padBatch } from "../../src/model/llama.js";
import { initTf } from "../../src/model/tf.js";
import { llamaWeights } from "../../src/train/llama.js";
import { pairSequences, preferenceObjective, responseLength, type PairExample, type PreferenceSettings } from "../../src/train/preference.js";
import { batchLoss, type PreferenceObjective } from "../../src/train/preference-loss.js";
import { promptCompletion } from "../../src/train/sft-data.js";
import { repoRoot } from "../helpers.js";

/** Σ log p over each sequence's target tokens, differentiable (tfjs). */
function tfSums(model: LlamaModel, pairs: PairExample[]): tf.Tensor1D {
  const seqs = pairSequences(pairs);
  const batch = padBatch(seqs.map((s) => s.ids));
  const T = batch.seqLen;
  const mask = new Float32Array(seqs.length * (T - 1));
  seqs.forEach((s, b) => s.ids.forEach((_, t) => t > 0 && s.lossMask![t] && (mask[b * (T - 1) + t - 1] = 1)));
  return tf.sum(tf.mul(model.tokenLogProbs(batch), tf.tensor2d(mask, [seqs.length, T - 1])), -1) as tf.Tensor1D;
}

/** The METHOD.md stage-3 loss written in tfjs ops (mean over pairs). */
function tfLoss(sums: tf.Tensor1D, pairs: PairExample[], s: PreferenceSettings): tf.Scalar {
  const n = pairs.length;
  const pc = tf.slice(sums, [0], [n]);
  const pr = tf.slice(sums, [n], [n]);
  const lw = tf.tensor1d(pairs.map((p) => responseLength(p.chosen)));
  const ll = tf.tensor1d(pairs.map((p) => responseLength(p.rejected)));
  const ref = tf.tensor1d(pairs.map((p) => p.refChosen - p.refRejected));
  let z = tf.mul(s.beta, tf.sub(tf.sub(pc, pr), ref));
  if (s.objective === "dpo-l+sft") z = tf.sub(z, tf.mul(s.lambda, tf.log(tf.div(ll, lw))));
  const dpo = tf.softplus(tf.neg(z));
  const sft = tf.neg(tf.div(pc, lw));
  const loss = s.objective === "dpo" ? dpo : s.objective === "sft" ? sft : tf.add(tf.mul(s.eta, dpo), tf.mul(1 - s.eta, sft));
  return tf.mean(loss) as tf.Scalar;
}

describe("preferenceObjective (hand-written backward) = tfjs autograd of the same loss", () => {
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
      const n = pairs.length;
      const grads = model.variables.map((v) => new Float32Array(v.size));
      const out = preferenceObjective(model.config, settings).accumulate(llamaWeights(model), pairs, n, grads);

      const { value, grads: ref } = tf.variableGrads(() => tfLoss(tfSums(model, pairs), pairs, settings), model.variables);
      const v = tf.tidy(() => tfSums(model, pairs).dataSync());
      const expected = batchLoss(
        pairs.map((p, i) => ({ policyChosen: v[i], policyRejected: v[n + i], refChosen: p.refChosen, refRejected: p.refRejected, chosenTokens: responseLength(p.chosen), rejectedTokens: responseLength(p.rejected) })),
        settings,
      );
      expect(out.lossSum / n).toBeCloseTo(value.dataSync()[0], 5);
      expect(out.lossSum / n).toBeCloseTo(expected.loss, 5);
      expect(out.metrics.dpo / n).toBeCloseTo(expected.dpo, 5);
      expect(out.metrics.sft / n).toBeCloseTo(expected.sft, 5);
      expect(out.metrics.margin / n).toBeCloseTo(expected.margin, 5);
      expect(out.metrics.rewardAccuracy / n).toBeCloseTo(expected.rewardAccuracy, 10);
      model.variables.forEach((variable, i) => {
        const r = ref[variable.name].dataSync();
        let diff = 0;
        let norm = 0;
        r.forEach((x, j) => {
          diff += (grads[i][j] - x) ** 2;
          norm += x * x;
        });
        expect(Math.sqrt(diff / norm), model.specs[i].name).toBeLessThan(1e-4);
      });
      value.dispose();
      for (const t of Object.values(ref)) t.dispose();
    });
  }
});
