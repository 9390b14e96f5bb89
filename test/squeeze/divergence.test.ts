/**
 * The step divergence of METHOD.md stage 2 (the paper's Eq. 2) and its three estimators: exact KL over full
 * distributions, KL of top-k lists coarse-grained to their shared tokens plus one remainder bucket, and the
 * sampled-token estimator. Expected values are computed by hand in the comments.
 */
import { describe, expect, it } from "vitest";
import { divergenceTerms, klExact, klTopK, stepDivergence, type PositionScores } from "../../src/squeeze/divergence.js";
import { Rng } from "../../src/util/rng.js";

const TOL = 1e-6;

/** A full log-distribution (Float32Array, as engines return it) from probabilities. */
function logs(ps: number[]): Float32Array {
  return Float32Array.from(ps.map((p) => Math.log(p)));
}

type TopList = Array<[number, number]>;

/** The top-k [token id, log-prob] list of a full log-distribution, descending (ties by id). */
function topK(lp: Float32Array, k: number): TopList {
  return Array.from(lp, (l, id): [number, number] => [id, l])
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, k);
}

/** A top list from probabilities given as [id, p]. */
function top(...entries: Array<[number, number]>): TopList {
  return entries.map(([id, p]) => [id, Math.fround(Math.log(p))]);
}

function gaussian(rng: Rng): number {
  const u = 1 - rng.next();
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Log-softmax in float64, stored as float32. */
function logSoftmax(logits: number[]): Float32Array {
  const m = Math.max(...logits);
  let z = 0;
  for (const x of logits) z += Math.exp(x - m);
  const lz = m + Math.log(z);
  return Float32Array.from(logits.map((x) => x - lz));
}

describe("klExact", () => {
  it("p = [0.5, 0.5], q = [0.25, 0.75] → 0.5·ln 2 + 0.5·ln(2/3)", () => {
    const expected = 0.5 * Math.log(2) + 0.5 * Math.log(2 / 3); // = 0.5·ln(4/3) ≈ 0.143841
    expect(expected).toBeCloseTo(0.143841, 6);
    expect(klExact(logs([0.5, 0.5]), logs([0.25, 0.75]))).toBeCloseTo(expected, 6);
  });

  it("is asymmetric: KL(q ‖ p) = 0.25·ln 0.5 + 0.75·ln 1.5", () => {
    const expected = 0.25 * Math.log(0.5) + 0.75 * Math.log(1.5); // ≈ 0.130812
    const forward = klExact(logs([0.5, 0.5]), logs([0.25, 0.75]));
    const backward = klExact(logs([0.25, 0.75]), logs([0.5, 0.5]));
    expect(backward).toBeCloseTo(expected, 6);
    expect(Math.abs(forward - backward)).toBeGreaterThan(0.01);
  });

  it("three tokens by hand", () => {
    // p = [0.7, 0.2, 0.1], q = [0.1, 0.3, 0.6]: 0.7·ln 7 + 0.2·ln(2/3) + 0.1·ln(1/6)
    const expected = 0.7 * Math.log(7) + 0.2 * Math.log(2 / 3) + 0.1 * Math.log(1 / 6);
    expect(Math.abs(klExact(logs([0.7, 0.2, 0.1]), logs([0.1, 0.3, 0.6])) - expected)).toBeLessThan(TOL);
  });

  it("identical distributions → exactly 0", () => {
    const p = logs([0.1, 0.2, 0.3, 0.4]);
    expect(klExact(p, p)).toBe(0);
    expect(klExact(p, Float32Array.from(p))).toBe(0);
  });

  it("tokens p gives no mass (−∞) contribute nothing, even where q gives none either", () => {
    // p = [1, 0], q = [0.5, 0.5] → 1·ln 2
    expect(klExact(Float32Array.from([0, -Infinity]), logs([0.5, 0.5]))).toBeCloseTo(Math.log(2), 6);
    // p = [0.5, 0.5, 0], q = [0.25, 0.75, 0] → 0.5·ln(4/3), not NaN
    const d = klExact(Float32Array.from([Math.log(0.5), Math.log(0.5), -Infinity]), Float32Array.from([Math.log(0.25), Math.log(0.75), -Infinity]));
    expect(d).toBeCloseTo(0.5 * Math.log(4 / 3), 6);
  });

  it("mass where q has none → +∞", () => {
    expect(klExact(logs([0.5, 0.5]), Float32Array.from([0, -Infinity]))).toBe(Infinity);
  });

  it("is clamped at 0 (float rounding or unnormalised input cannot make it negative)", () => {
    // q sums to 1.2: Σ p·ln(p/q) = ln(0.5/0.6) < 0 → 0
    expect(klExact(logs([0.5, 0.5]), logs([0.6, 0.6]))).toBe(0);
  });

  it("distributions over different vocabularies are an error", () => {
    expect(() => klExact(logs([0.5, 0.5]), logs([0.2, 0.3, 0.5]))).toThrow(RangeError);
  });
});

describe("klTopK", () => {
  // p = [0.5, 0.3, 0.15, 0.05], q = [0.4, 0.2, 0.3, 0.1] over tokens 0..3.
  const p = logs([0.5, 0.3, 0.15, 0.05]);
  const q = logs([0.4, 0.2, 0.3, 0.1]);

  it("top-2: one shared token plus the remainder bucket", () => {
    // p top-2: 0 (0.5), 1 (0.3); q top-2: 0 (0.4), 2 (0.3). Shared {0}.
    // remainder: p 1 − 0.5 = 0.5, q 1 − 0.4 = 0.6 → 0.5·ln(0.5/0.4) + 0.5·ln(0.5/0.6) ≈ 0.020411
    const expected = 0.5 * Math.log(1.25) + 0.5 * Math.log(0.5 / 0.6);
    expect(Math.abs(klTopK(topK(p, 2), topK(q, 2)) - expected)).toBeLessThan(TOL);
  });

  it("top-3: three shared tokens; the remainder is the one token left, so it equals the exact KL", () => {
    // q top-3: 0 (0.4), 2 (0.3), 1 (0.2). Shared {0, 1, 2}; remainder p 0.05, q 0.1.
    // 0.5·ln 1.25 + 0.3·ln 1.5 + 0.15·ln 0.5 + 0.05·ln 0.5 ≈ 0.094094
    const expected = 0.5 * Math.log(1.25) + 0.3 * Math.log(1.5) + 0.15 * Math.log(0.5) + 0.05 * Math.log(0.5);
    expect(Math.abs(klTopK(topK(p, 3), topK(q, 3)) - expected)).toBeLessThan(TOL);
    expect(Math.abs(klExact(p, q) - expected)).toBeLessThan(TOL);
  });

  it("top-1 with the same top token: two buckets", () => {
    // p top-1: 0 (0.5); q top-1: 0 (0.4). Shared {0}: the same value as top-2, which shares only token 0 too
    const expected = 0.5 * Math.log(1.25) + 0.5 * Math.log(0.5 / 0.6);
    expect(Math.abs(klTopK(topK(p, 1), topK(q, 1)) - expected)).toBeLessThan(TOL);
  });

  it("hand-written lists: two shared tokens", () => {
    // p: a 0.6, b 0.2, c 0.1; q: b 0.5, a 0.3, d 0.1. Shared {a, b}: pRest 0.2, qRest 0.2.
    // 0.6·ln 2 + 0.2·ln 0.4 + 0.2·ln 1 ≈ 0.232630
    const expected = 0.6 * Math.log(2) + 0.2 * Math.log(0.4);
    const d = klTopK(top([10, 0.6], [20, 0.2], [30, 0.1]), top([20, 0.5], [10, 0.3], [40, 0.1]));
    expect(Math.abs(d - expected)).toBeLessThan(TOL);
  });

  it("no shared token: everything is one bucket on each side → 0", () => {
    expect(klTopK(top([0, 0.6]), top([1, 0.7]))).toBe(0);
    expect(klTopK(top([0, 0.6], [1, 0.3]), top([2, 0.5], [3, 0.4]))).toBe(0);
  });

  it("p's top-k covers all its mass", () => {
    // p = [0.7, 0.3], q top-2 = 0 (0.5), 1 (0.2) (q has 0.3 elsewhere). Shared {0, 1}, pRest = 0:
    // 0.7·ln 1.4 + 0.3·ln 1.5 ≈ 0.357171 — the exact KL too (p has no mass elsewhere).
    const expected = 0.7 * Math.log(1.4) + 0.3 * Math.log(1.5);
    const pFull = Float32Array.from([Math.log(0.7), Math.log(0.3), -Infinity, -Infinity]);
    const qFull = logs([0.5, 0.2, 0.2, 0.1]);
    expect(Math.abs(klTopK(top([0, 0.7], [1, 0.3]), top([0, 0.5], [1, 0.2])) - expected)).toBeLessThan(TOL);
    expect(Math.abs(klExact(pFull, qFull) - expected)).toBeLessThan(TOL);
    // only token 0 shared: 0.7·ln(0.7/0.5) + 0.3·ln(0.3/0.5) ≈ 0.082283
    const oneShared = 0.7 * Math.log(0.7 / 0.5) + 0.3 * Math.log(0.3 / 0.5);
    expect(Math.abs(klTopK(top([0, 0.7], [1, 0.3]), top([0, 0.5], [2, 0.2])) - oneShared)).toBeLessThan(TOL);
  });

  it("both lists cover all the mass of identical distributions → 0", () => {
    expect(klTopK(top([0, 0.7], [1, 0.3]), top([0, 0.7], [1, 0.3]))).toBeLessThan(TOL);
    expect(klTopK(topK(p, 4), topK(p, 4))).toBeLessThan(TOL);
  });

  it("does not depend on the order of the lists", () => {
    const a = top([10, 0.6], [20, 0.2], [30, 0.1]);
    const b = top([20, 0.5], [10, 0.3], [40, 0.1]);
    const d = klTopK(a, b);
    expect(klTopK([...a].reverse(), [...b].reverse())).toBeCloseTo(d, 12);
  });

  it("is asymmetric", () => {
    const a = top([0, 0.9], [1, 0.05]);
    const b = top([0, 0.5], [1, 0.3]);
    // KL(a ‖ b) = 0.9·ln 1.8 + 0.05·ln(1/6) + 0.05·ln(0.05/0.2); KL(b ‖ a) = 0.5·ln(5/9) + 0.3·ln 6 + 0.2·ln 4
    expect(Math.abs(klTopK(a, b) - (0.9 * Math.log(1.8) + 0.05 * Math.log(1 / 6) + 0.05 * Math.log(0.25)))).toBeLessThan(TOL);
    expect(Math.abs(klTopK(b, a) - (0.5 * Math.log(5 / 9) + 0.3 * Math.log(6) + 0.2 * Math.log(4)))).toBeLessThan(TOL);
  });

  it("p has remainder mass where q has none (q's shared tokens cover everything): a very large value", () => {
    // The true coarse-grained KL is infinite; the estimator floors q's remainder at 1e-6 (float32 rounding) and must
    // still reject such a candidate under any sensible ε: 0.5·ln(0.5) + 0.5·ln(0.5 / 1e-6) ≈ 6.2.
    const d = klTopK(top([0, 0.5]), top([0, 1]));
    expect(d).toBeCloseTo(0.5 * Math.log(0.5) + 0.5 * Math.log(0.5 / 1e-6), 6);
  });

  it("a shared token to which q gives no mass → +∞", () => {
    expect(klTopK(top([0, 0.5], [1, 0.5]), [[0, 0], [1, -Infinity]])).toBe(Infinity);
  });

  it("a token p gives no mass (log-prob −∞ in its list) contributes nothing, as in klExact", () => {
    // p = [0.7, 0.3, 0], q = [0.5, 0.3, 0.2]: shared {0, 1, 2}, pRest = 0 → 0.7·ln 1.4 + 0.3·ln 1 ≈ 0.235528.
    const pTop: TopList = [
      [0, Math.log(0.7)],
      [1, Math.log(0.3)],
      [2, -Infinity],
    ];
    const qTop = top([0, 0.5], [1, 0.3], [2, 0.2]);
    const expected = 0.7 * Math.log(1.4);
    expect(klExact(Float32Array.from(pTop.map(([, l]) => l)), Float32Array.from(qTop.map(([, l]) => l)))).toBeCloseTo(expected, 6);
    expect(klTopK(pTop, qTop)).toBeCloseTo(expected, 6);
  });

  it("property: never more than the exact KL, never negative, non-decreasing in k, = exact at k = V", () => {
    const rng = new Rng(31337);
    let strictlyLess = 0;
    for (let t = 0; t < 200; t++) {
      const V = rng.int(8, 50);
      const scale = 0.5 + 3 * rng.next();
      const pLogits = Array.from({ length: V }, () => scale * gaussian(rng));
      // half the q's are small perturbations of p (the regime that matters: D near ε), half independent
      const qLogits = t % 2 === 0 ? pLogits.map((x) => x + 0.3 * rng.next() * gaussian(rng)) : Array.from({ length: V }, () => scale * gaussian(rng));
      const lp = logSoftmax(pLogits);
      const lq = logSoftmax(qLogits);
      const exact = klExact(lp, lq);
      let prev = 0;
      for (const k of [1, 3, 5]) {
        const d = klTopK(topK(lp, k), topK(lq, k));
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(exact + TOL);
        // the shared set only grows with k: a finer partition cannot lower the KL
        expect(d).toBeGreaterThanOrEqual(prev - TOL);
        prev = d;
        if (d < exact - 1e-4) strictlyLess++;
      }
      expect(Math.abs(klTopK(topK(lp, V), topK(lq, V)) - exact)).toBeLessThan(1e-5);
    }
    // and the bound is not trivially tight: coarse-graining usually loses something
    expect(strictlyLess).toBeGreaterThan(300);
  });
});

describe("divergenceTerms and stepDivergence", () => {
  // Two positions over 3 tokens. Original: [0.5, 0.25, 0.25], [0.7, 0.2, 0.1]; candidate: [0.25, 0.25, 0.5], [0.1, 0.3, 0.6].
  const o1 = logs([0.5, 0.25, 0.25]);
  const c1 = logs([0.25, 0.25, 0.5]);
  const o2 = logs([0.7, 0.2, 0.1]);
  const c2 = logs([0.1, 0.3, 0.6]);
  // position 1: 0.5·ln 2 + 0 + 0.25·ln 0.5 = 0.25·ln 2 ≈ 0.173287
  const kl1 = 0.25 * Math.log(2);
  // position 2: 0.7·ln 7 + 0.2·ln(2/3) + 0.1·ln(1/6) ≈ 1.102748
  const kl2 = 0.7 * Math.log(7) + 0.2 * Math.log(2 / 3) + 0.1 * Math.log(1 / 6);
  // continuation tokens t = [0, 0]: log P under original and candidate
  const original: PositionScores = {
    logprobs: [Math.log(0.5), Math.log(0.7)],
    full: [o1, o2],
    top: [topK(o1, 2), topK(o2, 2)],
  };
  const candidate: PositionScores = {
    logprobs: [Math.log(0.25), Math.log(0.1)],
    full: [c1, c2],
    top: [topK(c1, 2), topK(c2, 2)],
  };

  it("exact: per-position KL, summed or averaged", () => {
    const terms = divergenceTerms(original, candidate, "exact");
    expect(terms).toHaveLength(2);
    expect(Math.abs(terms[0] - kl1)).toBeLessThan(TOL);
    expect(Math.abs(terms[1] - kl2)).toBeLessThan(TOL);
    expect(Math.abs(stepDivergence(original, candidate, "exact", "sum") - (kl1 + kl2))).toBeLessThan(TOL);
    expect(Math.abs(stepDivergence(original, candidate, "exact", "mean") - (kl1 + kl2) / 2)).toBeLessThan(TOL);
  });

  it("top-k: per-position klTopK", () => {
    // position 1: o1 top-2 = 0 (0.5), 1 (0.25) (tie 1/2 by id); c1 top-2 = 2 (0.5), 0 (0.25). Shared {0}:
    //   0.5·ln 2 + 0.5·ln(0.5/0.75)
    const t1 = 0.5 * Math.log(2) + 0.5 * Math.log(0.5 / 0.75);
    // position 2: o2 top-2 = 0 (0.7), 1 (0.2); c2 top-2 = 2 (0.6), 1 (0.3). Shared {1}: 0.2·ln(2/3) + 0.8·ln(0.8/0.7)
    const t2 = 0.2 * Math.log(2 / 3) + 0.8 * Math.log(0.8 / 0.7);
    const terms = divergenceTerms(original, candidate, "topk");
    expect(Math.abs(terms[0] - t1)).toBeLessThan(TOL);
    expect(Math.abs(terms[1] - t2)).toBeLessThan(TOL);
    expect(Math.abs(stepDivergence(original, candidate, "topk", "sum") - (t1 + t2))).toBeLessThan(TOL);
    expect(Math.abs(stepDivergence(original, candidate, "topk", "mean") - (t1 + t2) / 2)).toBeLessThan(TOL);
    for (let j = 0; j < 2; j++) expect(terms[j]).toBeLessThanOrEqual(divergenceTerms(original, candidate, "exact")[j] + TOL);
  });

  it("sampled: Σ_j [log P(t_j | original) − log P(t_j | candidate)]", () => {
    // ln 0.5 − ln 0.25 = ln 2; ln 0.7 − ln 0.1 = ln 7
    const terms = divergenceTerms(original, candidate, "sampled");
    expect(terms[0]).toBeCloseTo(Math.log(2), 12);
    expect(terms[1]).toBeCloseTo(Math.log(7), 12);
    expect(stepDivergence(original, candidate, "sampled", "sum")).toBeCloseTo(Math.log(14), 12);
    expect(stepDivergence(original, candidate, "sampled", "mean")).toBeCloseTo(Math.log(14) / 2, 12);
  });

  it("sampled: terms and the total can be negative (no clamping)", () => {
    const a: PositionScores = { logprobs: Float64Array.from([-1, -2, -0.5]) };
    const b: PositionScores = { logprobs: Float64Array.from([-1.5, -1, -0.5]) };
    // terms 0.5, −1, 0 → sum −0.5, mean −1/6
    expect(divergenceTerms(a, b, "sampled")).toEqual([0.5, -1, 0]);
    expect(stepDivergence(a, b, "sampled", "sum")).toBeCloseTo(-0.5, 12);
    expect(stepDivergence(a, b, "sampled", "mean")).toBeCloseTo(-1 / 6, 12);
    // and it is antisymmetric
    expect(stepDivergence(b, a, "sampled", "sum")).toBeCloseTo(0.5, 12);
  });

  it("the exact and top-k estimators only use the distributions; the sampled one only the log-probabilities", () => {
    const o: PositionScores = { ...original, logprobs: [0, 0] };
    const c: PositionScores = { ...candidate, logprobs: [0, 0] };
    expect(stepDivergence(o, c, "exact", "sum")).toBeCloseTo(stepDivergence(original, candidate, "exact", "sum"), 12);
    expect(stepDivergence(o, c, "topk", "sum")).toBeCloseTo(stepDivergence(original, candidate, "topk", "sum"), 12);
    expect(stepDivergence(o, c, "sampled", "sum")).toBe(0);
    const noDists = (s: PositionScores): PositionScores => ({ logprobs: s.logprobs });
    expect(stepDivergence(noDists(original), noDists(candidate), "sampled", "sum")).toBeCloseTo(Math.log(14), 12);
  });

  it("a candidate identical to the original → 0 for every estimator and reduction", () => {
    for (const estimator of ["exact", "topk", "sampled"] as const) {
      for (const reduction of ["sum", "mean"] as const) expect(stepDivergence(original, original, estimator, reduction)).toBeLessThan(TOL);
    }
  });

  it("sum = T × mean", () => {
    const rng = new Rng(5);
    const T = 17;
    const mk = (): PositionScores => {
      const full = Array.from({ length: T }, () => logSoftmax(Array.from({ length: 12 }, () => 2 * gaussian(rng))));
      return { logprobs: full.map((d) => d[0]), full, top: full.map((d) => topK(d, 5)) };
    };
    const a = mk();
    const b = mk();
    for (const estimator of ["exact", "topk", "sampled"] as const) {
      const sum = stepDivergence(a, b, estimator, "sum");
      const mean = stepDivergence(a, b, estimator, "mean");
      expect(sum).toBeCloseTo(T * mean, 9);
      expect(sum).toBeCloseTo(divergenceTerms(a, b, estimator).reduce((x, y) => x + y, 0), 12);
    }
  });

  it("an empty window gives 0 for both reductions", () => {
    const empty: PositionScores = { logprobs: [], full: [], top: [] };
    for (const estimator of ["exact", "topk", "sampled"] as const) {
      expect(divergenceTerms(empty, empty, estimator)).toEqual([]);
      expect(stepDivergence(empty, empty, estimator, "sum")).toBe(0);
      expect(stepDivergence(empty, empty, estimator, "mean")).toBe(0);
    }
  });

  it("mismatched position counts are an error", () => {
    const short: PositionScores = { logprobs: [original.logprobs[0]], full: [o1], top: [topK(o1, 2)] };
    for (const estimator of ["exact", "topk", "sampled"] as const) {
      expect(() => divergenceTerms(original, short, estimator)).toThrow(RangeError);
      expect(() => divergenceTerms(short, original, estimator)).toThrow(RangeError);
      expect(() => stepDivergence(original, short, estimator, "sum")).toThrow(/2 original positions, 1 candidate positions/);
    }
  });

  it("missing distributions are an error", () => {
    const bare = (s: PositionScores): PositionScores => ({ logprobs: s.logprobs });
    expect(() => divergenceTerms(bare(original), candidate, "exact")).toThrow(/exact estimator needs full distributions/);
    expect(() => divergenceTerms(original, bare(candidate), "exact")).toThrow(RangeError);
    expect(() => divergenceTerms(bare(original), candidate, "topk")).toThrow(/top-k estimator needs top-k/);
    expect(() => divergenceTerms(original, bare(candidate), "topk")).toThrow(RangeError);
    // only the top lists: exact still fails, top-k works
    const onlyTop = (s: PositionScores): PositionScores => ({ logprobs: s.logprobs, top: s.top });
    expect(() => stepDivergence(onlyTop(original), onlyTop(candidate), "exact", "sum")).toThrow(RangeError);
    expect(stepDivergence(onlyTop(original), onlyTop(candidate), "topk", "sum")).toBeGreaterThan(0);
  });

  it("fewer distributions than positions is an error", () => {
    const shortFull: PositionScores = { ...candidate, full: [c1] };
    expect(() => stepDivergence(original, shortFull, "exact", "sum")).toThrow();
    const shortTop: PositionScores = { ...candidate, top: [topK(c1, 2)] };
    expect(() => stepDivergence(original, shortTop, "topk", "sum")).toThrow();
  });

  it("distributions over different vocabularies are an error", () => {
    const wide: PositionScores = { ...candidate, full: [logs([0.25, 0.25, 0.25, 0.25]), c2] };
    expect(() => stepDivergence(original, wide, "exact", "sum")).toThrow(RangeError);
  });
});

describe("klTopK with the given continuation token", () => {
  it("adds the token both contexts scored, so its lost mass shows", () => {
    // p puts 0.6 on token 9 (the original continuation), q only 0.01 and outside its top-2. Without the given token
    // the lists share only token 0 and the difference hides in the remainder buckets.
    const pTop = top([9, 0.6], [0, 0.3]);
    const qTop = top([0, 0.5], [1, 0.4]);
    const without = klTopK(pTop, qTop);
    const withToken = klTopK(pTop, qTop, { id: 9, lp: Math.log(0.6), lq: Math.log(0.01) });
    // by hand: shared {0, 9}: 0.3·ln(0.3/0.5) + 0.6·ln(0.6/0.01); remainder 0.1 vs 0.49
    const expected = 0.3 * Math.log(0.3 / 0.5) + 0.6 * Math.log(0.6 / 0.01) + 0.1 * Math.log(0.1 / 0.49);
    expect(withToken).toBeCloseTo(expected, 6);
    expect(withToken).toBeGreaterThan(without);
  });

  it("changes nothing when the token is in both lists already", () => {
    const pTop = top([0, 0.6], [1, 0.3]);
    const qTop = top([0, 0.5], [1, 0.4]);
    expect(klTopK(pTop, qTop, { id: 0, lp: pTop[0][1], lq: qTop[0][1] })).toBe(klTopK(pTop, qTop));
  });
});
