/**
 * Rotary position tables in the HF Llama convention: inv_freq[i] = 1 / theta^(2i/headDim) (float32),
 * angle = position · inv_freq, and the table repeats the half-width angles twice (cat(freqs, freqs)) so that
 * q' = q·cos + rotate_half(q)·sin with rotate_half(x) = cat(−x[half:], x[:half]).
 * Both the training forward and the KV-cache path read these same tables, so they agree bit for bit.
 * Rotary scaling changes only inv_freq: "llama3" (Llama 3.1+) slows the low frequencies by `factor` and blends
 * the middle band, as transformers' `_compute_llama3_parameters` does (its attention factor is 1).
 */

/** Llama 3.1's rotary scaling (HF rope_type "llama3"). */
export interface Llama3RopeScaling {
  type: "llama3";
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

/** The rotary scalings the engine runs; none (null) is HF's "default". */
export type RopeScaling = Llama3RopeScaling;

export interface RopeTables {
  headDim: number;
  /** [positions, headDim] row-major. */
  cos: Float32Array;
  sin: Float32Array;
  positions: number;
}

const cache = new Map<string, RopeTables>();

export function ropeTables(headDim: number, theta: number, positions: number, scaling: RopeScaling | null = null): RopeTables {
  const key = `${headDim}/${theta}/${scaling === null ? "" : JSON.stringify(scaling)}`;
  const hit = cache.get(key);
  if (hit !== undefined && hit.positions >= positions) return hit;
  const n = Math.max(positions, hit ? hit.positions * 2 : 0);
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  // torch: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), in float32.
  for (let i = 0; i < half; i++) invFreq[i] = Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / headDim))));
  if (scaling !== null) scaleLlama3(invFreq, scaling);
  const cos = new Float32Array(n * headDim);
  const sin = new Float32Array(n * headDim);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * invFreq[i]);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * headDim + i] = c;
      cos[p * headDim + half + i] = c;
      sin[p * headDim + i] = s;
      sin[p * headDim + half + i] = s;
    }
  }
  const tables = { headDim, cos, sin, positions: n };
  cache.set(key, tables);
  return tables;
}

/** transformers' llama3 inv_freq rule, in float32 like torch. */
function scaleLlama3(invFreq: Float32Array, s: Llama3RopeScaling): void {
  const f = Math.fround;
  const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let i = 0; i < invFreq.length; i++) {
    const inv = invFreq[i];
    const wavelen = f(f(1 / inv) * f(2 * Math.PI));
    if (wavelen > lowFreqWavelen) invFreq[i] = f(inv / s.factor);
    else if (wavelen >= highFreqWavelen) {
      // Middle band: interpolate between scaled and unscaled.
      const smooth = f(f(f(f(1 / wavelen) * s.originalMaxPositionEmbeddings) - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor));
      invFreq[i] = f(f(f(f(1 - smooth) * inv) / s.factor) + f(smooth * inv));
    }
  }
}
