/** safetensors and config.json reading/writing: exact conversions and errors that name the file and field. */
import { describe, expect, it } from "vitest";
import { configToJson, makeConfig, parameterCount, parseConfigJson } from "../../src/model/config.js";
import { halfToFloat, parseSafetensors, serializeSafetensors } from "../../src/model/safetensors.js";
import { parameterSpecs, randomWeights, weightsFromTensorMap, weightsToTensorMap } from "../../src/model/weights.js";

function rawSafetensors(header: Record<string, unknown>, data: Uint8Array): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + h.length + data.length);
  out.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(out, 8);
  Buffer.from(data).copy(out, 8 + h.length);
  return out;
}

describe("safetensors", () => {
  it("round-trips float32 tensors exactly, with an 8-byte aligned data start", () => {
    const t = new Map([
      ["a", { shape: [2, 3], data: Float32Array.from([1, -2.5, 3e-8, 4, 1e30, -0]) }],
      ["b", { shape: [1], data: Float32Array.from([Math.PI]) }],
    ]);
    const buf = serializeSafetensors(t);
    expect((8 + Number(buf.readBigUInt64LE(0))) % 8).toBe(0);
    const back = parseSafetensors(buf).tensors;
    expect(back.get("a")).toEqual(t.get("a"));
    expect(Array.from(back.get("b")!.data)).toEqual([Math.fround(Math.PI)]);
  });

  it("reads float16 and bfloat16 exactly (normal, subnormal, infinities)", () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true);
    const f16 = new Uint8Array(new Uint16Array([0x3c00, 0x3555]).buffer);
    const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc0a0]).buffer); // 1, -5
    const buf = rawSafetensors({ h: { dtype: "F16", shape: [2], data_offsets: [0, 4] }, b: { dtype: "BF16", shape: [2], data_offsets: [4, 8] } }, Uint8Array.from([...f16, ...bf16]));
    const t = parseSafetensors(buf).tensors;
    expect(Array.from(t.get("h")!.data)).toEqual([1, halfToFloat(0x3555)]);
    expect(Array.from(t.get("b")!.data)).toEqual([1, -5]);
  });

  it("names the tensor in errors", () => {
    expect(() => parseSafetensors(rawSafetensors({ w: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), "m.safetensors")).toThrow(/m\.safetensors: field "w": dtype "I64" is not supported/);
    expect(() => parseSafetensors(rawSafetensors({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), "m.safetensors")).toThrow(/field "w": data_offsets \[0, 8\] do not match shape \[3\]/);
  });

  it("converts weights to HF layout and back, and checks shapes against the config", () => {
    const cfg = makeConfig({ vocabSize: 50, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1, intermediateSize: 12 });
    const w = randomWeights(cfg, 1);
    const hf = weightsToTensorMap(cfg, w);
    expect(hf.get("model.layers.0.self_attn.k_proj.weight")!.shape).toEqual([4, 8]); // HF [out, in]
    expect(hf.get("lm_head.weight")!.shape).toEqual([50, 8]);
    expect(weightsFromTensorMap(cfg, hf, "f")).toEqual(w);
    expect(parameterSpecs(cfg).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0)).toBe(parameterCount(cfg));
    hf.set("model.norm.weight", { shape: [7], data: new Float32Array(7) });
    expect(() => weightsFromTensorMap(cfg, hf, "f.safetensors")).toThrow(/field "model\.norm\.weight": shape \[7\] does not match config\.json \(expected \[8\]\)/);
    hf.delete("model.norm.weight");
    expect(() => weightsFromTensorMap(cfg, hf, "f.safetensors")).toThrow(/field "model\.norm\.weight": tensor missing/);
  });
});

describe("config.json", () => {
  const base = { model_type: "llama", vocab_size: 100, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 32 };

  it("reads transformers 4 and 5 spellings and HF defaults", () => {
    const v4 = parseConfigJson({ ...base, rope_theta: 500000, eos_token_id: [1, 2], num_key_value_heads: 2 }, "c");
    expect(v4).toMatchObject({ ropeTheta: 500000, eosTokenIds: [1, 2], numKeyValueHeads: 2, headDim: 4, rmsNormEps: 1e-6, tieWordEmbeddings: false });
    const v5 = parseConfigJson({ ...base, rope_parameters: { rope_theta: 1234, rope_type: "default" }, eos_token_id: 3 }, "c");
    expect(v5).toMatchObject({ ropeTheta: 1234, eosTokenIds: [3], numKeyValueHeads: 4 });
    expect(parseConfigJson(configToJson(v4), "c")).toEqual(v4);
  });

  it("rejects what the engine cannot run, naming the field", () => {
    expect(() => parseConfigJson({ ...base, model_type: "gpt2" }, "c.json")).toThrow(/c\.json: field "model_type"/);
    expect(() => parseConfigJson({ ...base, hidden_act: "gelu" }, "c.json")).toThrow(/field "hidden_act"/);
    expect(() => parseConfigJson({ ...base, rope_scaling: { type: "linear", factor: 2 } }, "c.json")).toThrow(/field "rope_scaling\.type": .*got "linear"/);
    expect(() => parseConfigJson({ ...base, num_key_value_heads: 3 }, "c.json")).toThrow(/field "num_key_value_heads": 3 does not divide/);
    expect(() => parseConfigJson({ ...base, vocab_size: "100" }, "c.json")).toThrow(/field "vocab_size": expected a number/);
    expect(() => parseConfigJson({ ...base, eos_token_id: 100 }, "c.json")).toThrow(/field "eos_token_id": 100 is not a token id/);
  });

  it("reads Qwen2 and Qwen3 configs (transformers 4 and 5 spellings) and round-trips them", () => {
    const qwen2 = { ...base, model_type: "qwen2", num_key_value_heads: 2, rope_theta: 10000, use_sliding_window: false, sliding_window: 4096, max_window_layers: 21, use_mrope: false, rope_scaling: null };
    const q2 = parseConfigJson(qwen2, "c");
    expect(q2).toMatchObject({ architecture: "qwen2", qkvBias: true, oBias: false, qkNorm: false, headDim: 4, maxPositionEmbeddings: 32768 });
    // transformers ignores attention_bias in Qwen2: its q/k/v always have biases and o_proj never.
    expect(parseConfigJson({ ...qwen2, attention_bias: false }, "c")).toEqual(q2);
    const qwen3 = { ...base, model_type: "qwen3", num_key_value_heads: 2, head_dim: 8, layer_types: ["full_attention", "full_attention"], rope_parameters: { rope_type: "default", rope_theta: 1e6 } };
    const q3 = parseConfigJson(qwen3, "c");
    expect(q3).toMatchObject({ architecture: "qwen3", qkvBias: false, oBias: false, qkNorm: true, headDim: 8, ropeTheta: 1e6 });
    expect(parseConfigJson({ ...qwen3, attention_bias: true }, "c")).toMatchObject({ qkvBias: true, oBias: true });
    for (const cfg of [q2, q3, parseConfigJson({ ...qwen3, attention_bias: true }, "c")]) expect(parseConfigJson(configToJson(cfg), "c")).toEqual(cfg);
    // Parameters: q/k/v biases (Qwen2) and two head norms per layer (Qwen3) are counted and listed.
    for (const cfg of [q2, q3]) expect(parameterSpecs(cfg).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0)).toBe(parameterCount(cfg));
    expect(parameterSpecs(q2).map((s) => s.name)).toContain("model.layers.1.self_attn.k_proj.bias");
    expect(parameterSpecs(q2).map((s) => s.name)).not.toContain("model.layers.1.self_attn.o_proj.bias");
    expect(parameterSpecs(q3).map((s) => s.name)).toContain("model.layers.0.self_attn.q_norm.weight");
  });

  it("reads llama3 rotary scaling from rope_parameters (5.x) and rope_scaling (4.x) alike", () => {
    const scaling = { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
    const v5 = parseConfigJson({ ...base, rope_parameters: { rope_type: "llama3", rope_theta: 500000, ...scaling } }, "c");
    const v4 = parseConfigJson({ ...base, rope_theta: 500000, rope_scaling: { rope_type: "llama3", ...scaling } }, "c");
    const v4old = parseConfigJson({ ...base, rope_theta: 500000, rope_scaling: { type: "llama3", ...scaling } }, "c");
    expect(v5.ropeScaling).toEqual({ type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    expect(v4).toEqual(v5);
    expect(v4old).toEqual(v5);
    expect(parseConfigJson(configToJson(v5), "c")).toEqual(v5);
  });

  it("rejects Qwen and rotary features the engine does not run, naming the field", () => {
    const qwen2 = { ...base, model_type: "qwen2", num_key_value_heads: 2 };
    expect(() => parseConfigJson({ ...qwen2, use_sliding_window: true, sliding_window: 4096 }, "c.json")).toThrow(/c\.json: field "use_sliding_window": sliding-window attention is not supported/);
    expect(() => parseConfigJson({ ...qwen2, layer_types: ["full_attention", "sliding_attention"] }, "c.json")).toThrow(/field "layer_types\[1\]": only "full_attention"/);
    expect(() => parseConfigJson({ ...qwen2, use_mrope: true }, "c.json")).toThrow(/field "use_mrope"/);
    expect(() => parseConfigJson({ ...base, model_type: "qwen2" }, "c.json")).toThrow(/field "num_key_value_heads": missing/);
    expect(() => parseConfigJson({ ...base, model_type: "qwen3", num_key_value_heads: 2 }, "c.json")).toThrow(/field "head_dim": missing/);
    expect(() => parseConfigJson({ ...qwen2, rope_scaling: { type: "yarn", factor: 4, original_max_position_embeddings: 32768 } }, "c.json")).toThrow(/field "rope_scaling\.type": the embedded engine runs rotary types "default" and "llama3", got "yarn"/);
    expect(() => parseConfigJson({ ...base, rope_parameters: { rope_type: "dynamic", rope_theta: 1, factor: 2 } }, "c.json")).toThrow(/field "rope_parameters\.rope_type"/);
    expect(() => parseConfigJson({ ...base, rope_parameters: { rope_type: "llama3", rope_theta: 1, factor: 2 } }, "c.json")).toThrow(/field "rope_parameters\.low_freq_factor": missing/);
    expect(() => parseConfigJson({ ...base, rope_parameters: { rope_type: "default", rope_theta: 1, beta_fast: 2 } }, "c.json")).toThrow(/field "rope_parameters\.beta_fast": not supported/);
    expect(() => parseConfigJson({ ...base, partial_rotary_factor: 0.5 }, "c.json")).toThrow(/field "partial_rotary_factor"/);
    expect(() => parseConfigJson({ ...base, mlp_bias: true }, "c.json")).toThrow(/field "mlp_bias"/);
  });
});
