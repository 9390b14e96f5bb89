/**
 * The hand-written forward/backward (src/train/llama-grad.ts) against tfjs autograd through the differentiable
 * LlamaModel forward (itself checked against transformers in test/model): the same per-token log-probs and the
 * same parameter gradients for an arbitrary per-token upstream gradient, on tied and untied models, with GQA,
 * ragged sequences, loss masks and a prompt prefix the sequences share.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { makeConfig, type LlamaConfig } from "../../src/model/config.js";
import { loadModelFolder } from "../../src/model/folder.js";
import { LlamaModel, padBatch } from "../../src/model/llama.js";
import { initTf } from "../../src/model/tf.js";
import { LlamaGrad, sharedTrunk } from "../../src/train/llama-grad.js";
import type { TokenSequence } from "../../src/train/token-loss.js";
import { Rng } from "../../src/util/rng.js";
import { repoRoot } from "../helpers.js";

beforeAll(async () => {
  await initTf("wasm");
});

function sequences(rng: Rng, V: number, lengths: number[]): TokenSequence[] {
  return lengths.map((n, k) => {
    const ids = Array.from({ length: n }, () => rng.int(0, V - 1));
    // Sequence 0 trains on every token; the others on a response after a prompt of k + 1 tokens.
    return k === 0 ? { ids } : { ids, lossMask: ids.map((_, t) => (t > k ? 1 : 0)) };
  });
}

/** The reference: tfjs autograd of Σ upstream · log p(target) through LlamaModel.tokenLogProbs. */
function autograd(model: LlamaModel, seqs: TokenSequence[], upstream: Float32Array[]): { logprobs: number[][]; grads: Float32Array[] } {
  const batch = padBatch(seqs.map((s) => s.ids));
  const T = batch.seqLen;
  const weight = new Float32Array(seqs.length * (T - 1));
  seqs.forEach((s, b) => upstream[b].forEach((u, t) => (weight[b * (T - 1) + t] = u)));
  let logprobs: number[][] = [];
  const { value, grads } = tf.variableGrads(() => {
    const lp = model.tokenLogProbs(batch);
    logprobs = (lp.arraySync() as number[][]).map((row, b) => row.slice(0, seqs[b].ids.length - 1));
    return tf.sum(tf.mul(lp, tf.tensor2d(weight, [seqs.length, T - 1]))) as tf.Scalar;
  }, model.variables);
  value.dispose();
  const out = model.variables.map((v) => Float32Array.from(grads[v.name].dataSync() as Float32Array));
  for (const g of Object.values(grads)) g.dispose();
  return { logprobs, grads: out };
}

function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-12);
}

function check(config: LlamaConfig, model: LlamaModel, seqs: TokenSequence[], rng: Rng): void {
  const weights = model.variables.map((v) => v.dataSync() as Float32Array);
  const net = new LlamaGrad(config);
  const fwd = net.forward(weights, seqs);
  // A different upstream gradient per token (zero where the token is not trained), like a real objective's.
  const upstream = seqs.map((s) => Float32Array.from({ length: s.ids.length - 1 }, (_, t) => (s.lossMask === undefined || s.lossMask[t + 1] ? rng.next() * 2 - 1 : 0)));
  const grads = model.variables.map((v) => new Float32Array(v.size));
  net.backward(upstream, grads);
  const ref = autograd(model, seqs, upstream);
  seqs.forEach((s, b) => {
    for (let t = 0; t < s.ids.length - 1; t++) {
      const trained = s.lossMask === undefined || s.lossMask[t + 1] === 1;
      expect(fwd.logprobs[b][t]).toBeCloseTo(trained ? ref.logprobs[b][t] : 0, 4);
    }
  });
  model.specs.forEach((spec, i) => {
    const err = relativeError(grads[i], ref.grads[i]);
    expect(err, `${spec.name}: relative error ${err}`).toBeLessThan(1e-4);
  });
  // Reproducible: the same pass again gives bit-identical gradients.
  const again = model.variables.map((v) => new Float32Array(v.size));
  net.forward(weights, seqs);
  net.backward(upstream, again);
  again.forEach((g, i) => expect(g).toEqual(grads[i]));
}

describe("LlamaGrad (hand-written backward) = tfjs autograd", () => {
  it("on the tiny-llama fixture (tied embeddings, GQA 4/2 heads)", () => {
    const folder = loadModelFolder(join(repoRoot, "test", "fixtures", "tiny-llama"));
    const model = LlamaModel.fromWeights(folder.config, folder.weights);
    const rng = new Rng(3);
    check(folder.config, model, sequences(rng, folder.config.vocabSize, [23, 9, 17, 2]), rng);
    model.dispose();
  });

  it("on a random untied model with 3 layers and as many KV heads as heads", () => {
    const config = makeConfig({ vocabSize: 50, hiddenSize: 32, numHiddenLayers: 3, numAttentionHeads: 2, numKeyValueHeads: 2, intermediateSize: 40, tieWordEmbeddings: false, rmsNormEps: 1e-5 });
    const model = LlamaModel.random(config, 5);
    const rng = new Rng(9);
    check(config, model, sequences(rng, config.vocabSize, [12, 30, 5]), rng);
    model.dispose();
  });

  it("shares the prompt every sequence starts with: the same log-probs bit for bit as alone, the same gradients", () => {
    const folder = loadModelFolder(join(repoRoot, "test", "fixtures", "tiny-llama"));
    const model = LlamaModel.fromWeights(folder.config, folder.weights);
    const V = folder.config.vocabSize;
    const rng = new Rng(11);
    const tokens = (n: number): number[] => Array.from({ length: n }, () => rng.int(0, V - 1));
    const prompt = tokens(10);
    // Responses after the 10-token prompt (trained from position 10); one sequence leaves the prompt after 7 tokens.
    const seq = (ids: number[], from: number): TokenSequence => ({ ids, lossMask: ids.map((_, t) => (t >= from ? 1 : 0)) });
    const shared = [8, 15, 3, 12].map((n) => seq([...prompt, ...tokens(n)], 10));
    const forked = [...shared.slice(0, 2), seq([...prompt.slice(0, 7), ...tokens(9)], 10)];
    expect(sharedTrunk(shared)).toBe(9); // up to the row before the first trained target
    expect(sharedTrunk(forked)).toBe(7); // the common prefix
    expect(sharedTrunk(shared.slice(0, 1))).toBe(0);
    expect(sharedTrunk([...shared, { ids: prompt }])).toBe(0); // trained on every token
    const weights = model.variables.map((v) => v.dataSync() as Float32Array);
    for (const seqs of [shared, forked]) {
      const net = new LlamaGrad(folder.config);
      const together = net.forward(weights, seqs).logprobs;
      net.release();
      seqs.forEach((s, k) => {
        const alone = net.forward(weights, [s]).logprobs[0];
        net.release();
        expect(together[k]).toEqual(alone);
      });
      check(folder.config, model, seqs, rng);
    }
    model.dispose();
  });

  it("counts correct argmax predictions; rejects ids outside the vocabulary and batches with nothing to predict", () => {
    const folder = loadModelFolder(join(repoRoot, "test", "fixtures", "tiny-llama"));
    const model = LlamaModel.fromWeights(folder.config, folder.weights);
    const weights = model.variables.map((v) => v.dataSync() as Float32Array);
    const seqs = sequences(new Rng(4), folder.config.vocabSize, [20, 11]);
    const predicted = tf.tidy(() => tf.argMax(model.forwardLogits(padBatch(seqs.map((s) => s.ids))), -1).arraySync() as number[][]);
    let expected = 0;
    seqs.forEach((s, b) => {
      for (let t = 0; t + 1 < s.ids.length; t++) if ((s.lossMask === undefined || s.lossMask[t + 1]) && predicted[b][t] === s.ids[t + 1]) expected++;
    });
    const net = new LlamaGrad(folder.config);
    expect(net.forward(weights, seqs).correct).toBe(expected);
    expect(() => net.forward(weights, [{ ids: [1, 2, folder.config.vocabSize] }])).toThrow(/outside the vocabulary/);
    expect(() => net.forward(weights, [{ ids: [1] }])).toThrow(/fewer than 2 tokens/);
    model.dispose();
  });
});
