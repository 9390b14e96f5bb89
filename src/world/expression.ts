/**
 * Arithmetic chains of the reasoning world: the problem generator.
 *
 * A problem is a chain built one operation at a time: each new operation combines the expression so far with a
 * fresh number, on the left or on the right (`(17+25)*3-8`). The chain's evaluation order is exactly the order
 * it was built in, which is also what the order of operations gives for the rendered text, so a trace can
 * reduce the innermost operation step by step. Multiplication always has a one-digit factor: the multi-digit
 * side may grow large, which is what makes direct computation hard for a small model while column-by-column
 * computation stays reliable.
 */
import { deriveSeed, Rng } from "../util/rng.js";

export type Op = "+" | "-" | "*";

export type Expr = { kind: "num"; value: number } | { kind: "bin"; op: Op; left: Expr; right: Expr };

/** One reduction step of the chain: `left op right = value`. */
export interface Operation {
  op: Op;
  left: number;
  right: number;
  value: number;
}

export interface LevelSpec {
  level: number;
  /** Number of operations in the chain. */
  ops: readonly number[];
  /** Digits of the fresh numbers in additions and subtractions [min, max]. */
  addDigits: readonly [number, number];
  /** Largest intermediate value allowed (resampled otherwise). */
  maxValue: number;
  /** Weights of +, -, * for each new operation. */
  opWeights: readonly [number, number, number];
}

export const WORLD_LEVELS: readonly LevelSpec[] = [
  { level: 1, ops: [1], addDigits: [1, 2], maxValue: 999, opWeights: [0.4, 0.3, 0.3] },
  { level: 2, ops: [2], addDigits: [1, 2], maxValue: 999, opWeights: [0.4, 0.3, 0.3] },
  { level: 3, ops: [2], addDigits: [2, 3], maxValue: 9999, opWeights: [0.4, 0.3, 0.3] },
  { level: 4, ops: [3], addDigits: [2, 3], maxValue: 9999, opWeights: [0.4, 0.3, 0.3] },
  { level: 5, ops: [3], addDigits: [3, 4], maxValue: 99999, opWeights: [0.4, 0.3, 0.3] },
];

export const MIN_LEVEL = 1;
export const MAX_LEVEL = WORLD_LEVELS.length;

export function levelSpec(level: number): LevelSpec {
  const spec = WORLD_LEVELS[level - 1];
  if (spec === undefined) throw new RangeError(`world level must be ${MIN_LEVEL}..${MAX_LEVEL}, got ${level}`);
  return spec;
}

const PRECEDENCE: Record<Op, number> = { "+": 1, "-": 1, "*": 2 };

export function apply(op: Op, a: number, b: number): number {
  switch (op) {
    case "+":
      return a + b;
    case "-":
      return a - b;
    case "*":
      return a * b;
  }
}

export function evaluate(e: Expr): number {
  return e.kind === "num" ? e.value : apply(e.op, evaluate(e.left), evaluate(e.right));
}

/** Compact text with only the parentheses the order of operations needs (`(17+25)*3-8`). */
export function render(e: Expr): string {
  if (e.kind === "num") return String(e.value);
  const l = render(e.left);
  const r = render(e.right);
  const lp = e.left.kind === "bin" && PRECEDENCE[e.left.op] < PRECEDENCE[e.op];
  // Right operands of equal precedence need parentheses for "-" (non-associative) and are kept for clarity
  // otherwise: a chain never builds `a+(b+c)` without them meaning something different to the reader.
  const rp = e.right.kind === "bin" && PRECEDENCE[e.right.op] <= PRECEDENCE[e.op];
  return `${lp ? `(${l})` : l}${e.op}${rp ? `(${r})` : r}`;
}

/** The deepest operation whose operands are both numbers: the chain's next reduction. */
function innermost(e: Expr): { op: Op; left: number; right: number } | null {
  if (e.kind === "num") return null;
  if (e.left.kind === "num" && e.right.kind === "num") return { op: e.op, left: e.left.value, right: e.right.value };
  return innermost(e.left.kind === "bin" ? e.left : e.right);
}

/** Replaces the innermost operation with `value` (which need not be its true value: traces may carry an error). */
export function reduceWith(e: Expr, value: number): Expr {
  if (e.kind === "num") return e;
  if (e.left.kind === "num" && e.right.kind === "num") return { kind: "num", value };
  if (e.left.kind === "bin") return { ...e, left: reduceWith(e.left, value) };
  return { ...e, right: reduceWith(e.right, value) };
}

/** The operations in evaluation order. */
export function operations(e: Expr): Operation[] {
  const out: Operation[] = [];
  let cur = e;
  for (;;) {
    const next = innermost(cur);
    if (next === null) return out;
    const value = apply(next.op, next.left, next.right);
    out.push({ ...next, value });
    cur = reduceWith(cur, value);
  }
}

function randomDigits(rng: Rng, digits: number): number {
  if (digits <= 1) return rng.int(2, 9);
  return rng.int(10 ** (digits - 1), 10 ** digits - 1);
}

function pickOp(rng: Rng, w: readonly [number, number, number]): Op {
  const x = rng.next() * (w[0] + w[1] + w[2]);
  if (x < w[0]) return "+";
  if (x < w[0] + w[1]) return "-";
  return "*";
}

/** One random chain for a level; null when the draw breaks a constraint (the caller draws again). */
function tryChain(rng: Rng, spec: LevelSpec): Expr | null {
  const nOps = rng.pick(spec.ops);
  const [dlo, dhi] = spec.addDigits;
  let e: Expr = { kind: "num", value: randomDigits(rng, rng.int(dlo, dhi)) };
  let value = evaluate(e);
  for (let i = 0; i < nOps; i++) {
    const op = pickOp(rng, spec.opWeights);
    const onLeft = rng.next() < 0.3;
    let n: number;
    if (op === "*") {
      n = rng.int(2, 9);
      // Level 1 multiplies two one-digit numbers: the times table.
      if (spec.level === 1 && value > 9) return null;
    } else if (op === "-") {
      if (onLeft) {
        // n - value needs n ≥ value: a fresh number at least as long as the value.
        const digits = Math.max(String(value).length, rng.int(dlo, dhi));
        n = rng.int(value, 10 ** digits - 1);
      } else {
        if (value < 2) return null;
        const digits = Math.min(String(value).length, rng.int(dlo, dhi));
        n = rng.int(Math.min(10 ** (digits - 1), value), Math.min(10 ** digits - 1, value));
      }
    } else {
      n = randomDigits(rng, rng.int(dlo, dhi));
    }
    const num: Expr = { kind: "num", value: n };
    e = onLeft ? { kind: "bin", op, left: num, right: e } : { kind: "bin", op, left: e, right: num };
    value = evaluate(e);
    if (value < 0 || value > spec.maxValue) return null;
  }
  // A zero anywhere makes steps degenerate (x*0, x-x); draw again.
  if (operations(e).some((o) => o.value === 0 || o.left === 0 || o.right === 0)) return null;
  return e;
}

export interface WorldProblem {
  /** Stable id: `world-L3-train-000017` / `world-L3-heldout-000017`. */
  id: string;
  level: number;
  split: WorldSplit;
  expr: Expr;
  /** Canonical text of the expression (what the held-out hash is computed from). */
  text: string;
  question: string;
  answer: number;
}

export type WorldSplit = "train" | "heldout";

/** Share of the problem space reserved for evaluation (decided by a hash of the canonical text). */
export const HELDOUT_SHARE = 0.05;

/** True when a problem's canonical text belongs to the held-out split; training never sees these. */
export function isHeldout(text: string): boolean {
  return deriveSeed("tokensqueeze-world-heldout-v1", text) / 4294967296 < HELDOUT_SHARE;
}

export function questionFor(text: string): string {
  return `Compute ${text}.`;
}

/**
 * The `index`-th problem of a split at a level, deterministic in (split, level, seed, index). Draws are repeated
 * until the problem lands in the requested split, so the two splits are disjoint by construction.
 */
export function generateProblem(split: WorldSplit, level: number, seed: number, index: number): WorldProblem {
  const spec = levelSpec(level);
  for (let attempt = 0; attempt < 100_000; attempt++) {
    const rng = Rng.fromParts("world-problem", split, level, seed, index, attempt);
    const e = tryChain(rng, spec);
    if (e === null) continue;
    const text = render(e);
    if (isHeldout(text) !== (split === "heldout")) continue;
    return {
      id: `world-L${level}-${split}-${String(index).padStart(6, "0")}`,
      level,
      split,
      expr: e,
      text,
      question: questionFor(text),
      answer: evaluate(e),
    };
  }
  throw new Error(`could not draw a ${split} problem at level ${level} (seed ${seed}, index ${index})`);
}

/** The fixed evaluation set: `perLevel` problems per level, interleaved by level so a prefix stays balanced. */
export const HELDOUT_SEED = 20251117;

export function heldoutProblems(perLevel = 40, seed = HELDOUT_SEED): WorldProblem[] {
  const out: WorldProblem[] = [];
  const seen = new Set<string>();
  const next = new Array<number>(MAX_LEVEL + 1).fill(0);
  for (let i = 0; i < perLevel; i++) {
    for (let level = MIN_LEVEL; level <= MAX_LEVEL; level++) {
      // Skip duplicates (small levels have few distinct problems) so every held-out problem counts once.
      for (;;) {
        const p = generateProblem("heldout", level, seed, next[level]++);
        if (seen.has(p.text)) continue;
        seen.add(p.text);
        out.push({ ...p, id: `world-L${level}-heldout-${String(i).padStart(4, "0")}` });
        break;
      }
    }
  }
  return out;
}
