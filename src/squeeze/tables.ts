/**
 * The squeeze run's record types, one table each (natural keys make every stage idempotent and resumable):
 *
 *   problems           (problemId)                            stage 1 input: question, answer, the prompt sent
 *   samples            (problemId, sampleIndex)               sampled responses, graded
 *   selections         (problemId)                            stage 1 per problem: N, c, p, q, k, chosen
 *   pairs              (problemId, chosenIndex, rejectedIndex) stage 1 output
 *   refined_steps      (problemId, sampleIndex, stepIndex)     stage 2 per step: the accepted candidate and costs
 *   refined_responses  (problemId, sampleIndex)               stage 2 per chosen response: the refined text
 * Pair exports (TRL, LLaMA-Factory) are derived from these, never the other way round.
 */
import type { FinishReason } from "../engines/engine.js";
import { sampledResponseColumns } from "../sampling/sample-problem.js";
import { defineTable } from "../store/index.js";

export interface ProblemRow {
  problemId: string;
  question: string;
  answer: string;
  level?: number;
  /** The prompt exactly as sent, and its tokens. */
  prompt: string;
  promptTokens: number;
  /** The generate request's seed (response i uses (seed, i)). */
  seed: number;
}

export const problemsTable = defineTable<ProblemRow>()({
  name: "problems",
  version: 1,
  key: ["problemId"],
  columns: { problemId: "text", question: "text", answer: "text", level: { type: "integer", optional: true }, prompt: "text", promptTokens: "integer", seed: "integer" },
  description: "training problems as sampled: question, reference answer, the prompt sent",
});

export interface SampleRow {
  problemId: string;
  sampleIndex: number;
  text: string;
  tokens: number;
  finishReason: FinishReason;
  stopReason?: string | number;
  extracted?: string;
  correct: boolean;
  level?: number;
}

export const samplesTable = defineTable<SampleRow>()({
  name: "samples",
  version: 1,
  key: ["problemId", "sampleIndex"],
  columns: {
    problemId: "text",
    ...sampledResponseColumns,
    level: { type: "integer", optional: true },
  },
  description: "stage-1 samples: N graded responses per training problem",
});

export interface SelectionRow {
  problemId: string;
  samples: number;
  correct: number;
  passRate: number;
  quantile?: number;
  k: number;
  chosen: number[];
  rejectedPool: number[];
  pairsBeforeCap: number;
  pairs: number;
  noPairs?: string;
  level?: number;
}

export const selectionsTable = defineTable<SelectionRow>()({
  name: "selections",
  version: 1,
  key: ["problemId"],
  columns: {
    problemId: "text",
    samples: "integer",
    correct: "integer",
    passRate: "real",
    quantile: { type: "real", optional: true },
    k: "integer",
    chosen: "json",
    rejectedPool: "json",
    pairsBeforeCap: "integer",
    pairs: "integer",
    noPairs: { type: "text", optional: true },
    level: { type: "integer", optional: true },
  },
  description: "stage-1 selection per problem: pass rate, quantile, chosen responses",
});

export interface PairRow {
  problemId: string;
  chosenIndex: number;
  rejectedIndex: number;
  chosenTokens: number;
  rejectedTokens: number;
  rejectedCorrect: boolean;
}

export const pairsTable = defineTable<PairRow>()({
  name: "pairs",
  version: 1,
  key: ["problemId", "chosenIndex", "rejectedIndex"],
  columns: { problemId: "text", chosenIndex: "integer", rejectedIndex: "integer", chosenTokens: "integer", rejectedTokens: "integer", rejectedCorrect: "boolean" },
  description: "stage-1 preference pairs (chosen and rejected sample indices; lengths before refinement)",
});

export interface RefinedStepRow {
  problemId: string;
  sampleIndex: number;
  stepIndex: number;
  original: string;
  originalTokens: number;
  /** The accepted candidate (absent when the step is kept). */
  accepted?: string;
  acceptedTokens?: number;
  /** D of the accepted candidate. */
  acceptedDivergence?: number;
  /** The smallest D among the candidates scored (absent when none was scored). */
  bestDivergence?: number;
  /** Candidates sampled (K), kept after the shortcuts' filters, distinct, and scored. */
  candidates: number;
  eligible: number;
  distinct: number;
  scored: number;
  /** Positions of the continuation the divergence ran over (≤ L). */
  window: number;
  /** Model tokens processed: prompt tokens of the generate request, tokens generated, tokens scored. */
  generationPromptTokens: number;
  generatedTokens: number;
  scoredTokens: number;
  estimator: string;
}

export const refinedStepsTable = defineTable<RefinedStepRow>()({
  name: "refined_steps",
  version: 1,
  key: ["problemId", "sampleIndex", "stepIndex"],
  columns: {
    problemId: "text",
    sampleIndex: "integer",
    stepIndex: "integer",
    original: "text",
    originalTokens: "integer",
    accepted: { type: "text", optional: true },
    acceptedTokens: { type: "integer", optional: true },
    acceptedDivergence: { type: "real", optional: true },
    bestDivergence: { type: "real", optional: true },
    candidates: "integer",
    eligible: "integer",
    distinct: "integer",
    scored: "integer",
    window: "integer",
    generationPromptTokens: "integer",
    generatedTokens: "integer",
    scoredTokens: "integer",
    estimator: "text",
  },
  description: "stage-2 refinement per step of a chosen response",
});

export interface RefinedResponseRow {
  problemId: string;
  sampleIndex: number;
  /** The refined response (the original when nothing was accepted or refinement is off). */
  text: string;
  /** ℓ(yw): the sample's tokens plus the accepted steps' token changes. */
  tokens: number;
  originalTokens: number;
  steps: number;
  stepsChanged: number;
  /** Tokens of the thinking steps before and after (separators and the answer excluded). */
  thinkingTokensBefore: number;
  thinkingTokensAfter: number;
}

export const refinedResponsesTable = defineTable<RefinedResponseRow>()({
  name: "refined_responses",
  version: 1,
  key: ["problemId", "sampleIndex"],
  columns: {
    problemId: "text",
    sampleIndex: "integer",
    text: "text",
    tokens: "integer",
    originalTokens: "integer",
    steps: "integer",
    stepsChanged: "integer",
    thinkingTokensBefore: "integer",
    thinkingTokensAfter: "integer",
  },
  description: "stage-2 refined chosen responses (yw of the pairs)",
});
