/**
 * Llama 3 rotary scaling in GGUF. llama.cpp has no metadata key for it: its converter stores the factor dividing
 * each rotary frequency as a `rope_freqs.weight` tensor. Writing computes those factors from the HF parameters;
 * reading recovers parameters that give the same factors.
 *
 * The factors fix only the ratios between original_max_position_embeddings, low_freq_factor and high_freq_factor
 * (scaling all three by k changes nothing), so reading takes low_freq_factor = 1, as every Llama 3 release has, and
 * solves the other two from the frequencies in the blended band; the result is accepted only if it reproduces
 * every factor.
 */
import type { RopeScaling } from "../model/rope.js";

/** The factor dividing each of the headDim/2 rotary frequencies (as llama.cpp's converter computes them). */
export function ropeFreqFactors(headDim: number, theta: number, s: RopeScaling): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(half);
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let i = 0; i < half; i++) {
    const wavelen = wavelength(i, headDim, theta);
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = s.factor;
    else {
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

function wavelength(i: number, headDim: number, theta: number): number {
  return 2 * Math.PI * Math.pow(theta, (2 * i) / headDim);
}

/** Llama 3 parameters reproducing `factors`; null when none do (the file's scaling is something else). */
export function llama3ScalingFromFactors(factors: Float32Array, headDim: number, theta: number): RopeScaling | null {
  if (factors.length !== headDim / 2) return null;
  const factor = Math.max(...factors);
  if (!(factor > 1)) return null;
  const tol = 1e-4;
  // In the blended band 1/f = (1 − s)/factor + s with s = a/wavelen − b, a = orig/(high − low), b = low/(high − low).
  const band: Array<{ x: number; s: number }> = [];
  factors.forEach((f, i) => {
    if (f > 1 + tol && f < factor * (1 - tol)) band.push({ x: 1 / wavelength(i, headDim, theta), s: (1 / f - 1 / factor) / (1 - 1 / factor) });
  });
  const candidates: RopeScaling[] = [{ type: "llama3", factor, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 }];
  if (band.length >= 2) {
    const p = band[0];
    const q = band[band.length - 1];
    const a = (q.s - p.s) / (q.x - p.x);
    const b = a * p.x - p.s;
    if (a > 0 && b > 0) {
      candidates.unshift({ type: "llama3", factor, lowFreqFactor: 1, highFreqFactor: round(1 + 1 / b), originalMaxPositionEmbeddings: Math.round(a / b) });
    }
  }
  for (const c of candidates) {
    const again = ropeFreqFactors(headDim, theta, c);
    if (again.every((f, i) => Math.abs(f - factors[i]) <= tol * Math.max(1, Math.abs(factors[i])))) return { ...c, factor: round(c.factor) };
  }
  return null;
}

/** The shortest decimal with the same float32 value (factors are stored as float32). */
function round(x: number): number {
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.abs(y - x) <= 1e-6 * Math.abs(x)) return y;
  }
  return x;
}
