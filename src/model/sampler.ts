/**
 * Picks the next token from a logits row: temperature, then top-k, then top-p (nucleus), then one uniform draw
 * from the completion's own generator — the order vLLM applies them. Greedy (temperature 0) takes the arg max
 * (lowest id on ties). Everything is per row, in float64, so a completion never depends on its batch.
 */
import type { Rng } from "../util/rng.js";

export interface SamplerParams {
  temperature: number;
  topP: number;
  topK: number;
}

/** Scratch buffers reused across calls (one sampler per thread). */
export class Sampler {
  private probs = new Float64Array(0);
  private sorted = new Float64Array(0);

  sample(logits: Float32Array, params: SamplerParams, rng: Rng): number {
    const V = logits.length;
    if (params.temperature <= 0) return argmax(logits);
    if (this.probs.length < V) this.probs = new Float64Array(V);
    const probs = this.probs;
    const invT = 1 / params.temperature;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
    let sum = 0;
    for (let i = 0; i < V; i++) {
      const e = Math.exp((logits[i] - max) * invT);
      probs[i] = e;
      sum += e;
    }
    const topK = params.topK > 0 && params.topK < V ? params.topK : V;
    const topP = params.topP > 0 && params.topP < 1 ? params.topP : 1;
    if (topK === V && topP === 1) return drawFrom(probs, V, sum, rng);

    // The kept set is "the m most probable tokens, ties broken by lower id", described by a cut-off value and
    // how many tokens exactly equal to it are admitted. Cut-offs come from a native numeric sort of candidate
    // probabilities (much cheaper than sorting ids with a comparator); candidates are first only the tokens at
    // or above the mean probability (few, for a trained model's peaked distributions), then all tokens when
    // those cannot contain the kept set.
    if (this.sorted.length < V) this.sorted = new Float64Array(V);
    let sel = this.selectTop(probs, V, sum / V, topK, topP, sum);
    if (sel === null) sel = this.selectTop(probs, V, 0, topK, topP, sum)!;
    const { cutoff, m, mass } = sel;
    let above = 0;
    for (let i = 0; i < V; i++) if (probs[i] > cutoff) above++;
    let ties = m - above;
    // Draw in id order over the kept set.
    let u = rng.next() * mass;
    let last = -1;
    for (let i = 0; i < V; i++) {
      const p = probs[i];
      if (p > cutoff || (p === cutoff && ties-- > 0)) {
        last = i;
        u -= p;
        if (u < 0) return i;
      }
    }
    return last;
  }

  private selectTop(probs: Float64Array, V: number, floor: number, topK: number, topP: number, sum: number): { cutoff: number; m: number; mass: number } | null {
    return selectTopFrom(this.sorted, probs, V, floor, topK, topP, sum);
  }
}

/**
 * Among the tokens with probability ≥ `floor`: the kept set's cut-off value, its size m, and its mass; null
 * when those tokens cannot contain the whole kept set (then the caller retries with floor 0).
 */
function selectTopFrom(sorted: Float64Array, probs: Float64Array, V: number, floor: number, topK: number, topP: number, sum: number): { cutoff: number; m: number; mass: number } | null {
  let c = 0;
  for (let i = 0; i < V; i++) if (probs[i] >= floor) sorted[c++] = probs[i];
  const cand = sorted.subarray(0, c);
  cand.sort();
  if (topK < V && c < topK) return null;
  // Mass the nucleus is measured against: the top-k's (we hold all of it), or the whole distribution's.
  let mass = sum;
  if (topK < V) {
    mass = 0;
    for (let i = c - 1; i >= c - topK; i--) mass += cand[i];
  }
  let m = Math.min(topK, c);
  if (topP < 1) {
    const target = topP * mass;
    let cum = 0;
    let count = 0;
    let reached = false;
    for (let i = c - 1; i >= c - Math.min(topK, c); i--) {
      cum += cand[i];
      count++;
      if (cum >= target) {
        reached = true;
        break;
      }
    }
    if (!reached && floor > 0) return null;
    m = Math.max(1, count);
    mass = cum;
  }
  return { cutoff: cand[c - m], m, mass };
}

function drawFrom(probs: Float64Array, V: number, sum: number, rng: Rng): number {
  let u = rng.next() * sum;
  for (let i = 0; i < V; i++) {
    u -= probs[i];
    if (u < 0) return i;
  }
  // Rounding left a sliver: the last token with any mass.
  for (let i = V - 1; i >= 0; i--) if (probs[i] > 0) return i;
  return V - 1;
}

export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** log-softmax of a logits row, in float64 accumulation, written as float32. */
export function logSoftmax(logits: Float32Array, out: Float32Array = new Float32Array(logits.length)): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const logZ = max + Math.log(sum);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - logZ;
  return out;
}
