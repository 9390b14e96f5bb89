/** The sampler keeps exactly the vLLM-style top-k / top-p sets and samples them in proportion. */
import { describe, expect, it } from "vitest";
import { argmax, Sampler } from "../../src/model/sampler.js";
import { Rng } from "../../src/util/rng.js";

/** Logits whose softmax is `probs` (temperature 1). */
function logitsOf(probs: number[]): Float32Array {
  return Float32Array.from(probs.map((p) => (p > 0 ? Math.log(p) : -1e30)));
}

function frequencies(probs: number[], params: { temperature: number; topP: number; topK: number }, draws = 40000): number[] {
  const s = new Sampler();
  const rng = new Rng(9);
  const counts = new Array(probs.length).fill(0);
  const logits = logitsOf(probs);
  for (let i = 0; i < draws; i++) counts[s.sample(logits, params, rng)]++;
  return counts.map((c) => c / draws);
}

function expectClose(freq: number[], expected: number[]): void {
  freq.forEach((f, i) => {
    if (expected[i] === 0) expect(f, `token ${i} must never be drawn`).toBe(0);
    else expect(Math.abs(f - expected[i]), `token ${i}: ${f} vs ${expected[i]}`).toBeLessThan(0.015);
  });
}

const probs = [0.05, 0.4, 0.1, 0.25, 0.2];

describe("Sampler", () => {
  it("samples the full distribution without top-k/top-p", () => {
    expectClose(frequencies(probs, { temperature: 1, topP: 1, topK: 0 }), probs);
  });

  it("top-k keeps the k most likely tokens, renormalised", () => {
    expectClose(frequencies(probs, { temperature: 1, topP: 1, topK: 2 }), [0, 0.4 / 0.65, 0, 0.25 / 0.65, 0]);
  });

  it("top-p keeps the smallest most-likely set reaching p", () => {
    // Sorted: 0.4, 0.25, 0.2 (cum 0.85 ≥ 0.8) → {1, 3, 4}.
    expectClose(frequencies(probs, { temperature: 1, topP: 0.8, topK: 0 }), [0, 0.4 / 0.85, 0, 0.25 / 0.85, 0.2 / 0.85]);
    // p = 0.9 needs a token below the mean probability (the sampler's second, full pass): {1, 3, 4, 2}.
    expectClose(frequencies(probs, { temperature: 1, topP: 0.9, topK: 0 }), [0, 0.4 / 0.95, 0.1 / 0.95, 0.25 / 0.95, 0.2 / 0.95]);
    // p below the top token keeps just that token.
    expectClose(frequencies(probs, { temperature: 1, topP: 0.1, topK: 0 }), [0, 1, 0, 0, 0]);
  });

  it("top-p applies within the renormalised top-k", () => {
    // top-2 = {0.4, 0.25} (mass 0.65); p = 0.6 needs 0.39 → only token 1.
    expectClose(frequencies(probs, { temperature: 1, topP: 0.6, topK: 2 }), [0, 1, 0, 0, 0]);
    // p = 0.7 needs 0.455 → both.
    expectClose(frequencies(probs, { temperature: 1, topP: 0.7, topK: 2 }), [0, 0.4 / 0.65, 0, 0.25 / 0.65, 0]);
  });

  it("temperature sharpens and flattens", () => {
    const t = 0.5;
    const w = probs.map((p) => p ** (1 / t));
    const z = w.reduce((a, b) => a + b, 0);
    expectClose(frequencies(probs, { temperature: t, topP: 1, topK: 0 }), w.map((x) => x / z));
  });

  it("ties at the cut-off admit lower ids first; greedy takes the lowest arg max", () => {
    const tied = [0.2, 0.2, 0.2, 0.2, 0.2];
    expectClose(frequencies(tied, { temperature: 1, topP: 1, topK: 2 }), [0.5, 0.5, 0, 0, 0]);
    expect(argmax(Float32Array.from([1, 3, 3, 2]))).toBe(1);
    expect(new Sampler().sample(Float32Array.from([1, 3, 3, 2]), { temperature: 0, topP: 1, topK: 0 }, new Rng(1))).toBe(1);
  });

  it("is a pure function of the logits and the generator state", () => {
    const logits = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3);
    const params = { temperature: 0.9, topP: 0.95, topK: 50 };
    const a = new Sampler();
    const b = new Sampler();
    const ra = new Rng(5);
    const rb = new Rng(5);
    for (let i = 0; i < 200; i++) expect(a.sample(logits, params, ra)).toBe(b.sample(logits, params, rb));
  });
});
