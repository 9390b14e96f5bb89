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

    // Cut-offs from one native numeric sort of the probabilities (much cheaper than sorting ids with a
    // comparator). The kept set is "the m most probable tokens, ties broken by lower id", described by a
    // cut-off value c and how many tokens exactly equal to c are admitted.
    if (this.sorted.length < V) this.sorted = new Float64Array(V);
    const sorted = this.sorted.subarray(0, V);
    sorted.set(probs.subarray(0, V));
    sorted.sort();
    let m = topK;
    let mass = 0;
    for (let i = V - 1; i >= V - m; i--) mass += sorted[i];
    if (topP < 1) {
      // Smallest m whose top-m mass reaches topP of the top-k mass (at least one token).
      const target = topP * mass;
      let cum = 0;
      let count = 0;
      for (let i = V - 1; i >= V - topK; i--) {
        cum += sorted[i];
        count++;
        if (cum >= target) break;
      }
      m = Math.max(1, count);
      mass = cum;
    }
    const cutoff = sorted[V - m];
    let above = 0;
    for (let i = V - 1; i >= V - m && sorted[i] > cutoff; i--) above++;
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
