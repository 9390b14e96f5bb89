/**
 * Stage 1 (METHOD.md "Stage 1 — adaptive reasoning-depth selection"): hand-built problems whose p, q, k, chosen
 * set, rejected pool and pair list are worked out in the comments, for all four variants, plus the pair cap M and
 * every edge case (c = 0, c = N, no longer incorrect response, ties in length, duplicate sample indices).
 */
import { describe, expect, it } from "vitest";
import { SelectionSchema, SelectionVariants, type SelectionConfig, type SelectionVariant } from "../../src/config/schema.js";
import { ceilQuantileCount, chosenCount, selectAdaptiveDepth, type GradedSample, type SelectedPair, type Selection } from "../../src/squeeze/select.js";
import { Rng } from "../../src/util/rng.js";

const defaults = SelectionSchema.parse({});

function cfg(variant: SelectionVariant, overrides: Partial<SelectionConfig> = {}): SelectionConfig {
  return SelectionSchema.parse({ ...defaults, variant, ...overrides });
}

/** `C` = correct, `I` = incorrect; one sample per [index, tokens, grade]. */
function samplesOf(...rows: Array<[number, number, "C" | "I"]>): GradedSample[] {
  return rows.map(([sampleIndex, tokens, g]) => ({ sampleIndex, tokens, correct: g === "C" }));
}

/** A pair as [chosen, rejected, rejectedCorrect], with the token counts looked up in `samples`. */
function pairsOf(samples: readonly GradedSample[], ...rows: Array<[number, number, boolean?]>): SelectedPair[] {
  const tokens = new Map(samples.map((s) => [s.sampleIndex, s.tokens]));
  return rows.map(([c, r, rc]) => ({ chosenIndex: c, rejectedIndex: r, chosenTokens: tokens.get(c)!, rejectedTokens: tokens.get(r)!, rejectedCorrect: rc ?? false }));
}

function select(samples: readonly GradedSample[], config: SelectionConfig, seed = 1): Selection {
  return selectAdaptiveDepth(samples, config, new Rng(seed));
}

/** Invariants every selection must satisfy, whatever the input. */
function checkInvariants(sel: Selection, samples: readonly GradedSample[], config: SelectionConfig): void {
  const byIndex = new Map(samples.map((s) => [s.sampleIndex, s]));
  expect(sel.samples).toBe(samples.length);
  expect(sel.correct).toBe(samples.filter((s) => s.correct).length);
  expect(sel.k).toBe(sel.chosen.length);
  expect(sel.pairs.length).toBeLessThanOrEqual(config.maxPairs);
  expect(sel.pairs.length).toBe(Math.min(sel.pairsBeforeCap, config.maxPairs));
  expect(sel.noPairs === undefined).toBe(sel.pairs.length > 0);
  // chosen: correct, shortest first (ties by index)
  for (let i = 0; i < sel.chosen.length; i++) {
    const s = byIndex.get(sel.chosen[i])!;
    expect(s.correct).toBe(true);
    if (i > 0) {
      const prev = byIndex.get(sel.chosen[i - 1])!;
      expect(prev.tokens < s.tokens || (prev.tokens === s.tokens && prev.sampleIndex < s.sampleIndex)).toBe(true);
    }
  }
  // pairs: ordered by (chosenIndex, rejectedIndex), no duplicates, consistent with the samples
  for (let i = 0; i < sel.pairs.length; i++) {
    const p = sel.pairs[i];
    expect(sel.chosen).toContain(p.chosenIndex);
    const c = byIndex.get(p.chosenIndex)!;
    const r = byIndex.get(p.rejectedIndex)!;
    expect(p.chosenTokens).toBe(c.tokens);
    expect(p.rejectedTokens).toBe(r.tokens);
    expect(p.rejectedCorrect).toBe(r.correct);
    if (r.correct) {
      expect(config.variant).toBe("q-dyn-extra-neg");
      expect(r.tokens).toBeGreaterThan(config.extraNegRatio * c.tokens);
    } else {
      expect(r.tokens).toBeGreaterThan(c.tokens);
    }
    if (i > 0) {
      const q = sel.pairs[i - 1];
      expect(q.chosenIndex < p.chosenIndex || (q.chosenIndex === p.chosenIndex && q.rejectedIndex < p.rejectedIndex)).toBe(true);
    }
  }
  // the rejected pool is exactly the rejected indices of the kept pairs, ascending
  expect(sel.rejectedPool).toEqual([...new Set(sel.pairs.map((p) => p.rejectedIndex))].sort((a, b) => a - b));
}

describe("config defaults (METHOD.md)", () => {
  it("are the method's: q-dyn, α = 0.2, q0 = 0.1, M = 64, extra-negative ratio 1.5", () => {
    expect(defaults).toEqual({ variant: "q-dyn", alpha: 0.2, q0: 0.1, maxPairs: 64, extraNegRatio: 1.5 });
  });
});

describe("ceilQuantileCount", () => {
  it("is ⌈x⌉ for ordinary fractional values", () => {
    expect(ceilQuantileCount(0.48)).toBe(1);
    expect(ceilQuantileCount(1.2)).toBe(2);
    expect(ceilQuantileCount(2.5)).toBe(3);
    expect(ceilQuantileCount(0.6000000000000001)).toBe(1); // 0.2·(1 − 12/16)·12 in floating point
    expect(ceilQuantileCount(3)).toBe(3);
    expect(ceilQuantileCount(1)).toBe(1);
  });

  it("gives the exact-arithmetic answer when an integer product lands a hair above in floating point", () => {
    expect(3.0000000000000004).not.toBe(3);
    expect(ceilQuantileCount(3.0000000000000004)).toBe(3);
    expect(ceilQuantileCount(2.0000000000000004)).toBe(2);
    expect(ceilQuantileCount(0.9999999999999998)).toBe(1);
  });

  it("keeps the tolerance far below any real fractional part", () => {
    expect(ceilQuantileCount(1 + 1e-6)).toBe(2);
    expect(ceilQuantileCount(2 + 1e-7)).toBe(3);
  });

  it("is never negative", () => {
    expect(ceilQuantileCount(0)).toBe(0);
    expect(ceilQuantileCount(-0.5)).toBe(0);
  });
});

describe("chosenCount", () => {
  it("N = 10, c = 4 for every variant", () => {
    // p = 0.4; q-dyn: q = 0.2·(1 − 0.4) = 0.12, q·c = 0.48 → k = 1; q-fix: q = 0.1, q·c = 0.4 → k = 1.
    const dyn = chosenCount(cfg("q-dyn"), 4, 10);
    expect(dyn.quantile).toBeCloseTo(0.12, 12);
    expect(dyn.k).toBe(1);
    const extra = chosenCount(cfg("q-dyn-extra-neg"), 4, 10);
    expect(extra.quantile).toBeCloseTo(0.12, 12);
    expect(extra.k).toBe(1);
    expect(chosenCount(cfg("q-fix"), 4, 10)).toEqual({ quantile: 0.1, k: 1 });
    expect(chosenCount(cfg("shortest"), 4, 10)).toEqual({ quantile: null, k: 1 });
  });

  it("k > 1", () => {
    // N = 25, c = 10: p = 0.4, q = 0.2·0.6 = 0.12, q·c = 1.2 → k = 2.
    expect(chosenCount(cfg("q-dyn"), 10, 25).k).toBe(2);
    // N = 32, c = 16 (the paper's N): p = 0.5, q = 0.1, q·c = 1.6 → k = 2.
    expect(chosenCount(cfg("q-dyn"), 16, 32).k).toBe(2);
    // α = 1, N = 10, c = 6: q = 1·0.4 = 0.4, q·c = 2.4 → k = 3.
    const a1 = chosenCount(cfg("q-dyn", { alpha: 1 }), 6, 10);
    expect(a1.quantile).toBeCloseTo(0.4, 12);
    expect(a1.k).toBe(3);
    // q-fix q0 = 0.5, c = 6: q·c = 3 (exact) → k = 3; q0 = 0.25, c = 6: 1.5 → 2.
    expect(chosenCount(cfg("q-fix", { q0: 0.5 }), 6, 10)).toEqual({ quantile: 0.5, k: 3 });
    expect(chosenCount(cfg("q-fix", { q0: 0.25 }), 6, 10)).toEqual({ quantile: 0.25, k: 2 });
    // shortest ignores everything: k = 1.
    expect(chosenCount(cfg("shortest", { alpha: 1, q0: 1 }), 6, 10)).toEqual({ quantile: null, k: 1 });
  });

  it("q·c an exact integer in real arithmetic but not in floating point", () => {
    // N = 45, c = 15: p = 1/3, q = 0.2·(2/3) = 2/15, q·c = 2 exactly; floating point gives 2.0000000000000004.
    const p = 15 / 45;
    expect(0.2 * (1 - p) * 15).toBeGreaterThan(2);
    expect(chosenCount(cfg("q-dyn"), 15, 45).k).toBe(2);
    expect(chosenCount(cfg("q-dyn-extra-neg"), 15, 45).k).toBe(2);
    // N = 64, c = 40: p = 0.625, q = 0.2·0.375 = 0.075, q·c = 3 exactly; floating point gives 3.0000000000000004.
    expect(0.2 * (1 - 40 / 64) * 40).toBeGreaterThan(3);
    expect(chosenCount(cfg("q-dyn"), 40, 64).k).toBe(3);
    // N = 49, c = 14: p = 2/7, q = 0.2·5/7 = 1/7, q·c = 2 exactly (2.0000000000000004 in floating point).
    expect(chosenCount(cfg("q-dyn"), 14, 49).k).toBe(2);
    // N = 36, c = 30: q·c = 0.2·(1/6)·30 = 1 exactly (0.9999999999999998 in floating point).
    expect(chosenCount(cfg("q-dyn"), 30, 36).k).toBe(1);
    // N = 20, c = 10: q = 0.1, q·c = 1 (exact in floating point too).
    expect(chosenCount(cfg("q-dyn"), 10, 20).k).toBe(1);
  });
});

/*
 * Problem A: N = 10, c = 4.
 *   correct:   #0 120, #3 40, #5 200, #8 90        → sorted #3(40) #8(90) #0(120) #5(200)
 *   incorrect: #1 30, #2 40, #4 100, #6 300, #7 41, #9 500
 * p = 0.4. q-dyn: q = 0.2·0.6 = 0.12, k = ⌈0.48⌉ = 1. q-fix: q = 0.1, k = ⌈0.4⌉ = 1. shortest: k = 1.
 * chosen = [#3] (40 tokens). Rejected = incorrect longer than 40: #4 #6 #7 #9 (#2 has exactly 40: not longer; #1 is
 * shorter). q-dyn-extra-neg adds correct responses longer than 1.5·40 = 60: #0 (120), #5 (200), #8 (90).
 */
const problemA = samplesOf([0, 120, "C"], [1, 30, "I"], [2, 40, "I"], [3, 40, "C"], [4, 100, "I"], [5, 200, "C"], [6, 300, "I"], [7, 41, "I"], [8, 90, "C"], [9, 500, "I"]);

/*
 * Problem B: N = 10, c = 6.
 *   correct:   #0 30, #2 20, #4 35, #6 20, #7 70, #9 100   → sorted #2(20) #6(20) #0(30) #4(35) #7(70) #9(100)
 *   incorrect: #1 10, #3 25, #5 60, #8 200                  (#2 and #6 tie at 20: #2 first by index)
 * p = 0.6, 1 − p = 0.4.
 */
const problemB = samplesOf([0, 30, "C"], [1, 10, "I"], [2, 20, "C"], [3, 25, "I"], [4, 35, "C"], [5, 60, "I"], [6, 20, "C"], [7, 70, "C"], [8, 200, "I"], [9, 100, "C"]);

describe("selectAdaptiveDepth: problem A (N = 10, c = 4, k = 1)", () => {
  const basePairs = pairsOf(problemA, [3, 4], [3, 6], [3, 7], [3, 9]);

  it("q-dyn: p = 0.4, q = 0.12, k = 1, chosen #3, rejected #4 #6 #7 #9", () => {
    const config = cfg("q-dyn");
    const sel = select(problemA, config);
    expect(sel.samples).toBe(10);
    expect(sel.correct).toBe(4);
    expect(sel.passRate).toBeCloseTo(0.4, 12);
    expect(sel.quantile).toBeCloseTo(0.12, 12);
    expect(sel.k).toBe(1);
    expect(sel.chosen).toEqual([3]);
    expect(sel.rejectedPool).toEqual([4, 6, 7, 9]);
    expect(sel.pairsBeforeCap).toBe(4);
    expect(sel.pairs).toEqual(basePairs);
    expect(sel.noPairs).toBeUndefined();
    checkInvariants(sel, problemA, config);
  });

  it("q-fix (q0 = 0.1): q = 0.1, k = ⌈0.4⌉ = 1, same pairs", () => {
    const config = cfg("q-fix");
    const sel = select(problemA, config);
    expect(sel.quantile).toBe(0.1);
    expect(sel.k).toBe(1);
    expect(sel.chosen).toEqual([3]);
    expect(sel.rejectedPool).toEqual([4, 6, 7, 9]);
    expect(sel.pairs).toEqual(basePairs);
    checkInvariants(sel, problemA, config);
  });

  it("shortest: no quantile, k = 1, same pairs", () => {
    const config = cfg("shortest");
    const sel = select(problemA, config);
    expect(sel.quantile).toBeNull();
    expect(sel.k).toBe(1);
    expect(sel.chosen).toEqual([3]);
    expect(sel.pairs).toEqual(basePairs);
    checkInvariants(sel, problemA, config);
  });

  it("q-dyn-extra-neg: also the correct responses longer than 1.5 × 40 = 60 (#0, #5, #8)", () => {
    const config = cfg("q-dyn-extra-neg", { extraNegRatio: 1.5 });
    const sel = select(problemA, config);
    expect(sel.quantile).toBeCloseTo(0.12, 12);
    expect(sel.k).toBe(1);
    expect(sel.chosen).toEqual([3]);
    expect(sel.rejectedPool).toEqual([0, 4, 5, 6, 7, 8, 9]);
    expect(sel.pairsBeforeCap).toBe(7);
    expect(sel.pairs).toEqual(pairsOf(problemA, [3, 0, true], [3, 4], [3, 5, true], [3, 6], [3, 7], [3, 8, true], [3, 9]));
    checkInvariants(sel, problemA, config);
  });

  it("does not depend on the order the samples are stored in", () => {
    const rng = new Rng(7);
    for (const variant of SelectionVariants) {
      const config = cfg(variant);
      const ref = select(problemA, config);
      for (let t = 0; t < 10; t++) expect(select(rng.shuffle(problemA), config)).toEqual(ref);
      expect(select([...problemA].reverse(), config)).toEqual(ref);
    }
  });
});

describe("selectAdaptiveDepth: problem B (N = 10, c = 6, ties, k > 1)", () => {
  it("q-dyn, α = 0.2: q = 0.08, k = ⌈0.48⌉ = 1; the tie #2/#6 at 20 tokens goes to #2", () => {
    const config = cfg("q-dyn");
    const sel = select(problemB, config);
    expect(sel.passRate).toBeCloseTo(0.6, 12);
    expect(sel.quantile).toBeCloseTo(0.08, 12);
    expect(sel.k).toBe(1);
    expect(sel.chosen).toEqual([2]);
    // incorrect longer than 20: #3 (25), #5 (60), #8 (200); #1 (10) is shorter.
    expect(sel.rejectedPool).toEqual([3, 5, 8]);
    expect(sel.pairs).toEqual(pairsOf(problemB, [2, 3], [2, 5], [2, 8]));
    checkInvariants(sel, problemB, config);
  });

  it("q-dyn, α = 1: q = 0.4, k = ⌈2.4⌉ = 3; chosen shortest first, pairs by chosen index", () => {
    const config = cfg("q-dyn", { alpha: 1 });
    const sel = select(problemB, config);
    expect(sel.quantile).toBeCloseTo(0.4, 12);
    expect(sel.k).toBe(3);
    // #2 (20), #6 (20), #0 (30)
    expect(sel.chosen).toEqual([2, 6, 0]);
    // #0 (30): #5 #8; #2 (20): #3 #5 #8; #6 (20): #3 #5 #8 → 8 pairs, ordered (0,·), (2,·), (6,·)
    expect(sel.pairsBeforeCap).toBe(8);
    expect(sel.pairs).toEqual(pairsOf(problemB, [0, 5], [0, 8], [2, 3], [2, 5], [2, 8], [6, 3], [6, 5], [6, 8]));
    expect(sel.rejectedPool).toEqual([3, 5, 8]);
    checkInvariants(sel, problemB, config);
  });

  it("q-fix: q0 = 0.1 → k = ⌈0.6⌉ = 1; q0 = 0.5 → k = 0.5·6 = 3 exactly", () => {
    const one = select(problemB, cfg("q-fix"));
    expect(one.quantile).toBe(0.1);
    expect(one.k).toBe(1);
    expect(one.chosen).toEqual([2]);
    expect(one.pairs).toEqual(pairsOf(problemB, [2, 3], [2, 5], [2, 8]));
    const config = cfg("q-fix", { q0: 0.5 });
    const three = select(problemB, config);
    expect(three.quantile).toBe(0.5);
    expect(three.k).toBe(3);
    expect(three.chosen).toEqual([2, 6, 0]);
    expect(three.pairs).toEqual(pairsOf(problemB, [0, 5], [0, 8], [2, 3], [2, 5], [2, 8], [6, 3], [6, 5], [6, 8]));
    checkInvariants(three, problemB, config);
  });

  it("shortest: k = 1 whatever α and q0 say", () => {
    const config = cfg("shortest", { alpha: 1, q0: 1 });
    const sel = select(problemB, config);
    expect(sel.quantile).toBeNull();
    expect(sel.k).toBe(1);
    expect(sel.chosen).toEqual([2]);
    expect(sel.pairs).toEqual(pairsOf(problemB, [2, 3], [2, 5], [2, 8]));
    checkInvariants(sel, problemB, config);
  });

  it("q-dyn-extra-neg, k = 1: correct responses longer than 1.5 × 20 = 30 are rejected; exactly 30 (#0) is not longer", () => {
    const config = cfg("q-dyn-extra-neg");
    const sel = select(problemB, config);
    expect(sel.k).toBe(1);
    expect(sel.chosen).toEqual([2]);
    // incorrect > 20: #3 #5 #8; correct > 30: #4 (35) #7 (70) #9 (100); #0 (30 = 1.5·20) and #6 (20) are not.
    expect(sel.pairs).toEqual(pairsOf(problemB, [2, 3], [2, 4, true], [2, 5], [2, 7, true], [2, 8], [2, 9, true]));
    expect(sel.rejectedPool).toEqual([3, 4, 5, 7, 8, 9]);
    expect(sel.pairsBeforeCap).toBe(6);
    checkInvariants(sel, problemB, config);
  });

  it("q-dyn-extra-neg, α = 1 (k = 3): each chosen response gets its own 1.5× threshold", () => {
    const config = cfg("q-dyn-extra-neg", { alpha: 1 });
    const sel = select(problemB, config);
    expect(sel.k).toBe(3);
    expect(sel.chosen).toEqual([2, 6, 0]);
    // #0 (30): incorrect > 30: #5 #8; correct > 45: #7 #9 (#4 = 35 is not).
    // #2, #6 (20): incorrect #3 #5 #8; correct > 30: #4 #7 #9 (#0 = 30 exactly is not, though it is chosen).
    expect(sel.pairs).toEqual(
      pairsOf(
        problemB,
        [0, 5],
        [0, 7, true],
        [0, 8],
        [0, 9, true],
        [2, 3],
        [2, 4, true],
        [2, 5],
        [2, 7, true],
        [2, 8],
        [2, 9, true],
        [6, 3],
        [6, 4, true],
        [6, 5],
        [6, 7, true],
        [6, 8],
        [6, 9, true],
      ),
    );
    expect(sel.pairsBeforeCap).toBe(16);
    expect(sel.rejectedPool).toEqual([3, 4, 5, 7, 8, 9]);
    checkInvariants(sel, problemB, config);
  });

  it("q-dyn-extra-neg with another ratio: 2× (exactly 2× is not longer)", () => {
    // chosen #2 (20); correct > 40: #7 (70), #9 (100); #4 (35), #0 (30) are not.
    const sel = select(problemB, cfg("q-dyn-extra-neg", { extraNegRatio: 2 }));
    expect(sel.pairs.filter((p) => p.rejectedCorrect).map((p) => p.rejectedIndex)).toEqual([7, 9]);
    const exact = samplesOf([0, 20, "C"], [1, 40, "C"], [2, 41, "C"], [3, 5, "I"]);
    // N = 4, c = 3: k = ⌈0.2·0.25·3⌉ = ⌈0.15⌉ = 1, chosen #0 (20); #1 = 40 = 2·20 is not longer, #2 (41) is.
    expect(select(exact, cfg("q-dyn-extra-neg", { extraNegRatio: 2 })).pairs).toEqual(pairsOf(exact, [0, 2, true]));
  });
});

describe("selectAdaptiveDepth: k > 1 with the default α", () => {
  // N = 25, c = 10: p = 0.4, q = 0.2·0.6 = 0.12, q·c = 1.2 → k = 2.
  // correct #0..#9 with 10·(i+1) tokens except #4 = 15 → sorted #0 (10), #4 (15), #1 (20), #2 (30), …
  // incorrect #10..#24 with 12, 14, 16, … tokens (12 + 2·(i − 10)).
  const samples: GradedSample[] = [];
  for (let i = 0; i < 10; i++) samples.push({ sampleIndex: i, tokens: i === 4 ? 15 : 10 * (i + 1), correct: true });
  for (let i = 10; i < 25; i++) samples.push({ sampleIndex: i, tokens: 12 + 2 * (i - 10), correct: false });

  it.each(["q-dyn", "q-dyn-extra-neg"] as const)("%s: chosen #0 (10), #4 (15)", (variant) => {
    const config = cfg(variant);
    const sel = select(samples, config);
    expect(sel.quantile).toBeCloseTo(0.12, 12);
    expect(sel.k).toBe(2);
    expect(sel.chosen).toEqual([0, 4]);
    // #0 (10): every incorrect (12 … 40) → 15 pairs; #4 (15): incorrect 16 … 40 = #12 … #24 → 13 pairs.
    let expected = 15 + 13;
    // extra-neg: #0 (10) rejects correct > 15: #1 … #9 except #4 → 8; #4 (15) rejects correct > 22.5: #2 … #9 except #4 → 7.
    if (variant === "q-dyn-extra-neg") expected += 8 + 7;
    expect(sel.pairsBeforeCap).toBe(expected);
    expect(sel.pairs.length).toBe(expected);
    expect(sel.pairs.filter((p) => p.chosenIndex === 4 && !p.rejectedCorrect).map((p) => p.rejectedIndex)).toEqual([12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    checkInvariants(sel, samples, config);
  });

  it("q-fix (q0 = 0.1): k = ⌈1.0⌉ = 1; shortest: k = 1", () => {
    expect(select(samples, cfg("q-fix")).chosen).toEqual([0]);
    expect(select(samples, cfg("shortest")).chosen).toEqual([0]);
  });

  it("q·c exactly 2 in real arithmetic (N = 45, c = 15) chooses 2, not 3", () => {
    // p = 1/3, q = 0.2·2/3 = 2/15, q·c = 2 (2.0000000000000004 in floating point).
    const s45: GradedSample[] = [];
    for (let i = 0; i < 45; i++) s45.push({ sampleIndex: i, tokens: 100 + i, correct: i % 3 === 0 });
    expect(s45.filter((s) => s.correct).length).toBe(15);
    for (const variant of ["q-dyn", "q-dyn-extra-neg"] as const) {
      const sel = select(s45, cfg(variant));
      expect(sel.k).toBe(2);
      expect(sel.chosen).toEqual([0, 3]);
    }
  });
});

describe("selectAdaptiveDepth: the pair cap M", () => {
  const config = cfg("q-dyn-extra-neg", { alpha: 1, maxPairs: 5 });
  const all = select(problemB, cfg("q-dyn-extra-neg", { alpha: 1 })).pairs; // the 16 pairs listed above
  const key = (p: SelectedPair): string => `${p.chosenIndex}/${p.rejectedIndex}`;

  it("keeps M pairs of the 16, a subset of all pairs, in (chosen, rejected) order", () => {
    expect(all.length).toBe(16);
    const sel = select(problemB, config, 123);
    expect(sel.pairsBeforeCap).toBe(16);
    expect(sel.pairs.length).toBe(5);
    const allKeys = new Set(all.map(key));
    for (const p of sel.pairs) {
      expect(allKeys.has(key(p))).toBe(true);
      expect(p).toEqual(all.find((q) => key(q) === key(p)));
    }
    expect(new Set(sel.pairs.map(key)).size).toBe(5);
    // chosen and k do not depend on the cap
    expect(sel.chosen).toEqual([2, 6, 0]);
    expect(sel.k).toBe(3);
    checkInvariants(sel, problemB, config);
  });

  it("same seed → same subset; different seeds → different subsets", () => {
    const subsets = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const a = select(problemB, config, seed);
      const b = select(problemB, config, seed);
      expect(b).toEqual(a);
      // and the storage order of the samples does not matter either
      expect(select([...problemB].reverse(), config, seed)).toEqual(a);
      subsets.add(a.pairs.map(key).join(","));
    }
    expect(subsets.size).toBeGreaterThan(10);
  });

  it("is uniform: every pair is kept with probability M / 16", () => {
    const counts = new Map<string, number>();
    const trials = 4000;
    for (let seed = 0; seed < trials; seed++) for (const p of select(problemB, config, seed).pairs) counts.set(key(p), (counts.get(key(p)) ?? 0) + 1);
    expect(counts.size).toBe(16);
    const expected = (trials * 5) / 16; // 1250
    for (const c of counts.values()) expect(Math.abs(c - expected)).toBeLessThan(0.1 * expected);
  });

  it("M ≥ the number of pairs keeps them all (M = 16 exactly, and M = 1000)", () => {
    for (const maxPairs of [16, 1000]) {
      const sel = select(problemB, cfg("q-dyn-extra-neg", { alpha: 1, maxPairs }), 99);
      expect(sel.pairs).toEqual(all);
      expect(sel.pairsBeforeCap).toBe(16);
    }
  });

  it("M = 1 keeps a single pair, M = 15 drops exactly one", () => {
    const one = select(problemB, cfg("q-dyn-extra-neg", { alpha: 1, maxPairs: 1 }), 5);
    expect(one.pairs.length).toBe(1);
    expect(one.rejectedPool).toEqual([one.pairs[0].rejectedIndex]);
    const fifteen = select(problemB, cfg("q-dyn-extra-neg", { alpha: 1, maxPairs: 15 }), 5);
    expect(fifteen.pairs.length).toBe(15);
    expect(all.filter((p) => !fifteen.pairs.some((q) => key(q) === key(p))).length).toBe(1);
  });

  it("caps every variant", () => {
    for (const variant of SelectionVariants) {
      const c = cfg(variant, { maxPairs: 2 });
      const sel = select(problemA, c, 3);
      expect(sel.pairs.length).toBe(2);
      checkInvariants(sel, problemA, c);
    }
  });
});

describe.each(SelectionVariants)("selectAdaptiveDepth edge cases: %s", (variant) => {
  const config = cfg(variant);

  it("no samples", () => {
    const sel = select([], config);
    expect(sel).toEqual({ samples: 0, correct: 0, passRate: 0, quantile: null, k: 0, chosen: [], rejectedPool: [], pairsBeforeCap: 0, pairs: [], noPairs: "no-samples" });
  });

  it("c = 0 gives no pairs", () => {
    const s = samplesOf([0, 10, "I"], [1, 20, "I"], [2, 30, "I"]);
    const sel = select(s, config);
    expect(sel).toEqual({ samples: 3, correct: 0, passRate: 0, quantile: null, k: 0, chosen: [], rejectedPool: [], pairsBeforeCap: 0, pairs: [], noPairs: "none-correct" });
  });

  it("c = N gives no pairs (even with very long correct responses for extra-neg)", () => {
    const s = samplesOf([0, 10, "C"], [1, 20, "C"], [2, 300, "C"], [3, 1000, "C"]);
    const sel = select(s, config);
    expect(sel).toEqual({ samples: 4, correct: 4, passRate: 1, quantile: null, k: 0, chosen: [], rejectedPool: [], pairsBeforeCap: 0, pairs: [], noPairs: "all-correct" });
  });

  it("no incorrect response longer than the chosen one", () => {
    // N = 4, c = 2: p = 0.5; q-dyn q = 0.1, k = ⌈0.2⌉ = 1; q-fix k = ⌈0.2⌉ = 1. chosen #1 (100).
    // Incorrect: #0 (50, shorter), #3 (100, equal: not longer). Extra-neg threshold 150: #2 has exactly 150.
    const s = samplesOf([0, 50, "I"], [1, 100, "C"], [2, 150, "C"], [3, 100, "I"]);
    const sel = select(s, config);
    expect(sel.noPairs).toBe("no-longer-rejected");
    expect(sel.pairs).toEqual([]);
    expect(sel.pairsBeforeCap).toBe(0);
    expect(sel.rejectedPool).toEqual([]);
    expect(sel.k).toBe(1);
    expect(sel.chosen).toEqual([1]);
    expect(sel.passRate).toBe(0.5);
    if (variant === "shortest") expect(sel.quantile).toBeNull();
    else if (variant === "q-fix") expect(sel.quantile).toBe(0.1);
    else expect(sel.quantile).toBeCloseTo(0.1, 12);
    checkInvariants(sel, s, config);
  });

  it("one chosen response without a longer rejected one still leaves the other's pairs", () => {
    // N = 5, c = 3, p = 0.6. α = 1: q = 0.4, k = ⌈1.2⌉ = 2; q-fix q0 = 0.5: k = ⌈1.5⌉ = 2; shortest: k = 1.
    const c = cfg(variant, { alpha: 1, q0: 0.5 });
    const s = samplesOf([0, 10, "C"], [1, 20, "C"], [2, 29, "C"], [3, 15, "I"], [4, 5, "I"]);
    const sel = select(s, c);
    if (variant === "shortest") {
      expect(sel.chosen).toEqual([0]);
      expect(sel.pairs).toEqual(pairsOf(s, [0, 3]));
      return;
    }
    expect(sel.k).toBe(2);
    expect(sel.chosen).toEqual([0, 1]);
    // #0 (10): #3 (15) is longer; #1 (20): nothing incorrect is longer. Extra-neg: #0 rejects correct > 15 that are not
    // chosen themselves: #2 (29) (#1 is chosen, never a negative); #1 rejects correct > 30: none (#2 = 29).
    if (variant === "q-dyn-extra-neg") expect(sel.pairs).toEqual(pairsOf(s, [0, 2, true], [0, 3]));
    else expect(sel.pairs).toEqual(pairsOf(s, [0, 3]));
    expect(sel.noPairs).toBeUndefined();
    checkInvariants(sel, s, c);
  });

  it("ties in length are broken by sample index, whatever the storage order", () => {
    // N = 6, c = 3, all correct ones 40 tokens: #5, #2, #7. Incorrect #1 (41), #3 (40), #4 (80).
    const s = samplesOf([5, 40, "C"], [1, 41, "I"], [7, 40, "C"], [3, 40, "I"], [2, 40, "C"], [4, 80, "I"]);
    const sel = select(s, config);
    expect(sel.chosen).toEqual([2]);
    // rejected: incorrect longer than 40: #1 (41), #4 (80); #3 (40) is not longer. No correct response > 60.
    expect(sel.pairs).toEqual(pairsOf(s, [2, 1], [2, 4]));
    const rng = new Rng(11);
    for (let t = 0; t < 10; t++) expect(select(rng.shuffle(s), config)).toEqual(sel);
    // with k = 2 the next in line is #5, then #7
    const k2 = select(s, cfg(variant, { alpha: 1, q0: 0.5 }));
    if (variant === "shortest") expect(k2.chosen).toEqual([2]);
    else expect(k2.chosen).toEqual([2, 5]); // q-dyn α = 1: q = 0.5, ⌈1.5⌉ = 2; q-fix 0.5: ⌈1.5⌉ = 2
  });

  it("ties between a chosen and the next correct response: the chosen one is the lower index", () => {
    const s = samplesOf([9, 30, "C"], [4, 30, "C"], [0, 100, "I"], [1, 10, "I"]);
    const sel = select(s, config);
    expect(sel.chosen).toEqual([4]);
    expect(sel.pairs).toEqual(pairsOf(s, [4, 0]));
  });

  it("a duplicate sample index is an error", () => {
    const s = samplesOf([0, 10, "C"], [1, 20, "I"], [0, 30, "I"]);
    expect(() => select(s, config)).toThrow(RangeError);
    expect(() => select(s, config)).toThrow(/sample index 0 appears twice/);
    // even when the problem would otherwise give no pairs
    expect(() => select(samplesOf([3, 10, "C"], [3, 10, "C"]), config)).toThrow(RangeError);
    expect(() => select(samplesOf([3, 10, "I"], [3, 20, "I"]), config)).toThrow(RangeError);
  });
});

describe("selectAdaptiveDepth: random problems keep every invariant", () => {
  it("250 random problems per variant", () => {
    const rng = new Rng(2025);
    for (const variant of SelectionVariants) {
      for (let t = 0; t < 250; t++) {
        const n = rng.int(1, 40);
        const ease = rng.next();
        const indices = rng.shuffle(Array.from({ length: n }, (_, i) => i * 3 + rng.int(0, 2)));
        // small token range so ties are common
        const samples = indices.map((sampleIndex) => ({ sampleIndex, tokens: rng.int(1, 30), correct: rng.next() < ease }));
        const config = cfg(variant, { alpha: rng.next(), q0: rng.next(), maxPairs: rng.int(1, 80), extraNegRatio: 1 + rng.next() });
        const sel = select(samples, config, t);
        checkInvariants(sel, samples, config);
        const c = sel.correct;
        if (c === 0 || c === n) {
          expect(sel.pairs).toEqual([]);
          expect(sel.k).toBe(0);
          continue;
        }
        expect(sel.passRate).toBe(c / n);
        // k = ⌈q·c⌉ (1 for shortest)
        const expectedK = variant === "shortest" ? 1 : Math.ceil((variant === "q-fix" ? config.q0 : config.alpha * (1 - c / n)) * c - 1e-9);
        expect(sel.k).toBe(Math.max(0, expectedK));
        // the chosen set is the k shortest correct responses
        const sorted = samples.filter((s) => s.correct).sort((a, b) => a.tokens - b.tokens || a.sampleIndex - b.sampleIndex);
        expect(sel.chosen).toEqual(sorted.slice(0, sel.k).map((s) => s.sampleIndex));
        // pairsBeforeCap counts every qualifying combination
        let count = 0;
        for (const tau of sorted.slice(0, sel.k)) {
          for (const r of samples) {
            if (!r.correct && r.tokens > tau.tokens) count++;
            if (variant === "q-dyn-extra-neg" && r.correct && !sel.chosen.includes(r.sampleIndex) && r.tokens > config.extraNegRatio * tau.tokens) count++;
          }
        }
        expect(sel.pairsBeforeCap).toBe(count);
      }
    }
  });
});
