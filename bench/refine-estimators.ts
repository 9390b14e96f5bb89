/**
 * Stage 2's divergence estimators against the exact one, on the built-in model and world:
 *
 *   node --import tsx bench/refine-estimators.ts [--problems 80 | --run DIR] [--max-steps N] [--candidates K]
 *        [--top-k 20] [--epsilons 0.005,0.05,0.5] [--cases]
 *
 * Steps: every step of every chosen response of a squeeze run (`--run`), or of a temporary run sampled and
 * selected here with the demo preset on the first `--problems` world-train problems. For each step the
 * candidates are generated exactly as refineStep does (src/squeeze/refine.ts: prefix = prompt + text before the
 * step, the refine stage's seed, K candidates at the refinement temperature, stop at "\n\n" or "</think>", length
 * cap 2× the step's tokens, trailing whitespace trimmed); the cases are the distinct (by text) non-empty candidates
 * strictly shorter than the step — the ones refinement would ever score. The original and all cases of a step are
 * scored in one request with full distributions over the original continuation windowed to L (demo preset: 128),
 * and D is computed with `stepDivergence` (reduction "sum") three ways: exact (full distributions), top-k (k = 20
 * lists derived from the same full distributions with topKOf, as a vLLM server would return them) and sampled
 * (log-prob of the given token only). Reported: errors of top-k and sampled against exact, correlations, and the
 * decisions each would change at several ε (per case: D < ε or not; per step: which candidate is accepted).
 * Three variants of the top-k and sampled estimators are measured on the same cases under "proposals" (Variant).
 * Prints one JSON object (the command line is in it); `--cases` adds every case's three D values.
 */
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { resolveConfig } from "../src/config/index.js";
import type { Engine, ScoredContinuation } from "../src/engines/engine.js";
import { openEngine } from "../src/engines/factory.js";
import { topKOf } from "../src/model/score.js";
import { stepDivergence, type DivergenceEstimator, type PositionScores } from "../src/squeeze/divergence.js";
import { refineSettingsOf } from "../src/squeeze/stages.js";
import { STEP_DELIMITER, textAfterStep, textBeforeStep, THINK_CLOSE } from "../src/squeeze/steps.js";
import type { RefineSettings } from "../src/squeeze/refine.js";
import { loadSteps, quantile, sig, type BenchStep } from "./refine-steps.js";

const ESTIMATORS = ["exact", "topk", "sampled"] as const satisfies readonly DivergenceEstimator[];
/**
 * Variants measured alongside (computed here, not in src/):
 *   topkFloor   top-k lists only, both remainders floored at 1e-6: the top-k estimator without the continuation
 *               token (what it was before the token joined the lists; kept to show what the token is worth).
 *   topkToken   topkFloor with the continuation token t_j added to both lists: an independent re-implementation of
 *               what src/squeeze/divergence.ts now does (a cross-check: it must equal "topk").
 *   sampledK3   Σ_j (r_j − 1 − log r_j), r_j = P(t_j | candidate) / P(t_j | original): the same inputs as
 *               "sampled", each term ≥ 0, and with t_j drawn from the original context also unbiased per position.
 */
type Variant = "topkFloor" | "topkToken" | "sampledK3";
type Est = (typeof ESTIMATORS)[number] | Variant;

const VARIANT_FLOOR = 1e-6;

/** klTopK (src/squeeze/divergence.ts) with a symmetric remainder floor, optionally with one more known token. */
function klTopKVariant(pTop: ReadonlyArray<readonly [number, number]>, qTop: ReadonlyArray<readonly [number, number]>, token?: { id: number; lp: number; lq: number }): number {
  const p = new Map<number, number>(pTop.map(([id, lp]) => [id, lp]));
  const q = new Map<number, number>(qTop.map(([id, lq]) => [id, lq]));
  if (token !== undefined) {
    if (!p.has(token.id)) p.set(token.id, token.lp);
    if (!q.has(token.id)) q.set(token.id, token.lq);
  }
  let kl = 0;
  let pShared = 0;
  let qShared = 0;
  for (const [id, lp] of p) {
    const lq = q.get(id);
    if (lq === undefined || lp === -Infinity) continue;
    pShared += Math.exp(lp);
    qShared += Math.exp(lq);
    kl += Math.exp(lp) * (lp - lq);
  }
  const pRest = 1 - pShared;
  if (pRest > VARIANT_FLOOR) kl += pRest * Math.log(pRest / Math.max(VARIANT_FLOOR, 1 - qShared));
  return Math.max(0, kl);
}

function variantDivergences(orig: PositionScores, cand: PositionScores, tokens: readonly number[]): Record<Variant, number> {
  let topkFloor = 0;
  let topkToken = 0;
  let sampledK3 = 0;
  const oTop = orig.top as ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
  const cTop = cand.top as ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
  for (let j = 0; j < tokens.length; j++) {
    const lp = orig.logprobs[j];
    const lq = cand.logprobs[j];
    topkFloor += klTopKVariant(oTop[j], cTop[j]);
    topkToken += klTopKVariant(oTop[j], cTop[j], { id: tokens[j], lp, lq });
    const d = lq - lp;
    sampledK3 += Math.expm1(d) - d;
  }
  return { topkFloor, topkToken, sampledK3 };
}

interface Case {
  step: string;
  candidateIndex: number;
  text: string;
  tokens: number;
  originalTokens: number;
  window: number;
  D: Record<Est, number>;
}

interface StepCases {
  step: string;
  window: number;
  candidates: number;
  eligible: number;
  cases: Case[];
  /** No continuation to score (window 0): every D is 0, not informative; skipped. */
  skipped?: string;
}

/** Candidates as refineStep generates them, scored with full distributions; D by each estimator. */
async function stepCases(engine: Engine, s: BenchStep, settings: RefineSettings, topK: number): Promise<StepCases> {
  const { split, stepIndex: i } = s;
  const tok = (text: string): Promise<number[]> => engine.tokenize(text, { addSpecialTokens: false });
  const prefix = s.prompt + textBeforeStep(split, i);
  const [prefixIds, originalIds, afterIds] = await Promise.all([engine.tokenize(prefix), tok(split.steps[i]), tok(textAfterStep(split, i))]);
  const maxCandidate = Math.max(1, Math.ceil(settings.lengthCapFactor * originalIds.length));
  const context = (await engine.capabilities()).maxContextTokens;
  const room = context - prefixIds.length - Math.max(maxCandidate, originalIds.length);
  if (room < 1) throw new Error(`${s.key}: no room in the context`);
  const t = afterIds.slice(0, Math.min(settings.window, room));
  const gen = await engine.generate({
    prompt: prefixIds,
    n: settings.candidates,
    seed: s.seed,
    temperature: settings.temperature,
    topP: 1,
    topK: 0,
    maxTokens: maxCandidate,
    stop: [STEP_DELIMITER, THINK_CLOSE],
  });
  const all = await Promise.all(
    gen.completions.map(async (c) => {
      const text = c.text.replace(/\s+$/, "");
      return { index: c.index, text, ids: text === "" ? [] : await tok(text) };
    }),
  );
  all.sort((a, b) => a.index - b.index);
  const eligible = all.filter((c) => c.ids.length > 0 && c.ids.length < originalIds.length);
  const seen = new Set<string>();
  const distinct = eligible.filter((c) => (seen.has(c.text) ? false : (seen.add(c.text), true)));
  const out: StepCases = { step: s.key, window: t.length, candidates: all.length, eligible: eligible.length, cases: [] };
  if (distinct.length === 0) return out;
  if (t.length === 0) return { ...out, skipped: "empty window" };
  const res = await engine.score({ prefix: prefixIds, continuations: [[...originalIds, ...t], ...distinct.map((c) => [...c.ids, ...t])], distributions: "full" });
  const positions = (sc: ScoredContinuation, stepLength: number): PositionScores => {
    const full = (sc.fullLogprobs as Float32Array[]).slice(stepLength);
    // tokenIds: the top-k estimator adds the continuation token to both lists, as the refine stage does.
    return { logprobs: sc.logprobs.slice(stepLength), tokenIds: sc.tokenIds.slice(stepLength), full, top: full.map((lp) => topKOf(lp, topK)) };
  };
  const orig = positions(res.continuations[0], originalIds.length);
  distinct.forEach((c, k) => {
    const cand = positions(res.continuations[k + 1], c.ids.length);
    const D = {
      ...(Object.fromEntries(ESTIMATORS.map((e) => [e, stepDivergence(orig, cand, e, settings.reduction)])) as Record<(typeof ESTIMATORS)[number], number>),
      ...variantDivergences(orig, cand, t),
    };
    out.cases.push({ step: s.key, candidateIndex: c.index, text: c.text, tokens: c.ids.length, originalTokens: originalIds.length, window: t.length, D });
  });
  return out;
}

function pearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** Ranks with ties averaged. */
function ranks(x: readonly number[]): number[] {
  const order = x.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(x.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    for (let k = i; k <= j; k++) r[order[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

function summary(xs: readonly number[]) {
  const s = xs.slice().sort((a, b) => a - b);
  return {
    mean: sig(s.reduce((a, b) => a + b, 0) / s.length),
    median: sig(quantile(s, 0.5)),
    p90: sig(quantile(s, 0.9)),
    max: sig(s[s.length - 1]),
  };
}

/** The accepted candidate of a step under one estimator: the shortest case with D < ε (ties: lowest index). */
function acceptedOf(cases: readonly Case[], est: Est, eps: number): number | null {
  let best: Case | undefined;
  for (const c of cases) {
    if (!(c.D[est] < eps)) continue;
    if (best === undefined || c.tokens < best.tokens || (c.tokens === best.tokens && c.candidateIndex < best.candidateIndex)) best = c;
  }
  return best?.candidateIndex ?? null;
}

/** Relative errors are taken over cases whose exact D is at least this (a smaller exact D makes them meaningless). */
const REL_FLOOR = 1e-6;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      run: { type: "string" },
      problems: { type: "string", default: "80" },
      "max-steps": { type: "string" },
      candidates: { type: "string" },
      "top-k": { type: "string", default: "20" },
      epsilons: { type: "string", default: "0.005,0.05,0.5" },
      cases: { type: "boolean", default: false },
    },
  });
  const command = ["node", "--import", "tsx", "bench/refine-estimators.ts", ...process.argv.slice(2)].join(" ");
  const overrides: Record<string, unknown> = { "refinement.estimator": "exact" };
  if (values.candidates !== undefined) overrides["refinement.candidates"] = Number(values.candidates);
  const config = resolveConfig({ preset: "demo", overrides });
  const topK = Number(values["top-k"]);
  const epsilons = values.epsilons!.split(",").map(Number);
  if (!epsilons.includes(config.refinement.epsilon)) epsilons.unshift(config.refinement.epsilon);
  const log = (line: string): boolean => process.stderr.write(line + "\n");
  const loadBefore = loadavg()[0];
  const t0 = performance.now();
  const engine = await openEngine({ kind: "embedded", model: config.engine.model });
  try {
    const source = await loadSteps({ run: values.run, problems: Number(values.problems), config, engine, log });
    const steps = source.steps.slice(0, values["max-steps"] !== undefined ? Number(values["max-steps"]) : Infinity);
    const settings = await refineSettingsOf(config, engine);
    log(`${steps.length} steps of ${source.responses} chosen responses (${source.source}); K=${settings.candidates}, L=${settings.window}, top-k k=${topK}`);
    const t1 = performance.now();
    const perStep: StepCases[] = [];
    // One response's steps at once, as the refine stage does.
    for (let at = 0, responses = 0; at < steps.length; responses++) {
      let end = at + 1;
      while (end < steps.length && steps[end].problemId === steps[at].problemId && steps[end].sampleIndex === steps[at].sampleIndex) end++;
      perStep.push(...(await Promise.all(steps.slice(at, end).map((s) => stepCases(engine, s, settings, topK)))));
      at = end;
      if (responses % 10 === 9 || at === steps.length) log(`${perStep.length}/${steps.length} steps, ${perStep.reduce((a, s) => a + s.cases.length, 0)} cases`);
    }
    const scoreSeconds = (performance.now() - t1) / 1000;
    const cases = perStep.flatMap((s) => s.cases);
    const exact = cases.map((c) => c.D.exact);

    const vsExact = (est: Exclude<Est, "exact">) => {
      const v = cases.map((c) => c.D[est]);
      const abs = cases.map((c) => Math.abs(c.D[est] - c.D.exact));
      const relCases = cases.filter((c) => c.D.exact >= REL_FLOOR);
      const rel = relCases.map((c) => Math.abs(c.D[est] - c.D.exact) / c.D.exact);
      const decisions = epsilons.map((eps) => {
        let exactPassEstFail = 0;
        let exactFailEstPass = 0;
        let estPass = 0;
        for (const c of cases) {
          const pe = c.D.exact < eps;
          const pq = c.D[est] < eps;
          if (pq) estPass++;
          if (pe && !pq) exactPassEstFail++;
          if (!pe && pq) exactFailEstPass++;
        }
        let stepsChanged = 0;
        let stepsAcceptedEst = 0;
        for (const s of perStep) {
          const a = acceptedOf(s.cases, "exact", eps);
          const b = acceptedOf(s.cases, est, eps);
          if (b !== null) stepsAcceptedEst++;
          if (a !== b) stepsChanged++;
        }
        return { epsilon: eps, estimatorPasses: estPass, exactPassEstimatorFail: exactPassEstFail, exactFailEstimatorPass: exactFailEstPass, casesChanged: exactPassEstFail + exactFailEstPass, stepsAccepted: stepsAcceptedEst, stepsWithAnotherAcceptedCandidate: stepsChanged };
      });
      return {
        absoluteError: summary(abs),
        meanSignedError: sig(cases.reduce((a, c) => a + c.D[est] - c.D.exact, 0) / cases.length),
        relativeError: { ...summary(rel), cases: relCases.length, note: `cases with exact D ≥ ${REL_FLOOR}` },
        pearson: sig(pearson(exact, v)),
        spearman: sig(pearson(ranks(exact), ranks(v))),
        pearsonLog10: est !== "sampled" ? sig(pearson(exact.map((x) => Math.log10(x + 1e-12)), v.map((x) => Math.log10(x + 1e-12)))) : undefined,
        aboveExact: cases.filter((c) => c.D[est] > c.D.exact + 1e-9).length,
        maxAboveExact: sig(Math.max(0, ...cases.map((c) => c.D[est] - c.D.exact))),
        belowExact: cases.filter((c) => c.D[est] < c.D.exact - 1e-9).length,
        negative: v.filter((x) => x < 0).length,
        decisions,
      };
    };
    const exactDecisions = epsilons.map((eps) => ({
      epsilon: eps,
      casesPass: exact.filter((d) => d < eps).length,
      stepsAccepted: perStep.filter((s) => acceptedOf(s.cases, "exact", eps) !== null).length,
    }));
    const withCases = perStep.filter((s) => s.cases.length > 0);
    const report = {
      command,
      machine: `${cpus()[0]?.model ?? "?"}, ${cpus().length} cores`,
      node: process.version,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg()[0],
      source: source.source,
      settings: { candidates: settings.candidates, window: settings.window, reduction: settings.reduction, lengthCapFactor: settings.lengthCapFactor, temperature: settings.temperature, topK },
      steps: steps.length,
      stepsWithCases: withCases.length,
      stepsSkippedEmptyWindow: perStep.filter((s) => s.skipped !== undefined).length,
      cases: cases.length,
      meanWindow: sig(cases.reduce((a, c) => a + c.window, 0) / cases.length),
      exact: {
        D: { ...summary(exact), min: sig(Math.min(...exact)), p10: sig(quantile(exact.slice().sort((a, b) => a - b), 0.1)) },
        decisions: exactDecisions,
      },
      topk: vsExact("topk"),
      sampled: vsExact("sampled"),
      proposals: {
        note: "estimators not in src/, measured on the same cases (see Variant in bench/refine-estimators.ts)",
        topkFloor: vsExact("topkFloor"),
        topkToken: vsExact("topkToken"),
        sampledK3: vsExact("sampledK3"),
      },
      seconds: { total: sig((performance.now() - t0) / 1000), sample: sig(source.sampleSeconds), generateScoreEstimate: sig(scoreSeconds) },
      ...(values.cases ? { caseList: cases.map((c) => ({ step: c.step, candidateIndex: c.candidateIndex, text: c.text, tokens: c.tokens, originalTokens: c.originalTokens, window: c.window, ...c.D })) } : {}),
    };
    process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  } finally {
    await engine.close();
  }
}

await main();
