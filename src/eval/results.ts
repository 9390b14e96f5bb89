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
    for (const name of names) benchmarks[name] = benchmarkMetrics(byBench.get(name)!, { budget });
    return { dir: store.dir, budget, benchmarks };
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
});

/**
 * Reads one evaluation for `compare`: a run directory, or a JSON file written from `eval --json` (an object
 * keyed by benchmark). The label is the directory or file name.
 */
export function readEvalSummary(path: string): EvalSummary {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new UserError(`evaluation not found: ${path}`);
  if (statSync(abs).isDirectory() || RunStore.isRun(abs)) {
    const run = readEvalRun(abs);
    const benchmarks: Record<string, BenchmarkSummary> = {};
    for (const [name, m] of Object.entries(run.benchmarks)) benchmarks[name] = { n: m.n, acc: m.acc, lenT: m.lenT, lenA: m.lenA, auc: m.auc };
    return { label: basename(statSync(abs).isDirectory() ? abs : dirname(abs)), benchmarks };
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
    benchmarks[name] = parsed.data;
  }
  return { label: basename(abs).replace(/\.json$/i, ""), benchmarks };
}
