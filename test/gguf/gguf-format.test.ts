/**
 * The GGUF reader and writer against gguf-py (llama.cpp's own Python GGUF library): files gguf-py writes are read
 * and dequantised here exactly as gguf-py dequantises them (every supported type, random blocks), files written
 * here read back in gguf-py with the tensors, q/k permutation and types llama.cpp's converter produces, and the
 * built-in world model survives folder → GGUF → folder (F32 exactly; F16 and Q8_0 within their rounding).
 * Bad files fail with errors that name the file and the field or tensor (exit 2 from the CLI).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { convertGgufToFolder, convertModel, dequantize, readGguf, readTensorBytes, writeGgufFromFolder } from "../../src/gguf/index.js";
import { ggmlTypeName } from "../../src/gguf/constants.js";
import { meta, MetadataView } from "../../src/gguf/metadata.js";
import { permuteRows } from "../../src/gguf/tensor-names.js";
import { ggufTokenizerToHf } from "../../src/gguf/tokenizer.js";
import { ModelTokenizer } from "../../src/model/tokenizer.js";
import { UserError } from "../../src/util/errors.js";
import { makeConfig } from "../../src/model/config.js";
import { loadModelFolder, saveModelFolder, type ModelFolder } from "../../src/model/folder.js";
import { randomWeights } from "../../src/model/weights.js";
import { repoRoot, runCli, tempDir } from "../helpers.js";
import { readF32, runReference } from "../model/reference.js";

const worldBase = join(repoRoot, "models", "world-base");
const work = tempDir("ts-gguf-");
const quantsDir = join(work, "quants");
const types = ["f32", "f16", "q8_0"] as const;
const gguf = (t: string): string => join(work, `world-${t}.gguf`);
const back = (t: string): string => join(work, `world-${t}-back`);

interface Check {
  tensors: Record<string, { type: string; max_abs_diff: number; f16_exact?: boolean; q8_0_bytes_equal?: boolean }>;
  metadata: Record<string, unknown>;
  tokens: number;
  extra: string[];
}
const checks = new Map<string, Check>();
let original: ModelFolder;

const texts = [
  "<|system|>You are precise.<|user|>What is 12 + 345 * (6 - 7)?<|assistant|><think>First 6 - 7 = -1.</think> The answer is -333.<|end|>",
  "hello  world\n\n\t 3.14159 and 1,000,000",
  "   leading spaces, trailing spaces   ",
  "Ünïcödé — “quotes” … 数学 🙂",
  "x=[1,2,3]; for (let i = 0; i < x.length; i++) { total += x[i]; }",
  "<think>\nLet me check: 9 * 9 = 81. Alternatively, 81 / 9 = 9.\n</think>\n\\boxed{81}",
];

beforeAll(async () => {
  original = loadModelFolder(worldBase);
  for (const t of types) {
    await writeGgufFromFolder(worldBase, gguf(t), { type: t });
    await convertGgufToFolder(gguf(t), back(t));
  }
  await runReference("gguf_reference.py", ["quants", "--out", quantsDir]);
  for (const t of types) {
    const out = join(work, `check-${t}.json`);
    await runReference("gguf_reference.py", ["check", "--gguf", gguf(t), "--folder", worldBase, "--out", out]);
    checks.set(t, JSON.parse(readFileSync(out, "utf8")) as Check);
  }
}, 120_000);

function maxDiff(a: ModelFolder, b: ModelFolder): number {
  let m = 0;
  for (const [k, v] of a.weights) {
    const w = b.weights.get(k)!;
    for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i] - w[i]));
  }
  return m;
}

describe("reading files gguf-py writes", () => {
  it("dequantises F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K exactly as gguf.quants.dequantize", () => {
    const g = readGguf(join(quantsDir, "quants.gguf"));
    const seen: string[] = [];
    for (const t of g.tensors) {
      const ref = readF32(join(quantsDir, `${t.name}.f32`));
      const got = dequantize(t.type, readTensorBytes(g, t), t.elements);
      expect(got.length, t.name).toBe(ref.length);
      // Random blocks reach every code and scale; values are far from trivially zero.
      expect(Math.max(...Array.from(ref, Math.abs)), t.name).toBeGreaterThan(0.01);
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]) / Math.max(1, Math.abs(ref[i])));
      expect(worst, `${t.name} vs gguf-py`).toBe(0);
      seen.push(ggmlTypeName(t.type));
    }
    expect(seen.sort()).toEqual(["BF16", "F16", "F32", "Q2_K", "Q3_K", "Q4_0", "Q4_1", "Q4_K", "Q5_0", "Q5_1", "Q5_K", "Q6_K", "Q8_0"]);
  });
});

describe("the built-in world model through GGUF", () => {
  it("F32: gguf-py reads our file as llama.cpp's converter writes it (q/k permuted), and the folder comes back identical", () => {
    const c = checks.get("f32")!;
    expect(Object.keys(c.tensors)).toHaveLength(57);
    for (const [name, t] of Object.entries(c.tensors)) {
      expect(t.type, name).toBe("F32");
      expect(t.max_abs_diff, name).toBe(0);
    }
    expect(c.metadata).toMatchObject({
      "general.architecture": "llama",
      "general.file_type": 0,
      "llama.block_count": 6,
      "llama.attention.head_count": 4,
      "llama.rope.dimension_count": 32,
      "tokenizer.ggml.model": "gpt2",
      "tokenizer.ggml.pre": "smollm",
      "tokenizer.ggml.eos_token_id": 0,
    });
    expect(c.tokens).toBe(624);

    const b = loadModelFolder(back("f32"));
    expect(b.config).toEqual(original.config);
    expect(maxDiff(original, b)).toBe(0);
    expect(b.chatTemplate).toBe(original.chatTemplate);
    expect(b.eosTokenIds).toEqual(original.eosTokenIds);
    for (const text of texts) expect(b.tokenizer.encode(text), text).toEqual(original.tokenizer.encode(text));
    const ids = original.tokenizer.encode(texts[0]);
    expect(b.tokenizer.decode(ids, { skipSpecialTokens: false })).toBe(original.tokenizer.decode(ids, { skipSpecialTokens: false }));
  });

  it("F16: matrices are numpy's float16 rounding, norms stay F32, and the folder comes back within half precision", () => {
    const c = checks.get("f16")!;
    for (const [name, t] of Object.entries(c.tensors)) {
      if (name.endsWith("norm.weight")) expect(t.type, name).toBe("F32");
      else expect(t.f16_exact, name).toBe(true);
    }
    const b = loadModelFolder(back("f16"));
    let worstRel = 0;
    for (const [k, v] of original.weights) {
      const w = b.weights.get(k)!;
      for (let i = 0; i < v.length; i++) worstRel = Math.max(worstRel, Math.abs(v[i] - w[i]) / Math.max(Math.abs(v[i]), 2 ** -14));
    }
    expect(worstRel).toBeGreaterThan(0);
    expect(worstRel).toBeLessThanOrEqual(2 ** -11);
  });

  it("Q8_0: blocks are byte for byte gguf.quants.quantize's", () => {
    const c = checks.get("q8_0")!;
    const quantised = Object.entries(c.tensors).filter(([, t]) => t.type === "Q8_0");
    expect(quantised.length).toBe(6 * 7 + 2);
    for (const [name, t] of quantised) expect(t.q8_0_bytes_equal, name).toBe(true);
    const b = loadModelFolder(back("q8_0"));
    expect(maxDiff(original, b)).toBeGreaterThan(0);
    expect(maxDiff(original, b)).toBeLessThan(0.01);
  });

  it("a bfloat16 folder sharded as transformers saves large models converts with every value read exactly", async () => {
    const sharded = join(work, "world-bf16-sharded");
    await runReference("gguf_reference.py", ["shard", "--folder", worldBase, "--out", sharded]);
    await writeGgufFromFolder(sharded, `${sharded}.gguf`, { type: "f32" });
    await convertGgufToFolder(`${sharded}.gguf`, `${sharded}-back`);
    const b = loadModelFolder(`${sharded}-back`);
    // float32 → bfloat16 rounds to nearest even on the top 16 bits.
    const bits = new Uint32Array(1);
    const f = new Float32Array(bits.buffer);
    const toBf16 = (x: number): number => {
      f[0] = x;
      bits[0] = ((bits[0] + 0x7fff + ((bits[0] >>> 16) & 1)) >>> 16) << 16;
      return f[0];
    };
    let mismatches = 0;
    for (const [k, v] of original.weights) {
      const w = b.weights.get(k)!;
      for (let i = 0; i < v.length; i++) if (w[i] !== toBf16(v[i])) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(maxDiff(original, b)).toBeGreaterThan(0);
  });

  it("llama.cpp's q/k row permutation is undone exactly", () => {
    const x = Float32Array.from({ length: 3 * 8 * 5 }, (_, i) => i);
    const there = permuteRows(x, 3, 5, true);
    expect(Array.from(there.subarray(0, 20))).toEqual([0, 1, 2, 3, 4, 20, 21, 22, 23, 24, 5, 6, 7, 8, 9, 25, 26, 27, 28, 29]);
    expect(Array.from(permuteRows(there, 3, 5, false))).toEqual(Array.from(x));
  });
});

describe("Qwen2, Qwen3 and Llama 3 rotary scaling through GGUF", () => {
  // The world tokenizer's end token, which the GGUF records as its EOS and padding ids.
  const base = { vocabSize: 624, hiddenSize: 64, numHiddenLayers: 2, intermediateSize: 96, maxPositionEmbeddings: 256, eosTokenIds: [0], padTokenId: 0 };
  const models = [
    { name: "Qwen2 (q/k/v biases, GQA)", config: makeConfig({ ...base, architecture: "qwen2", numAttentionHeads: 4, numKeyValueHeads: 2, ropeTheta: 1e6, rmsNormEps: 1e-6 }) },
    { name: "Qwen3 (q/k head norms, head_dim 32, tied)", config: makeConfig({ ...base, architecture: "qwen3", numAttentionHeads: 4, numKeyValueHeads: 1, headDim: 32, tieWordEmbeddings: true }) },
    { name: "Llama with attention biases", config: makeConfig({ ...base, numAttentionHeads: 4, numKeyValueHeads: 2, qkvBias: true, oBias: true }) },
  ];

  for (const m of models) {
    it(`${m.name}: gguf-py reads the tensors unchanged (unpermuted for Qwen) and the folder comes back identical`, async () => {
      const dir = join(work, `model-${m.config.architecture}-${m.config.qkvBias}`);
      const weights = randomWeights(m.config, 3, { std: 0.05, randomNorms: true });
      saveModelFolder(dir, { config: m.config, weights, tokenizer: original.tokenizer.files });
      const file = `${dir}.gguf`;
      await writeGgufFromFolder(dir, file, { type: "f32" });
      const out = `${dir}-check.json`;
      await runReference("gguf_reference.py", ["check", "--gguf", file, "--folder", dir, "--out", out]);
      const c = JSON.parse(readFileSync(out, "utf8")) as Check;
      expect(c.metadata["general.architecture"]).toBe(m.config.architecture);
      expect(c.extra).toEqual([]);
      for (const [name, t] of Object.entries(c.tensors)) expect(t.max_abs_diff, name).toBe(0);
      await convertGgufToFolder(file, `${dir}-back`);
      const b = loadModelFolder(`${dir}-back`);
      expect(b.config).toEqual(m.config);
      for (const [k, v] of weights) expect(b.weights.get(k), k).toEqual(v);
    });
  }

  const llama3 = [
    { name: "a short original context", headDim: 16, theta: 10000, scaling: { type: "llama3" as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 } },
    { name: "Llama 3.2's settings", headDim: 64, theta: 500000, scaling: { type: "llama3" as const, factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } },
  ];
  for (const r of llama3) {
    it(`Llama 3 rotary scaling (${r.name}) goes out as llama.cpp's rope_freqs tensor and comes back as the same rope_scaling`, async () => {
      const config = makeConfig({ ...base, numAttentionHeads: 64 / r.headDim, headDim: r.headDim, ropeTheta: r.theta, ropeScaling: r.scaling });
      const dir = join(work, `model-llama3-${r.headDim}`);
      saveModelFolder(dir, { config, weights: randomWeights(config, 4), tokenizer: original.tokenizer.files });
      await writeGgufFromFolder(dir, `${dir}.gguf`, { type: "f16" });
      const g = readGguf(`${dir}.gguf`);
      const freqs = g.tensors.find((t) => t.name === "rope_freqs.weight")!;
      expect(freqs.dims).toEqual([r.headDim / 2]);
      const factors = Array.from(dequantize(freqs.type, readTensorBytes(g, freqs), freqs.elements));
      // High frequencies are left alone, the lowest slowed by the full factor, some blended between.
      expect(factors[0]).toBe(1);
      expect(factors[factors.length - 1]).toBe(r.scaling.factor);
      expect(factors.some((f) => f > 1 && f < r.scaling.factor)).toBe(true);
      await convertGgufToFolder(`${dir}.gguf`, `${dir}-back`);
      expect(loadModelFolder(`${dir}-back`).config).toEqual(config);
    });
  }

  it("rotary factors no Llama 3 scaling reproduces are refused naming the tensor", async () => {
    const file = join(work, "model-llama3-16.gguf");
    const b = Buffer.from(readFileSync(file));
    const g = readGguf(file);
    const freqs = g.tensors.find((t) => t.name === "rope_freqs.weight")!;
    b.writeFloatLE(1.5, g.dataStart + freqs.offset); // the highest frequency, which Llama 3 never scales
    const bad = join(work, "rope-tampered.gguf");
    writeFileSync(bad, b);
    await expect(convertGgufToFolder(bad, join(work, "rope-tampered"))).rejects.toThrow(/rope-tampered\.gguf: field "rope_freqs\.weight": per-frequency rotary factors that no Llama 3 rope scaling/);
  });
});

describe("GGUF tokenizers", () => {
  it("keep tokens that are names of JavaScript object properties", () => {
    const tokens = ["a", "b", "constructor", "__proto__", "toString", "hasOwnProperty", "<|end|>"];
    const m = new Map([
      ["tokenizer.ggml.model", meta.str("gpt2")],
      ["tokenizer.ggml.pre", meta.str("gpt2")],
      ["tokenizer.ggml.tokens", meta.strings(tokens)],
      ["tokenizer.ggml.token_type", meta.i32s([1, 1, 1, 1, 1, 1, 3])],
      ["tokenizer.ggml.merges", meta.strings([])],
      ["tokenizer.ggml.eos_token_id", meta.u32(6)],
    ]);
    const hf = ggufTokenizerToHf(new MetadataView(m, "t.gguf"), 64);
    const json = JSON.parse(JSON.stringify(hf.tokenizerJson)) as { model: { vocab: Record<string, number> } };
    expect(Object.entries(json.model.vocab)).toEqual(tokens.map((t, i) => [t, i]));
    const tok = new ModelTokenizer({ tokenizerJson: json as unknown as Record<string, unknown>, tokenizerConfig: hf.tokenizerConfig });
    for (const [i, t] of tokens.entries()) expect(tok.tokenToId(t), t).toBe(i);
    expect(tok.encode("<|end|>")).toEqual([6]);
  });
});

describe("bad GGUF files", () => {
  const bytes = (): Buffer => readFileSync(gguf("f32"));
  const write = (name: string, b: Uint8Array): string => {
    const f = join(work, name);
    writeFileSync(f, b);
    return f;
  };

  it("a file cut inside its tensor data names the tensor that runs past the end", () => {
    const b = bytes();
    const f = write("cut-data.gguf", b.subarray(0, b.length - 1000));
    expect(() => readGguf(f)).toThrow(/cut-data\.gguf: field "output\.weight": tensor data .* runs past the end .* \(truncated\?\)/);
  });

  it("a file cut inside its header says so and names what was being read", () => {
    const f = write("cut-header.gguf", bytes().subarray(0, 3000));
    expect(() => readGguf(f)).toThrow(/cut-header\.gguf: field "tokenizer\.ggml\.\w+": .*(truncated|past the end)/);
  });

  it("bad magic, an unknown version, an unsupported tensor type and an unknown architecture are named", () => {
    const magic = Buffer.from(bytes());
    magic.write("GGML", 0, "latin1");
    expect(() => readGguf(write("magic.gguf", magic))).toThrow(/magic\.gguf: field "magic": not a GGUF file/);

    const version = Buffer.from(bytes());
    version.writeUInt32LE(9, 4);
    expect(() => readGguf(write("version.gguf", version))).toThrow(/field "version": GGUF version 9 is not supported/);
    version.writeUInt32BE(3, 4);
    expect(() => readGguf(write("big-endian.gguf", version))).toThrow(/field "version": big-endian GGUF files are not supported/);

    // output_norm.weight's info: name, n_dims (1), dims[0] (u64), then its type: make it IQ4_NL (20).
    const iq4 = Buffer.from(bytes());
    const at = iq4.indexOf("output_norm.weight") + "output_norm.weight".length + 4 + 8;
    expect(iq4.readUInt32LE(at)).toBe(0);
    iq4.writeUInt32LE(20, at);
    const iq4File = write("iq4.gguf", iq4);
    const g = readGguf(iq4File);
    const t = g.tensors.find((x) => x.name === "output_norm.weight")!;
    expect(() => readTensorBytes(g, t)).toThrow(/iq4\.gguf: field "output_norm\.weight": tensor type IQ4_NL is not supported \(F32, F16, Q4_0/);

    const arch = Buffer.from(bytes());
    arch.write("gemma", arch.indexOf("llama"), "latin1");
    return expect(convertGgufToFolder(write("arch.gguf", arch), join(work, "arch-out"))).rejects.toThrow(/field "general\.architecture": the embedded engine runs llama, qwen2, qwen3, got "gemma"/);
  });

  it("the CLI converts both ways and reports what it did", () => {
    const file = join(work, "cli.gguf");
    const there = runCli(["convert", worldBase, file, "--type", "q8_0", "--json"]);
    expect(there.status, there.stderr).toBe(0);
    expect(JSON.parse(there.stdout)).toMatchObject({ direction: "folder-to-gguf", type: "q8_0", output: file });
    const dir = join(work, "cli-back");
    const back = runCli(["convert", file, dir, "--json"]);
    expect(back.status, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ direction: "gguf-to-folder", architecture: "llama", tensors: 57, sourceTypes: { Q8_0: 44, F32: 13 } });
    expect(loadModelFolder(dir).config).toEqual(original.config);
  });

  it("the CLI exits 2 with the message and writes nothing", () => {
    const b = bytes();
    const f = write("cli-cut.gguf", b.subarray(0, b.length - 10));
    const out = join(work, "cli-out");
    const r = runCli(["convert", f, out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cli-cut\.gguf: field "output\.weight": tensor data .* \(truncated\?\)/);
    expect(existsSync(out)).toBe(false);
  });

  it("convert refuses a type it cannot write, --type when reading a GGUF, and an output it cannot create", async () => {
    await expect(convertModel(worldBase, join(work, "x.gguf"), { type: "q4_0" })).rejects.toThrow(/--type: expected one of f32, f16, q8_0, got "q4_0"/);
    await expect(convertModel(gguf("f32"), join(work, "x-folder"), { type: "f16" })).rejects.toThrow(/--type applies to folder → GGUF/);
    expect(existsSync(join(work, "x.gguf"))).toBe(false);
    // A file where the output's folder should be is a user error (exit 2), not an internal one.
    writeFileSync(join(work, "a-file"), "");
    await expect(convertModel(worldBase, join(work, "a-file", "x.gguf"))).rejects.toThrow(/cannot write .*a-file\/x\.gguf: /);
    await expect(convertModel(worldBase, join(work, "a-file", "x.gguf"))).rejects.toBeInstanceOf(UserError);
  });
});
