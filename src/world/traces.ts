/**
 * R1-style reasoning traces for world problems:
 *
 *   <think>\n{step}\n\n{step}…\n</think>\n\nThe answer is \boxed{N}.
 *
 * Traces vary the way R1-Distill's do. Depth: each operation is computed directly (short) or column by column
 * (long, reliable); a trace's "care" (quick / normal / careful) sets how often it decomposes, so one problem gets
 * traces of very different lengths. Reflection: most traces second-guess themselves the way R1 does: they
 * re-check a step ("Wait, let me double-check that."), redo it another way ("Alternatively, …"), hesitate
 * ("Hmm, is 47*8 really 376?") or verify the answer at the end. On easy levels every check confirms what was
 * already right (the waste adaptive depth should drop); on hard levels a check recomputes column by column and
 * sometimes finds a real error in the direct computation before it and corrects it, so checking pays there.
 * Wording: every step picks one of several phrasings of the same content, terse to wordy, uniformly and
 * independently of the other steps (the committed model's world). With `styleSpread` set, how wordy is instead a
 * trait of the whole trace (its "style", like care), as a real model's verbosity holds across an answer: a terse
 * trace mostly picks short phrasings and a wordy one long phrasings (scripts/world-corpus.ts --style-spread; tried
 * in docs/BENCHMARKS.md, "A world whose wording is a per-trace style"). Apart from those corrected errors, the
 * arithmetic of training traces is right: the errors a model trained on them makes are its own.
 */
import { deriveSeed, Rng } from "../util/rng.js";
import { canDecompose, columnsFor, COLUMN_STYLES, renderColumns } from "./columns.js";
import { evaluate, type Expr, operations, reduceWith, render, type Operation, type WorldProblem } from "./expression.js";
import {
  composeTemplate,
  CONCLUDE_TEMPLATES,
  CONFIRM_TEMPLATES,
  DECOMPOSED_TEMPLATES,
  DIRECT_TEMPLATES,
  fill,
  INTRO_TEMPLATES,
  REST_TEMPLATES,
  type Slots,
  VERIFY_TEMPLATES,
  type StepKind,
} from "./templates.js";

export type Care = "quick" | "normal" | "careful";

export interface TracePolicy {
  /** Probability of each care level for a trace. */
  care: Record<Care, number>;
  /** Probability of decomposing an operation, by care and by its size (number of columns, 1…6). */
  decompose: Record<Care, readonly number[]>;
  /**
   * Probability that a trace reflects at all, by care. R1 checks itself in nearly every answer; a trace that
   * reflects re-checks operations (below) and, if none was re-checked, always verifies its answer at the end.
   */
  reflective: Record<Care, number>;
  /** In a reflective trace: probability of a reflection after a direct / decomposed operation, by care and size. */
  reflectAfterDirect: Record<Care, readonly number[]>;
  reflectAfterDecomposed: Record<Care, number>;
  /** In a reflective trace that already re-checked an operation: probability of a final verification as well. */
  verifyAgain: number;
  /** Levels up to this one are "easy": their reflections only ever confirm (waste the squeeze should drop). */
  easyMaxLevel: number;
  /**
   * On hard levels, when a reflection follows a direct step: probability that the direct step carries the kind
   * of error the model makes on big operands (one digit off), by size; the reflection finds and corrects it.
   */
  injectedError: readonly number[];
  /**
   * On hard levels, in a trace that never reflects: probability that a direct step on big operands is one digit
   * off and nothing catches it, by size. The chain goes on from the wrong value to a wrong answer. This is what
   * makes skipping the work on big operands a gamble (as it is for a real model that skips steps on a hard
   * problem) rather than a shortcut that usually works.
   */
  uncaughtError: readonly number[];
  /** Probability that a reflection recomputes column by column (when the operation can be decomposed), easy / hard. */
  reflectByColumns: { easy: number; hard: number };
  /**
   * Unset: every step's phrasing is a uniform pick of its own. Set (σ): the trace draws a style uniform in [0, 1]
   * (0 the tersest), and a phrasing whose length rank within its table, scaled to [0, 1], is x gets weight
   * exp(-(x - style)² / 2σ²). Smaller σ: steps follow their trace's style more closely.
   */
  styleSpread?: number;
  /**
   * Unset: no more closing verifications than above. Set: with probability p a trace ends with 1…max more of
   * them, whatever its care: idle waste (a restatement never changes the answer) that does not come with the
   * useful re-checks, as R1's repeated "let me verify once more" does not (world-corpus --extra-verify).
   */
  extraVerify?: { p: number; max: number };
}

export const DEFAULT_POLICY: TracePolicy = {
  care: { quick: 0.3, normal: 0.4, careful: 0.3 },
  decompose: {
    quick: [0, 0, 0, 0, 0, 0],
    normal: [0, 0.15, 0.5, 0.7, 0.8, 0.8],
    careful: [0, 0.5, 0.9, 1, 1, 1],
  },
  reflective: { quick: 0.75, normal: 0.9, careful: 0.97 },
  reflectAfterDirect: {
    quick: [0.3, 0.3, 0.5, 0.6, 0.6, 0.6],
    normal: [0.4, 0.4, 0.6, 0.8, 0.8, 0.8],
    careful: [0.5, 0.5, 0.8, 0.9, 0.9, 0.9],
  },
  reflectAfterDecomposed: { quick: 0.1, normal: 0.1, careful: 0.2 },
  verifyAgain: 0.15,
  easyMaxLevel: 2,
  injectedError: [0, 0, 0.3, 0.4, 0.4, 0.4],
  uncaughtError: [0, 0, 0.3, 0.4, 0.4, 0.4],
  reflectByColumns: { easy: 0.2, hard: 0.9 },
};

/** What the generator knows about each step it wrote. */
export interface TraceStep {
  kind: StepKind;
  phrasing: number;
  rest: number;
  recompute: number;
  slots: Slots;
  text: string;
  /** The same content in the shortest phrasing. */
  shortest: string;
  /**
   * Where the step writes a wrong result on purpose (an error a later check corrects, or one nothing catches):
   * [start, end) of its digits in `text`. The world's pretraining masks these characters out of the loss, so the
   * model learns to notice and fix such errors, or to carry on from them, without learning to make them.
   */
  error?: [number, number];
}

export interface Trace {
  problemId: string;
  care: Care;
  /** How wordy the trace is, in [0, 1] (0 the tersest), when the policy sets a styleSpread. */
  style?: number;
  steps: TraceStep[];
  /** The whole response, starting with `<think>\n`. */
  response: string;
  answer: number;
  /** Whether the trace decomposes any operation or reflects (the "depth" the report compares). */
  usesDepth: boolean;
  injectedErrors: number;
  /** Direct steps left wrong (then `answer` is wrong too). */
  uncaughtErrors: number;
}

export const THINK_OPEN = "<think>\n";
export const THINK_CLOSE = "\n</think>\n\n";

export function answerLine(answer: number | string): string {
  return `The answer is \\boxed{${answer}}.`;
}

function sizeOf(o: Operation): number {
  const big = o.op === "*" ? Math.max(o.left, o.right) : Math.max(o.left, o.right);
  return String(big).length;
}

function at(table: readonly number[], size: number): number {
  return table[Math.min(size, table.length) - 1];
}

function pickCare(rng: Rng, p: Record<Care, number>): Care {
  const x = rng.next() * (p.quick + p.normal + p.careful);
  if (x < p.quick) return "quick";
  if (x < p.quick + p.normal) return "normal";
  return "careful";
}

/** Each template's rank by length within its table (0 the shortest), as x in [0, 1]. */
function lengthRanks(table: readonly string[]): number[] {
  const order = table.map((t, i) => ({ i, n: t.length })).sort((x, y) => x.n - y.n || x.i - y.i);
  const x = new Array<number>(table.length);
  order.forEach((o, rank) => (x[o.i] = table.length === 1 ? 0 : rank / (table.length - 1)));
  return x;
}

const RANKS = new Map<readonly string[], number[]>();

/** A phrasing index of `table`: uniform, or for a trace of style `style` (see TracePolicy.styleSpread). */
function pickPhrasing(rng: Rng, table: readonly string[], style: number | undefined, spread: number | undefined): number {
  if (style === undefined || spread === undefined) return rng.int(0, table.length - 1);
  let ranks = RANKS.get(table);
  if (ranks === undefined) RANKS.set(table, (ranks = lengthRanks(table)));
  const w = ranks.map((x) => Math.exp(-((x - style) ** 2) / (2 * spread * spread)));
  let u = rng.next() * w.reduce((a, b) => a + b, 0);
  for (let i = 0; i < w.length; i++) if ((u -= w[i]) < 0) return i;
  return w.length - 1;
}

/** The column styles as a table for pickPhrasing, ranked as they render: style 0 the tersest. */
const COLUMN_STYLE_TABLE = Array.from({ length: COLUMN_STYLES }, (_, i) => "x".repeat(i + 1));

/**
 * A plausible wrong result for the next operation of `cur`, or the right one when every such error would take a
 * later intermediate value to zero or below (answers stay positive integers).
 */
function plausibleWrongStep(rng: Rng, cur: Expr, value: number): number {
  const wrong = plausibleError(rng, value);
  const after = reduceWith(cur, wrong);
  return wrong > 0 && operations(after).every((o) => o.value > 0) && evaluate(after) > 0 ? wrong : value;
}

/** A wrong result that looks plausible: one digit changed by ±1 (never the leading digit to zero). */
function plausibleError(rng: Rng, value: number): number {
  const s = String(value).split("");
  for (let tries = 0; tries < 20; tries++) {
    const i = rng.int(0, s.length - 1);
    const d = Number(s[i]) + (rng.next() < 0.5 ? -1 : 1);
    if (d < 0 || d > 9 || (i === 0 && d === 0 && s.length > 1)) continue;
    const t = s.slice();
    t[i] = String(d);
    return Number(t.join(""));
  }
  return value + 1;
}

function step(kind: StepKind, phrasing: number, rest: number, recompute: number, slots: Slots, shortestSlots: Slots): TraceStep {
  const text = fill(composeTemplate(kind, phrasing, rest, recompute), slots);
  const shortest = fill(composeTemplate(kind, 0, rest >= 0 ? 0 : -1, recompute), shortestSlots);
  return { kind, phrasing, rest, recompute, slots, text, shortest };
}

/** The trace for `problem`, deterministic in (problem id, seed, sample index). */
export function generateTrace(problem: Pick<WorldProblem, "id" | "level" | "expr" | "answer">, seed: number, sample = 0, policy = DEFAULT_POLICY): Trace {
  const rng = new Rng(deriveSeed("world-trace", problem.id, seed, sample));
  const care = pickCare(rng, policy.care);
  // Drawn only for a styled world, so the unstyled traces are the ones the committed model was trained on.
  const style = policy.styleSpread === undefined ? undefined : rng.next();
  const phrase = (table: readonly string[]): number => pickPhrasing(rng, table, style, policy.styleSpread);
  const hard = problem.level > policy.easyMaxLevel;
  const reflective = rng.next() < policy.reflective[care];
  const steps: TraceStep[] = [];
  let injectedErrors = 0;
  let usesDepth = false;
  let reflections = 0;

  const exprText = render(problem.expr);
  steps.push(step("intro", phrase(INTRO_TEMPLATES), -1, -1, { expr: exprText }, { expr: exprText }));

  let cur: Expr = problem.expr;
  let uncaughtErrors = 0;
  // One operation at a time from the expression as written so far: after an uncaught error the later operations
  // work on the wrong value.
  for (let i = 0; ; i++) {
    const pending = operations(cur);
    const o = pending[0];
    if (o === undefined) break;
    const size = sizeOf(o);
    const decomposable = canDecompose(o.op, o.left, o.right);
    const decompose = decomposable && rng.next() < at(policy.decompose[care], size);
    const pReflect = decompose ? policy.reflectAfterDecomposed[care] : at(policy.reflectAfterDirect[care], size);
    const reflect = reflective && rng.next() < pReflect;
    const isLast = pending.length === 1;
    const eq = { a: String(o.left), op: o.op, b: String(o.right) };
    const ord = i === 0 ? "First" : rng.pick(["Next", "Then"]);

    // On hard levels a direct result followed by a reflection is sometimes written wrong, and the reflection
    // (column by column) corrects it: checking pays where the direct computation of big operands is unreliable.
    const wrong = hard && !decompose && reflect && rng.next() < at(policy.injectedError, size);
    const uncaught = hard && !decompose && !reflective && rng.next() < at(policy.uncaughtError, size);
    const written = wrong || uncaught ? plausibleWrongStep(rng, cur, o.value) : o.value;
    const caught = wrong && written !== o.value;
    const left = uncaught && written !== o.value;
    if (caught) injectedErrors++;
    if (left) uncaughtErrors++;
    const afterWritten = reduceWith(cur, written);
    const afterTrue = reduceWith(cur, o.value);
    const restChoice = isLast ? -1 : phrase(REST_TEMPLATES);
    const restSlot = isLast ? {} : { rest: render(afterWritten) };

    if (decompose) {
      usesDepth = true;
      const cols = columnsFor(o.op, o.left, o.right);
      const colStyle = phrase(COLUMN_STYLE_TABLE);
      const slots = { ...eq, r: String(written), ord, cols: renderColumns(cols, colStyle), ...restSlot };
      steps.push(step("decomposed", phrase(DECOMPOSED_TEMPLATES), restChoice, -1, slots, { ...slots, cols: renderColumns(cols, 0) }));
    } else {
      const slots = { ...eq, r: String(written), ord, ...restSlot };
      const s = step("direct", phrase(DIRECT_TEMPLATES), restChoice, -1, slots, slots);
      if (written !== o.value) s.error = resultSpan(s.text, `${o.left}${o.op}${o.right}=`, written);
      steps.push(s);
    }

    if (reflect) {
      usesDepth = true;
      reflections++;
      // A reflection after a decomposed step on a hard level repeats the columns: a direct recomputation of big
      // operands would be the less reliable of the two, and a check must not teach replacing a right result.
      const pColumns = decompose && hard ? 1 : hard ? policy.reflectByColumns.hard : policy.reflectByColumns.easy;
      const byColumns = decomposable && rng.next() < pColumns;
      const cols = byColumns ? columnsFor(o.op, o.left, o.right) : [];
      const colStyle = phrase(COLUMN_STYLE_TABLE);
      const base = { ...eq, r: String(o.value), cols: byColumns ? renderColumns(cols, colStyle) : undefined };
      const shortBase = { ...base, cols: byColumns ? renderColumns(cols, 0) : undefined };
      const recompute = byColumns ? 1 : 0;
      const lead = phrase(CONFIRM_TEMPLATES);
      // Every check, confirmation or correction, puts its recomputed result back into the expression: the chain
      // goes on from the value the check found, never from the earlier line. A model that misjudges whether the two
      // agree (the comparison is the hard part for a small model) still continues with the checked value.
      const rest = isLast ? -1 : phrase(REST_TEMPLATES);
      const tail = isLast ? {} : { rest: render(afterTrue) };
      if (caught) {
        const w = String(written);
        steps.push(step("correct", lead, rest, recompute, { ...base, w, ...tail }, { ...shortBase, w, ...tail }));
      } else {
        steps.push(step("confirm", lead, rest, recompute, { ...base, ...tail }, { ...shortBase, ...tail }));
      }
    }
    cur = left ? afterWritten : afterTrue;
  }

  const answer = evaluate(cur);
  const verify = { expr: exprText, r: String(answer) };
  // A reflective trace that has not re-checked anything verifies its answer at the end (and some that did, too).
  if (reflective && (reflections === 0 || rng.next() < policy.verifyAgain)) {
    usesDepth = true;
    steps.push(step("verify", phrase(VERIFY_TEMPLATES), -1, -1, verify, verify));
  }
  if (policy.extraVerify !== undefined && rng.next() < policy.extraVerify.p) {
    for (let k = rng.int(1, policy.extraVerify.max); k > 0; k--) steps.push(step("verify", phrase(VERIFY_TEMPLATES), -1, -1, verify, verify));
  }

  steps.push(step("conclude", phrase(CONCLUDE_TEMPLATES), -1, -1, { r: String(answer) }, { r: String(answer) }));
  const response = THINK_OPEN + steps.map((s) => s.text).join("\n\n") + THINK_CLOSE + answerLine(answer);
  return { problemId: problem.id, care, style, steps, response, answer, usesDepth, injectedErrors, uncaughtErrors };
}

/** [start, end) of `value` where the step states `lhs` + `value` (the last such statement: the step's result). */
function resultSpan(text: string, lhs: string, value: number): [number, number] {
  const at = text.lastIndexOf(lhs + String(value));
  if (at < 0) throw new Error(`resultSpan: "${lhs}${value}" not in "${text}"`);
  const start = at + lhs.length;
  return [start, start + String(value).length];
}

/**
 * The character spans of the trace's deliberate errors in a response whose thinking starts `offset` characters in
 * (THINK_OPEN.length for `response`, 0 for `paperResponse`): what the pretraining corpus masks out of the loss.
 */
export function errorSpans(trace: Pick<Trace, "steps">, offset: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let at = offset;
  for (const s of trace.steps) {
    if (s.error !== undefined) out.push([at + s.error[0], at + s.error[1]]);
    at += s.text.length + 2;
  }
  return out;
}

/**
 * The same trace as a continuation of the paper's prompt preset (src/sampling/prompts.ts), which already opened
 * "<think>\n": the thinking, then the answer inside <answer> … </answer>.
 */
export function paperResponse(trace: Pick<Trace, "steps" | "answer">): string {
  return trace.steps.map((s) => s.text).join("\n\n") + THINK_CLOSE + `<answer>${answerLine(trace.answer)}</answer>`;
}
