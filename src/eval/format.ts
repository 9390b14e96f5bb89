/** Terminal rendering of evaluation metrics: one row per benchmark, then its levels indented beneath it. */
import { benchmarkDisplayName } from "./compare.js";
import type { EvalErrors } from "./evaluate.js";
import type { BenchmarkMetrics, GroupMetrics } from "./metrics.js";

function fmt(x: number | null, digits: number): string {
  return x === null ? "—" : x.toFixed(digits);
}

/**
 * The JSON `eval --json` prints: an object keyed by benchmark, each value the benchmark's metrics plus `errors`,
 * the number of problems that could not be sampled (and the first such error).
 */
export function evalJson(benchmarks: Record<string, BenchmarkMetrics>, errors: Record<string, EvalErrors> = {}): string {
  const out: Record<string, unknown> = {};
  for (const [name, m] of Object.entries(benchmarks)) out[name] = benchmarkJson(m, errors[name]);
  for (const [name, e] of Object.entries(errors)) if (!(name in out) && e.problems > 0) out[name] = { errors: e.problems, firstError: e.first };
  return JSON.stringify(out, null, 2) + "\n";
}

/** One benchmark's metrics as `eval --json` (and `world report --json`) print them, with its error count. */
export function benchmarkJson(metrics: BenchmarkMetrics, errors: EvalErrors | undefined): Record<string, unknown> {
  return { ...metrics, errors: errors?.problems ?? 0, ...(errors?.first ? { firstError: errors.first } : {}) };
}

/** One line per benchmark with problems that could not be sampled. */
export function formatEvalErrors(errors: Record<string, EvalErrors>): string {
  let out = "";
  for (const [name, e] of Object.entries(errors)) {
    if (e.problems === 0) continue;
    out += `${benchmarkDisplayName(name)}: ${e.problems} problem${e.problems === 1 ? "" : "s"} could not be sampled (left out of the metrics)` + (e.first ? `; first: ${e.first.problemId}: ${e.first.error}` : "") + "\n";
  }
  return out;
}

export function formatEvalTable(benchmarks: Record<string, BenchmarkMetrics>): string {
  const names = Object.keys(benchmarks);
  if (names.length === 0) return "(no results)\n";
  // pass@k columns: the union of the ks every benchmark reports, smallest first.
  const ks = [...new Set(names.flatMap((n) => Object.keys(benchmarks[n].passAtK)))].map(Number).sort((a, b) => a - b);
  const header = ["benchmark", "problems", "samples", "Acc", "Len-T", "Len-A", "AUC", ...ks.map((k) => `pass@${k}`), "trunc%"];
  const row = (label: string, m: GroupMetrics): string[] => [
    label,
    String(m.problems),
    String(m.n),
    fmt(m.acc, 1),
    fmt(m.lenT === null ? null : Math.round(m.lenT), 0),
    fmt(Math.round(m.lenA), 0),
    fmt(m.auc, 1),
    ...ks.map((k) => fmt(m.passAtK[String(k)] ?? null, 1)),
    fmt(m.truncationRate, 1),
  ];
  const rows: string[][] = [];
  for (const name of names) {
    const m = benchmarks[name];
    rows.push(row(benchmarkDisplayName(name), m));
    for (const [level, lm] of Object.entries(m.byLevel)) rows.push(row(`  level ${level}`, lm));
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const budgets = [...new Set(names.map((n) => benchmarks[n].budget))];
  const note = `Acc, AUC, pass@k and trunc% in %; lengths in tokens; AUC over budgets 0…${budgets.join("/")} tokens`;
  return [line(header), ...rows.map(line), note].join("\n") + "\n";
}
