/**
 * A plot of the report: the rows it draws (which are also its CSV download) and a Vega-Lite spec that reads them
 * from the dataset named `table`. Numbers are computed here, in Node, so what the page draws, what the CSV holds
 * and what the tests check are one array.
 */

export type Cell = string | number | null;
export type Row = Record<string, Cell>;

export interface Plot {
  /** Unique in the page and safe in an element id and a file name. */
  id: string;
  title: string;
  /** One sentence: what is drawn and how to read it. */
  caption: string;
  /** CSV columns, in order. */
  columns: string[];
  rows: Row[];
  /** Vega-Lite, without `data` (the page binds `table` to `rows`) and without `config` (the page's theme). */
  spec: Record<string, unknown>;
}

/** The dataset name every spec reads. */
export const PLOT_DATASET = "table";

export function plotId(...parts: string[]): string {
  return parts
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** RFC 4180 CSV of the plot's rows: numbers as JavaScript writes them (full precision), empty for null. */
export function plotCsv(plot: Pick<Plot, "columns" | "rows">): string {
  const cell = (v: Cell | undefined): string => {
    if (v === null || v === undefined) return "";
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [plot.columns.map((c) => cell(c)).join(","), ...plot.rows.map((r) => plot.columns.map((c) => cell(r[c])).join(","))].join("\r\n") + "\r\n";
}

export interface Histogram {
  /** Bin width. */
  step: number;
  /** Counts per bin: bin i holds values in [i·step, (i+1)·step). */
  counts: number[];
}

/** A width from 1, 2, 5 × 10^k giving at most `maxBins` bins over [0, max]. */
export function niceStep(max: number, maxBins: number): number {
  const raw = Math.max(max, 1) / maxBins;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return Math.max(1, m * mag);
  return Math.max(1, 10 * mag);
}

/** Counts of non-negative values in bins of width `step` from 0 up to the bin holding `max`. */
export function histogram(values: readonly number[], max: number, step: number): Histogram {
  const counts = new Array<number>(Math.floor(max / step) + 1).fill(0);
  for (const v of values) counts[Math.min(counts.length - 1, Math.max(0, Math.floor(v / step)))]++;
  return { step, counts };
}
