/**
 * The step divergence of METHOD.md stage 2 (the paper's Eq. 2): along the original continuation t₁ … t_T after
 * step i (windowed to L tokens),
 *
 *   D = Σ_j KL( P(· | p, s<i, sᵢ, t<j) ‖ P(· | p, s<i, s'ᵢ, t<j) )
 *
 * with three estimators, by what the engine can return:
 * - exact:   the full next-token distributions (embedded engine, llama.cpp).
 * - top-k:   top-k log-probabilities per position (vLLM allows k ≤ 20 by default). The tokens present in both
 *            top-k lists (and the given continuation token, known on both sides) are kept as they are and
 *            everything else is one remainder bucket on each side (mass 1 − Σ of the kept tokens). That is the KL between coarse-grained distributions, so by the
 *            data-processing inequality it never exceeds the exact KL: the estimator can only be lenient.
 * - sampled: Σ_j [log P(t_j | original) − log P(t_j | candidate)], for servers that give only the log-probability
 *            of the given token. It estimates the sequence-level KL only when t is a fresh sample from the original
 *            context at temperature 1; here t was sampled at 0.9 and selected for being correct and short, and
 *            terms (and sums) can be negative, so at the paper's small ε it accepts candidates the exact KL
 *            rejects (docs/BENCHMARKS.md measures how often). Use it only when nothing better is available.
 * `sum` (the paper) or `mean` over the T positions.
 *
 * Per-position KL values are computed in float64 and clamped at 0 (float32 log-probabilities can make an exact
 * zero come out as −1e-9).
 */
import type { DivergenceEstimators, DivergenceReductions } from "../config/schema.js";

export type DivergenceEstimator = Exclude<(typeof DivergenceEstimators)[number], "auto">;
export type DivergenceReduction = (typeof DivergenceReductions)[number];

/** Scores of the continuation positions t₁ … t_T under one context (original step or a candidate). */
export interface PositionScores {
  /** log P(t_j | …) of the given continuation token. */
  logprobs: ArrayLike<number>;
  /** The continuation tokens t_j (the top-k estimator adds each to both top-k lists). */
  tokenIds?: ArrayLike<number>;
  /** Full next-token log-distributions (exact estimator). */
  full?: readonly Float32Array[];
  /** Top-k [token id, log-prob] per position, descending (top-k estimator). */
  top?: ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
}

/** KL(p ‖ q) between two full log-distributions. */
export function klExact(lp: Float32Array, lq: Float32Array): number {
  if (lp.length !== lq.length) throw new RangeError(`klExact: distributions over ${lp.length} and ${lq.length} tokens`);
  let kl = 0;
  for (let v = 0; v < lp.length; v++) {
    const a = lp[v];
    if (a === -Infinity) continue;
    kl += Math.exp(a) * (a - lq[v]);
  }
  return Math.max(0, kl);
}

/**
 * Smallest remainder mass treated as non-zero. float32 distributions sum to 1 ± 1e-6, so a remainder below that is
 * rounding, not mass: flooring it any lower turns noise into large spurious terms.
 */
const REST_FLOOR = 1e-6;

/** The continuation token at a position, with its log-probability under both contexts (every engine returns it). */
export interface GivenToken {
  id: number;
  lp: number;
  lq: number;
}

/**
 * KL between top-k lists coarse-grained to their shared tokens plus one remainder bucket (see the file comment).
 * The given continuation token, whose log-probability both contexts return anyway, joins both lists: without it,
 * a candidate under which the next original token falls out of the top-k would lose exactly the mass that shows
 * the divergence.
 */
export function klTopK(pTop: ReadonlyArray<readonly [number, number]>, qTop: ReadonlyArray<readonly [number, number]>, given?: GivenToken): number {
  const q = new Map<number, number>();
  for (const [id, lq] of qTop) q.set(id, lq);
  const p = new Map<number, number>();
  for (const [id, lp] of pTop) p.set(id, lp);
  if (given !== undefined) {
    p.set(given.id, given.lp);
    q.set(given.id, given.lq);
  }
  let kl = 0;
  let pShared = 0;
  let qShared = 0;
  for (const [id, lp] of p) {
    const lq = q.get(id);
    // A token p gives no mass to adds nothing (0 · log 0 = 0), as in klExact.
    if (lq === undefined || lp === -Infinity) continue;
    const pp = Math.exp(lp);
    pShared += pp;
    qShared += Math.exp(lq);
    kl += pp * (lp - lq);
  }
  const pRest = 1 - pShared;
  const qRest = Math.max(REST_FLOOR, 1 - qShared);
  if (pRest > REST_FLOOR) kl += pRest * Math.log(pRest / qRest);
  return Math.max(0, kl);
}

/** Per-position terms of the divergence between the original's and a candidate's continuation scores. */
export function divergenceTerms(original: PositionScores, candidate: PositionScores, estimator: DivergenceEstimator): number[] {
  const T = original.logprobs.length;
  if (candidate.logprobs.length !== T) throw new RangeError(`divergence: ${T} original positions, ${candidate.logprobs.length} candidate positions`);
  const terms = new Array<number>(T);
  for (let j = 0; j < T; j++) {
    switch (estimator) {
      case "exact": {
        if (!original.full || !candidate.full) throw new RangeError("divergence: the exact estimator needs full distributions");
        terms[j] = klExact(original.full[j], candidate.full[j]);
        break;
      }
      case "topk": {
        if (!original.top || !candidate.top) throw new RangeError("divergence: the top-k estimator needs top-k log-probabilities");
        const id = original.tokenIds?.[j];
        terms[j] = klTopK(original.top[j], candidate.top[j], id === undefined ? undefined : { id, lp: original.logprobs[j], lq: candidate.logprobs[j] });
        break;
      }
      case "sampled":
        terms[j] = original.logprobs[j] - candidate.logprobs[j];
        break;
    }
  }
  return terms;
}

/** D for one candidate: the per-position terms summed (the paper) or averaged. An empty window gives 0. */
export function stepDivergence(original: PositionScores, candidate: PositionScores, estimator: DivergenceEstimator, reduction: DivergenceReduction): number {
  const terms = divergenceTerms(original, candidate, estimator);
  let sum = 0;
  for (const t of terms) sum += t;
  return reduction === "mean" && terms.length > 0 ? sum / terms.length : sum;
}
