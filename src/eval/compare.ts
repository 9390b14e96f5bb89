/**
 * The paper's Table 1 layout for several evaluations: per benchmark, Acc / Len-T (Δ% vs the first evaluation) /
 * Len-A (Δ%) / AUC, one row per evaluation. Pure: summaries in, text out.
 */

/** What a comparison needs from one benchmark's metrics (a subset of BenchmarkMetrics / the `eval --json` object). */
export interface BenchmarkSummary {
  n: number;
  acc: number;
  lenT: number | null;
  lenA: number;
  auc: number;
}

export interface EvalSummary {
  /** Shown in the first column: a run directory or file name. */
  label: string;
  /** Keyed by benchmark name, in the evaluation's order. */
  benchmarks: Record<string, BenchmarkSummary>;
}

export interface ComparisonCell {
  acc: number;
  lenT: number | null;
  /** Len-T change vs the first evaluation, %; undefined on the first row or when either side has no Len-T. */
  lenTDelta?: number;
  lenA: number;
  lenADelta?: number;
  auc: number;
}

export interface Comparison {
  benchmarks: string[];
  rows: Array<{ label: string; cells: Record<string, ComparisonCell | undefined> }>;
}

const displayNames: Record<string, string> = {
  math500: "MATH-500",
  aime24: "AIME24",
  aime25: "AIME25",
  amc23: "AMC23",
  gsm8k: "GSM8K",
  world: "World",
};

export function benchmarkDisplayName(name: string): string {
  return displayNames[name] ?? name;
}

export function buildComparison(evals: readonly EvalSummary[]): Comparison {
  if (evals.length === 0) throw new RangeError("buildComparison: no evaluations");
  const benchmarks: string[] = [];
  for (const e of evals) for (const b of Object.keys(e.benchmarks)) if (!benchmarks.includes(b)) benchmarks.push(b);
  const first = evals[0];
  const rows = evals.map((e, i) => {
    const cells: Record<string, ComparisonCell | undefined> = {};
    for (const b of benchmarks) {
      const m = e.benchmarks[b];
      if (!m) continue;
      const base = i === 0 ? undefined : first.benchmarks[b];
      cells[b] = {
        acc: m.acc,
        lenT: m.lenT,
        lenTDelta: base ? percentChange(base.lenT, m.lenT) : undefined,
        lenA: m.lenA,
        lenADelta: base ? percentChange(base.lenA, m.lenA) : undefined,
        auc: m.auc,
      };
    }
    return { label: e.label, cells };
  });
  return { benchmarks, rows };
}

function percentChange(base: number | null, value: number | null): number | undefined {
  if (base === null || value === null || base === 0) return undefined;
  return (100 * (value - base)) / base;
}

const COLUMNS = ["Acc", "Len-T", "Len-A", "AUC"] as const;

function formatCell(cell: ComparisonCell | undefined): string[] {
  if (!cell) return ["—", "—", "—", "—"];
  return [
    cell.acc.toFixed(1),
    withDelta(cell.lenT, cell.lenTDelta),
    withDelta(cell.lenA, cell.lenADelta),
    cell.auc.toFixed(1),
  ];
}

function withDelta(len: number | null, delta: number | undefined): string {
  if (len === null) return "—";
  const v = String(Math.round(len));
  if (delta === undefined) return v;
  return `${v} (${delta >= 0 ? "+" : "-"}${Math.abs(delta).toFixed(1)}%)`;
}

/** A Markdown table: one column group per benchmark ("MATH-500 Acc", "MATH-500 Len-T", …). */
export function comparisonMarkdown(c: Comparison): string {
  const header = ["Model", ...c.benchmarks.flatMap((b) => COLUMNS.map((col) => `${benchmarkDisplayName(b)} ${col}`))];
  const lines = [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...c.rows.map((r) => `| ${[escapeMd(r.label), ...c.benchmarks.flatMap((b) => formatCell(r.cells[b]))].join(" | ")} |`),
  ];
  return lines.join("\n") + "\n";
}

function escapeMd(s: string): string {
  return s.replace(/\|/g, "\\|");
}

/** An aligned terminal table with a two-line header: benchmark names over their four columns. */
export function comparisonText(c: Comparison): string {
  const body = c.rows.map((r) => [r.label, ...c.benchmarks.flatMap((b) => formatCell(r.cells[b]))]);
  const sub = ["", ...c.benchmarks.flatMap(() => [...COLUMNS])];
  const widths = sub.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  // Widen a benchmark's group when its name is longer than its four columns together.
  c.benchmarks.forEach((b, bi) => {
    const start = 1 + 4 * bi;
    const name = benchmarkDisplayName(b);
    const groupWidth = widths.slice(start, start + 4).reduce((a, w) => a + w, 0) + 3 * 2;
    if (name.length > groupWidth) widths[start + 3] += name.length - groupWidth;
  });
  const pad = (s: string, w: number, left: boolean) => (left ? s.padEnd(w) : s.padStart(w));
  const top = [pad("", widths[0], true)];
  c.benchmarks.forEach((b, bi) => {
    const start = 1 + 4 * bi;
    const groupWidth = widths.slice(start, start + 4).reduce((a, w) => a + w, 0) + 3 * 2;
    top.push(benchmarkDisplayName(b).padEnd(groupWidth));
  });
  const line = (cells: string[]) => cells.map((s, i) => pad(s, widths[i], i === 0)).join("  ").trimEnd();
  const out = [top.join("  ").trimEnd(), line(sub), ...body.map(line)];
  return out.join("\n") + "\n";
}
