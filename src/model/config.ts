/**
 * The Llama-family model configuration as stored in an HF `config.json`. We read the fields the forward pass
 * needs, check each one with an error that names the file and field, and write a config that both
 * transformers 4.x (`rope_theta`) and 5.x (`rope_parameters`) load as the same model.
 */
import { InputError } from "../util/errors.js";

export interface LlamaConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  /** Per-head width; HF defaults it to hiddenSize / numAttentionHeads. */
  headDim: number;
  intermediateSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  /** One or more end-of-sequence ids (HF allows an int or a list). */
  eosTokenIds: number[];
  padTokenId: number | null;
}

/** Fields a caller gives to build a config; the rest take HF Llama defaults. */
export type LlamaConfigInit = Pick<LlamaConfig, "vocabSize" | "hiddenSize" | "numHiddenLayers" | "numAttentionHeads" | "intermediateSize"> &
  Partial<LlamaConfig>;

export function makeConfig(init: LlamaConfigInit): LlamaConfig {
  const cfg: LlamaConfig = {
    numKeyValueHeads: init.numAttentionHeads,
    headDim: Math.floor(init.hiddenSize / init.numAttentionHeads),
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    maxPositionEmbeddings: 2048,
    tieWordEmbeddings: false,
    bosTokenId: null,
    eosTokenIds: [],
    padTokenId: null,
    ...init,
  };
  validateConfig(cfg, "<config>");
  return cfg;
}

export function validateConfig(cfg: LlamaConfig, file: string): void {
  const bad = (field: string, detail: string): never => {
    throw new InputError({ file, field }, detail);
  };
  const posInt = (field: string, v: number): void => {
    if (!Number.isInteger(v) || v <= 0) bad(field, `must be a positive integer, got ${String(v)}`);
  };
  posInt("vocab_size", cfg.vocabSize);
  posInt("hidden_size", cfg.hiddenSize);
  posInt("num_hidden_layers", cfg.numHiddenLayers);
  posInt("num_attention_heads", cfg.numAttentionHeads);
  posInt("num_key_value_heads", cfg.numKeyValueHeads);
  posInt("head_dim", cfg.headDim);
  posInt("intermediate_size", cfg.intermediateSize);
  posInt("max_position_embeddings", cfg.maxPositionEmbeddings);
  if (cfg.numAttentionHeads % cfg.numKeyValueHeads !== 0) {
    bad("num_key_value_heads", `${cfg.numKeyValueHeads} does not divide num_attention_heads ${cfg.numAttentionHeads}`);
  }
  if (cfg.headDim % 2 !== 0) bad("head_dim", `rotary positions need an even head_dim, got ${cfg.headDim}`);
  if (!(cfg.rmsNormEps > 0)) bad("rms_norm_eps", `must be > 0, got ${cfg.rmsNormEps}`);
  if (!(cfg.ropeTheta > 0)) bad("rope_theta", `must be > 0, got ${cfg.ropeTheta}`);
  for (const id of cfg.eosTokenIds) {
    if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) bad("eos_token_id", `${id} is not a token id below vocab_size ${cfg.vocabSize}`);
  }
  if (cfg.bosTokenId !== null && (!Number.isInteger(cfg.bosTokenId) || cfg.bosTokenId < 0 || cfg.bosTokenId >= cfg.vocabSize)) {
    bad("bos_token_id", `${cfg.bosTokenId} is not a token id below vocab_size ${cfg.vocabSize}`);
  }
}

/** Parses the JSON object of a `config.json`; `file` is only used in error messages. */
export function parseConfigJson(raw: unknown, file: string): LlamaConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new InputError({ file }, "expected a JSON object");
  const o = raw as Record<string, unknown>;
  const bad = (field: string, detail: string): never => {
    throw new InputError({ file, field }, detail);
  };
  const num = (field: string, fallback?: number): number => {
    const v = o[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      return bad(field, "missing");
    }
    if (typeof v !== "number" || !Number.isFinite(v)) return bad(field, `expected a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const optId = (field: string): number | null => {
    const v = o[field];
    if (v === undefined || v === null) return null;
    if (typeof v !== "number" || !Number.isInteger(v)) return bad(field, `expected an integer token id, got ${JSON.stringify(v)}`);
    return v;
  };

  const modelType = o.model_type;
  if (modelType !== undefined && modelType !== "llama") {
    bad("model_type", `only "llama" models are supported by the embedded engine, got ${JSON.stringify(modelType)}`);
  }
  const act = o.hidden_act ?? "silu";
  if (act !== "silu") bad("hidden_act", `only "silu" (SwiGLU) is supported, got ${JSON.stringify(act)}`);
  for (const f of ["attention_bias", "mlp_bias"]) {
    if (o[f] === true) bad(f, "biases are not supported by the embedded engine");
  }
  if (o.pretraining_tp !== undefined && o.pretraining_tp !== null && o.pretraining_tp !== 1) bad("pretraining_tp", "only 1 is supported");

  // Rotary: transformers 5 writes rope_parameters {rope_theta, rope_type}; 4.x writes rope_theta (+ rope_scaling).
  let ropeTheta = 10000;
  const rp = o.rope_parameters;
  if (rp !== undefined && rp !== null) {
    if (typeof rp !== "object" || Array.isArray(rp)) return bad("rope_parameters", "expected an object");
    const r = rp as Record<string, unknown>;
    if (r.rope_type !== undefined && r.rope_type !== "default") bad("rope_parameters.rope_type", `only "default" is supported, got ${JSON.stringify(r.rope_type)}`);
    if (r.rope_theta !== undefined) {
      if (typeof r.rope_theta !== "number") bad("rope_parameters.rope_theta", "expected a number");
      ropeTheta = r.rope_theta as number;
    }
  } else if (o.rope_theta !== undefined) {
    ropeTheta = num("rope_theta");
  }
  if (o.rope_scaling !== undefined && o.rope_scaling !== null) bad("rope_scaling", "rotary scaling is not supported by the embedded engine");

  let eos: number[] = [];
  const e = o.eos_token_id;
  if (typeof e === "number") eos = [e];
  else if (Array.isArray(e)) {
    eos = e.map((x, i) => (typeof x === "number" && Number.isInteger(x) ? x : bad(`eos_token_id[${i}]`, "expected an integer")));
  } else if (e !== undefined && e !== null) bad("eos_token_id", "expected an integer or a list of integers");

  const hiddenSize = num("hidden_size");
  const heads = num("num_attention_heads");
  const tie = o.tie_word_embeddings ?? false;
  if (typeof tie !== "boolean") bad("tie_word_embeddings", "expected true or false");
  const cfg: LlamaConfig = {
    vocabSize: num("vocab_size"),
    hiddenSize,
    numHiddenLayers: num("num_hidden_layers"),
    numAttentionHeads: heads,
    numKeyValueHeads: num("num_key_value_heads", heads),
    headDim: num("head_dim", Math.floor(hiddenSize / heads)),
    intermediateSize: num("intermediate_size"),
    rmsNormEps: num("rms_norm_eps", 1e-6),
    ropeTheta,
    maxPositionEmbeddings: num("max_position_embeddings", 2048),
    tieWordEmbeddings: tie as boolean,
    bosTokenId: optId("bos_token_id"),
    eosTokenIds: eos,
    padTokenId: optId("pad_token_id"),
  };
  validateConfig(cfg, file);
  return cfg;
}

/** The `config.json` object for this config, loadable by transformers 4.x and 5.x. */
export function configToJson(cfg: LlamaConfig): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: cfg.bosTokenId,
    eos_token_id: cfg.eosTokenIds.length === 1 ? cfg.eosTokenIds[0] : cfg.eosTokenIds.length === 0 ? null : cfg.eosTokenIds,
    pad_token_id: cfg.padTokenId,
    head_dim: cfg.headDim,
    hidden_act: "silu",
    hidden_size: cfg.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: cfg.intermediateSize,
    max_position_embeddings: cfg.maxPositionEmbeddings,
    mlp_bias: false,
    num_attention_heads: cfg.numAttentionHeads,
    num_hidden_layers: cfg.numHiddenLayers,
    num_key_value_heads: cfg.numKeyValueHeads,
    pretraining_tp: 1,
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    rope_parameters: { rope_theta: cfg.ropeTheta, rope_type: "default" },
    rope_scaling: null,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    torch_dtype: "float32",
    use_cache: true,
    vocab_size: cfg.vocabSize,
  };
}

/** Parameter count (embeddings included; the LM head counted once when tied). */
export function parameterCount(cfg: LlamaConfig): number {
  const d = cfg.hiddenSize;
  const qDim = cfg.numAttentionHeads * cfg.headDim;
  const kvDim = cfg.numKeyValueHeads * cfg.headDim;
  const perLayer = 2 * d + d * qDim + 2 * d * kvDim + qDim * d + 3 * d * cfg.intermediateSize;
  return cfg.vocabSize * d * (cfg.tieWordEmbeddings ? 1 : 2) + cfg.numHiddenLayers * perLayer + d;
}
