/**
 * The phrasings of every step kind, shared by the trace generator (render) and the analysis (parse). A phrasing
 * is a template with slots; phrasings of one kind say the same thing (same slots, same values) in more or
 * fewer words, and phrasing 0 is always the shortest. Keeping generator and parser on one table means every
 * generated step parses back, and a sampled step that follows a template is recognised with its content.
 */
import { COLUMNS_SLOT } from "./columns.js";

export type StepKind = "intro" | "direct" | "decomposed" | "confirm" | "correct" | "verify" | "conclude";

/** Slot name → regex for its text. Slots that repeat in a template must repeat the same text. */
const SLOT_PATTERNS: Record<string, string> = {
  expr: String.raw`[0-9()+*-]+`,
  rest: String.raw`[0-9()+*-]+`,
  a: String.raw`\d+`,
  b: String.raw`\d+`,
  op: String.raw`[-+*]`,
  r: String.raw`\d+`,
  w: String.raw`\d+`,
  ord: "First|Next|Then",
  cols: COLUMNS_SLOT,
};

/** Templates per kind; index 0 is the terse one. `{rest}` tails and recomputations are composed in below. */
export const INTRO_TEMPLATES = [
  "Compute {expr}.",
  "I need to compute {expr}.",
  "Okay, so I need to find the value of {expr}.",
  "Okay, let me work out {expr} step by step, following the order of operations.",
  "Alright, the problem asks for {expr}. I should be careful with the order of operations here.",
] as const;

export const DIRECT_TEMPLATES = [
  "{a}{op}{b}={r}.",
  "{ord}, {a}{op}{b}={r}.",
  "{ord}, I compute {a}{op}{b}. That gives {a}{op}{b}={r}.",
  "Let me work out {a}{op}{b} directly. {a}{op}{b}={r}.",
] as const;

export const DECOMPOSED_TEMPLATES = [
  "{a}{op}{b} by columns: {cols}. So {a}{op}{b}={r}.",
  "{ord}, {a}{op}{b}. That is a bigger one, so let me go column by column. {cols}. So {a}{op}{b}={r}.",
  "Let me do {a}{op}{b} carefully, one place at a time: {cols}. That gives {a}{op}{b}={r}.",
] as const;

/** What follows an operation while the chain is not finished: the expression with the result put back. */
export const REST_TEMPLATES = [" Now {rest}.", " So now we have {rest}.", " Substituting this back, the expression becomes {rest}."] as const;

/** A reflection recomputes directly or by columns. */
export const RECOMPUTE_TEMPLATES = ["{a}{op}{b}={r}", "{cols}, so {a}{op}{b}={r}"] as const;

/**
 * Reflections re-check one operation (R1's "Wait, let me double-check …", "Hmm, …", "Alternatively, …"). A
 * confirmation and a correction share their lead phrasing word for word up to the end of the recomputation, as
 * in R1's traces: whether the check agrees is only known once it is done, so a model trained on them has to
 * compare the recomputed result with the written one ({w} in a correction; {r} again in a confirmation).
 */
export const CONFIRM_TEMPLATES = [
  "Check: {recompute}. Correct.",
  "Wait, let me double-check that. {recompute}. Yes, that's right.",
  "Hmm, let me redo {a}{op}{b} to be sure. {recompute}. Okay, that matches.",
  "Alternatively, I can redo {a}{op}{b} another way. {recompute}. Same result, good.",
  "Hmm, is {a}{op}{b} really {r}? {recompute}. Yes, it is.",
] as const;

export const CORRECT_TEMPLATES = [
  "Check: {recompute}, not {w}.",
  "Wait, let me double-check that. {recompute}. That doesn't match: {a}{op}{b} is {r}, not {w}.",
  "Hmm, let me redo {a}{op}{b} to be sure. {recompute}. So it is {r}, not {w}. I made a mistake there.",
  "Alternatively, I can redo {a}{op}{b} another way. {recompute}. That differs from {w}, so I made a mistake: it is {r}.",
  "Hmm, is {a}{op}{b} really {w}? {recompute}. No, it is {r}, not {w}.",
] as const;

/**
 * A final verification of the answer: the problem and the result the work gave, stated once more. R1's closing
 * checks mostly restate; and a check that recomputed every operation of the chain at once (as an earlier version
 * of this world did) was too much for a small model: it recomputed big operands directly, got them wrong, and then
 * answered with the check's value instead of the work's (5-7% accuracy on levels 4-5 for such samples).
 */
export const VERIFY_TEMPLATES = [
  "Verify: {expr}={r}.",
  "Let me verify the answer by going through it once more: {expr}={r}. Everything is consistent.",
  "Before I answer, let me quickly recheck the whole chain: {expr}={r}. Yes, it all agrees.",
] as const;

export const CONCLUDE_TEMPLATES = [
  "So the answer is {r}.",
  "So the final result is {r}.",
  "Putting it all together, the value of the expression is {r}.",
  "Therefore, the final answer is {r}. That should be it.",
] as const;

export type Slots = Partial<Record<"expr" | "rest" | "a" | "b" | "op" | "r" | "w" | "ord" | "cols", string>>;

export function fill(template: string, slots: Slots): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = (slots as Record<string, string | undefined>)[name];
    if (v === undefined) throw new Error(`template slot {${name}} has no value in "${template}"`);
    return v;
  });
}

/** One concrete step shape: kind + phrasing indices, and the full template they compose to. */
export interface StepShape {
  kind: StepKind;
  /** Lead phrasing index within the kind's table. */
  phrasing: number;
  /** REST_TEMPLATES index, or -1 when the step has no rest tail. */
  rest: number;
  /** RECOMPUTE_TEMPLATES index for reflections (0 direct, 1 columns), else -1. */
  recompute: number;
  template: string;
}

function leadTable(kind: StepKind): readonly string[] {
  switch (kind) {
    case "intro":
      return INTRO_TEMPLATES;
    case "direct":
      return DIRECT_TEMPLATES;
    case "decomposed":
      return DECOMPOSED_TEMPLATES;
    case "confirm":
      return CONFIRM_TEMPLATES;
    case "correct":
      return CORRECT_TEMPLATES;
    case "verify":
      return VERIFY_TEMPLATES;
    case "conclude":
      return CONCLUDE_TEMPLATES;
  }
}

export function composeTemplate(kind: StepKind, phrasing: number, rest: number, recompute: number): string {
  let t = leadTable(kind)[phrasing];
  if (t === undefined) throw new RangeError(`no phrasing ${phrasing} for ${kind}`);
  if (recompute >= 0) t = t.replace("{recompute}", RECOMPUTE_TEMPLATES[recompute]);
  if (rest >= 0) t += REST_TEMPLATES[rest];
  return t;
}

/** Every shape a step can take, each with its compiled pattern. Order: kind, phrasing, rest, recompute. */
export interface CompiledShape extends StepShape {
  pattern: RegExp;
  /** Slot names in capture-group order. */
  groups: string[];
}

function compile(template: string): { pattern: RegExp; groups: string[] } {
  const groups: string[] = [];
  let src = "";
  let last = 0;
  for (const m of template.matchAll(/\{(\w+)\}/g)) {
    src += escapeRegex(template.slice(last, m.index));
    const name = m[1];
    const p = SLOT_PATTERNS[name];
    if (p === undefined) throw new Error(`unknown slot {${name}}`);
    src += `(${p})`;
    groups.push(name);
    last = m.index! + m[0].length;
  }
  src += escapeRegex(template.slice(last));
  return { pattern: new RegExp(`^${src}$`), groups };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

let compiled: CompiledShape[] | null = null;

export function allShapes(): CompiledShape[] {
  if (compiled !== null) return compiled;
  const out: CompiledShape[] = [];
  const add = (kind: StepKind, phrasing: number, rest: number, recompute: number): void => {
    const template = composeTemplate(kind, phrasing, rest, recompute);
    out.push({ kind, phrasing, rest, recompute, template, ...compile(template) });
  };
  const restOptions = [-1, 0, 1, 2];
  INTRO_TEMPLATES.forEach((_, i) => add("intro", i, -1, -1));
  for (const kind of ["direct", "decomposed"] as const) leadTable(kind).forEach((_, i) => restOptions.forEach((r) => add(kind, i, r, -1)));
  CONFIRM_TEMPLATES.forEach((_, i) => [0, 1].forEach((rc) => restOptions.forEach((r) => add("confirm", i, r, rc))));
  CORRECT_TEMPLATES.forEach((_, i) => [0, 1].forEach((rc) => restOptions.forEach((r) => add("correct", i, r, rc))));
  VERIFY_TEMPLATES.forEach((_, i) => add("verify", i, -1, -1));
  CONCLUDE_TEMPLATES.forEach((_, i) => add("conclude", i, -1, -1));
  compiled = out;
  return out;
}
