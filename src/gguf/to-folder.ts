/**
 * GGUF → HF model folder: config.json from the `{arch}.*` metadata, tokenizer.json / tokenizer_config.json /
 * chat_template.jinja from `tokenizer.*`, and every tensor dequantised to F32 in model.safetensors (llama's q/k
 * rows un-permuted back to HF's layout). The folder loads in the embedded engine and in transformers.
 */
import { closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ARCHITECTURES, configToJson } from "../model/config.js";
import type { RopeScaling } from "../model/rope.js";
import { parameterSpecs } from "../model/weights.js";
import { InputError } from "../util/errors.js";
import { configFromMetadata } from "./config-metadata.js";
import { BLOCK, ggmlTypeName } from "./constants.js";
import { dequantize } from "./dequantize.js";
import { readGguf, readTensorBytes, type GgufFile, type TensorInfo } from "./read.js";
import { llama3ScalingFromFactors } from "./rope-factors.js";
import { writeSafetensorsStream } from "./safetensors-stream.js";
import { ggufToHfName, hfToGgufName, permuteRows, permutedHeads } from "./tensor-names.js";
import { ggufTokenizerToHf } from "./tokenizer.js";

export interface ConvertToFolderOptions {
  /** Called after each tensor is dequantised. */
  onProgress?: (done: number, total: number) => void;
}

export interface ConvertedFolder {
  architecture: string;
  tensors: number;
  /** Tensor count per ggml type name in the GGUF, e.g. {Q4_1: 210, F32: 61}. */
  sourceTypes: Record<string, number>;
}

/** The Llama 3 scaling a rope_freqs tensor encodes (null without one); refused when no Llama 3 parameters give it. */
function readRopeScaling(g: GgufFile, t: TensorInfo | undefined): RopeScaling | null {
  if (t === undefined) return null;
  const m = g.metadata;
  const arch = m.requiredString("general.architecture");
  // Other architectures are refused by the config check that follows, naming general.architecture.
  if (!(ARCHITECTURES as readonly string[]).includes(arch)) return null;
  const heads = m.requiredInteger(`${arch}.attention.head_count`);
  const headDim = m.integer(`${arch}.attention.key_length`) ?? m.integer(`${arch}.rope.dimension_count`) ?? Math.floor(m.requiredInteger(`${arch}.embedding_length`) / heads);
  const factors = dequantize(t.type, readTensorBytes(g, t), t.elements);
  const scaling = llama3ScalingFromFactors(factors, headDim, m.number(`${arch}.rope.freq_base`) ?? 10000);
  if (scaling === null) {
    throw new InputError({ file: g.file, field: t.name }, "per-frequency rotary factors that no Llama 3 rope scaling (low_freq_factor 1) reproduces are not supported");
  }
  return scaling;
}

export async function convertGgufToFolder(file: string, dir: string, opts: ConvertToFolderOptions = {}): Promise<ConvertedFolder> {
  const g = readGguf(file);
  const m = g.metadata;
  const byName = new Map(g.tensors.map((t) => [t.name, t]));
  const embd = byName.get("token_embd.weight");
  if (embd === undefined) throw new InputError({ file, field: "token_embd.weight" }, "tensor missing");
  const ropeScaling = readRopeScaling(g, byName.get("rope_freqs.weight"));
  const cfg = configFromMetadata(m, { hasOutput: byName.has("output.weight"), hasAttentionBias: byName.has("blk.0.attn_q.bias"), embeddingRows: embd.dims[1] ?? 0, ropeScaling });
  const tokenizer = ggufTokenizerToHf(m, cfg.maxPositionEmbeddings);
  const tokenCount = m.stringArray("tokenizer.ggml.tokens")?.length ?? 0;
  if (tokenCount > cfg.vocabSize) {
    throw new InputError({ file, field: "tokenizer.ggml.tokens" }, `${tokenCount} tokens but the model's vocabulary has ${cfg.vocabSize} rows`);
  }

  // Every tensor must be one the config calls for, with the shape it calls for (checked before anything is written).
  const specs = new Map(parameterSpecs(cfg).map((s) => [s.name, s]));
  const sourceTypes: Record<string, number> = {};
  const byHfName = new Map<string, { info: TensorInfo; shape: number[] }>();
  for (const t of g.tensors) {
    if (t.name === "rope_freqs.weight") continue; // became config.json's rope_scaling
    const name = ggufToHfName(t.name);
    const spec = name === undefined ? undefined : specs.get(name);
    if (name === undefined || spec === undefined) {
      throw new InputError({ file, field: t.name }, `tensor not part of a ${cfg.architecture} model with this configuration`);
    }
    const shape = [...t.dims].reverse();
    const want = spec.transposed ? [spec.shape[1], spec.shape[0]] : spec.shape;
    if (shape.length !== want.length || shape.some((d, k) => d !== want[k])) {
      throw new InputError({ file, field: t.name }, `shape [${shape.join(", ")}] (HF order) does not match the metadata (expected [${want.join(", ")}])`);
    }
    if (BLOCK[t.type] === undefined) readTensorBytes(g, t); // refuses the type, naming the tensor
    sourceTypes[ggmlTypeName(t.type)] = (sourceTypes[ggmlTypeName(t.type)] ?? 0) + 1;
    byHfName.set(name, { info: t, shape });
  }
  for (const s of specs.values()) {
    if (!byHfName.has(s.name)) throw new InputError({ file, field: hfToGgufName(s.name) ?? s.name }, `tensor missing (the metadata calls for HF's ${s.name})`);
  }

  // One tensor in memory at a time: models whose F32 weights exceed a Node buffer convert too. HF order (the spec
  // order), so the folder matches one transformers saves.
  mkdirSync(dir, { recursive: true });
  const order = [...specs.keys()].map((name) => ({ name, ...byHfName.get(name)! }));
  const fd = openSync(file, "r");
  try {
    writeSafetensorsStream(
      join(dir, "model.safetensors"),
      order.map(({ name, shape }) => ({ name, shape })),
      (i) => {
        const { name, info, shape } = order[i];
        let data = dequantize(info.type, readTensorBytes(g, info, fd), info.elements);
        const heads = permutedHeads(cfg.architecture, name, cfg.numAttentionHeads, cfg.numKeyValueHeads);
        if (heads !== null) data = permuteRows(data, heads, shape.length === 2 ? shape[1] : 1, false);
        opts.onProgress?.(i + 1, order.length);
        return data;
      },
    );
  } finally {
    closeSync(fd);
  }
  writeFileSync(join(dir, "config.json"), JSON.stringify(configToJson(cfg), null, 2) + "\n");
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer.tokenizerJson) + "\n");
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tokenizer.tokenizerConfig, null, 2) + "\n");
  if (tokenizer.chatTemplate !== null) writeFileSync(join(dir, "chat_template.jinja"), tokenizer.chatTemplate);
  const gen: Record<string, unknown> = { bos_token_id: cfg.bosTokenId, eos_token_id: cfg.eosTokenIds.length === 1 ? cfg.eosTokenIds[0] : cfg.eosTokenIds };
  if (cfg.padTokenId !== null) gen.pad_token_id = cfg.padTokenId;
  writeFileSync(join(dir, "generation_config.json"), JSON.stringify(gen, null, 2) + "\n");
  return { architecture: cfg.architecture, tensors: g.tensors.length, sourceTypes };
}
