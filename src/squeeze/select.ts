/**
 * Stage 1, adaptive reasoning-depth selection (METHOD.md): from one problem's graded samples, the chosen
 * (preferred) responses and the (chosen, rejected) pairs. Pure: samples and a seeded generator in, a selection out.
 *
 *   p = c / N                      pass rate (c correct of N)
 *   q = α · (1 − p)                q-dyn (the method); q0 for q-fix
 *   k = ⌈q · c⌉                    chosen = the k shortest correct responses (1 for `shortest`)
 *   rejected(τ) = incorrect responses longer than τ (+ correct ones longer than 1.5·ℓ(τ) for q-dyn-extra-neg)
 *   pairs = every (τ, r), at most M per problem (a uniform subset drawn with the run's seed)
 *
 * Problems with c = 0 or c = N give no pairs; neither does a chosen response with no longer rejected one.
 * Ties in length are broken by sample index, so the selection never depends on storage order.
 */
import type { SelectionConfig } from "../config/schema.js";
import type { Rng } from "../util/rng.js";

/** What selection needs to know about one sample. */
export interface GradedSample {
  sampleIndex: number;
  /** Response length in tokens (ℓ). */
  tokens: number;
  correct: boolean;
}

export interface SelectedPair {
  chosenIndex: number;
  rejectedIndex: number;
  chosenTokens: number;
  rejectedTokens: number;
  /** True for the correct-but-long negatives of `q-dyn-extra-neg`. */
  rejectedCorrect: boolean;
}

export type NoPairsReason = "no-samples" | "none-correct" | "all-correct" | "none-chosen" | "no-longer-rejected";

export interface Selection {
  /** N, c, p = c/N. */
  samples: number;
  correct: number;
  passRate: number;
  /** The quantile used (null when no quantile applies: `shortest`, or c ∈ {0, N}). */
  quantile: number | null;
  /** How many correct responses are chosen (k; 0 when c ∈ {0, N}). */
  k: number;
  /** Chosen sample indices, shortest first. */
  chosen: number[];
  /** Every sample index rejected in at least one kept pair (ascending). */
  rejectedPool: number[];
  /** All (chosen, rejected) combinations before the cap M. */
  pairsBeforeCap: number;
  /** The kept pairs, ordered by (chosen index, rejected index). */
  pairs: SelectedPair[];
  /** Why there are no pairs (absent when there are some). */
  noPairs?: NoPairsReason;
}

/** Orders by length, then sample index (the deterministic tie-break). */
function byLength(a: GradedSample, b: GradedSample): number {
  return a.tokens - b.tokens || a.sampleIndex - b.sampleIndex;
}

/**
 * ⌈x⌉ for x = q·c computed in floating point: 0.2·(1 − 12/16)·12 is 0.6000000000000001 (fine) but products that
 * are integers in exact arithmetic can land a hair above (3.0000000000000004 → 4). A tolerance far below any
 * real fractional part (c ≤ a few thousand samples) gives the exact arithmetic's answer.
 */
export function ceilQuantileCount(x: number): number {
  return Math.max(0, Math.ceil(x - 1e-9));
}

/** The number of chosen responses k for a problem with c correct of n (c strictly between 0 and n). */
export function chosenCount(config: Pick<SelectionConfig, "variant" | "alpha" | "q0">, correct: number, samples: number): { quantile: number | null; k: number } {
  const p = correct / samples;
  switch (config.variant) {
    case "shortest":
      return { quantile: null, k: 1 };
    case "q-fix":
      return { quantile: config.q0, k: ceilQuantileCount(config.q0 * correct) };
    case "q-dyn":
    case "q-dyn-extra-neg": {
      const q = config.alpha * (1 - p);
      return { quantile: q, k: ceilQuantileCount(q * correct) };
    }
  }
}

/** Stage 1 for one problem. `rng` draws the capped subset (the run's seed, per problem). */
export function selectAdaptiveDepth(samples: readonly GradedSample[], config: SelectionConfig, rng: Rng): Selection {
  const seen = new Set<number>();
  for (const s of samples) {
    if (seen.has(s.sampleIndex)) throw new RangeError(`selectAdaptiveDepth: sample index ${s.sampleIndex} appears twice`);
    seen.add(s.sampleIndex);
  }
  const n = samples.length;
  const correct = samples.filter((s) => s.correct).sort(byLength);
  const incorrect = samples.filter((s) => !s.correct).sort(byLength);
  const c = correct.length;
  const empty = (reason: NoPairsReason, quantile: number | null = null, k = 0, chosen: number[] = []): Selection => ({
    samples: n,
    correct: c,
    passRate: n === 0 ? 0 : c / n,
    quantile,
    k,
    chosen,
    rejectedPool: [],
    pairsBeforeCap: 0,
    pairs: [],
    noPairs: reason,
  });
  if (n === 0) return empty("no-samples");
  if (c === 0) return empty("none-correct");
  if (c === n) return empty("all-correct");

  const { quantile, k } = chosenCount(config, c, n);
  const chosen = correct.slice(0, Math.min(k, c));
  // Only with α = 0 or q0 = 0: a quantile of zero chooses nothing.
  if (chosen.length === 0) return empty("none-chosen", quantile, 0);
  const all: SelectedPair[] = [];
  for (const tau of chosen) {
    const rejected = incorrect.filter((r) => r.tokens > tau.tokens).map((r) => ({ r, correct: false }));
    if (config.variant === "q-dyn-extra-neg") {
      // The Kimi k1.5 recipe: correct but much longer responses are negatives too.
      // A response chosen itself (k > 1) is never also a negative.
      for (const r of correct.slice(chosen.length)) if (r.tokens > config.extraNegRatio * tau.tokens) rejected.push({ r, correct: true });
    }
    for (const { r, correct: rc } of rejected) {
      all.push({ chosenIndex: tau.sampleIndex, rejectedIndex: r.sampleIndex, chosenTokens: tau.tokens, rejectedTokens: r.tokens, rejectedCorrect: rc });
    }
  }
  all.sort((a, b) => a.chosenIndex - b.chosenIndex || a.rejectedIndex - b.rejectedIndex);
  const chosenIndices = chosen.map((t) => t.sampleIndex);
  if (all.length === 0) return empty("no-longer-rejected", quantile, chosen.length, chosenIndices);

  const pairs = rng.sample(all, config.maxPairs);
  const pool = [...new Set(pairs.map((p) => p.rejectedIndex))].sort((a, b) => a - b);
  return {
    samples: n,
    correct: c,
    passRate: c / n,
    quantile,
    k: chosen.length,
    chosen: chosenIndices,
    rejectedPool: pool,
    pairsBeforeCap: all.length,
    pairs,
  };
}
