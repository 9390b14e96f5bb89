/**
 * The Llama-family model configuration as stored in an HF `config.json`: Llama, Qwen2 and Qwen3, which differ
 * only in the attention block (Qwen2: biases on q/k/v; Qwen3: RMSNorm on every q and k head). We read the
 * fields the forward pass needs, check each one with an error that names the file and field (a field that would
 * change the model in a way the engine does not run is refused, never ignored), and write a config that both
 * transformers 4.x (`rope_theta`, `rope_scaling`) and 5.x (`rope_parameters`) load as the same model.
 */
import { InputError } from "../util/errors.js";
import type { RopeScaling } from "./rope.js";

/** HF `model_type`s the embedded engine runs. */
export const ARCHITECTURES = ["llama", "qwen2", "qwen3"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

const HF_CLASS: Record<Architecture, string> = { llama: "LlamaForCausalLM", qwen2: "Qwen2ForCausalLM", qwen3: "Qwen3ForCausalLM" };

export interface LlamaConfig {
  /** HF model_type. */
  architecture: Architecture;
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
  /** Rotary scaling (HF rope_type other than "default"); null for none. */
  ropeScaling: RopeScaling | null;
  /** Biases on the q, k and v projections: always in Qwen2, with attention_bias in Llama and Qwen3. */
  qkvBias: boolean;
  /** A bias on the output projection: with attention_bias in Llama and Qwen3, never in Qwen2. */
  oBias: boolean;
  /** RMSNorm over each q and k head (weights of size head_dim) before rotary positions: Qwen3. */
  qkNorm: boolean;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  /** One or more end-of-sequence ids (HF allows an int or a list). */
  eosTokenIds: number[];
  padTokenId: number | null;
}

/** Fields a caller gives to build a config; the rest take HF defaults (of `architecture`, default "llama"). */
export type LlamaConfigInit = Pick<LlamaConfig, "vocabSize" | "hiddenSize" | "numHiddenLayers" | "numAttentionHeads" | "intermediateSize"> &
  Partial<LlamaConfig>;

export function makeConfig(init: LlamaConfigInit): LlamaConfig {
  const architecture = init.architecture ?? "llama";
  const cfg: LlamaConfig = {
    architecture,
    ropeScaling: null,
    qkvBias: architecture === "qwen2",
    oBias: false,
    qkNorm: architecture === "qwen3",
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
  if (!ARCHITECTURES.includes(cfg.architecture)) bad("model_type", `the embedded engine runs ${ARCHITECTURES.join(", ")}, got ${JSON.stringify(cfg.architecture)}`);
  // Each architecture fixes its attention layout; a config.json must be able to say what the weights hold.
  if (cfg.architecture === "qwen2" && !(cfg.qkvBias && !cfg.oBias)) bad("attention_bias", "Qwen2 has biases on q, k and v and none on o_proj");
  if (cfg.architecture !== "qwen2" && cfg.qkvBias !== cfg.oBias) bad("attention_bias", `${cfg.architecture} has biases on all of q, k, v and o_proj or on none`);
  if (cfg.qkNorm !== (cfg.architecture === "qwen3")) bad("model_type", "per-head q/k norms are part of Qwen3 and of no other architecture");
  const rs = cfg.ropeScaling;
  if (rs !== null) {
    const field = "rope_parameters";
    if (!(rs.factor > 0)) bad(`${field}.factor`, `must be > 0, got ${rs.factor}`);
    if (!(rs.lowFreqFactor > 0)) bad(`${field}.low_freq_factor`, `must be > 0, got ${rs.lowFreqFactor}`);
    if (!(rs.highFreqFactor > rs.lowFreqFactor)) bad(`${field}.high_freq_factor`, `must exceed low_freq_factor ${rs.lowFreqFactor}, got ${rs.highFreqFactor}`);
    if (!(rs.originalMaxPositionEmbeddings > 0)) bad(`${field}.original_max_position_embeddings`, `must be > 0, got ${rs.originalMaxPositionEmbeddings}`);
  }
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

  const modelType = o.model_type ?? "llama";
  if (typeof modelType !== "string" || !(ARCHITECTURES as readonly string[]).includes(modelType)) {
    return bad("model_type", `the embedded engine runs ${ARCHITECTURES.map((a) => JSON.stringify(a)).join(", ")} models, got ${JSON.stringify(modelType)}`);
  }
  const architecture = modelType as Architecture;
  const act = o.hidden_act ?? "silu";
  if (act !== "silu") bad("hidden_act", `only "silu" (SwiGLU) is supported, got ${JSON.stringify(act)}`);
  if (o.mlp_bias === true) bad("mlp_bias", "biases in the MLP are not supported by the embedded engine");
  // Qwen2's attention always has q/k/v biases (transformers ignores attention_bias there); Llama and Qwen3 put
  // biases on q, k, v and o_proj when attention_bias is true.
  const attentionBias = o.attention_bias ?? false;
  if (typeof attentionBias !== "boolean") bad("attention_bias", "expected true or false");
  if (o.pretraining_tp !== undefined && o.pretraining_tp !== null && o.pretraining_tp !== 1) bad("pretraining_tp", "only 1 is supported");
  // Sliding-window attention (Qwen) is off unless use_sliding_window; `sliding_window` alone is then unused.
  if (o.use_sliding_window === true) bad("use_sliding_window", "sliding-window attention is not supported by the embedded engine");
  if (o.layer_types !== undefined && o.layer_types !== null) {
    if (!Array.isArray(o.layer_types)) bad("layer_types", "expected a list");
    (o.layer_types as unknown[]).forEach((t, i) => {
      if (t !== "full_attention") bad(`layer_types[${i}]`, `only "full_attention" layers are supported, got ${JSON.stringify(t)}`);
    });
  }
  if (o.use_mrope === true) bad("use_mrope", "multimodal rotary positions are not supported by the embedded engine");
  if (o.partial_rotary_factor !== undefined && o.partial_rotary_factor !== null && o.partial_rotary_factor !== 1) bad("partial_rotary_factor", "only 1 (rotary positions on the whole head) is supported");

  // Rotary: transformers 5 writes rope_parameters {rope_theta, rope_type, …scaling}; 4.x writes rope_theta and
  // rope_scaling {rope_type or type, …}. When both are present they must agree.
  let ropeTheta = 10000;
  let ropeScaling: RopeScaling | null = null;
  const rp = o.rope_parameters;
  const rsRaw = o.rope_scaling;
  if (rp !== undefined && rp !== null) {
    const parsed = parseRope(rp, "rope_parameters", file);
    if (parsed.theta !== undefined) ropeTheta = parsed.theta;
    ropeScaling = parsed.scaling;
    if (rsRaw !== undefined && rsRaw !== null && JSON.stringify(parseRope(rsRaw, "rope_scaling", file).scaling) !== JSON.stringify(ropeScaling)) {
      bad("rope_scaling", "disagrees with rope_parameters");
    }
  } else {
    if (o.rope_theta !== undefined) ropeTheta = num("rope_theta");
    if (rsRaw !== undefined && rsRaw !== null) ropeScaling = parseRope(rsRaw, "rope_scaling", file).scaling;
  }

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
  const isQwen = architecture !== "llama";
  const cfg: LlamaConfig = {
    architecture,
    vocabSize: num("vocab_size"),
    hiddenSize,
    numHiddenLayers: num("num_hidden_layers"),
    numAttentionHeads: heads,
    // transformers' Qwen configs default these to Qwen's own sizes (32 KV heads, head_dim 128 for Qwen3), not to
    // values derived from the other fields: a config that leaves them out is refused rather than guessed.
    numKeyValueHeads: num("num_key_value_heads", isQwen ? undefined : heads),
    headDim: num("head_dim", architecture === "qwen3" ? undefined : Math.floor(hiddenSize / heads)),
    intermediateSize: num("intermediate_size"),
    rmsNormEps: num("rms_norm_eps", 1e-6),
    ropeTheta,
    ropeScaling,
    qkvBias: architecture === "qwen2" || attentionBias === true,
    oBias: architecture !== "qwen2" && attentionBias === true,
    qkNorm: architecture === "qwen3",
    maxPositionEmbeddings: num("max_position_embeddings", isQwen ? 32768 : 2048),
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
  const rs = cfg.ropeScaling;
  const scaling =
    rs === null
      ? null
      : { rope_type: rs.type, factor: rs.factor, low_freq_factor: rs.lowFreqFactor, high_freq_factor: rs.highFreqFactor, original_max_position_embeddings: rs.originalMaxPositionEmbeddings };
  const perArchitecture: Record<string, unknown> =
    cfg.architecture === "llama"
      ? { attention_bias: cfg.qkvBias, mlp_bias: false, pretraining_tp: 1 }
      : {
          ...(cfg.architecture === "qwen3" ? { attention_bias: cfg.qkvBias } : {}),
          use_sliding_window: false,
          sliding_window: null,
          max_window_layers: cfg.numHiddenLayers,
        };
  return {
    architectures: [HF_CLASS[cfg.architecture]],
    model_type: cfg.architecture,
    ...perArchitecture,
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
    num_attention_heads: cfg.numAttentionHeads,
    num_hidden_layers: cfg.numHiddenLayers,
    num_key_value_heads: cfg.numKeyValueHeads,
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    rope_parameters: { rope_theta: cfg.ropeTheta, ...(scaling ?? { rope_type: "default" }) },
    rope_scaling: scaling,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    torch_dtype: "float32",
    use_cache: true,
    vocab_size: cfg.vocabSize,
  };
}

/** The keys a rotary object may hold, per rope type (anything else would change the model and is refused). */
const ROPE_KEYS: Record<string, readonly string[]> = {
  default: ["rope_type", "type", "rope_theta", "partial_rotary_factor"],
  llama3: ["rope_type", "type", "rope_theta", "partial_rotary_factor", "factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"],
};

/** A rope_parameters (5.x) or rope_scaling (4.x) object: its theta (if given) and scaling. */
function parseRope(raw: unknown, field: string, file: string): { theta?: number; scaling: RopeScaling | null } {
  const bad = (f: string, detail: string): never => {
    throw new InputError({ file, field: f }, detail);
  };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return bad(field, "expected an object");
  const r = raw as Record<string, unknown>;
  const typeField = r.rope_type !== undefined ? "rope_type" : "type";
  const type = r[typeField] ?? "default";
  if (typeof type !== "string" || ROPE_KEYS[type] === undefined) {
    return bad(`${field}.${typeField}`, `the embedded engine runs rotary types "default" and "llama3", got ${JSON.stringify(type)}`);
  }
  for (const k of Object.keys(r)) if (!ROPE_KEYS[type].includes(k)) bad(`${field}.${k}`, `not supported with rope_type ${JSON.stringify(type)}`);
  const n = (k: string): number => {
    const v = r[k];
    if (typeof v !== "number" || !Number.isFinite(v)) return bad(`${field}.${k}`, v === undefined ? "missing" : `expected a number, got ${JSON.stringify(v)}`);
    return v;
  };
  if (r.partial_rotary_factor !== undefined && r.partial_rotary_factor !== 1) bad(`${field}.partial_rotary_factor`, "only 1 (rotary positions on the whole head) is supported");
  const theta = r.rope_theta !== undefined ? n("rope_theta") : undefined;
  if (type === "default") return { theta, scaling: null };
  return {
    theta,
    scaling: { type: "llama3", factor: n("factor"), lowFreqFactor: n("low_freq_factor"), highFreqFactor: n("high_freq_factor"), originalMaxPositionEmbeddings: n("original_max_position_embeddings") },
  };
}

/** Parameter count (embeddings included; the LM head counted once when tied). */
export function parameterCount(cfg: LlamaConfig): number {
  const d = cfg.hiddenSize;
  const qDim = cfg.numAttentionHeads * cfg.headDim;
  const kvDim = cfg.numKeyValueHeads * cfg.headDim;
  const biases = (cfg.qkvBias ? qDim + 2 * kvDim : 0) + (cfg.oBias ? d : 0);
  const perLayer = 2 * d + d * qDim + 2 * d * kvDim + qDim * d + 3 * d * cfg.intermediateSize + biases + (cfg.qkNorm ? 2 * cfg.headDim : 0);
  return cfg.vocabSize * d * (cfg.tieWordEmbeddings ? 1 : 2) + cfg.numHiddenLayers * perLayer + d;
}
