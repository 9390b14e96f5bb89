import { describe, expect, it } from "vitest";
import {
  accAtBudget,
  areaUnderBudgetCurve,
  benchmarkMetrics,
  budgetCurve,
  defaultKs,
  groupMetrics,
  passAtKEstimate,
  type SampleRecord,
} from "../../src/eval/metrics.js";
import { Rng } from "../../src/util/rng.js";

function sample(problemId: string, sampleIndex: number, tokens: number, correct: boolean, extra: Partial<SampleRecord> = {}): SampleRecord {
  return { problemId, sampleIndex, tokens, correct, finishReason: "stop", ...extra };
}

function randomSamples(rng: Rng, problems: number, perProblem: number, maxTokens: number): SampleRecord[] {
  const out: SampleRecord[] = [];
  for (let p = 0; p < problems; p++) {
    const ease = rng.next();
    for (let i = 0; i < perProblem; i++) {
      // Include lengths beyond B sometimes: they count for Acc but never within the budget.
      const tokens = rng.int(0, Math.round(maxTokens * 1.2));
      out.push(sample(`p${p}`, i, tokens, rng.next() < ease, { level: 1 + (p % 5), subject: p % 2 ? "Algebra" : "Geometry" }));
    }
  }
  return out;
}

/** Midpoint rule on a fine grid, using only accAtBudget (independent of the closed form and of budgetCurve). */
function numericAuc(samples: SampleRecord[], B: number, steps: number): number {
  const h = B / steps;
  let sum = 0;
  for (let j = 0; j < steps; j++) sum += accAtBudget(samples, (j + 0.5) * h);
  return (sum * h) / B;
}

/** Exact integral of the step function that budgetCurve returns. */
function integrateCurve(samples: SampleRecord[], B: number): number {
  const pts = budgetCurve(samples, B);
  let area = 0;
  for (let i = 0; i + 1 < pts.length; i++) area += pts[i].acc * (pts[i + 1].budget - pts[i].budget);
  return area / B;
}

/** Synthetic samples with exactly the given accuracy and mean correct length (and optionally mean length of all). */
function syntheticRun(problems: number, perProblem: number, accPct: number, lenT: number, lenA: number): SampleRecord[] {
  const n = problems * perProblem;
  const nCorrect = Math.round((accPct / 100) * n);
  const nWrong = n - nCorrect;
  const wrongMean = (lenA * n - lenT * nCorrect) / nWrong;
  const out: SampleRecord[] = [];
  for (let i = 0; i < n; i++) {
    const correct = i < nCorrect;
    // Lengths spread ±40% around the mean in pairs so the mean is exact.
    const j = correct ? i : i - nCorrect;
    const mean = correct ? lenT : wrongMean;
    const spread = Math.round(mean * 0.4);
    const count = correct ? nCorrect : nWrong;
    const tokens = count % 2 === 1 && j === count - 1 ? mean : j % 2 === 0 ? mean + spread : mean - spread;
    out.push(sample(`p${i % problems}`, Math.floor(i / problems), tokens, correct));
  }
  return out;
}

describe("AUC", () => {
  it("the closed form equals numeric integration of the budget curve on random samples", () => {
    const rng = new Rng(12345);
    for (let trial = 0; trial < 20; trial++) {
      const B = rng.int(50, 3000);
      const samples = randomSamples(rng, rng.int(1, 30), rng.int(1, 8), B);
      const closed = areaUnderBudgetCurve(samples, B);
      expect(integrateCurve(samples, B)).toBeCloseTo(closed, 9);
      // The midpoint rule at 4B points is exact for integer lengths up to float error.
      expect(numericAuc(samples, B, 4 * B)).toBeCloseTo(closed, 6);
    }
  });

  it("counts a sample only if it is correct and within the budget", () => {
    const s = [sample("a", 0, 10, true), sample("a", 1, 30, true), sample("b", 0, 5, false), sample("b", 1, 200, true)];
    expect(accAtBudget(s, 9)).toBe(0);
    expect(accAtBudget(s, 10)).toBe(25);
    expect(accAtBudget(s, 100)).toBe(50);
    expect(accAtBudget(s, 200)).toBe(75);
    // B = 100: the 200-token sample is correct (Acc) but contributes nothing to the AUC.
    expect(areaUnderBudgetCurve(s, 100)).toBeCloseTo((100 * ((1 - 0.1) + (1 - 0.3))) / 4, 12);
    expect(budgetCurve(s, 100)).toEqual([
      { budget: 0, acc: 0 },
      { budget: 10, acc: 25 },
      { budget: 30, acc: 50 },
      { budget: 100, acc: 50 },
    ]);
  });

  it("reproduces the METHOD.md check values (B = 32768)", () => {
    const base = syntheticRun(500, 16, 92.8, 3638, 4190);
    const mBase = groupMetrics(base, { budget: 32768 });
    expect(mBase.acc).toBeCloseTo(92.8, 10);
    expect(mBase.lenT).toBeCloseTo(3638, 8);
    expect(mBase.lenA).toBeCloseTo(4190, 8);
    expect(mBase.auc).toBeCloseTo(82.5, 1);
    expect(mBase.auc).toBeCloseTo(92.8 * (1 - 3638 / 32768), 8);

    const squeezed = syntheticRun(500, 16, 92.4, 1773, 2045);
    const mSq = groupMetrics(squeezed, { budget: 32768 });
    expect(mSq.acc).toBeCloseTo(92.4, 10);
    expect(mSq.lenT).toBeCloseTo(1773, 8);
    expect(mSq.auc).toBeCloseTo(87.4, 1);
  });
});

describe("pass@k", () => {
  function binom(n: number, k: number): number {
    let r = 1;
    for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
    return r;
  }

  it("matches 1 − C(n−c,k)/C(n,k) on hand cases", () => {
    expect(passAtKEstimate(5, 2, 2)).toBeCloseTo(1 - 3 / 10, 12); // C(3,2)=3, C(5,2)=10
    expect(passAtKEstimate(4, 1, 1)).toBeCloseTo(0.25, 12);
    expect(passAtKEstimate(16, 0, 8)).toBe(0);
    expect(passAtKEstimate(16, 16, 1)).toBe(1);
    expect(passAtKEstimate(10, 3, 8)).toBe(1); // fewer than 8 wrong: any 8 contain a correct one
    expect(passAtKEstimate(10, 3, 5)).toBeCloseTo(1 - 21 / 252, 12); // C(7,5)=21, C(10,5)=252
    for (const [n, c, k] of [[16, 3, 4], [16, 1, 16], [20, 7, 3], [8, 2, 6]] as const) {
      expect(passAtKEstimate(n, c, k)).toBeCloseTo(n - c < k ? 1 : 1 - binom(n - c, k) / binom(n, k), 12);
    }
  });

  it("pass@1 equals the mean accuracy and stays stable at large n", () => {
    expect(passAtKEstimate(1000, 1, 1)).toBeCloseTo(0.001, 15);
    const v = passAtKEstimate(2000, 3, 100);
    expect(v).toBeGreaterThan(0);
    expect(v).toBeLessThan(1);
    const rng = new Rng(7);
    const s = randomSamples(rng, 12, 6, 500);
    const m = groupMetrics(s, { budget: 500 });
    expect(m.passAtK["1"]).toBeCloseTo(m.acc, 10);
    expect(Object.keys(m.passAtK)).toEqual(["1", "2", "4", "6"]);
  });

  it("averages the per-problem estimates", () => {
    const s = [
      ...[true, false, false, false].map((c, i) => sample("a", i, 10, c)),
      ...[true, true, false, false].map((c, i) => sample("b", i, 10, c)),
    ];
    const m = groupMetrics(s, { budget: 100, ks: [1, 2, 4, 8] });
    expect(m.passAtK["1"]).toBeCloseTo(37.5, 12);
    // a: 1 − C(3,2)/C(4,2) = 0.5; b: 1 − 1/6.
    expect(m.passAtK["2"]).toBeCloseTo((100 * (0.5 + 5 / 6)) / 2, 12);
    expect(m.passAtK["4"]).toBe(100);
    expect(m.passAtK["8"]).toBeUndefined();
  });

  it("default ks are powers of two and n", () => {
    expect(defaultKs(16)).toEqual([1, 2, 4, 8, 16]);
    expect(defaultKs(3)).toEqual([1, 2, 3]);
    expect(defaultKs(1)).toEqual([1]);
  });
});

describe("benchmarkMetrics", () => {
  it("computes lengths, truncation and per-level / per-subject breakdowns", () => {
    const s = [
      sample("a", 0, 100, true, { level: 1, subject: "Algebra" }),
      sample("a", 1, 300, false, { level: 1, subject: "Algebra", finishReason: "length" }),
      sample("b", 0, 50, true, { level: 3, subject: "Geometry" }),
      sample("b", 1, 150, true, { level: 3, subject: "Geometry" }),
    ];
    const m = benchmarkMetrics(s, { budget: 300 });
    expect(m.n).toBe(4);
    expect(m.problems).toBe(2);
    expect(m.samplesPerProblem).toBe(2);
    expect(m.acc).toBe(75);
    expect(m.lenT).toBe(100);
    expect(m.lenA).toBe(150);
    expect(m.truncationRate).toBe(25);
    expect(Object.keys(m.byLevel)).toEqual(["1", "3"]);
    expect(m.byLevel["1"]).toMatchObject({ n: 2, acc: 50, lenT: 100, lenA: 200, truncationRate: 50 });
    expect(m.byLevel["3"]).toMatchObject({ n: 2, acc: 100, lenT: 100, lenA: 100, truncationRate: 0 });
    expect(m.bySubject["Geometry"].auc).toBeCloseTo(100 * (1 - 100 / 300), 10);
    expect(m.budgetCurve[m.budgetCurve.length - 1]).toEqual({ budget: 300, acc: 75 });
  });

  it("does not depend on the order of the samples", () => {
    const rng = new Rng(99);
    const s = randomSamples(rng, 25, 6, 777);
    const m = benchmarkMetrics(s, { budget: 777 });
    for (let i = 0; i < 5; i++) expect(benchmarkMetrics(rng.shuffle(s), { budget: 777 })).toEqual(m);
  });

  it("reports Len-T as null when nothing is correct", () => {
    const m = groupMetrics([sample("a", 0, 7, false), sample("a", 1, 9, false)], { budget: 16 });
    expect(m.acc).toBe(0);
    expect(m.lenT).toBeNull();
    expect(m.lenA).toBe(8);
    expect(m.auc).toBe(0);
  });

  it("refuses empty groups and bad budgets", () => {
    expect(() => groupMetrics([], { budget: 10 })).toThrow(/no samples/);
    expect(() => groupMetrics([sample("a", 0, 1, true)], { budget: 0 })).toThrow(/budget/);
  });
});
