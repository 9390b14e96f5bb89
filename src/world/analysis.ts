/**
 * Reads a model's response to a world problem back into steps and classifies each with the generator's own
 * templates: which kind (direct, decomposed, reflection, …), which phrasing, and the shortest phrasing of the
 * same content. `world report` uses it to measure how much a model uses depth and how much of its thinking is
 * wording that a shorter phrasing would say equally well.
 */
import { parseColumns, renderParsedColumnsTerse } from "./columns.js";
import { allShapes, composeTemplate, fill, type Slots, type StepKind } from "./templates.js";

export interface AnalyzedStep {
  text: string;
  /** "unknown" when no template matches (the model wrote something the generator never does). */
  kind: StepKind | "unknown";
  phrasing: number;
  rest: number;
  recompute: number;
  slots: Slots;
  /** Column style of decomposed steps / column reflections: 0 terse, 1 wordy, -1 mixed or none. */
  columnStyle: number;
  /** The same content in the shortest phrasing (null for unknown steps). */
  shortest: string | null;
  /** Whether the step's own arithmetic (its `a op b = r`) is right; null when it states none. */
  arithmeticCorrect: boolean | null;
}

export interface ResponseAnalysis {
  /** The thinking text between `<think>` and `</think>` (the whole text when the tags are missing). */
  thinking: string;
  /** Whether `</think>` was found. */
  closed: boolean;
  steps: AnalyzedStep[];
  hasDecomposed: boolean;
  hasReflection: boolean;
  /** Decomposes or reflects: the "with depth" group of the report. */
  usesDepth: boolean;
  unknownSteps: number;
  /** Reflection markers ("Wait", "Hmm", "verify", …) anywhere in the thinking, and its words. */
  markers: number;
  thinkingWords: number;
  /** Results the reflections changed (corrections), each judged right or wrong against the true arithmetic. */
  changes: AnswerChange[];
}

const DEPTH_KINDS: ReadonlySet<string> = new Set(["decomposed", "confirm", "correct", "verify"]);

/** Steps that second-guess earlier work: re-checks that agree or correct, and the final verification. */
export function isReflection(kind: string): boolean {
  return kind === "confirm" || kind === "correct" || kind === "verify";
}

/**
 * The words the R1 studies count as reflection markers ("Wait", "Hmm", "let me check", "double-check",
 * "verify", "Alternatively"), with their inflections; matched case-insensitively as whole words, and
 * "double-check" once (not also as "check").
 */
const MARKER_PATTERN = /\b(?:wait|hmm+|alternatively|double-check(?:s|ed|ing)?|re-?check(?:s|ed|ing)?|verif(?:y|ies|ied|ying|ication)|check(?:s|ed|ing)?)\b/gi;

/** Reflection markers in a text, in order of appearance. */
export function reflectionMarkers(text: string): string[] {
  return [...text.matchAll(MARKER_PATTERN)].map((m) => m[0]);
}

/** Words of a text: runs of non-space characters (so `47*8=376` is one word). */
export function countWords(text: string): number {
  const t = text.trim();
  return t === "" ? 0 : t.split(/\s+/).length;
}

/**
 * A reflection that changed a result: a check whose recomputed value `to` of `a op b` differs from the value
 * `from` written for it before. A correction says so (`… is 392, not 382`); a confirmation that misjudged the
 * comparison ("Yes, that's right" after recomputing another value) changes the result just the same, because the
 * chain goes on from the checked value. `fixed` when `to` is right and `from` was wrong, `broke` when `from` was
 * right and `to` is wrong, and neither when both are wrong.
 */
export interface AnswerChange {
  step: number;
  from: number;
  to: number;
  outcome: "fixed" | "broke" | "neither";
}

function applyOp(op: string, x: number, y: number): number {
  return op === "+" ? x + y : op === "-" ? x - y : x * y;
}

/** The changes the reflections of an analysed response made (a check that restates the same value is none). */
export function reflectionChanges(steps: readonly AnalyzedStep[]): AnswerChange[] {
  const out: AnswerChange[] = [];
  // The value last written for each operation, so that a confirmation can be compared with it.
  const written = new Map<string, string>();
  steps.forEach((s, i) => {
    const { a, b, op, r, w } = s.slots;
    if (a === undefined || b === undefined || op === undefined || r === undefined) return;
    const key = `${a}${op}${b}`;
    if (s.kind === "direct" || s.kind === "decomposed") {
      written.set(key, r);
      return;
    }
    const before = s.kind === "correct" ? w : s.kind === "confirm" ? written.get(key) : undefined;
    if (before === undefined) return;
    written.set(key, r);
    const from = Number(before);
    const to = Number(r);
    if (from === to) return;
    const truth = applyOp(op, Number(a), Number(b));
    const outcome = to === truth ? "fixed" : from === truth ? "broke" : "neither";
    out.push({ step: i, from, to, outcome });
  });
  return out;
}

/** The thinking part of a response: after `<think>` (if present) and before `</think>`. */
export function thinkingOf(response: string): { thinking: string; closed: boolean } {
  let text = response;
  const open = text.indexOf("<think>");
  if (open >= 0) text = text.slice(open + "<think>".length);
  const close = text.indexOf("</think>");
  const closed = close >= 0;
  if (closed) text = text.slice(0, close);
  return { thinking: text.replace(/^\n+/, "").replace(/\n+$/, ""), closed };
}

/** Thinking split into steps exactly as stage 2 splits it: on blank lines. */
export function splitSteps(thinking: string): string[] {
  return thinking.split("\n\n").filter((s) => s.length > 0);
}

function checkArithmetic(slots: Slots): boolean | null {
  const { a, b, op, r } = slots;
  if (a === undefined || b === undefined || op === undefined || r === undefined) return null;
  const x = Number(a);
  const y = Number(b);
  return applyOp(op, x, y) === Number(r);
}

export function analyzeStep(text: string): AnalyzedStep {
  for (const shape of allShapes()) {
    const m = shape.pattern.exec(text);
    if (m === null) continue;
    const slots: Record<string, string> = {};
    let consistent = true;
    shape.groups.forEach((name, i) => {
      const v = m[i + 1];
      if (name in slots && slots[name] !== v) consistent = false;
      else slots[name] = v;
    });
    // A template whose repeated slots disagree (`17+25 … 17+26=42`) is not this phrasing of one content.
    if (!consistent) continue;
    const cols = slots.cols !== undefined ? parseColumns(slots.cols) : null;
    const shortSlots: Slots = { ...slots };
    if (cols !== null) shortSlots.cols = renderParsedColumnsTerse(cols);
    const shortest = fill(composeTemplate(shape.kind, 0, shape.rest >= 0 ? 0 : -1, shape.recompute), shortSlots);
    return {
      text,
      kind: shape.kind,
      phrasing: shape.phrasing,
      rest: shape.rest,
      recompute: shape.recompute,
      slots,
      columnStyle: cols === null ? -1 : cols.style,
      shortest,
      arithmeticCorrect: checkArithmetic(slots),
    };
  }
  return { text, kind: "unknown", phrasing: -1, rest: -1, recompute: -1, slots: {}, columnStyle: -1, shortest: null, arithmeticCorrect: null };
}

export function analyzeResponse(response: string): ResponseAnalysis {
  const { thinking, closed } = thinkingOf(response);
  const steps = splitSteps(thinking).map(analyzeStep);
  const hasDecomposed = steps.some((s) => s.kind === "decomposed");
  const hasReflection = steps.some((s) => isReflection(s.kind));
  return {
    thinking,
    closed,
    steps,
    hasDecomposed,
    hasReflection,
    usesDepth: steps.some((s) => DEPTH_KINDS.has(s.kind)),
    unknownSteps: steps.filter((s) => s.kind === "unknown").length,
    markers: reflectionMarkers(thinking).length,
    thinkingWords: countWords(thinking),
    changes: reflectionChanges(steps),
  };
}

export interface WordingTally {
  /** Tokens of all steps of the thinking (blank-line separators not counted). */
  thinkingTokens: number;
  /** Tokens in steps for which a strictly shorter phrasing of the same content exists. */
  compressibleTokens: number;
  /** Tokens those compressible steps would take in their shortest phrasing. */
  shortestTokens: number;
  unknownTokens: number;
}

/** Counts compressible wording with the model's own token counter. */
export function tallyWording(analysis: ResponseAnalysis, countTokens: (text: string) => number): WordingTally {
  const t: WordingTally = { thinkingTokens: 0, compressibleTokens: 0, shortestTokens: 0, unknownTokens: 0 };
  for (const s of analysis.steps) {
    const n = countTokens(s.text);
    t.thinkingTokens += n;
    if (s.shortest === null) {
      t.unknownTokens += n;
      continue;
    }
    const m = countTokens(s.shortest);
    if (m < n) {
      t.compressibleTokens += n;
      t.shortestTokens += m;
    }
  }
  return t;
}

/**
 * A synchronous token counter for the step texts of `samples` (and their shortest phrasings), filled from an
 * asynchronous one such as an open engine's `tokenize`: every distinct text is counted once.
 */
export async function stepTokenCounter(samples: ReadonlyArray<{ text: string }>, countTokens: (text: string) => Promise<number>): Promise<(text: string) => number> {
  const counts = new Map<string, number>();
  for (const s of samples) {
    for (const step of analyzeResponse(s.text).steps) {
      for (const t of step.shortest === null ? [step.text] : [step.text, step.shortest]) {
        if (!counts.has(t)) counts.set(t, await countTokens(t));
      }
    }
  }
  return (t) => {
    const n = counts.get(t);
    if (n === undefined) throw new Error(`stepTokenCounter: no token count for a step text (${JSON.stringify(t.slice(0, 40))})`);
    return n;
  };
}
