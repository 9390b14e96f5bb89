/**
 * Parity with Python transformers (CPU, float32): logits of the same inputs agree within 1e-4; folders written
 * here load in transformers and folders written by transformers (f32, bf16, f16) load here.
 * Python runs twice in all (start-up dominates): once to write transformers' folders, once for every logits job.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { makeConfig, type LlamaConfig } from "../../src/model/config.js";
import { loadModelFolder, saveModelFolder } from "../../src/model/folder.js";
import { InferenceModel } from "../../src/model/inference.js";
import { LlamaModel, padBatch } from "../../src/model/llama.js";
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
const batch = padBatch(seqs);

const tsVariants = [
  { name: "GQA (4 heads, 2 kv heads), untied head", kv: 2, tied: false },
  { name: "multi-head (kv = heads), tied head", kv: 4, tied: true },
  { name: "multi-query (1 kv head), untied head", kv: 1, tied: false },
].map((v) => ({
  ...v,
  dir: tempDir(),
  config: makeConfig({
    vocabSize: 512, hiddenSize: 48, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: v.kv,
    intermediateSize: 96, ropeTheta: 1000, tieWordEmbeddings: v.tied, eosTokenIds: [2], bosTokenId: 0,
  }),
}));
const hfVariants = ["float32", "bfloat16", "float16"].map((dtype) => ({ dtype, dir: tempDir() }));

/** Reference logits [B, T, V] per model folder, computed by transformers in beforeAll. */
const reference = new Map<string, Float32Array>();
const tsWeights = new Map<string, LlamaWeights>();

beforeAll(async () => {
  await initTf("wasm");
  const work = tempDir();
  // transformers writes its folders (random init, weights rounded to the dtype).
  const make = hfVariants.map(({ dtype, dir }) => {
    const config = join(work, `config-${dtype}.json`);
    writeFileSync(config, JSON.stringify({ vocab_size: 512, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 64, rope_theta: 5000.0, tie_word_embeddings: dtype !== "float32", max_position_embeddings: 128 }));
    return { cmd: "make", out: dir, config, seed: 3, dtype };
  });
  writeFileSync(join(work, "make.json"), JSON.stringify(make));
  await runReference("llama_model_reference.py", ["jobs", "--jobs", join(work, "make.json")]);
  // transformers' folders have no tokenizer; borrow the fixture's.
  for (const { dir } of hfVariants) writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizerFiles.tokenizerJson));
  // Our folders.
  for (const v of tsVariants) {
    const weights = randomWeights(v.config, 42, { std: 0.08, randomNorms: true });
    tsWeights.set(v.dir, weights);
    saveModelFolder(v.dir, { config: v.config, weights, tokenizer: tokenizerFiles });
  }
  // One Python process computes every folder's logits.
  const ids: number[][] = [];
  const mask: number[][] = [];
  for (let b = 0; b < batch.batchSize; b++) {
    ids.push(Array.from(batch.ids.subarray(b * batch.seqLen, (b + 1) * batch.seqLen)));
    mask.push(Array.from(batch.mask.subarray(b * batch.seqLen, (b + 1) * batch.seqLen)));
  }
  writeFileSync(join(work, "batch.json"), JSON.stringify({ ids, mask }));
  const dirs = [...tsVariants.map((v) => v.dir), ...hfVariants.map((v) => v.dir), tinyLlamaDir];
  const jobs = dirs.map((dir, i) => ({ cmd: "logits", model: dir, batch: join(work, "batch.json"), out: join(work, `logits-${i}.f32`) }));
  writeFileSync(join(work, "logits.json"), JSON.stringify(jobs));
  await runReference("llama_model_reference.py", ["jobs", "--jobs", join(work, "logits.json")]);
  dirs.forEach((dir, i) => reference.set(dir, readF32(join(work, `logits-${i}.f32`))));
});

/** Max |a − b| over the real (unpadded) positions. */
function diffAtRealPositions(a: ArrayLike<number>, b: ArrayLike<number>, V: number): number {
  let m = 0;
  for (let r = 0; r < batch.batchSize * batch.seqLen; r++) {
    if (batch.mask[r] === 0) continue;
    for (let v = 0; v < V; v++) m = Math.max(m, Math.abs(a[r * V + v] - b[r * V + v]));
  }
  return m;
}

/** Both of our forward passes (training and KV-cache) against the reference, laid out like the padded batch. */
function checkBothPaths(cfg: LlamaConfig, w: LlamaWeights, ref: Float32Array): void {
  const model = LlamaModel.fromWeights(cfg, w);
  const training = model.forwardLogits(batch).dataSync();
  model.dispose();
  const inf = new InferenceModel(cfg, w);
  const cached = new Float32Array(batch.batchSize * batch.seqLen * cfg.vocabSize);
  inf.forward(seqs.map((s) => ({ cache: inf.newCache(), tokens: s, logits: "all" as const }))).forEach((l, b) => cached.set(l, b * batch.seqLen * cfg.vocabSize));
  inf.dispose();
  expect(diffAtRealPositions(training, ref, cfg.vocabSize), "training forward vs transformers").toBeLessThanOrEqual(1e-4);
  expect(diffAtRealPositions(cached, ref, cfg.vocabSize), "KV-cache path vs transformers").toBeLessThanOrEqual(1e-4);
  // The logits are not trivially small (a broken model could pass a tolerance test).
  expect(Math.max(...Array.from(ref).map(Math.abs))).toBeGreaterThan(0.05);
}

describe("parity with transformers", () => {
  for (const v of tsVariants) {
    it(`a TS-saved random model loads in transformers with logits within 1e-4: ${v.name}`, () => {
      const weights = tsWeights.get(v.dir)!;
      checkBothPaths(v.config, weights, reference.get(v.dir)!);
      // And the folder reads back here with bit-identical weights.
      const back = loadModelFolder(v.dir);
      expect(back.config).toEqual(v.config);
      for (const [name, w] of weights) expect(maxAbsDiff(back.weights.get(name)!, w), name).toBe(0);
    });
  }

  for (const v of hfVariants) {
    it(`a folder saved by transformers in ${v.dtype} loads here with logits within 1e-4`, () => {
      const folder = loadModelFolder(v.dir);
      expect(folder.config.numKeyValueHeads).toBe(2);
      expect(folder.config.ropeTheta).toBe(5000);
      checkBothPaths(folder.config, folder.weights, reference.get(v.dir)!);
    });
  }

  it("the committed tiny-llama fixture matches transformers", () => {
    const folder = loadModelFolder(tinyLlamaDir);
    checkBothPaths(folder.config, folder.weights, reference.get(tinyLlamaDir)!);
  });
});
