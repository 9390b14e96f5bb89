/** The summary `tokensqueeze data inspect` prints: counts, fields, level and subject histograms. */
import type { Problem } from "./problem.js";
import type { LoadedDataset } from "./load.js";
import type { SkippedRow } from "./types.js";

export interface DatasetSummary {
  name: string;
  kind: LoadedDataset["kind"];
  paths: string[];
  dataDir?: string;
  /** Problems after filters. */
  count: number;
  /** Field names seen in the source rows. */
  fields: string[];
  /** Problems per level; `none` counts problems without a level. */
  levels: Record<string, number>;
  /** Problems per subject; `none` counts problems without a subject. */
  subjects: Record<string, number>;
  /** Problems whose normalised answer is empty (0 unless a registered loader produced such problems). */
  answerEmpty: number;
  /** Bad rows skipped under --skip-bad-rows. */
  skippedRows: number;
  skipped: SkippedRow[];
  /** Corrections applied to known faults in the source data. */
  notes: string[];
  /** The first problems, when asked for. */
  head?: Problem[];
}

export function summariseDataset(ds: LoadedDataset, opts: { head?: number; maxSkippedListed?: number } = {}): DatasetSummary {
  const levels: Record<string, number> = {};
  const subjects: Record<string, number> = {};
  let answerEmpty = 0;
  for (const p of ds.problems) {
    const level = p.meta.level === undefined ? "none" : String(p.meta.level);
    levels[level] = (levels[level] ?? 0) + 1;
    const subject = p.meta.subject ?? "none";
    subjects[subject] = (subjects[subject] ?? 0) + 1;
    if (p.answer.trim() === "") answerEmpty++;
  }
  const summary: DatasetSummary = {
    name: ds.name,
    kind: ds.kind,
    paths: ds.paths,
    dataDir: ds.dataDir,
    count: ds.problems.length,
    fields: ds.fields,
    levels: sortKeys(levels),
    subjects: sortKeys(subjects),
    answerEmpty,
    skippedRows: ds.skipped.length,
    skipped: ds.skipped.slice(0, opts.maxSkippedListed ?? 100),
    notes: ds.notes,
  };
  if (opts.head !== undefined && opts.head > 0) summary.head = ds.problems.slice(0, opts.head);
  return summary;
}

function sortKeys(h: Record<string, number>): Record<string, number> {
  const keys = Object.keys(h).sort((a, b) => {
    const na = Number(a);
    const nb = Number(b);
    if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
    if (a === "none") return 1;
    if (b === "none") return -1;
    return a.localeCompare(b);
  });
  return Object.fromEntries(keys.map((k) => [k, h[k]]));
}
