/**
 * Parity with Python transformers (CPU, float32): logits of the same inputs agree within 1e-4; folders written
 * here load in transformers and folders written by transformers (f32, bf16, f16) load here.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { makeConfig, type LlamaConfig } from "../../src/model/config.js";
import { loadModelFolder, saveModelFolder } from "../../src/model/folder.js";
import { InferenceModel } from "../../src/model/inference.js";
import { LlamaModel, padBatch, type PaddedBatch } from "../../src/model/llama.js";
import { initTf } from "../../src/model/tf.js";
import { randomWeights, type LlamaWeights } from "../../src/model/weights.js";
import { tempDir } from "../helpers.js";
import { maxAbsDiff, readF32, runReference, tinyLlamaDir } from "./reference.js";

const tokenizerFiles = {
  tokenizerJson: JSON.parse(readFileSync(join(tinyLlamaDir, "tokenizer.json"), "utf8")) as Record<string, unknown>,
  tokenizerConfig: JSON.parse(readFileSync(join(tinyLlamaDir, "tokenizer_config.json"), "utf8")) as Record<string, unknown>,
};

const seqs = [
  [1, 17, 250, 9, 33, 480, 2, 77, 5, 6, 300, 301, 302, 45, 46, 47, 48, 49, 50, 511],
  [5, 9, 33, 2, 96],
  [0, 0, 1, 200, 201, 202, 203, 204],
];

/** Python logits [B, T, V] for a padded batch of the folder's model. */
async function pythonLogits(dir: string, batch: PaddedBatch): Promise<Float32Array> {
  const work = tempDir();
  const ids: number[][] = [];
  const mask: number[][] = [];
  for (let b = 0; b < batch.batchSize; b++) {
    ids.push(Array.from(batch.ids.subarray(b * batch.seqLen, (b + 1) * batch.seqLen)));
    mask.push(Array.from(batch.mask.subarray(b * batch.seqLen, (b + 1) * batch.seqLen)));
  }
  writeFileSync(join(work, "batch.json"), JSON.stringify({ ids, mask }));
  await runReference("llama_model_reference.py", ["logits", "--model", dir, "--batch", join(work, "batch.json"), "--out", join(work, "logits.f32")]);
  return readF32(join(work, "logits.f32"));
}

/** Max |a − b| over the real (unpadded) positions. */
function diffAtRealPositions(a: ArrayLike<number>, b: ArrayLike<number>, batch: PaddedBatch, V: number): number {
  let m = 0;
  for (let r = 0; r < batch.batchSize * batch.seqLen; r++) {
    if (batch.mask[r] === 0) continue;
    for (let v = 0; v < V; v++) m = Math.max(m, Math.abs(a[r * V + v] - b[r * V + v]));
  }
  return m;
}

/** Logits of each sequence from the KV-cache path, laid out like the padded batch. */
function inferenceLogits(cfg: LlamaConfig, w: LlamaWeights, batch: PaddedBatch, list: number[][]): Float32Array {
  const inf = new InferenceModel(cfg, w);
  const out = new Float32Array(batch.batchSize * batch.seqLen * cfg.vocabSize);
  const logits = inf.forward(list.map((s) => ({ cache: inf.newCache(), tokens: s, logits: "all" as const })));
  logits.forEach((l, b) => out.set(l, b * batch.seqLen * cfg.vocabSize));
  inf.dispose();
  return out;
}

beforeAll(async () => {
  await initTf("wasm");
});

describe("parity with transformers", () => {
  for (const variant of [
    { name: "GQA (4 heads, 2 kv heads), untied head", kv: 2, tied: false },
    { name: "multi-head (kv = heads), tied head", kv: 4, tied: true },
    { name: "multi-query (1 kv head), untied head", kv: 1, tied: false },
  ]) {
    it(`TS-saved random model loads in transformers with logits within 1e-4: ${variant.name}`, async () => {
      const cfg = makeConfig({
        vocabSize: 512, hiddenSize: 48, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: variant.kv,
        intermediateSize: 96, ropeTheta: 1000, tieWordEmbeddings: variant.tied, eosTokenIds: [2], bosTokenId: 0,
      });
      const weights = randomWeights(cfg, 42, { std: 0.08, randomNorms: true });
      const dir = tempDir();
      saveModelFolder(dir, { config: cfg, weights, tokenizer: tokenizerFiles });
      const batch = padBatch(seqs);
      const ref = await pythonLogits(dir, batch);

      const model = LlamaModel.fromWeights(cfg, weights);
      const ours = model.forwardLogits(batch).dataSync();
      model.dispose();
      const d1 = diffAtRealPositions(ours, ref, batch, cfg.vocabSize);
      const d2 = diffAtRealPositions(inferenceLogits(cfg, weights, batch, seqs), ref, batch, cfg.vocabSize);
      expect(d1, "training forward vs transformers").toBeLessThanOrEqual(1e-4);
      expect(d2, "KV-cache path vs transformers").toBeLessThanOrEqual(1e-4);
      // Logits must not be trivially small (a broken model could pass a tolerance test).
      expect(Math.max(...Array.from(ref).map(Math.abs))).toBeGreaterThan(0.05);

      // And the folder reads back here with bit-identical weights.
      const back = loadModelFolder(dir);
      expect(back.config).toEqual(cfg);
      for (const [name, w] of weights) expect(maxAbsDiff(back.weights.get(name)!, w), name).toBe(0);
    });
  }

  for (const dtype of ["float32", "bfloat16", "float16"]) {
    it(`a folder saved by transformers in ${dtype} loads here with logits within 1e-4`, async () => {
      const dir = tempDir();
      const work = tempDir();
      writeFileSync(
        join(work, "config.json"),
        JSON.stringify({ vocab_size: 512, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 64, rope_theta: 5000.0, tie_word_embeddings: dtype !== "float32", max_position_embeddings: 128 }),
      );
      await runReference("llama_model_reference.py", ["make", "--out", dir, "--config", join(work, "config.json"), "--seed", "3", "--dtype", dtype]);
      // transformers' folder has no tokenizer; borrow the fixture's (ids used below are < 300).
      writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizerFiles.tokenizerJson));
      const folder = loadModelFolder(dir);
      expect(folder.config.numKeyValueHeads).toBe(2);
      expect(folder.config.ropeTheta).toBe(5000);
      const list = seqs.map((s) => s.map((x) => x % 512));
      const batch = padBatch(list);
      const ref = await pythonLogits(dir, batch);
      const model = LlamaModel.fromWeights(folder.config, folder.weights);
      const ours = model.forwardLogits(batch).dataSync();
      model.dispose();
      expect(diffAtRealPositions(ours, ref, batch, 512)).toBeLessThanOrEqual(1e-4);
      expect(diffAtRealPositions(inferenceLogits(folder.config, folder.weights, batch, list), ref, batch, 512)).toBeLessThanOrEqual(1e-4);
    });
  }

  it("the committed tiny-llama fixture matches transformers", async () => {
    const folder = loadModelFolder(tinyLlamaDir);
    const batch = padBatch(seqs);
    const ref = await pythonLogits(tinyLlamaDir, batch);
    const model = LlamaModel.fromWeights(folder.config, folder.weights);
    expect(diffAtRealPositions(model.forwardLogits(batch).dataSync(), ref, batch, folder.config.vocabSize)).toBeLessThanOrEqual(1e-4);
    model.dispose();
  });
});
