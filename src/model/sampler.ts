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
  private order: number[] = [];

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

    // Candidates in descending probability (ties: lower id first). Collect those above a threshold that is
    // lowered until the kept set provably holds the whole top-k (or, without top-k, the nucleus), so we rarely
    // sort the whole vocabulary.
    let threshold = sum / V;
    let kept: number[];
    for (;;) {
      kept = this.collectAbove(probs, V, threshold);
      if (threshold === 0) break;
      if (topK < V) {
        if (kept.length >= topK) break;
      } else {
        let m = 0;
        for (const i of kept) m += probs[i];
        if (m >= topP * sum) break;
      }
      threshold = threshold > 1e-300 * sum ? threshold / 16 : 0;
    }
    if (kept.length > topK) kept.length = topK;
    // The nucleus is taken within the (renormalised) top-k: the smallest prefix whose mass reaches topP.
    let mass = 0;
    if (topK < V) for (const i of kept) mass += probs[i];
    else mass = sum;
    if (topP < 1) {
      const target = topP * mass;
      let cum = 0;
      let n = 0;
      while (n < kept.length) {
        cum += probs[kept[n]];
        n++;
        if (cum >= target) break;
      }
      kept.length = Math.max(1, n);
    }
    mass = 0;
    for (const i of kept) mass += probs[i];
    let u = rng.next() * mass;
    for (const i of kept) {
      u -= probs[i];
      if (u < 0) return i;
    }
    return kept[kept.length - 1];
  }

  private collectAbove(probs: Float64Array, V: number, threshold: number): number[] {
    const order = this.order;
    order.length = 0;
    for (let i = 0; i < V; i++) if (probs[i] >= threshold) order.push(i);
    order.sort((a, b) => probs[b] - probs[a] || a - b);
    return order.slice();
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
