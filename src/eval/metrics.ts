/**
 * The paper's evaluation metrics, as pure functions of graded samples (METHOD.md "Evaluation").
 *
 * Conventions: Acc, AUC, pass@k and the truncation rate are percentages (0–100); lengths are in tokens of the
 * model's own tokenizer. Len-T is `null` when a group has no correct sample (a mean over nothing), never 0.
 *
 * AUC in closed form. The budget curve is Acc(b) = (1/N) Σ_i c_i·[t_i ≤ b] (c_i ∈ {0,1} correctness, t_i the
 * sample's tokens), and AUC = (1/B) ∫_0^B Acc(b) db. Swapping sum and integral, each sample contributes
 * (1/B) ∫_0^B [t_i ≤ b] db = (B − min(t_i, B)) / B = 1 − min(t_i, B)/B (zero when t_i ≥ B), so
 *     AUC = (1/N) Σ_i c_i · (1 − min(t_i, B)/B)
 * which equals Acc · (1 − Len-T/B) when every correct sample fits in B — the METHOD.md check
 * (92.8% × (1 − 3638/32768) ≈ 82.5). test/eval/metrics.test.ts checks it against numeric integration.
 */
import type { FinishReason } from "../engines/engine.js";

/** One graded sample: what the metrics need (the driver stores more: text, extracted answer). */
export interface SampleRecord {
  problemId: string;
  /** 0 … n−1 within its problem. */
  sampleIndex: number;
  /** Generated tokens (the response length ℓ). */
  tokens: number;
  correct: boolean;
  finishReason: FinishReason;
  level?: number;
  subject?: string;
}

/** One point of the budget curve: Acc(b) holds from `budget` up to the next point's budget. */
export interface BudgetPoint {
  budget: number;
  /** Percentage of all samples that are correct within `budget` tokens. */
  acc: number;
}

/** The metrics of one group of samples (a benchmark, a level, a subject). */
export interface GroupMetrics {
  /** Samples. */
  n: number;
  problems: number;
  /** Mean correctness over all samples, %. */
  acc: number;
  /** Mean tokens of correct samples; null when none is correct. */
  lenT: number | null;
  /** Mean tokens of all samples. */
  lenA: number;
  /** (1/B)∫_0^B Acc(b) db, %. */
  auc: number;
  /** Unbiased pass@k, %, keyed by k ("1", "2", …) for every k ≤ the fewest samples any problem has. */
  passAtK: Record<string, number>;
  /** Samples cut off at the token limit (finish reason "length"), %. */
  truncationRate: number;
}

export interface BenchmarkMetrics extends GroupMetrics {
  /** B, the budget the AUC integrates to (the run's max tokens). */
  budget: number;
  /** Fewest samples any problem has (the n of pass@k). */
  samplesPerProblem: number;
  /** Acc(b) as a step function: a point at 0, one at each distinct correct length ≤ B, one at B. */
  budgetCurve: BudgetPoint[];
  /** Keyed by level ("1" … "5"); samples without a level are left out. */
  byLevel: Record<string, GroupMetrics>;
  /** Keyed by subject; samples without a subject are left out. */
  bySubject: Record<string, GroupMetrics>;
}

export interface MetricOptions {
  /** B: the AUC's upper budget, normally the evaluation's max new tokens (32768 in the paper). */
  budget: number;
  /** Which k to report pass@k for; default 1, 2, 4, … and the fewest samples per problem. Larger k are dropped. */
  ks?: readonly number[];
}

/** Acc(b): the percentage of samples correct with at most b tokens. */
export function accAtBudget(samples: readonly SampleRecord[], budget: number): number {
  if (samples.length === 0) throw new RangeError("accAtBudget: no samples");
  let hits = 0;
  for (const s of samples) if (s.correct && s.tokens <= budget) hits++;
  return (100 * hits) / samples.length;
}

/** AUC over budgets 0 … B in closed form (see the file comment), %. */
export function areaUnderBudgetCurve(samples: readonly SampleRecord[], budget: number): number {
  if (samples.length === 0) throw new RangeError("areaUnderBudgetCurve: no samples");
  checkBudget(budget);
  // Σ c_i (1 − min(t_i,B)/B) = C − (Σ_{correct} min(t_i,B)) / B: summing integer lengths first keeps the
  // result exact and independent of the order of the samples.
  let correct = 0;
  let lengthSum = 0;
  for (const s of samples) {
    if (!s.correct) continue;
    correct++;
    lengthSum += Math.min(s.tokens, budget);
  }
  return (100 * (correct - lengthSum / budget)) / samples.length;
}

/** The budget curve Acc(b) for b in [0, B], as the points where the step function changes (plus both ends). */
export function budgetCurve(samples: readonly SampleRecord[], budget: number): BudgetPoint[] {
  if (samples.length === 0) throw new RangeError("budgetCurve: no samples");
  checkBudget(budget);
  const lengths = samples
    .filter((s) => s.correct && s.tokens <= budget)
    .map((s) => s.tokens)
    .sort((a, b) => a - b);
  const points: BudgetPoint[] = [];
  if (lengths.length === 0 || lengths[0] > 0) points.push({ budget: 0, acc: 0 });
  let hits = 0;
  for (let i = 0; i < lengths.length; i++) {
    hits++;
    // One point per distinct length, carrying every sample of that length.
    if (i + 1 < lengths.length && lengths[i + 1] === lengths[i]) continue;
    points.push({ budget: lengths[i], acc: (100 * hits) / samples.length });
  }
  if (points[points.length - 1].budget < budget) {
    points.push({ budget, acc: points[points.length - 1].acc });
  }
  return points;
}

/**
 * Unbiased pass@k for one problem with n samples of which c are correct (Chen et al. 2021):
 * 1 − C(n−c, k)/C(n, k), computed as 1 − Π_{i=n−c+1}^{n} (1 − k/i) so no binomial coefficient overflows.
 * Returns a probability in [0, 1].
 */
export function passAtKEstimate(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(c) || !Number.isInteger(k)) {
    throw new RangeError(`passAtKEstimate: n, c, k must be integers (got ${n}, ${c}, ${k})`);
  }
  if (n < 1 || c < 0 || c > n || k < 1 || k > n) {
    throw new RangeError(`passAtKEstimate: need 1 ≤ k ≤ n and 0 ≤ c ≤ n (got n=${n}, c=${c}, k=${k})`);
  }
  if (n - c < k) return 1;
  let allWrong = 1;
  for (let i = n - c + 1; i <= n; i++) allWrong *= 1 - k / i;
  return 1 - allWrong;
}

/** The default k list: 1, 2, 4, … up to n, and n itself. */
export function defaultKs(samplesPerProblem: number): number[] {
  const ks: number[] = [];
  for (let k = 1; k <= samplesPerProblem; k *= 2) ks.push(k);
  if (samplesPerProblem >= 1 && ks[ks.length - 1] !== samplesPerProblem) ks.push(samplesPerProblem);
  return ks;
}

/** Metrics of one group of samples. */
export function groupMetrics(samples: readonly SampleRecord[], opts: MetricOptions): GroupMetrics {
  if (samples.length === 0) throw new RangeError("groupMetrics: no samples");
  checkBudget(opts.budget);
  let correct = 0;
  let correctTokens = 0;
  let allTokens = 0;
  let truncated = 0;
  for (const s of samples) {
    if (!Number.isFinite(s.tokens) || s.tokens < 0) {
      throw new RangeError(`sample ${s.problemId}#${s.sampleIndex}: token count must be ≥ 0 (got ${s.tokens})`);
    }
    allTokens += s.tokens;
    if (s.correct) {
      correct++;
      correctTokens += s.tokens;
    }
    if (s.finishReason === "length") truncated++;
  }
  const problems = byProblem(samples);
  return {
    n: samples.length,
    problems: problems.size,
    acc: (100 * correct) / samples.length,
    lenT: correct > 0 ? correctTokens / correct : null,
    lenA: allTokens / samples.length,
    auc: areaUnderBudgetCurve(samples, opts.budget),
    passAtK: passAtKOfGroup(problems, opts.ks),
    truncationRate: (100 * truncated) / samples.length,
  };
}

/** Metrics of a whole benchmark: the group metrics plus the budget curve and the per-level/subject breakdowns. */
export function benchmarkMetrics(samples: readonly SampleRecord[], opts: MetricOptions): BenchmarkMetrics {
  const overall = groupMetrics(samples, opts);
  const byLevel: Record<string, GroupMetrics> = {};
  for (const [level, group] of groupBy(samples, (s) => (s.level === undefined ? undefined : String(s.level)))) {
    byLevel[level] = groupMetrics(group, opts);
  }
  const bySubject: Record<string, GroupMetrics> = {};
  for (const [subject, group] of groupBy(samples, (s) => s.subject)) {
    bySubject[subject] = groupMetrics(group, opts);
  }
  return {
    ...overall,
    budget: opts.budget,
    samplesPerProblem: Math.min(...[...byProblem(samples).values()].map((g) => g.length)),
    budgetCurve: budgetCurve(samples, opts.budget),
    byLevel,
    bySubject,
  };
}

function passAtKOfGroup(problems: Map<string, SampleRecord[]>, ks: readonly number[] | undefined): Record<string, number> {
  const minN = Math.min(...[...problems.values()].map((g) => g.length));
  const out: Record<string, number> = {};
  // Problems in id order: the float sum is then the same whatever order the samples came in.
  const groups = [...problems.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, g]) => g);
  for (const k of ks ?? defaultKs(minN)) {
    if (k > minN) continue;
    let sum = 0;
    for (const group of groups) {
      const c = group.filter((s) => s.correct).length;
      sum += passAtKEstimate(group.length, c, k);
    }
    out[String(k)] = (100 * sum) / problems.size;
  }
  return out;
}

function byProblem(samples: readonly SampleRecord[]): Map<string, SampleRecord[]> {
  const groups = new Map<string, SampleRecord[]>();
  for (const s of samples) {
    let g = groups.get(s.problemId);
    if (!g) groups.set(s.problemId, (g = []));
    g.push(s);
  }
  return groups;
}

/** Groups in a stable order: numeric keys ascending, then the rest alphabetically. */
function groupBy(samples: readonly SampleRecord[], key: (s: SampleRecord) => string | undefined): Array<[string, SampleRecord[]]> {
  const groups = new Map<string, SampleRecord[]>();
  for (const s of samples) {
    const k = key(s);
    if (k === undefined || k === "") continue;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(s);
  }
  return [...groups.entries()].sort(([a], [b]) => {
    const na = Number(a);
    const nb = Number(b);
    if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

function checkBudget(budget: number): void {
  if (!(budget > 0) || !Number.isFinite(budget)) throw new RangeError(`the AUC budget B must be > 0 (got ${budget})`);
}
