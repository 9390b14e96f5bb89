/**
 * Qwen2, Qwen3 and Llama-3 rotary scaling against Python transformers (CPU, float32). transformers writes small
 * random models of each (biases and norms perturbed so that a missing bias or a misplaced norm shows); here
 * they load, and the differentiable forward, the KV-cache path (whole prompt and token by token), scoring and
 * greedy generation all agree with transformers within 1e-4. Folders written here load in transformers too.
 * Python runs twice (start-up dominates): once to write its folders, once for every logits / generate job.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { makeConfig, type LlamaConfig } from "../../src/model/config.js";
import { loadModelFolder, saveModelFolder } from "../../src/model/folder.js";
import { BatchGenerator } from "../../src/model/generate.js";
import { InferenceModel } from "../../src/model/inference.js";
import { LlamaModel, padBatch } from "../../src/model/llama.js";
import { logSoftmax } from "../../src/model/sampler.js";
import { scoreContinuations } from "../../src/model/score.js";
import { initTf } from "../../src/model/tf.js";
import { randomWeights, type LlamaWeights } from "../../src/model/weights.js";
import { LlamaGrad } from "../../src/train/llama-grad.js";
import { tempDir } from "../helpers.js";
import { readF32, runReference, tinyLlamaDir } from "./reference.js";

const V = 512;
const tokenizerFiles = {
  tokenizerJson: JSON.parse(readFileSync(join(tinyLlamaDir, "tokenizer.json"), "utf8")) as Record<string, unknown>,
  tokenizerConfig: JSON.parse(readFileSync(join(tinyLlamaDir, "tokenizer_config.json"), "utf8")) as Record<string, unknown>,
};

const long = Array.from({ length: 40 }, (_, i) => (i * 97 + 13) % V);
const seqs = [[1, 17, 250, 9, 33, 480, 2, 77, 5, 6, 300, 301, 302, 45, 46, 47, 48, 49, 50, 511], [5, 9, 33, 2, 96], [0, 0, 1, 200, 201, 202, 203, 204], long];
const batch = padBatch(seqs);
const LONG = 3;
const T = batch.seqLen;
const prompt = long.slice(0, 8);
const NEW = 24;

const llama3Rope = { rope_type: "llama3", rope_theta: 10000.0, factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 64 };
const shape = { vocab_size: V, hidden_size: 32, num_hidden_layers: 2, intermediate_size: 64, max_position_embeddings: 128 };
/** Models transformers makes, and what our parser must read from their config.json. */
const hfModels = [
  {
    name: "Qwen2 (q/k/v biases, GQA, untied)",
    config: { ...shape, model_type: "qwen2", num_attention_heads: 4, num_key_value_heads: 2, rope_parameters: { rope_type: "default", rope_theta: 5000.0 }, tie_word_embeddings: false },
    expect: { architecture: "qwen2", qkvBias: true, oBias: false, qkNorm: false, headDim: 8, ropeTheta: 5000, tieWordEmbeddings: false },
  },
  {
    name: "Qwen3 (q/k head norms, explicit head_dim 16, tied)",
    config: { ...shape, model_type: "qwen3", num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, tie_word_embeddings: true },
    expect: { architecture: "qwen3", qkvBias: false, oBias: false, qkNorm: true, headDim: 16, tieWordEmbeddings: true },
  },
  {
    name: "Qwen3 with attention_bias (q/k/v/o biases, one KV head)",
    config: { ...shape, model_type: "qwen3", num_attention_heads: 4, num_key_value_heads: 1, head_dim: 8, attention_bias: true, tie_word_embeddings: false },
    expect: { architecture: "qwen3", qkvBias: true, oBias: true, qkNorm: true, headDim: 8 },
  },
  {
    name: "Llama with llama3 rotary scaling",
    config: { ...shape, model_type: "llama", num_attention_heads: 2, num_key_value_heads: 1, rope_parameters: llama3Rope },
    expect: { architecture: "llama", qkNorm: false, headDim: 16, ropeScaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 } },
  },
].map((m) => ({ ...m, dir: tempDir() }));

const base = { vocabSize: V, hiddenSize: 32, numHiddenLayers: 2, intermediateSize: 64, maxPositionEmbeddings: 128 };
/** Models made here, saved with saveModelFolder: transformers must read our config.json as the same model. */
const tsModels = [
  { name: "Qwen2", config: makeConfig({ ...base, architecture: "qwen2", numAttentionHeads: 4, numKeyValueHeads: 2 }) },
  { name: "Qwen3 with attention_bias, head_dim 16", config: makeConfig({ ...base, architecture: "qwen3", numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 16, qkvBias: true, oBias: true, tieWordEmbeddings: true }) },
  {
    name: "Llama with llama3 rotary scaling",
    config: makeConfig({ ...base, numAttentionHeads: 2, numKeyValueHeads: 2, ropeScaling: { type: "llama3", factor: 4, lowFreqFactor: 1, highFreqFactor: 2, originalMaxPositionEmbeddings: 48 } }),
  },
].map((m) => ({ ...m, dir: tempDir(), weights: randomWeights(m.config, 7, { std: 0.08, randomNorms: true }) }));

const reference = new Map<string, Float32Array>();
const generated = new Map<string, { tokens: number[]; min_margin: number }>();

beforeAll(async () => {
  await initTf("wasm");
  const work = tempDir();
  const make = hfModels.map((m, i) => {
    const config = join(work, `config-${i}.json`);
    writeFileSync(config, JSON.stringify(m.config));
    return { cmd: "make", out: m.dir, config, seed: 5 + i };
  });
  writeFileSync(join(work, "make.json"), JSON.stringify(make));
  await runReference("llama_model_reference.py", ["jobs", "--jobs", join(work, "make.json")]);
  for (const m of hfModels) writeFileSync(join(m.dir, "tokenizer.json"), JSON.stringify(tokenizerFiles.tokenizerJson));
  for (const m of tsModels) saveModelFolder(m.dir, { config: m.config, weights: m.weights, tokenizer: tokenizerFiles });

  const ids: number[][] = [];
  const mask: number[][] = [];
  for (let b = 0; b < batch.batchSize; b++) {
    ids.push(Array.from(batch.ids.subarray(b * T, (b + 1) * T)));
    mask.push(Array.from(batch.mask.subarray(b * T, (b + 1) * T)));
  }
  writeFileSync(join(work, "batch.json"), JSON.stringify({ ids, mask }));
  writeFileSync(join(work, "prompt.json"), JSON.stringify(prompt));
  const dirs = [...hfModels.map((m) => m.dir), ...tsModels.map((m) => m.dir)];
  const jobs = dirs.flatMap((dir, i) => [
    { cmd: "logits", model: dir, batch: join(work, "batch.json"), out: join(work, `logits-${i}.f32`) },
    ...(i < hfModels.length ? [{ cmd: "generate", model: dir, prompt: join(work, "prompt.json"), new: NEW, out: join(work, `gen-${i}.json`) }] : []),
  ]);
  writeFileSync(join(work, "jobs.json"), JSON.stringify(jobs));
  await runReference("llama_model_reference.py", ["jobs", "--jobs", join(work, "jobs.json")]);
  dirs.forEach((dir, i) => reference.set(dir, readF32(join(work, `logits-${i}.f32`))));
  hfModels.forEach((m, i) => generated.set(m.dir, JSON.parse(readFileSync(join(work, `gen-${i}.json`), "utf8")) as { tokens: number[]; min_margin: number }));
}, 300_000);

/** Max |a − b| over the real (unpadded) positions of the batch. */
function diffAtRealPositions(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let r = 0; r < batch.batchSize * T; r++) {
    if (batch.mask[r] === 0) continue;
    for (let v = 0; v < V; v++) m = Math.max(m, Math.abs(a[r * V + v] - b[r * V + v]));
  }
  return m;
}

/** The long sequence's reference logits at position p. */
function refRow(ref: Float32Array, p: number): Float32Array {
  return ref.subarray((LONG * T + p) * V, (LONG * T + p + 1) * V);
}

function checkForwards(cfg: LlamaConfig, w: LlamaWeights, ref: Float32Array): void {
  // The logits are not trivially small (a broken model could pass a tolerance test).
  expect(Math.max(...Array.from(ref).map(Math.abs))).toBeGreaterThan(0.05);
  const model = LlamaModel.fromWeights(cfg, w);
  const training = model.forwardLogits(batch).dataSync();
  model.dispose();
  expect(diffAtRealPositions(training, ref), "differentiable forward vs transformers").toBeLessThanOrEqual(1e-4);

  const inf = new InferenceModel(cfg, w);
  const cached = new Float32Array(batch.batchSize * T * V);
  inf.forward(seqs.map((s) => ({ cache: inf.newCache(), tokens: s, logits: "all" as const }))).forEach((l, b) => cached.set(l, b * T * V));
  expect(diffAtRealPositions(cached, ref), "KV-cache path, whole prompts, vs transformers").toBeLessThanOrEqual(1e-4);

  // Decoding: a 6-token prefill, then one token per step through the cache.
  const cache = inf.newCache(2);
  let worst = 0;
  const first = inf.forward([{ cache, tokens: long.slice(0, 6), logits: "all" }])[0];
  for (let p = 0; p < 6; p++) worst = Math.max(worst, maxDiff(first.subarray(p * V, (p + 1) * V), refRow(ref, p)));
  for (let p = 6; p < long.length; p++) worst = Math.max(worst, maxDiff(inf.forward([{ cache, tokens: [long[p]], logits: "last" }])[0], refRow(ref, p)));
  expect(worst, "KV-cache path, token by token, vs transformers").toBeLessThanOrEqual(1e-4);

  // Scoring continuations after a shared prefix: log-softmax of transformers' full-forward logits.
  const prefix = long.slice(0, 10);
  const conts = [long.slice(10), long.slice(10, 15)];
  const scored = scoreContinuations(inf, prefix, conts, { distributions: "none", maxRowsPerStep: 16 });
  let scoreWorst = 0;
  conts.forEach((c, k) => c.forEach((tok, j) => (scoreWorst = Math.max(scoreWorst, Math.abs(scored[k].logprobs[j] - logSoftmax(refRow(ref, 9 + j))[tok])))));
  expect(scoreWorst, "scored log-probs vs transformers' full forward").toBeLessThanOrEqual(1e-4);
  inf.dispose();
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("Qwen and rotary-scaled models written by transformers", () => {
  for (const m of hfModels) {
    it(`${m.name}: forward, decoding, scoring and greedy generation match transformers`, async () => {
      const folder = loadModelFolder(m.dir);
      expect(folder.config).toMatchObject(m.expect);
      checkForwards(folder.config, folder.weights, reference.get(m.dir)!);

      const gen = generated.get(m.dir)!;
      // Greedy tokens are only comparable where the top two logits are further apart than the tolerance.
      expect(gen.min_margin).toBeGreaterThan(1e-3);
      const inf = new InferenceModel(folder.config, folder.weights);
      const generator = new BatchGenerator(inf, folder.tokenizer, []);
      const [out] = await generator.generate({ promptIds: prompt, n: 1, seed: 1, temperature: 0, topP: 1, topK: 0, maxTokens: NEW });
      inf.dispose();
      expect(out.tokenIds).toEqual(gen.tokens);
      expect(new Set(gen.tokens).size, "a generation that is not one repeated token").toBeGreaterThan(1);
    });
  }
});

describe("Qwen and rotary-scaled models written here", () => {
  for (const m of tsModels) {
    it(`${m.name}: transformers reads our folder as the same model`, () => {
      checkForwards(m.config, m.weights, reference.get(m.dir)!);
      expect(loadModelFolder(m.dir).config).toEqual(m.config);
    });
  }
});

describe("the embedded trainer", () => {
  it("refuses Qwen models and attention biases instead of training a different model", () => {
    const qwen2 = tsModels[0].config;
    const qwen3 = makeConfig({ ...base, architecture: "qwen3", numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 16 });
    expect(() => new LlamaGrad(qwen2)).toThrow(/trains Llama models only; this model's config\.json has model_type "qwen2" \(q\/k\/v biases/);
    expect(() => new LlamaGrad(qwen3)).toThrow(/model_type "qwen3" \(per-head q\/k norms/);
    expect(() => new LlamaGrad(makeConfig({ ...base, numAttentionHeads: 4, qkvBias: true, oBias: true }))).toThrow(/attention_bias true/);
    // A plain Llama still builds (with or without rotary scaling).
    expect(() => new LlamaGrad(tsModels[2].config)).not.toThrow();
  });
});
