/**
 * Stage 3's objectives (METHOD.md "Stage 3") as pure functions of per-pair summed response log-probabilities and
 * response lengths — no tensors, so the embedded trainer, the metrics and the tests share one definition.
 *
 *   Δ = (πc − rc) − (πr − rr)                      (policy/reference summed log-probs of chosen yw, rejected yl)
 *   dpo        L = −log σ(β·Δ)
 *   sft        L = −πc / ℓw                        (per-token mean NLL of yw)
 *   dpo+sft    L = η·(−log σ(β·Δ)) + (1 − η)·sft
 *   dpo-l+sft  L = η·(−log σ(β·Δ − λ·log(ℓl/ℓw))) + (1 − η)·sft     (the default)
 *
 * The same definition is implemented in Python (trainer/tokensqueeze_trainer/loss.py); both are tested against
 * the shared vectors in trainer/tests/loss_vectors.json (made by trainer/tests/make_loss_vectors.py).
 */

export type PreferenceObjective = "dpo" | "sft" | "dpo+sft" | "dpo-l+sft";

export const PREFERENCE_OBJECTIVES: readonly PreferenceObjective[] = ["dpo", "sft", "dpo+sft", "dpo-l+sft"];

export interface PreferenceLossSettings {
  objective: PreferenceObjective;
  /** Inverse temperature of the implicit reward (METHOD.md: 0.1). */
  beta: number;
  /** Weight of the length margin λ·log(ℓl/ℓw); used by `dpo-l+sft` only (METHOD.md: 1). */
  lambda: number;
  /** Weight η of the preference term; the SFT term gets 1 − η; used by the composite objectives (METHOD.md: 0.5). */
  eta: number;
}

/** One pair's summed response log-probs under the policy and the frozen reference, and the response lengths ℓ in tokens. */
export interface PairLogps {
  policyChosen: number;
  policyRejected: number;
  refChosen: number;
  refRejected: number;
  chosenTokens: number;
  rejectedTokens: number;
}

export interface PairLoss {
  /** The objective's value for this pair. */
  loss: number;
  /** −log σ(z): z = β·Δ − λ·log(ℓl/ℓw) for dpo-l+sft, z = β·Δ otherwise (reported for every objective). */
  dpo: number;
  /** −policyChosen / chosenTokens (per-token mean NLL of yw). */
  sft: number;
  /** z. */
  margin: number;
  /** β·(policyChosen − refChosen). */
  chosenReward: number;
  /** β·(policyRejected − refRejected). */
  rejectedReward: number;
  /** ∂loss/∂policyChosen. */
  dPolicyChosen: number;
  /** ∂loss/∂policyRejected. */
  dPolicyRejected: number;
}

export interface BatchLoss extends PairLoss {
  /** Share of pairs with chosenReward > rejectedReward. */
  rewardAccuracy: number;
  /**
   * Per pair, the gradient of the batch's MEAN loss with respect to that pair's policy log-probs (the pair's own
   * gradient divided by the pair count) — what a trainer back-propagates into each sequence's log-prob sum.
   */
  pairGradients: Array<{ dPolicyChosen: number; dPolicyRejected: number }>;
}

/** softplus(x) = log(1 + eˣ), without overflow for large |x|. */
export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** σ(x) = 1 / (1 + e⁻ˣ), without overflow for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** The weights (preference term, SFT term) an objective puts on −log σ(z) and on the SFT NLL. */
export function objectiveWeights(s: PreferenceLossSettings): { dpo: number; sft: number } {
  switch (s.objective) {
    case "dpo":
      return { dpo: 1, sft: 0 };
    case "sft":
      return { dpo: 0, sft: 1 };
    case "dpo+sft":
    case "dpo-l+sft":
      return { dpo: s.eta, sft: 1 - s.eta };
  }
}

export function validateSettings(s: PreferenceLossSettings): void {
  if (!PREFERENCE_OBJECTIVES.includes(s.objective)) {
    throw new RangeError(`preference loss: unknown objective ${JSON.stringify(s.objective)} (expected one of ${PREFERENCE_OBJECTIVES.join(", ")})`);
  }
  if (!Number.isFinite(s.beta) || s.beta <= 0) throw new RangeError(`preference loss: beta must be a finite number > 0, got ${s.beta}`);
  if (!Number.isFinite(s.lambda) || s.lambda < 0) throw new RangeError(`preference loss: lambda must be a finite number >= 0, got ${s.lambda}`);
  if (!Number.isFinite(s.eta) || s.eta < 0 || s.eta > 1) throw new RangeError(`preference loss: eta must be a number in [0, 1], got ${s.eta}`);
}

function validatePair(p: PairLogps, where: string): void {
  for (const key of ["policyChosen", "policyRejected", "refChosen", "refRejected"] as const) {
    if (typeof p[key] !== "number" || !Number.isFinite(p[key])) {
      throw new RangeError(`preference loss${where}: ${key} must be a finite number, got ${p[key]}`);
    }
  }
  for (const key of ["chosenTokens", "rejectedTokens"] as const) {
    if (typeof p[key] !== "number" || !Number.isInteger(p[key]) || p[key] <= 0) {
      throw new RangeError(`preference loss${where}: ${key} must be a positive whole number of tokens, got ${p[key]}`);
    }
  }
}

function pairLossUnchecked(p: PairLogps, s: PreferenceLossSettings): PairLoss {
  const w = objectiveWeights(s);
  const chosenReward = s.beta * (p.policyChosen - p.refChosen);
  const rejectedReward = s.beta * (p.policyRejected - p.refRejected);
  const lengthMargin = s.objective === "dpo-l+sft" ? s.lambda * Math.log(p.rejectedTokens / p.chosenTokens) : 0;
  // β·Δ computed as one product of the difference so that equal pairs give exactly z = 0 − margin.
  const z = s.beta * (p.policyChosen - p.refChosen - (p.policyRejected - p.refRejected)) - lengthMargin;
  const dpo = softplus(-z); // −log σ(z)
  const sft = -p.policyChosen / p.chosenTokens;
  // ∂(−log σ(z))/∂z = −σ(−z); ∂z/∂πc = β, ∂z/∂πr = −β; ∂sft/∂πc = −1/ℓw.
  const g = sigmoid(-z);
  return {
    loss: w.dpo * dpo + w.sft * sft,
    dpo,
    sft,
    margin: z,
    chosenReward,
    rejectedReward,
    dPolicyChosen: -w.dpo * s.beta * g - w.sft / p.chosenTokens,
    dPolicyRejected: w.dpo * s.beta * g,
  };
}

export function pairLoss(p: PairLogps, s: PreferenceLossSettings): PairLoss {
  validateSettings(s);
  validatePair(p, "");
  return pairLossUnchecked(p, s);
}

/**
 * Mean over pairs of every field. `dPolicyChosen`/`dPolicyRejected` are the means of the pairs' own gradients —
 * equivalently, the sums over pairs of the gradients of the mean loss; `pairGradients` holds those per pair.
 */
export function batchLoss(pairs: readonly PairLogps[], s: PreferenceLossSettings): BatchLoss {
  validateSettings(s);
  if (pairs.length === 0) throw new RangeError("preference loss: the batch has no pairs");
  pairs.forEach((p, i) => validatePair(p, ` (pair ${i})`));
  const n = pairs.length;
  const sum: PairLoss = { loss: 0, dpo: 0, sft: 0, margin: 0, chosenReward: 0, rejectedReward: 0, dPolicyChosen: 0, dPolicyRejected: 0 };
  const keys = Object.keys(sum) as Array<keyof PairLoss>;
  let correct = 0;
  const pairGradients: BatchLoss["pairGradients"] = [];
  for (const p of pairs) {
    const l = pairLossUnchecked(p, s);
    for (const k of keys) sum[k] += l[k];
    if (l.chosenReward > l.rejectedReward) correct++;
    pairGradients.push({ dPolicyChosen: l.dPolicyChosen / n, dPolicyRejected: l.dPolicyRejected / n });
  }
  const mean = { ...sum };
  for (const k of keys) mean[k] = sum[k] / n;
  return { ...mean, rewardAccuracy: correct / n, pairGradients };
}
