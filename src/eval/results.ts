/**
 * Reading finished evaluations back: from a run directory (metrics recomputed from its stored samples) or from
 * a saved `eval --json` output. Used by `compare`, and by the report and the demo.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { z } from "zod";
import { RunStore } from "../store/index.js";
import { InputError, UserError } from "../util/errors.js";
import { parseJsonText } from "../data/json-error.js";
import type { BenchmarkSummary, EvalSummary } from "./compare.js";
import { evalSamplesTable, toSampleRecord } from "./evaluate.js";
import { benchmarkMetrics, type BenchmarkMetrics, type SampleRecord } from "./metrics.js";

export interface EvalRunResults {
  /** The run directory (absolute). */
  dir: string;
  /** B used for the AUC. */
  budget: number;
  /** Metrics per benchmark, in the run's benchmark order. */
  benchmarks: Record<string, BenchmarkMetrics>;
  /** Which problems each benchmark's samples cover, for checking that two evaluations are comparable. */
  coverage: Record<string, BenchmarkCoverage>;
}

export interface BenchmarkCoverage {
  /** Sorted. */
  problemIds: string[];
  /** Samples per problem when every problem has the same number, else null. */
  samplesPerProblem: number | null;
}

function coverageOf(samples: readonly SampleRecord[]): BenchmarkCoverage {
  const counts = new Map<string, number>();
  for (const s of samples) counts.set(s.problemId, (counts.get(s.problemId) ?? 0) + 1);
  const distinct = new Set(counts.values());
  return { problemIds: [...counts.keys()].sort(), samplesPerProblem: distinct.size === 1 ? [...distinct][0] : null };
}

/**
 * Metrics of every benchmark stored in an evaluation run. `budget` overrides the run's AUC budget
 * (evaluation.aucBudget, else evaluation.maxTokens).
 */
export function readEvalRun(dir: string, opts: { budget?: number } = {}): EvalRunResults {
  const store = RunStore.open(dir, { readonly: true });
  try {
    const config = store.config as { evaluation?: { aucBudget?: number; maxTokens?: number; benchmarks?: Array<{ name?: string }> } };
    const budget = opts.budget ?? config.evaluation?.aucBudget ?? config.evaluation?.maxTokens;
    if (typeof budget !== "number" || !(budget > 0)) {
      throw new UserError(`${store.dir}: the run's config has no evaluation.maxTokens to use as the AUC budget`);
    }
    const hasTable = store.tables().some((t) => t.name === evalSamplesTable.name);
    if (!hasTable) throw new UserError(`${store.dir}: not an evaluation run (it has no ${evalSamplesTable.name} table)`);
    // Streamed and reduced to what the metrics need: the texts of a long evaluation can be gigabytes.
    const byBench = new Map<string, SampleRecord[]>();
    for (const r of store.table(evalSamplesTable).iterate()) {
      let list = byBench.get(r.benchmark);
      if (!list) byBench.set(r.benchmark, (list = []));
      list.push(toSampleRecord(r));
    }
    if (byBench.size === 0) throw new UserError(`${store.dir}: the evaluation has no samples yet`);
    const order = (config.evaluation?.benchmarks ?? []).map((b) => b.name).filter((n): n is string => typeof n === "string");
    const names = [...order.filter((n) => byBench.has(n)), ...[...byBench.keys()].filter((n) => !order.includes(n)).sort()];
    const benchmarks: Record<string, BenchmarkMetrics> = {};
    const coverage: Record<string, BenchmarkCoverage> = {};
    for (const name of names) {
      benchmarks[name] = benchmarkMetrics(byBench.get(name)!, { budget });
      coverage[name] = coverageOf(byBench.get(name)!);
    }
    return { dir: store.dir, budget, benchmarks, coverage };
  } finally {
    store.close();
  }
}

const summarySchema = z.object({
  n: z.number().int().nonnegative(),
  acc: z.number(),
  lenT: z.number().nullable(),
  lenA: z.number(),
  auc: z.number(),
  // `eval --json` prints these too; older files may lack them (then only the sample counts are compared).
  problems: z.number().int().nonnegative().optional(),
  samplesPerProblem: z.number().int().nonnegative().optional(),
});

/** An evaluation run as one row of a comparison: its metrics and which problems and samples they cover. */
export function evalRunSummary(run: EvalRunResults, label: string): EvalSummary {
  const benchmarks: Record<string, BenchmarkSummary> = {};
  for (const [name, m] of Object.entries(run.benchmarks)) {
    const cov = run.coverage[name];
    benchmarks[name] = { n: m.n, acc: m.acc, lenT: m.lenT, lenA: m.lenA, auc: m.auc, problems: m.problems, samplesPerProblem: cov.samplesPerProblem, problemIds: cov.problemIds };
  }
  return { label, benchmarks };
}

/**
 * Reads one evaluation for `compare`: a run directory, or a JSON file written from `eval --json` (an object
 * keyed by benchmark). The label is the directory or file name.
 */
export function readEvalSummary(path: string): EvalSummary {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new UserError(`evaluation not found: ${path}`);
  if (statSync(abs).isDirectory() || RunStore.isRun(abs)) {
    return evalRunSummary(readEvalRun(abs), basename(statSync(abs).isDirectory() ? abs : dirname(abs)));
  }
  // Not a run directory, so it must be `eval --json` output; invalid JSON is reported as everywhere else.
  const value = parseJsonText(path, readFileSync(abs, "utf8"));
  if (value === null || typeof value !== "object" || Array.isArray(value) || Object.keys(value).length === 0) {
    throw new InputError({ file: path }, "expected the output of `tokensqueeze eval --json`: an object keyed by benchmark");
  }
  const benchmarks: Record<string, BenchmarkSummary> = {};
  for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
    const parsed = summarySchema.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = [name, ...issue.path.map(String)].join(".");
      throw new InputError({ file: path, field }, issue.message);
    }
    const { problems, samplesPerProblem, ...metrics } = parsed.data;
    // `samplesPerProblem` in `eval --json` is the fewest any problem has: equal to all of them only when n says so.
    const known = problems !== undefined && samplesPerProblem !== undefined;
    const even = known && problems * samplesPerProblem === metrics.n;
    benchmarks[name] = { ...metrics, ...(problems !== undefined ? { problems } : {}), ...(known ? { samplesPerProblem: even ? samplesPerProblem : null } : {}) };
  }
  return { label: basename(abs).replace(/\.json$/i, ""), benchmarks };
}
