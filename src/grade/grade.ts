/**
 * Grading one sample: extract the final answer from a response, then compare it with the reference, all within
 * one time bound.
 */
import { judge, DEFAULT_TIMEOUT_MS, type EquivalenceOptions } from "./compare.js";
import { extractAnswer, type ExtractOptions } from "./extract.js";

export interface GradeOptions extends EquivalenceOptions, Omit<ExtractOptions, "timeoutMs"> {}

export interface GradeItem {
  /** The reference answer (a bare answer; a \boxed{…} or GSM8K "#### N" is unwrapped). */
  gold: string;
  /** A whole model response, or a bare answer. */
  prediction: string;
  /** Per-item overrides of the batch options. */
  options?: GradeOptions;
}

export interface GradeResult {
  /** The answer found in the prediction, lightly normalised; null when there is none (e.g. truncated). */
  extracted: string | null;
  equal: boolean;
  /** How the verdict was reached (see Verdict.reason). */
  reason: string;
  /** The time or step budget ran out (the verdict then rests on text comparison only). */
  timedOut?: boolean;
}

/** The reference answer from a gold field: GSM8K solutions end in "#### N". */
export function goldAnswer(gold: string): string {
  const k = gold.lastIndexOf("####");
  return k >= 0 ? gold.slice(k + 4).trim() : gold;
}

export function grade(gold: string, prediction: string, opts: GradeOptions = {}): GradeResult {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const t0 = performance.now();
  if (typeof gold !== "string" || typeof prediction !== "string") return { extracted: null, equal: false, reason: "not a string" };
  // Extraction and comparison share the bound: half each at most for extraction, the rest for comparing.
  const extracted = extractAnswer(prediction, { ...opts, timeoutMs: Math.max(1, timeoutMs / 2) });
  if (extracted === null) return { extracted: null, equal: false, reason: "no answer" };
  const left = Math.max(1, timeoutMs - (performance.now() - t0));
  const v = judge(goldAnswer(gold), extracted, { ...opts, timeoutMs: left });
  return v.timedOut ? { extracted, equal: v.equal, reason: v.reason, timedOut: true } : { extracted, equal: v.equal, reason: v.reason };
}

/** Grades many items in this thread, in order. */
export function gradeMany(items: readonly GradeItem[], opts: GradeOptions = {}): GradeResult[] {
  return items.map((it) => grade(it.gold, it.prediction, it.options ? { ...opts, ...it.options } : opts));
}
