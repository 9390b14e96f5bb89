/**
 * Where a configuration departs from the paper. The schema's defaults are METHOD.md's values (the paper's), so
 * a difference is any method setting whose value is not the default: the demo lists them instead of letting a
 * reader take a laptop-sized run for the paper's setting.
 */
import { RunConfigSchema, type RunConfig } from "../config/schema.js";

/** The sections that define the method (stages 1–3 and evaluation); engine, seed and paths are not the method. */
const METHOD_SECTIONS = ["datasets", "sampling", "selection", "refinement", "training", "evaluation"] as const;

export interface ConfigDifference {
  /** A dotted config key, e.g. `sampling.n`. */
  key: string;
  value: unknown;
  /** The paper's value (the schema default); undefined when the paper has none (an unset optional). */
  paper: unknown;
}

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, value);
  }
}

/** Every method setting of `config` that differs from the paper's (schema defaults), in schema order. */
export function paperDifferences(config: RunConfig): ConfigDifference[] {
  const paper = RunConfigSchema.parse({});
  const out: ConfigDifference[] = [];
  for (const section of METHOD_SECTIONS) {
    const mine = new Map<string, unknown>();
    const theirs = new Map<string, unknown>();
    flatten(config[section], section, mine);
    flatten(paper[section], section, theirs);
    for (const [key, value] of mine) {
      const p = theirs.get(key);
      if (JSON.stringify(value) !== JSON.stringify(p)) out.push({ key, value, paper: p });
    }
  }
  return out;
}

function show(v: unknown): string {
  if (v === undefined) return "unset";
  if (Array.isArray(v)) return v.map((x) => (x !== null && typeof x === "object" ? JSON.stringify(x) : String(x))).join(", ");
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** One line per difference: `sampling.n = 16 (paper: 32)`. */
export function formatDifferences(diffs: readonly ConfigDifference[]): string[] {
  return diffs.map((d) => `${d.key} = ${show(d.value)} (paper: ${show(d.paper)})`);
}
