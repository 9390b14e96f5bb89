/**
 * HF ↔ llama.cpp tensor names for the Llama-family architectures, and llama.cpp's q/k row permutation.
 *
 * llama.cpp's "llama" architecture applies rotary positions to interleaved pairs (x0,x1), (x2,x3), … while HF
 * rotates halves (x_i, x_{i+hd/2}); convert_hf_to_gguf therefore reorders the rows of q_proj and k_proj within each
 * head (HF row j·hd/2 + i becomes row 2i + j). Qwen2/Qwen3 use llama.cpp's NeoX rotation (halves) and are
 * stored unpermuted.
 */
import type { Architecture } from "../model/config.js";

const LAYER_NAMES: Array<[hf: string, gguf: string]> = [
  ["input_layernorm.weight", "attn_norm.weight"],
  ["self_attn.q_proj.weight", "attn_q.weight"],
  ["self_attn.k_proj.weight", "attn_k.weight"],
  ["self_attn.v_proj.weight", "attn_v.weight"],
  ["self_attn.o_proj.weight", "attn_output.weight"],
  ["self_attn.q_proj.bias", "attn_q.bias"],
  ["self_attn.k_proj.bias", "attn_k.bias"],
  ["self_attn.v_proj.bias", "attn_v.bias"],
  ["self_attn.o_proj.bias", "attn_output.bias"],
  ["self_attn.q_norm.weight", "attn_q_norm.weight"],
  ["self_attn.k_norm.weight", "attn_k_norm.weight"],
  ["post_attention_layernorm.weight", "ffn_norm.weight"],
  ["mlp.gate_proj.weight", "ffn_gate.weight"],
  ["mlp.up_proj.weight", "ffn_up.weight"],
  ["mlp.down_proj.weight", "ffn_down.weight"],
];
const GLOBAL_NAMES: Array<[hf: string, gguf: string]> = [
  ["model.embed_tokens.weight", "token_embd.weight"],
  ["model.norm.weight", "output_norm.weight"],
  ["lm_head.weight", "output.weight"],
];

const hfToGgufLayer = new Map(LAYER_NAMES);
const ggufToHfLayer = new Map(LAYER_NAMES.map(([h, g]) => [g, h]));
const hfToGgufGlobal = new Map(GLOBAL_NAMES);
const ggufToHfGlobal = new Map(GLOBAL_NAMES.map(([h, g]) => [g, h]));

export function hfToGgufName(name: string): string | undefined {
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  if (m === null) return hfToGgufGlobal.get(name);
  const g = hfToGgufLayer.get(m[2]);
  return g === undefined ? undefined : `blk.${m[1]}.${g}`;
}

export function ggufToHfName(name: string): string | undefined {
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  if (m === null) return ggufToHfGlobal.get(name);
  const h = ggufToHfLayer.get(m[2]);
  return h === undefined ? undefined : `model.layers.${m[1]}.${h}`;
}

/** Heads whose rows llama.cpp permutes for this HF tensor, or null when it is stored as is. */
export function permutedHeads(arch: Architecture, hfName: string, numHeads: number, numKvHeads: number): number | null {
  if (arch !== "llama") return null;
  if (/\.self_attn\.q_proj\.(weight|bias)$/.test(hfName)) return numHeads;
  if (/\.self_attn\.k_proj\.(weight|bias)$/.test(hfName)) return numKvHeads;
  return null;
}

/**
 * Reorders rows of a [heads·hd, cols] matrix (or a [heads·hd] bias with cols = 1): `toGguf` maps HF's halves
 * layout to llama.cpp's interleaved one, `!toGguf` undoes it.
 */
export function permuteRows(data: Float32Array, heads: number, cols: number, toGguf: boolean): Float32Array {
  const rows = data.length / cols;
  const hd = rows / heads;
  if (!Number.isInteger(hd) || hd % 2 !== 0) throw new Error(`permuteRows: ${rows} rows do not split into ${heads} heads of even size`);
  const half = hd / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < half; i++) {
        const hfRow = h * hd + j * half + i;
        const ggRow = h * hd + 2 * i + j;
        const [src, dst] = toGguf ? [hfRow, ggRow] : [ggRow, hfRow];
        out.set(data.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}
