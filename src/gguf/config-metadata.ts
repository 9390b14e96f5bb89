/**
 * An HF config (LlamaConfig) ↔ the `{arch}.*` GGUF metadata llama.cpp reads for llama, qwen2 and qwen3.
 * Llama 3 rotary scaling travels as a tensor instead (./rope-factors.ts).
 */
import { ARCHITECTURES, parseConfigJson, type Architecture, type LlamaConfig } from "../model/config.js";
import type { RopeScaling } from "../model/rope.js";
import { InputError } from "../util/errors.js";
import { meta, type Metadata, type MetadataView } from "./metadata.js";

export function configToMetadata(cfg: LlamaConfig): Metadata {
  const a = cfg.architecture;
  const out: Metadata = new Map();
  out.set(`${a}.context_length`, meta.u32(cfg.maxPositionEmbeddings));
  out.set(`${a}.embedding_length`, meta.u32(cfg.hiddenSize));
  out.set(`${a}.block_count`, meta.u32(cfg.numHiddenLayers));
  out.set(`${a}.feed_forward_length`, meta.u32(cfg.intermediateSize));
  out.set(`${a}.attention.head_count`, meta.u32(cfg.numAttentionHeads));
  out.set(`${a}.attention.head_count_kv`, meta.u32(cfg.numKeyValueHeads));
  out.set(`${a}.attention.key_length`, meta.u32(cfg.headDim));
  out.set(`${a}.attention.value_length`, meta.u32(cfg.headDim));
  out.set(`${a}.attention.layer_norm_rms_epsilon`, meta.f32(cfg.rmsNormEps));
  out.set(`${a}.rope.freq_base`, meta.f32(cfg.ropeTheta));
  out.set(`${a}.rope.dimension_count`, meta.u32(cfg.headDim));
  out.set(`${a}.vocab_size`, meta.u32(cfg.vocabSize));
  return out;
}

/** What the tensor list says about the config (GGUF has no metadata keys for these). */
export interface TensorFacts {
  /** The file has its own `output.weight`; else the embeddings are tied. */
  hasOutput: boolean;
  /** Layer 0 has attention biases (`attention_bias` for llama and qwen3; qwen2 always has them). */
  hasAttentionBias: boolean;
  /** token_embd's row count: the vocab size when no key says. */
  embeddingRows: number;
  /** Llama 3 scaling recovered from a rope_freqs tensor, or null. */
  ropeScaling: RopeScaling | null;
}

/** The config.json object a GGUF file describes. */
export function metadataToConfigJson(m: MetadataView, facts: TensorFacts): Record<string, unknown> {
  const arch = m.requiredString("general.architecture");
  if (!(ARCHITECTURES as readonly string[]).includes(arch)) {
    throw new InputError({ file: m.file, field: "general.architecture" }, `the embedded engine runs ${ARCHITECTURES.join(", ")}, got ${JSON.stringify(arch)}`);
  }
  const a = arch as Architecture;
  const scalingType = m.string(`${a}.rope.scaling.type`);
  if (scalingType !== undefined && scalingType !== "none") {
    throw new InputError({ file: m.file, field: `${a}.rope.scaling.type` }, `rotary scaling ${JSON.stringify(scalingType)} is not supported`);
  }
  const heads = m.requiredInteger(`${a}.attention.head_count`);
  const hidden = m.requiredInteger(`${a}.embedding_length`);
  const headDim = m.integer(`${a}.attention.key_length`) ?? m.integer(`${a}.rope.dimension_count`) ?? Math.floor(hidden / heads);
  const ropeDims = m.integer(`${a}.rope.dimension_count`);
  if (ropeDims !== undefined && ropeDims !== headDim) {
    throw new InputError({ file: m.file, field: `${a}.rope.dimension_count` }, `rotary positions on ${ropeDims} of ${headDim} head dimensions (partial rotary) are not supported`);
  }
  const valueLength = m.integer(`${a}.attention.value_length`);
  if (valueLength !== undefined && valueLength !== headDim) {
    throw new InputError({ file: m.file, field: `${a}.attention.value_length` }, `differs from key_length ${headDim}`);
  }
  const vocab = m.integer(`${a}.vocab_size`) ?? facts.embeddingRows;
  const optId = (key: string): number | null => m.integer(key) ?? null;
  return {
    architectures: [{ llama: "LlamaForCausalLM", qwen2: "Qwen2ForCausalLM", qwen3: "Qwen3ForCausalLM" }[a]],
    model_type: a,
    vocab_size: vocab,
    hidden_size: hidden,
    num_hidden_layers: m.requiredInteger(`${a}.block_count`),
    num_attention_heads: heads,
    num_key_value_heads: m.integer(`${a}.attention.head_count_kv`) ?? heads,
    head_dim: headDim,
    intermediate_size: m.requiredInteger(`${a}.feed_forward_length`),
    rms_norm_eps: shortestFloat32(m.requiredNumber(`${a}.attention.layer_norm_rms_epsilon`)),
    rope_theta: shortestFloat32(m.number(`${a}.rope.freq_base`) ?? 10000),
    ...(facts.ropeScaling !== null
      ? {
          rope_scaling: {
            rope_type: "llama3",
            factor: facts.ropeScaling.factor,
            low_freq_factor: facts.ropeScaling.lowFreqFactor,
            high_freq_factor: facts.ropeScaling.highFreqFactor,
            original_max_position_embeddings: facts.ropeScaling.originalMaxPositionEmbeddings,
          },
        }
      : {}),
    max_position_embeddings: m.integer(`${a}.context_length`) ?? 2048,
    tie_word_embeddings: !facts.hasOutput,
    ...(a !== "qwen2" ? { attention_bias: facts.hasAttentionBias } : {}),
    bos_token_id: optId("tokenizer.ggml.bos_token_id"),
    eos_token_id: optId("tokenizer.ggml.eos_token_id"),
    pad_token_id: optId("tokenizer.ggml.padding_token_id"),
    hidden_act: "silu",
  };
}

/**
 * GGUF stores epsilons and rotary bases as float32 (1e-5 reads back as 9.99999974e-6): the shortest decimal with
 * the same float32 value restores what config.json said, and is the same number once the model runs in float32.
 */
function shortestFloat32(x: number): number {
  for (let p = 1; p <= 17; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === Math.fround(x)) return y;
  }
  return x;
}

/** Checks the object as config.json would be checked, so a bad file fails here naming the GGUF key. */
export function configFromMetadata(m: MetadataView, facts: TensorFacts): LlamaConfig {
  return parseConfigJson(metadataToConfigJson(m, facts), m.file);
}
