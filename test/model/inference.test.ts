/**
 * The KV-cache path against the differentiable forward: incremental decoding and prefix forks give the same
 * logits (≤ 1e-5); a row's result never depends on which other rows share its step (exact equality); scoring
 * equals a full forward over prefix + continuation.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { makeConfig } from "../../src/model/config.js";
import { InferenceModel } from "../../src/model/inference.js";
import { LlamaModel, padBatch } from "../../src/model/llama.js";
import { logSoftmax } from "../../src/model/sampler.js";
import { scoreContinuations } from "../../src/model/score.js";
import { initTf, tf } from "../../src/model/tf.js";
import { randomWeights } from "../../src/model/weights.js";
import { Rng } from "../../src/util/rng.js";
import { maxAbsDiff } from "./reference.js";

const V = 211;
const variants = [
  { name: "GQA, untied", cfg: makeConfig({ vocabSize: V, hiddenSize: 48, numHiddenLayers: 3, numAttentionHeads: 6, numKeyValueHeads: 2, intermediateSize: 80, ropeTheta: 700 }) },
  { name: "MHA, tied", cfg: makeConfig({ vocabSize: V, hiddenSize: 32, numHiddenLayers: 2, numAttentionHeads: 4, intermediateSize: 64, tieWordEmbeddings: true }) },
  // The attention kernels are specialised per head width: cover the widths of the benchmark and built-in models too.
  { name: "GQA, head width 16", cfg: makeConfig({ vocabSize: V, hiddenSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, intermediateSize: 96, tieWordEmbeddings: true }) },
  { name: "GQA, head width 32", cfg: makeConfig({ vocabSize: V, hiddenSize: 128, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, intermediateSize: 160, tieWordEmbeddings: true }) },
  // Qwen: the biases and per-head norms on the kernel path, and on the plain-JavaScript path (head width 6).
  { name: "Qwen2, q/k/v biases", cfg: makeConfig({ architecture: "qwen2", vocabSize: V, hiddenSize: 48, numHiddenLayers: 2, numAttentionHeads: 6, numKeyValueHeads: 2, intermediateSize: 80 }) },
  { name: "Qwen3 with attention_bias, head width 16", cfg: makeConfig({ architecture: "qwen3", vocabSize: V, hiddenSize: 32, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 16, intermediateSize: 64, qkvBias: true, oBias: true }) },
  { name: "Qwen3 with attention_bias, head width 6 (no kernels)", cfg: makeConfig({ architecture: "qwen3", vocabSize: V, hiddenSize: 36, numHiddenLayers: 2, numAttentionHeads: 6, numKeyValueHeads: 3, intermediateSize: 40, qkvBias: true, oBias: true }) },
];

function randomTokens(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.int(0, V - 1));
}

beforeAll(async () => {
  await initTf("wasm");
});

describe.each(variants)("KV-cache inference ($name)", ({ cfg }) => {
  const weights = randomWeights(cfg, 11, { std: 0.1, randomNorms: true });

  it("decoding token by token gives the full forward's logits (≤ 1e-5)", () => {
    const seq = randomTokens(new Rng(1), 40);
    const full = LlamaModel.fromWeights(cfg, weights).forwardLogits(padBatch([seq])).dataSync();
    const inf = new InferenceModel(cfg, weights);
    const cache = inf.newCache(2); // grows on the way
    const parts = [inf.forward([{ cache, tokens: seq.slice(0, 7), logits: "all" }])[0]];
    for (let i = 7; i < seq.length; i++) parts.push(inf.forward([{ cache, tokens: [seq[i]], logits: "last" }])[0]);
    const got = new Float32Array(seq.length * V);
    let off = 0;
    for (const p of parts) {
      got.set(p, off);
      off += p.length;
    }
    expect(off).toBe(seq.length * V);
    expect(maxAbsDiff(got, full)).toBeLessThanOrEqual(1e-5);
  });

  it("a row's logits are bit-identical alone and in a mixed batch (prefill + decode rows, forks)", () => {
    const inf = new InferenceModel(cfg, weights);
    const rng = new Rng(2);
    // 300 rows: more than any GEMM tile, so the tiling of a large step differs from a single row's.
    const prompts = Array.from({ length: 300 }, (_, i) => randomTokens(rng, 1 + (i % 9)));
    const next = randomTokens(rng, 300);
    // Alone: each prompt, then one more token, on its own.
    const alone = prompts.map((p, i) => {
      const c = inf.newCache();
      inf.forward([{ cache: c, tokens: p, logits: "last" }]);
      return inf.forward([{ cache: c.fork(), tokens: [next[i]], logits: "last" }])[0];
    });
    // Together: all prompts in one step, then all next tokens in one step.
    const caches = prompts.map(() => inf.newCache());
    inf.forward(prompts.map((p, i) => ({ cache: caches[i], tokens: p, logits: "last" as const })));
    const together = inf.forward(caches.map((c, i) => ({ cache: c.fork(), tokens: [next[i]], logits: "last" as const })));
    prompts.forEach((_, i) => expect(Array.from(together[i]), `row ${i}`).toEqual(Array.from(alone[i])));
  });

  it("score() equals a full forward over prefix + continuation, for every continuation", () => {
    const inf = new InferenceModel(cfg, weights);
    const model = LlamaModel.fromWeights(cfg, weights);
    const rng = new Rng(3);
    const prefix = randomTokens(rng, 12);
    const conts = [randomTokens(rng, 5), randomTokens(rng, 1), randomTokens(rng, 9), []];
    const scored = scoreContinuations(inf, prefix, conts, { distributions: "full", maxRowsPerStep: 8 });
    conts.forEach((c, k) => {
      expect(scored[k].tokenIds).toEqual(c);
      if (c.length === 0) return;
      const seq = [...prefix, ...c];
      const logits = tf.tidy(() => model.forwardLogits(padBatch([seq])).dataSync() as Float32Array);
      c.forEach((tok, j) => {
        const pos = prefix.length - 1 + j;
        const lp = logSoftmax(logits.subarray(pos * V, (pos + 1) * V));
        expect(Math.abs(scored[k].logprobs[j] - lp[tok])).toBeLessThanOrEqual(1e-5);
        expect(maxAbsDiff(scored[k].fullLogprobs![j], lp)).toBeLessThanOrEqual(1e-5);
      });
    });
    // Windowing keeps only the first tokens; top-k is sorted and agrees with the full distribution.
    const win = scoreContinuations(inf, prefix, conts, { distributions: "topk", topK: 5, window: 3 });
    expect(win[0].tokenIds).toEqual(conts[0].slice(0, 3));
    expect(win[0].logprobs).toEqual(scored[0].logprobs.slice(0, 3));
    const top = win[0].topLogprobs![1];
    expect(top).toHaveLength(5);
    for (let i = 1; i < top.length; i++) expect(top[i - 1][1]).toBeGreaterThanOrEqual(top[i][1]);
    const full = scored[0].fullLogprobs![1];
    expect(top[0][1]).toBe(Math.max(...Array.from(full)));
  });
});

describe("KV-cache memory", () => {
  it("is reused: repeated scoring and generation do not grow the wasm arena", async () => {
    const { cfg } = variants[0];
    const inf = new InferenceModel(cfg, randomWeights(cfg, 1));
    const rng = new Rng(4);
    const prefix = randomTokens(rng, 30);
    const conts = Array.from({ length: 16 }, () => randomTokens(rng, 40));
    const run = (): number => {
      scoreContinuations(inf, prefix, conts, { distributions: "none" });
      return inf.arena.memory.buffer.byteLength;
    };
    const first = run();
    for (let i = 0; i < 10; i++) expect(run()).toBe(first);
    const cache = inf.newCache(4);
    cache.release();
    expect(() => cache.kOffset(0)).toThrow(/after release/);
  });
});

describe("training forward", () => {
  it("tokenLogProbs is differentiable and its gradient matches a finite difference", () => {
    const cfg = variants[0].cfg;
    const model = LlamaModel.random(cfg, 5, { std: 0.1, randomNorms: true });
    const batch = padBatch([[1, 2, 3, 4, 5, 6], [7, 8, 9]]);
    const loss = (): tf.Scalar => tf.neg(tf.sum(model.tokenLogProbs(batch))) as tf.Scalar;
    const { grads } = tf.variableGrads(loss, model.variables);
    // Probe two parameters: the embedding row of token 2 (custom scatter-add gradient) and a q_proj entry.
    for (const [name, index] of [["model.embed_tokens.weight", 2 * cfg.hiddenSize + 3], ["model.layers.1.self_attn.q_proj.weight", 17]] as const) {
      const v = model.param(name);
      const g = grads[v.name].dataSync()[index];
      const base = v.dataSync().slice() as Float32Array;
      const eps = 1e-2;
      const at = (delta: number): number => {
        const w = base.slice();
        w[index] += delta;
        v.assign(tf.tensor(w, v.shape));
        return loss().dataSync()[0];
      };
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      v.assign(tf.tensor(base, v.shape));
      expect(Math.abs(g - numeric), `${name}: analytic ${g} vs numeric ${numeric}`).toBeLessThanOrEqual(2e-3 + 2e-2 * Math.abs(numeric));
    }
    // Padding positions contribute nothing.
    const lp = model.tokenLogProbs(batch).arraySync();
    expect(lp[1].slice(2).map(Math.abs)).toEqual([0, 0, 0]);
    expect(lp[0].every((x) => x < 0)).toBe(true);
  });
});
