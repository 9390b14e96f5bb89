/**
 * What a squeeze run holds, computed from its tables (never stored, so it cannot drift from the records): the
 * pass-rate histogram, pairs per problem, chosen vs rejected lengths, steps and tokens per step before/after
 * refinement, acceptance by step position, and the model tokens sampling and refinement processed.
 */
import type { RunStore } from "../store/index.js";
import { REFINE_STAGE, SAMPLE_STAGE, SELECT_STAGE } from "./stages.js";
import { pairsTable, problemsTable, refinedResponsesTable, refinedStepsTable, samplesTable, selectionsTable } from "./tables.js";

export interface Histogram {
  label: string;
  count: number;
}

export interface SqueezeSummary {
  run: string;
  /** Problems sampled (stage finished), and those whose sampling failed (recorded errors). */
  problems: number;
  sampleErrors: number;
  samples: number;
  /** Share of correct samples (%). */
  sampleAccuracy: number;
  passRateHistogram: Histogram[];
  problemsWithPairs: number;
  /** Why problems gave no pairs. */
  noPairs: Record<string, number>;
  pairs: number;
  pairsPerProblem: { mean: number; max: number; capped: number };
  chosenResponses: number;
  chosenTokensMean: number;
  rejectedTokensMean: number;
  refinement: {
    done: boolean;
    errors: number;
    estimator: string | null;
    steps: number;
    stepsAccepted: number;
    /** stepsAccepted / steps (null before refinement). */
    acceptanceRate: number | null;
    stepsPerResponse: number;
    tokensPerStepBefore: number;
    tokensPerStepAfter: number;
    /** Acceptance by relative step position (first fifth of a response … last fifth), in %. */
    acceptanceByPosition: Histogram[];
    candidatesPerStep: { generated: number; eligible: number; distinct: number; scored: number };
  };
  /** Thinking tokens of the chosen responses (the steps; separators and answers excluded). */
  thinkingTokensBefore: number;
  thinkingTokensAfter: number;
  /** 1 − after/before, in %. */
  thinkingReduction: number | null;
  /** Chosen responses' mean length ℓ(yw) before and after refinement. */
  chosenTokensRefinedMean: number | null;
  tokensProcessed: {
    sampling: { prompt: number; generated: number };
    refinement: { prompt: number; generated: number; scored: number };
  };
}

const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

export function squeezeSummary(store: RunStore): SqueezeSummary {
  const problems = store.table(problemsTable).all();
  const sampleStage = store.stage(SAMPLE_STAGE);
  let samples = 0;
  let correct = 0;
  let generated = 0;
  for (const s of store.table(samplesTable).iterate()) {
    samples++;
    if (s.correct) correct++;
    generated += s.tokens;
  }
  const selections = store.stage(SELECT_STAGE) ? store.table(selectionsTable).all() : [];
  const buckets = ["0", "(0, 0.25]", "(0.25, 0.5]", "(0.5, 0.75]", "(0.75, 1)", "1"];
  const hist = buckets.map((label) => ({ label, count: 0 }));
  for (const s of selections) {
    const p = s.passRate;
    hist[p === 0 ? 0 : p <= 0.25 ? 1 : p <= 0.5 ? 2 : p <= 0.75 ? 3 : p < 1 ? 4 : 5].count++;
  }
  const noPairs: Record<string, number> = {};
  for (const s of selections) if (s.noPairs) noPairs[s.noPairs] = (noPairs[s.noPairs] ?? 0) + 1;
  const withPairs = selections.filter((s) => s.pairs > 0);
  const pairRows = store.stage(SELECT_STAGE) ? store.table(pairsTable).all() : [];
  const chosenTokens = new Map<string, number>();
  for (const p of pairRows) chosenTokens.set(`${p.problemId}/${p.chosenIndex}`, p.chosenTokens);

  const refineInfo = store.stage(REFINE_STAGE);
  const steps = refineInfo ? store.table(refinedStepsTable).all() : [];
  const responses = refineInfo ? store.table(refinedResponsesTable).all() : [];
  const accepted = steps.filter((s) => s.accepted !== undefined);
  const positions = ["1st fifth", "2nd fifth", "3rd fifth", "4th fifth", "5th fifth"].map((label) => ({ label, n: 0, a: 0 }));
  const stepsOf = new Map<string, number>();
  for (const r of responses) stepsOf.set(`${r.problemId}/${r.sampleIndex}`, r.steps);
  for (const s of steps) {
    const n = stepsOf.get(`${s.problemId}/${s.sampleIndex}`) ?? 1;
    const b = positions[Math.min(4, Math.floor((5 * s.stepIndex) / n))];
    b.n++;
    if (s.accepted !== undefined) b.a++;
  }
  const before = responses.reduce((a, r) => a + r.thinkingTokensBefore, 0);
  const after = responses.reduce((a, r) => a + r.thinkingTokensAfter, 0);
  const stepTokensAfter = steps.map((s) => s.acceptedTokens ?? s.originalTokens);
  const sum = (f: (s: (typeof steps)[number]) => number): number => steps.reduce((a, s) => a + f(s), 0);
  return {
    run: store.dir,
    problems: problems.length,
    sampleErrors: sampleStage?.failed ?? 0,
    samples,
    sampleAccuracy: samples === 0 ? 0 : round((100 * correct) / samples),
    passRateHistogram: hist,
    problemsWithPairs: withPairs.length,
    noPairs,
    pairs: pairRows.length,
    pairsPerProblem: { mean: round(mean(withPairs.map((s) => s.pairs))), max: Math.max(0, ...withPairs.map((s) => s.pairs)), capped: withPairs.filter((s) => s.pairsBeforeCap > s.pairs).length },
    chosenResponses: chosenTokens.size,
    chosenTokensMean: round(mean([...chosenTokens.values()]), 1),
    rejectedTokensMean: round(mean(pairRows.map((p) => p.rejectedTokens)), 1),
    refinement: {
      done: refineInfo !== undefined && (refineInfo.status === "complete" || refineInfo.status === "complete-with-errors"),
      errors: refineInfo?.failed ?? 0,
      estimator: steps[0]?.estimator ?? null,
      steps: steps.length,
      stepsAccepted: accepted.length,
      acceptanceRate: steps.length === 0 ? null : round(accepted.length / steps.length, 4),
      stepsPerResponse: round(mean(responses.map((r) => r.steps)), 1),
      tokensPerStepBefore: round(mean(steps.map((s) => s.originalTokens))),
      tokensPerStepAfter: round(mean(stepTokensAfter)),
      acceptanceByPosition: positions.map((p) => ({ label: p.label, count: p.n === 0 ? 0 : round((100 * p.a) / p.n, 1) })),
      candidatesPerStep: {
        generated: round(mean(steps.map((s) => s.candidates)), 1),
        eligible: round(mean(steps.map((s) => s.eligible)), 1),
        distinct: round(mean(steps.map((s) => s.distinct)), 1),
        scored: round(mean(steps.map((s) => s.scored)), 1),
      },
    },
    thinkingTokensBefore: before,
    thinkingTokensAfter: after,
    thinkingReduction: before === 0 ? null : round(100 * (1 - after / before)),
    chosenTokensRefinedMean: responses.length === 0 ? null : round(mean(responses.map((r) => r.tokens)), 1),
    tokensProcessed: {
      sampling: { prompt: problems.reduce((a, p) => a + p.promptTokens, 0), generated },
      refinement: { prompt: sum((s) => s.generationPromptTokens), generated: sum((s) => s.generatedTokens), scored: sum((s) => s.scoredTokens) },
    },
  };
}

/** The summary as lines for a terminal. */
export function formatSqueezeSummary(s: SqueezeSummary): string {
  const r = s.refinement;
  const lines = [
    `run: ${s.run}`,
    `sampled: ${s.problems} problems, ${s.samples} responses, ${s.sampleAccuracy}% correct${s.sampleErrors > 0 ? `; ${s.sampleErrors} problems failed (see \`runs show\`)` : ""}`,
    `pass rate p:  ${s.passRateHistogram.map((h) => `${h.label}: ${h.count}`).join("  ")}`,
    `pairs: ${s.pairs} from ${s.problemsWithPairs} problems (mean ${s.pairsPerProblem.mean}, max ${s.pairsPerProblem.max} per problem; ${s.pairsPerProblem.capped} capped at M)` +
      (Object.keys(s.noPairs).length > 0 ? `; no pairs: ${Object.entries(s.noPairs).map(([k, v]) => `${k} ${v}`).join(", ")}` : ""),
    `lengths: chosen ${s.chosenTokensMean} tokens (${s.chosenResponses} responses), rejected ${s.rejectedTokensMean} tokens (mean over pairs)`,
  ];
  if (r.steps > 0 || r.done) {
    lines.push(
      `refinement (${r.estimator ?? "off"}): ${r.stepsAccepted} of ${r.steps} steps rewritten (acceptance ${r.acceptanceRate === null ? "n/a" : (100 * r.acceptanceRate).toFixed(1) + "%"}), ` +
        `${r.stepsPerResponse} steps per response, ${r.tokensPerStepBefore} → ${r.tokensPerStepAfter} tokens per step${r.errors > 0 ? `; ${r.errors} responses failed` : ""}`,
      `acceptance by step position: ${r.acceptanceByPosition.map((p) => `${p.label} ${p.count}%`).join("  ")}`,
      `candidates per step: ${r.candidatesPerStep.generated} sampled, ${r.candidatesPerStep.eligible} shorter, ${r.candidatesPerStep.distinct} distinct, ${r.candidatesPerStep.scored} scored`,
      `thinking tokens of the chosen responses: ${s.thinkingTokensBefore} → ${s.thinkingTokensAfter}${s.thinkingReduction === null ? "" : ` (−${s.thinkingReduction}%)`}; mean ℓ(yw) ${s.chosenTokensMean} → ${s.chosenTokensRefinedMean ?? "n/a"}`,
    );
  }
  const t = s.tokensProcessed;
  lines.push(
    `model tokens: sampling ${t.sampling.prompt} prompt + ${t.sampling.generated} generated; refinement ${t.refinement.prompt} prompt + ${t.refinement.generated} generated, ${t.refinement.scored} scored`,
  );
  return lines.join("\n") + "\n";
}
