/**
 * Stage 2, distribution-aligned linguistic refinement of one reasoning step (METHOD.md):
 *
 * 1. The model itself samples K candidate replacements s'ᵢ at temperature 1.0 from the original context
 *    (prompt, s<i); a candidate ends where the model ends a step (a blank line, or `</think>`) or at the length
 *    cap (2× the original step's tokens). Trailing whitespace is not part of a candidate (the separator is kept).
 * 2. A candidate is eligible when it is non-empty and strictly shorter (in tokens) than the original step; the
 *    accepted one is the shortest eligible candidate with D < ε (ties: lowest candidate index). If none passes,
 *    the step is kept. Keeping sᵢ is never worse than accepting a candidate as long as sᵢ, which is why the
 *    shortcuts below are exact.
 * 3. D runs over the original continuation after step i, windowed to L tokens (./divergence.ts).
 *
 * Shortcuts (METHOD.md: exact, expected; `naive` turns them off to check exactly that): ineligible candidates are
 * never scored; identical candidates are scored once; candidates are scored shortest first, `scoreBatch` at a time
 * (so the engine has work to batch), and the search stops at the first batch holding a pass (the first pass in
 * order is the answer, so scoring a few more in that batch changes nothing); the prefix is shared by every
 * candidate of a score request (engines with prefix reuse encode it once per request). Naive: every candidate
 * (and the original) is scored in its own request and the rule of step 2 is applied to all of them.
 */
import type { Engine, ScoredContinuation } from "../engines/engine.js";
import type { RefinementConfig } from "../config/schema.js";
import { UserError } from "../util/errors.js";
import { stepDivergence, type DivergenceEstimator, type PositionScores } from "./divergence.js";
import { textAfterStep, textBeforeStep, THINK_CLOSE, STEP_DELIMITER, type SplitResponse } from "./steps.js";

export interface RefineSettings extends Pick<RefinementConfig, "candidates" | "temperature" | "epsilon" | "window" | "lengthCapFactor" | "reduction" | "topK"> {
  estimator: DivergenceEstimator;
  /** Candidates per score request on the shortcut path. */
  scoreBatch: number;
  /** Turn the shortcuts off (every candidate scored, one request each). */
  naive: boolean;
}

export interface StepRefinement {
  original: string;
  originalTokens: number;
  accepted?: { text: string; tokens: number; divergence: number; candidateIndex: number };
  bestDivergence?: number;
  candidates: number;
  eligible: number;
  distinct: number;
  scored: number;
  window: number;
  generationPromptTokens: number;
  generatedTokens: number;
  scoredTokens: number;
}

/** Picks the estimator for an engine: the configured one (checked), or the best the engine supports. */
export async function resolveEstimator(engine: Engine, configured: RefinementConfig["estimator"], topK: number): Promise<{ estimator: DivergenceEstimator; topK: number }> {
  const caps = await engine.capabilities();
  const cannot = (what: string): never => {
    throw new UserError(`refinement.estimator ${configured}: the engine ${engine.identity.engine} (${engine.identity.name}) cannot ${what}`);
  };
  if (!caps.promptLogprobs) cannot("score given tokens (no prompt log-probabilities), which refinement needs; use an engine that can, or set refinement.enabled=false");
  switch (configured) {
    case "exact":
      if (!caps.fullDistributions) cannot("return full distributions (use topk or sampled)");
      return { estimator: "exact", topK };
    case "topk":
      if (caps.maxTopK <= 0) cannot("return top-k log-probabilities (use sampled)");
      return { estimator: "topk", topK: Math.min(topK, caps.maxTopK) };
    case "sampled":
      return { estimator: "sampled", topK };
    case "auto":
      if (caps.fullDistributions) return { estimator: "exact", topK };
      if (caps.maxTopK > 0) return { estimator: "topk", topK: Math.min(topK, caps.maxTopK) };
      return { estimator: "sampled", topK };
  }
}

interface Candidate {
  index: number;
  text: string;
  ids: number[];
}

/** The positions of the continuation t inside a scored (step ++ t) sequence, as the divergence needs them. */
function continuationScores(s: ScoredContinuation, stepLength: number): PositionScores {
  return {
    logprobs: s.logprobs.slice(stepLength),
    tokenIds: s.tokenIds.slice(stepLength),
    ...(s.fullLogprobs ? { full: s.fullLogprobs.slice(stepLength) } : {}),
    ...(s.topLogprobs ? { top: s.topLogprobs.slice(stepLength) } : {}),
  };
}

function distributionsFor(estimator: DivergenceEstimator): "full" | "topk" | "none" {
  return estimator === "exact" ? "full" : estimator === "topk" ? "topk" : "none";
}

export interface RefineStepInput {
  /** The prompt the response answered (as sent). */
  prompt: string;
  split: SplitResponse;
  stepIndex: number;
  /** Seed of the candidates' generate request. */
  seed: number;
}

/** Refines one step. */
export async function refineStep(engine: Engine, input: RefineStepInput, settings: RefineSettings, opts: { signal?: AbortSignal } = {}): Promise<StepRefinement> {
  const { split, stepIndex: i } = input;
  const tok = (text: string): Promise<number[]> => engine.tokenize(text, { addSpecialTokens: false });
  const original = split.steps[i];
  const prefix = input.prompt + textBeforeStep(split, i);
  const [prefixIds, originalIds, afterIds] = await Promise.all([engine.tokenize(prefix), tok(original), tok(textAfterStep(split, i))]);
  const maxCandidate = Math.max(1, Math.ceil(settings.lengthCapFactor * originalIds.length));
  // The window, shortened if prefix + longest candidate + window would not fit the model's context.
  const context = (await engine.capabilities()).maxContextTokens;
  const room = context - prefixIds.length - Math.max(maxCandidate, originalIds.length);
  if (room < 1) throw new Error(`step ${i}: the prefix (${prefixIds.length} tokens) leaves no room in the model's context of ${context} tokens to score a continuation`);
  const t = afterIds.slice(0, Math.min(settings.window, room));
  const base: StepRefinement = {
    original,
    originalTokens: originalIds.length,
    candidates: settings.candidates,
    eligible: 0,
    distinct: 0,
    scored: 0,
    window: t.length,
    generationPromptTokens: prefixIds.length,
    generatedTokens: 0,
    scoredTokens: 0,
  };

  const gen = await engine.generate(
    {
      prompt: prefixIds,
      n: settings.candidates,
      seed: input.seed,
      temperature: settings.temperature,
      topP: 1,
      topK: 0,
      maxTokens: maxCandidate,
      stop: [STEP_DELIMITER, THINK_CLOSE],
    },
    { signal: opts.signal },
  );
  const all: Candidate[] = [];
  for (const c of gen.completions) {
    base.generatedTokens += c.tokenIds.length;
    const text = c.text.replace(/\s+$/, "");
    all.push({ index: c.index, text, ids: text === "" ? [] : await tok(text) });
  }
  all.sort((a, b) => a.index - b.index);
  const isEligible = (c: Candidate): boolean => c.ids.length > 0 && c.ids.length < originalIds.length;
  base.eligible = all.filter(isEligible).length;

  const distributions = distributionsFor(settings.estimator);
  const scoreRequest = async (conts: number[][]): Promise<ScoredContinuation[]> => {
    const res = await engine.score({ prefix: prefixIds, continuations: conts, distributions, topK: settings.topK }, { signal: opts.signal });
    base.scoredTokens += res.prefixTokens + conts.reduce((a, c) => a + c.length, 0);
    return res.continuations;
  };
  const D = (orig: PositionScores, cand: ScoredContinuation, c: Candidate): number => stepDivergence(orig, continuationScores(cand, c.ids.length), settings.estimator, settings.reduction);
  // Only eligible candidates count towards bestDivergence (and `distinct`), so a step's record is the same in both
  // modes except for what it cost.
  const consider = (c: Candidate, d: number): void => {
    if (!isEligible(c)) return;
    if (base.bestDivergence === undefined || d < base.bestDivergence) base.bestDivergence = d;
    if (!(d < settings.epsilon)) return;
    const a = base.accepted;
    if (a === undefined || c.ids.length < a.tokens || (c.ids.length === a.tokens && c.index < a.candidateIndex)) {
      base.accepted = { text: c.text, tokens: c.ids.length, divergence: d, candidateIndex: c.index };
    }
  };

  if (settings.naive) {
    base.distinct = new Set(all.filter(isEligible).map((c) => c.text)).size;
    const [orig] = await scoreRequest([[...originalIds, ...t]]);
    const origScores = continuationScores(orig, originalIds.length);
    for (const c of all) {
      const [s] = await scoreRequest([[...c.ids, ...t]]);
      base.scored++;
      consider(c, D(origScores, s, c));
    }
    return base;
  }

  // Shortcuts: eligible only, each distinct text once (its lowest index), shortest first.
  const seen = new Set<string>();
  const queue: Candidate[] = [];
  for (const c of all) {
    if (!isEligible(c) || seen.has(c.text)) continue;
    seen.add(c.text);
    queue.push(c);
  }
  base.distinct = queue.length;
  queue.sort((a, b) => a.ids.length - b.ids.length || a.index - b.index);
  let origScores: PositionScores | undefined;
  for (let at = 0; at < queue.length && base.accepted === undefined; at += settings.scoreBatch) {
    const batch = queue.slice(at, at + settings.scoreBatch);
    const conts = batch.map((c) => [...c.ids, ...t]);
    // The original rides along with the first batch (one request, one prefix encoding).
    const scored = await scoreRequest(origScores === undefined ? [[...originalIds, ...t], ...conts] : conts);
    if (origScores === undefined) origScores = continuationScores(scored.shift() as ScoredContinuation, originalIds.length);
    batch.forEach((c, k) => {
      base.scored++;
      consider(c, D(origScores as PositionScores, scored[k], c));
    });
  }
  return base;
}
