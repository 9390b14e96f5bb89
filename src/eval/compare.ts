/**
 * The paper's Table 1 layout for several evaluations: per benchmark, Acc / Len-T (Δ% vs the first evaluation) /
 * Len-A (Δ%) / AUC, one row per evaluation. Pure: summaries in, text out.
 *
 * A Δ% only means something between evaluations of the same problems with the same number of samples each: five
 * MATH-500 problems against five others say nothing about the model. So each benchmark's coverage is compared
 * with the first evaluation's (problem ids where known, else the counts) and a Δ% across a difference is withheld
 * unless the caller allows it (`--allow-mismatch`); the differences are listed under the table either way.
 */

/** What a comparison needs from one benchmark's metrics (a subset of BenchmarkMetrics / the `eval --json` object). */
export interface BenchmarkSummary {
  /** Samples. */
  n: number;
  acc: number;
  lenT: number | null;
  lenA: number;
  auc: number;
  /** Problems evaluated, when known. */
  problems?: number;
  /** Samples per problem when every problem has the same number; null when they differ; absent when unknown. */
  samplesPerProblem?: number | null;
  /** The problem ids, sorted (known for run directories; `eval --json` output has only the counts). */
  problemIds?: readonly string[];
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
  /** The cell covers other problems or sample counts than the first evaluation's (see Comparison.mismatches). */
  mismatch?: true;
}

/** Where one evaluation's benchmark does not cover what the first evaluation's does. */
export interface CoverageMismatch {
  label: string;
  benchmark: string;
  /** Plain-language differences, e.g. "covers other problems (0 of 5 shared)", "4 vs 16 samples per problem". */
  reasons: string[];
}

export interface Comparison {
  benchmarks: string[];
  rows: Array<{ label: string; cells: Record<string, ComparisonCell | undefined> }>;
  /** Every (evaluation, benchmark) whose coverage differs from the first evaluation's. */
  mismatches: CoverageMismatch[];
  /** Whether Δ% was computed across those differences anyway (`--allow-mismatch`). */
  allowMismatch: boolean;
  /** Benchmarks whose problem identity could not be checked (a side without ids: only counts were compared). */
  uncheckedProblems: string[];
}

export interface ComparisonOptions {
  /** Compute Δ% even where runs cover different problems or sample counts (default: withhold it). */
  allowMismatch?: boolean;
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

export function buildComparison(evals: readonly EvalSummary[], opts: ComparisonOptions = {}): Comparison {
  if (evals.length === 0) throw new RangeError("buildComparison: no evaluations");
  const allowMismatch = opts.allowMismatch === true;
  const benchmarks: string[] = [];
  for (const e of evals) for (const b of Object.keys(e.benchmarks)) if (!benchmarks.includes(b)) benchmarks.push(b);
  const first = evals[0];
  const mismatches: CoverageMismatch[] = [];
  const unchecked = new Set<string>();
  const rows = evals.map((e, i) => {
    const cells: Record<string, ComparisonCell | undefined> = {};
    for (const b of benchmarks) {
      const m = e.benchmarks[b];
      if (!m) continue;
      const base = i === 0 ? undefined : first.benchmarks[b];
      const reasons = base ? coverageDifferences(base, m, first.label, e.label) : [];
      if (base && reasons.length === 0 && (base.problemIds === undefined || m.problemIds === undefined)) unchecked.add(b);
      if (reasons.length > 0) mismatches.push({ label: e.label, benchmark: b, reasons });
      const showDelta = base !== undefined && (reasons.length === 0 || allowMismatch);
      cells[b] = {
        acc: m.acc,
        lenT: m.lenT,
        lenTDelta: showDelta ? percentChange(base.lenT, m.lenT) : undefined,
        lenA: m.lenA,
        lenADelta: showDelta ? percentChange(base.lenA, m.lenA) : undefined,
        auc: m.auc,
        ...(reasons.length > 0 ? { mismatch: true as const } : {}),
      };
    }
    return { label: e.label, cells };
  });
  return { benchmarks, rows, mismatches, allowMismatch, uncheckedProblems: [...unchecked] };
}

/**
 * How `other` covers a benchmark differently from `base`: by problem ids when both sides know them, else by the
 * problem counts; then by samples per problem (or, when neither is known, by the total samples).
 */
export function coverageDifferences(base: BenchmarkSummary, other: BenchmarkSummary, baseLabel: string, otherLabel: string): string[] {
  const reasons: string[] = [];
  if (base.problemIds !== undefined && other.problemIds !== undefined) {
    const mine = new Set(other.problemIds);
    const shared = base.problemIds.filter((id) => mine.has(id)).length;
    if (shared !== base.problemIds.length || shared !== other.problemIds.length) {
      reasons.push(
        `covers other problems: ${shared} shared, ${base.problemIds.length - shared} only in ${baseLabel}, ${other.problemIds.length - shared} only in ${otherLabel}`,
      );
    }
  } else if (base.problems !== undefined && other.problems !== undefined && base.problems !== other.problems) {
    reasons.push(`${other.problems} problems vs ${base.problems} in ${baseLabel}`);
  }
  if (base.samplesPerProblem !== undefined && other.samplesPerProblem !== undefined) {
    if (base.samplesPerProblem !== other.samplesPerProblem) {
      reasons.push(`${perProblem(other.samplesPerProblem)} vs ${perProblem(base.samplesPerProblem)} in ${baseLabel}`);
    }
  }
  if (reasons.length === 0 && base.n !== other.n) reasons.push(`${other.n} samples vs ${base.n} in ${baseLabel}`);
  return reasons;
}

function perProblem(k: number | null): string {
  return k === null ? "an uneven number of samples per problem" : `${k} sample${k === 1 ? "" : "s"} per problem`;
}

/**
 * The lines under a table that say what was compared with what: each coverage difference, whether Δ% was
 * withheld or shown anyway, and which benchmarks could only be checked by counts. Empty when there is nothing to say.
 */
export function comparisonNotes(c: Comparison): string[] {
  const notes: string[] = [];
  if (c.mismatches.length > 0) {
    const first = c.rows[0]?.label ?? "the first evaluation";
    notes.push(
      c.allowMismatch
        ? `* these evaluations do not cover the same problems or sample counts as ${first}; Δ% shown anyway (--allow-mismatch):`
        : `* these evaluations do not cover the same problems or sample counts as ${first}, so their Δ% is withheld (--allow-mismatch shows it):`,
    );
    for (const m of c.mismatches) notes.push(`  ${m.label}, ${benchmarkDisplayName(m.benchmark)}: ${m.reasons.join("; ")}`);
  }
  if (c.uncheckedProblems.length > 0) {
    notes.push(
      `note: ${c.uncheckedProblems.map(benchmarkDisplayName).join(", ")}: problem ids are not in an \`eval --json\` file, so only the problem and sample counts were compared`,
    );
  }
  return notes;
}
function percentChange(base: number | null, value: number | null): number | undefined {
  if (base === null || value === null || base === 0) return undefined;
  return (100 * (value - base)) / base;
}

const COLUMNS = ["Acc", "Len-T", "Len-A", "AUC"] as const;

function formatCell(cell: ComparisonCell | undefined): string[] {
  if (!cell) return ["—", "—", "—", "—"];
  const mark = cell.mismatch ? "*" : "";
  return [
    cell.acc.toFixed(1),
    withDelta(cell.lenT, cell.lenTDelta) + mark,
    withDelta(cell.lenA, cell.lenADelta) + mark,
    cell.auc.toFixed(1),
  ];
}

function withDelta(len: number | null, delta: number | undefined): string {
  if (len === null) return "—";
  const v = String(Math.round(len));
  if (delta === undefined) return v;
  return `${v} (${formatDelta(delta)})`;
}

/** A Δ% as the tables print it: "-51.3%", "+2.0%". */
export function formatDelta(delta: number): string {
  return `${delta >= 0 ? "+" : "-"}${Math.abs(delta).toFixed(1)}%`;
}

/** A Markdown table: one column group per benchmark ("MATH-500 Acc", "MATH-500 Len-T", …). */
export function comparisonMarkdown(c: Comparison): string {
  const header = ["Model", ...c.benchmarks.flatMap((b) => COLUMNS.map((col) => `${benchmarkDisplayName(b)} ${col}`))];
  const lines = [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...c.rows.map((r) => `| ${[escapeMd(r.label), ...c.benchmarks.flatMap((b) => formatCell(r.cells[b]))].join(" | ")} |`),
  ];
  const notes = comparisonNotes(c);
  // Markdown: the heading line escaped (a leading * is a list), each difference a list item.
  if (notes.length > 0) lines.push("", ...notes.map((n) => escapeMd(n).replace(/^\*/, "\\*").replace(/^ {2}/, "- ")));
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
  const out = [top.join("  ").trimEnd(), line(sub), ...body.map(line), ...comparisonNotes(c)];
  return out.join("\n") + "\n";
}
