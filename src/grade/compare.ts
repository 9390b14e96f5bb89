/**
 * Answer equivalence: the rules that decide whether a predicted answer equals the reference. See
 * docs/GRADER.md for the decisions and why they were taken.
 */
import type { Node, RelOp } from "./ast.js";
import { children, CONSTANTS, containsFloat, freeSymbols, nodeKey, num, sym } from "./ast.js";
import { Budget, BudgetExceeded } from "./budget.js";
import { exactValue, NotNumeric, numericValue, type C, type NumState } from "./evaluate.js";
import { LexError } from "./lexer.js";
import { parseAnswer, ParseError } from "./parser.js";
import { rat, ratAdd, ratCmp, ratEq, ratNeg, ratSub, ratToNumber, ratFromDecimal, type Rational } from "./rational.js";
import { Rng } from "../util/rng.js";
import { cleanAnswer, looseKey } from "./normalize.js";

export interface EquivalenceOptions {
  /** Hard bound on the work of one comparison, in milliseconds (default 1000). */
  timeoutMs?: number;
  /**
   * Decimal places to which a number written with a decimal point must agree with the other side
   * (default 6): "0.333333" equals 1/3, "0.33" does not.
   */
  floatRounding?: number;
  /** Variable names matter (default true). With false, "f(y)" equals "f(x)". */
  strict?: boolean;
  /** How two bare comma lists compare: as sets (default, "enter all solutions") or in order. */
  bareLists?: "unordered" | "ordered";
  /** Read "1,5" as 1.5 (decimal comma). Default false. */
  decimalComma?: boolean;
  /** Accept \frac12 and \sqrt3 without braces. Default true. */
  shorthand?: boolean;
}

export interface Verdict {
  equal: boolean;
  /** How the verdict was reached: "text", "structure", "exact", "numeric", "set", "relation", "budget", … */
  reason: string;
  /** True when the time or step budget ran out and the verdict fell back to text comparison. */
  timedOut?: boolean;
}

interface Ctx {
  budget: Budget;
  floatRounding: number;
  strict: boolean;
  bareLists: "unordered" | "ordered";
  reason: string;
}

export const DEFAULT_TIMEOUT_MS = 1000;

/** Does `predicted` express the same answer as `gold`? Never throws; always returns within the time bound. */
export function isEquivalent(gold: string, predicted: string, opts: EquivalenceOptions = {}): boolean {
  return judge(gold, predicted, opts).equal;
}

export function judge(gold: string, predicted: string, opts: EquivalenceOptions = {}): Verdict {
  const budget = new Budget(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let textEqual = false;
  try {
    if (typeof gold !== "string" || typeof predicted !== "string") return { equal: false, reason: "not a string" };
    const g = cleanAnswer(gold, budget);
    const p = cleanAnswer(predicted, budget);
    // Identical answers are equal, even empty ones (a reference that is itself an empty box).
    if (g === p) return { equal: true, reason: "identical" };
    if (g === "" || p === "") return { equal: false, reason: "empty" };
    textEqual = looseKey(g, budget) === looseKey(p, budget);
    if (textEqual) return { equal: true, reason: "text" };
    const popts = { decimalComma: opts.decimalComma, shorthand: opts.shorthand };
    const gn = tryParse(g, budget, popts);
    const pn = tryParse(p, budget, popts);
    if (gn === null || pn === null) return { equal: false, reason: "unparsed" };
    const ctx: Ctx = {
      budget,
      floatRounding: opts.floatRounding ?? 6,
      strict: opts.strict ?? true,
      bareLists: opts.bareLists ?? "unordered",
      reason: "structure",
    };
    let equal = eqNodes(gn, pn, ctx);
    if (!equal && !opts.decimalComma) {
      // "3,5" against a single number: a decimal comma ("Réponse : 3,5 €"), not a list that a number could never
      // equal. Only a lone comma followed by one or two digits qualifies; "1,500" keeps its thousands separator.
      const retry = (text: string, other: Node): Node | null => {
        const t = decimalCommaText(text);
        return t !== null && !COLLECTIONS.has(other.k) ? tryParse(t, budget, { ...popts, decimalComma: true }) : null;
      };
      const p2 = retry(p, gn);
      const g2 = p2 === null ? retry(g, pn) : null;
      if (p2 !== null && !COLLECTIONS.has(p2.k)) equal = eqNodes(gn, p2, ctx);
      else if (g2 !== null && !COLLECTIONS.has(g2.k)) equal = eqNodes(g2, pn, ctx);
      if (equal) ctx.reason = "decimal comma";
    }
    return { equal, reason: ctx.reason };
  } catch (e) {
    if (e instanceof BudgetExceeded) return { equal: textEqual, reason: "budget", timedOut: true };
    return { equal: textEqual, reason: `error: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * A number written with a decimal comma, as text to read with `decimalComma`: one comma between digits, followed
 * by one or two digits, no list-like ", " and no brackets anywhere ("3,5", "12,75 €"); points grouping thousands
 * before it ("1.250,00") are dropped. Null for anything else.
 */
function decimalCommaText(text: string): string | null {
  const commas = text.match(/\d,\d/g);
  if (commas === null || commas.length !== 1 || !/\d,\d{1,2}(?!\d)/.test(text) || /,\s/.test(text)) return null;
  // Inside brackets a comma separates coordinates or endpoints: (3,5) is a pair.
  if (/[()[\]{}]|\\langle/.test(text)) return null;
  return text.replace(/\b(\d{1,3}(?:\.\d{3})+)(?=,\d)/, (m) => m.replace(/\./g, ""));
}

function tryParse(s: string, budget: Budget, opts: { decimalComma?: boolean; shorthand?: boolean }): Node | null {
  try {
    return parseAnswer(s, budget, opts);
  } catch (e) {
    if (e instanceof ParseError || e instanceof LexError) return null;
    throw e;
  }
}

/** Parses an answer for callers that need the tree (tests, extraction checks); null when it does not parse. */
export function parseForCheck(s: string, opts: EquivalenceOptions = {}): Node | null {
  const budget = new Budget(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    return tryParse(cleanAnswer(s, budget), budget, { decimalComma: opts.decimalComma, shorthand: opts.shorthand });
  } catch {
    return null;
  }
}

// ---- dispatch ------------------------------------------------------------------------------------------------

const COLLECTIONS = new Set(["tuple", "interval", "set", "list", "union", "intersect", "setminus"]);

function eqNodes(g: Node, p: Node, ctx: Ctx): boolean {
  ctx.budget.tick();
  const tick = (): void => ctx.budget.tick();
  const gKey = nodeKey(g, tick);
  const pKey = nodeKey(p, tick);
  if (gKey === pKey) {
    ctx.reason = "structure";
    return true;
  }
  // "x < -2 or x > 3": one-variable inequalities joined by "or" are a union, by "and" an intersection.
  g = inequalityListAsSet(g, ctx) ?? g;
  p = inequalityListAsSet(p, ctx) ?? p;
  if (g.k === "rel" || p.k === "rel") return eqRelations(g, p, ctx);
  // Only trees holding a matrix or a tuple can fold (the key says so without a walk).
  if (gKey.includes("mat[") || gKey.includes("tuple")) g = foldMatrices(g);
  if (pKey.includes("mat[") || pKey.includes("tuple")) p = foldMatrices(p);
  // "3\mathbf{i} + 4\mathbf{j}": a vector, in the other side's dimension when that is a vector.
  if (gKey.includes("basis:") && hasBasis(g)) g = basisVector(g, vectorLength(p), ctx) ?? g;
  if (pKey.includes("basis:") && hasBasis(p)) p = basisVector(p, vectorLength(g), ctx) ?? p;
  g = expandPm(g, ctx);
  p = expandPm(p, ctx);
  if (COLLECTIONS.has(g.k) || COLLECTIONS.has(p.k)) return eqCollections(g, p, ctx);
  if (g.k === "text" || p.k === "text") return eqText(g, p);
  if (g.k === "matrix" || p.k === "matrix") {
    if (g.k !== "matrix" || p.k !== "matrix") return false;
    if (g.rows.length !== p.rows.length || g.rows[0]!.length !== p.rows[0]!.length) return false;
    ctx.reason = "matrix";
    return g.rows.every((r, i) => r.every((c, j) => eqNodes(c, p.rows[i]![j]!, ctx)));
  }
  return eqScalars(g, p, ctx);
}

// ---- relations: equations, assignments, inequalities ------------------------------------------------------------

/** Expressions naming a quantity rather than valuing it: x, f(x), a_3, |AB|, NO/BO, S_{MBCN}:S, (p, q). */
function isNameLike(n: Node): boolean {
  switch (n.k) {
    case "sym":
      return n.name !== "inf";
    case "fn":
      return n.name.startsWith("apply:") || n.name === "abs" || n.name === "vec" || n.name === "bar";
    case "mul":
      return n.args.every(isNameLike);
    case "div":
      return isNameLike(n.num) && isNameLike(n.den);
    case "tuple":
      return n.items.every(isNameLike);
    case "neg":
      return false;
    default:
      return false;
  }
}

interface Rel {
  ops: RelOp[];
  items: Node[];
}

/** An "=" chain reduces to its last named item and its final value: "x = 5+5+1 = 11" → x = 11. */
function reduceRel(n: Node): Rel {
  if (n.k !== "rel") return { ops: [], items: [n] };
  if (n.ops.every((o) => o === "=") && n.items.length > 2) {
    const last = n.items[n.items.length - 1]!;
    for (let k = n.items.length - 2; k >= 0; k--) {
      if (isNameLike(n.items[k]!)) return { ops: ["="], items: [n.items[k]!, last] };
    }
    return { ops: ["="], items: [n.items[0]!, last] };
  }
  return { ops: n.ops, items: n.items };
}

function isAssignment(r: Rel): boolean {
  return r.ops.length === 1 && (r.ops[0] === "=" || r.ops[0] === "in") && isNameLike(r.items[0]!);
}

const SET_KINDS = new Set(["interval", "union", "set", "intersect", "setminus"]);
const INF: Node = sym("inf");
const NEG_INF: Node = { k: "neg", arg: sym("inf") };

/** A one-variable inequality (or chain, or membership) as the set it describes: 1 < x <= 2 → (1, 2]. */
function relationAsSet(r: Rel, ctx: Ctx): Node | null {
  if (r.ops.length === 1 && r.ops[0] === "in") return r.items[1]!;
  const isVar = (x: Node): boolean => (x.k === "sym" && !CONSTANTS.has(x.name)) || (x.k === "fn" && x.name.startsWith("apply:"));
  if (r.ops.length === 1) {
    const [a, b] = r.items as [Node, Node];
    const op = r.ops[0]!;
    if (isVar(a) && !isVar(b)) return halfLine(op, b);
    if (isVar(b) && !isVar(a)) return halfLine(flip(op), a);
    if (a.k === "fn" && a.name === "abs" && freeSymbols(b).size === 0) return absSet(op, a.args[0]!, b, ctx);
    if (b.k === "fn" && b.name === "abs" && freeSymbols(a).size === 0) return absSet(flip(op), b.args[0]!, a, ctx);
    return null;
  }
  if (r.ops.length === 2 && isVar(r.items[1]!) && !isVar(r.items[0]!) && !isVar(r.items[2]!)) {
    const [o1, o2] = r.ops as [RelOp, RelOp];
    const lo = r.items[0]!;
    const hi = r.items[2]!;
    if ((o1 === "<" || o1 === "<=") && (o2 === "<" || o2 === "<=")) return { k: "interval", lo, hi, loOpen: o1 === "<", hiOpen: o2 === "<" };
    if ((o1 === ">" || o1 === ">=") && (o2 === ">" || o2 === ">=")) return { k: "interval", lo: hi, hi: lo, loOpen: o2 === ">", hiOpen: o1 === ">" };
  }
  return null;
}

function flip(op: RelOp): RelOp {
  return op === "<" ? ">" : op === ">" ? "<" : op === "<=" ? ">=" : op === ">=" ? "<=" : op;
}

/** The set of x with (x op v). */
function halfLine(op: RelOp, v: Node): Node | null {
  switch (op) {
    case ">":
      return { k: "interval", lo: v, hi: INF, loOpen: true, hiOpen: true };
    case ">=":
      return { k: "interval", lo: v, hi: INF, loOpen: false, hiOpen: true };
    case "<":
      return { k: "interval", lo: NEG_INF, hi: v, loOpen: true, hiOpen: true };
    case "<=":
      return { k: "interval", lo: NEG_INF, hi: v, loOpen: true, hiOpen: false };
    case "!=":
      return { k: "union", items: [{ k: "interval", lo: NEG_INF, hi: v, loOpen: true, hiOpen: true }, { k: "interval", lo: v, hi: INF, loOpen: true, hiOpen: true }] };
    default:
      return null;
  }
}

/**
 * The set of x with |a·x + b| op k, for a constant k > 0: |x| ≥ 2 is (−∞, −2] ∪ [2, ∞), |x − 1| ≤ 3 is [−2, 4].
 * Null when the inside is not linear in one variable or k is not a positive constant.
 */
function absSet(op: RelOp, inner: Node, k: Node, ctx: Ctx): Node | null {
  const vars = [...freeSymbols(inner)];
  if (vars.length !== 1 || !["<", "<=", ">", ">="].includes(op)) return null;
  const x = vars[0]!;
  const at = (v: Node): Node => substitute(inner, x, v);
  const b = at(num(rat(0n)));
  const a: Node = { k: "add", args: [at(num(rat(1n))), { k: "neg", arg: b }] };
  const value = (n: Node): number | null => {
    const z = safeNumeric(n, new Map(), ctx);
    return z !== null && Number.isFinite(z.re) && Math.abs(z.im) < 1e-12 ? z.re : null;
  };
  const av = value(a);
  const bv = value(b);
  const kv = value(k);
  if (av === null || bv === null || kv === null || av === 0 || !(kv > 0)) return null;
  // Linear: the inside at two more points lies on the line a·x + b.
  for (const t of [2.5, -1.75]) {
    const v = value(at(num(ratFromDecimal(String(t))!, true)));
    if (v === null || Math.abs(v - (av * t + bv)) > 1e-9 * Math.max(1, Math.abs(v))) return null;
  }
  const center: Node = { k: "div", num: { k: "neg", arg: b }, den: a };
  const radius: Node = { k: "div", num: k, den: { k: "fn", name: "abs", args: [a] } };
  const lo: Node = { k: "add", args: [center, { k: "neg", arg: radius }] };
  const hi: Node = { k: "add", args: [center, radius] };
  if (op === "<" || op === "<=") return { k: "interval", lo, hi, loOpen: op === "<", hiOpen: op === "<" };
  const open = op === ">";
  return { k: "union", items: [{ k: "interval", lo: NEG_INF, hi: lo, loOpen: true, hiOpen: open }, { k: "interval", lo: hi, hi: INF, loOpen: open, hiOpen: true }] };
}

function isInequality(r: Rel): boolean {
  return r.ops.length > 0 && r.ops.every((o) => o === "<" || o === "<=" || o === ">" || o === ">=");
}

/**
 * A one-variable inequality the rules above cannot turn into intervals ("x^2 \ge 4", "(x-1)(x-3) < 0",
 * "1/x > 0") against a set of intervals with numeric endpoints: equal when the inequality holds exactly on the
 * set, tested at every endpoint, just either side of it, at 16 points inside every gap between endpoints and far
 * out on both sides. A point where the inequality is undefined (1/x at 0, √x for x < 0) is outside its set.
 */
function inequalityMatchesSet(r: Rel, set: Node, ctx: Ctx): boolean {
  if (!isInequality(r)) return false;
  const vars = [...new Set(r.items.flatMap((x) => [...freeSymbols(x)]))];
  if (vars.length !== 1 || !r.items.every(isScalar)) return false;
  const ps = pieces(set, ctx);
  if (ps === null || ps.some((x) => Number.isNaN(x.loV) || Number.isNaN(x.hiV))) return false;
  const x = vars[0]!;
  const holds = (t: number): boolean => {
    const env = new Map<string, C>([[x, { re: t, im: 0 }]]);
    const vals: number[] = [];
    for (const it of r.items) {
      const v = safeNumeric(it, env, ctx);
      if (v === null || !isRealValue(v) || !Number.isFinite(v.re)) return false;
      vals.push(v.re);
    }
    return r.ops.every((op, k) => {
      const a = vals[k]!;
      const b = vals[k + 1]!;
      if (Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))) return op === "<=" || op === ">=";
      return op === "<" || op === "<=" ? a < b : a > b;
    });
  };
  const inSet = (t: number): boolean => ps.some((q) => (t > q.loV || (t === q.loV && !q.loOpen)) && (t < q.hiV || (t === q.hiV && !q.hiOpen)));
  const ends = [...new Set(ps.flatMap((q) => [q.loV, q.hiV]).filter((v) => Number.isFinite(v)))].sort((a, b) => a - b);
  const points: number[] = [];
  const lo = ends.length > 0 ? ends[0]! : 0;
  const hi = ends.length > 0 ? ends[ends.length - 1]! : 0;
  for (const d of [0.5, 1, 3.7, 10, 1000]) points.push(lo - d, hi + d);
  for (const e of ends) {
    const delta = 1e-6 * Math.max(1, Math.abs(e));
    points.push(e, e - delta, e + delta);
  }
  for (let k = 0; k + 1 < ends.length; k++) {
    for (let j = 1; j <= 16; j++) points.push(ends[k]! + ((ends[k + 1]! - ends[k]!) * (j - 0.37)) / 16);
  }
  ctx.reason = "inequality";
  return points.every((t) => holds(t) === inSet(t));
}

/**
 * A bare list of one-variable inequalities in the same variable as the set they describe: joined by "and", the
 * intersection ("x > -2 and x < 3" is (−2, 3)); otherwise the union ("x < -2 or x > 3"). Null for anything else.
 */
function inequalityListAsSet(n: Node, ctx: Ctx): Node | null {
  if (n.k !== "list" || n.items.length < 2 || n.items.length > 20) return null;
  const sets: Node[] = [];
  let variable: string | null = null;
  for (const it of n.items) {
    if (it.k !== "rel") return null;
    const r = reduceRel(it);
    if (r.ops.some((o) => o === "=")) return null;
    const set = relationAsSet(r, ctx);
    const v = relVariable(r);
    if (set === null || v === null || (variable !== null && v !== variable)) return null;
    variable = v;
    sets.push(set);
  }
  if (n.joiner !== "and") return { k: "union", items: sets };
  let acc = pieces(sets[0]!, ctx);
  for (const set of sets.slice(1)) {
    const next = pieces(set, ctx);
    if (acc === null || next === null) return null;
    acc = intersectPieces(acc, next);
  }
  if (acc === null || acc.some((x) => Number.isNaN(x.loV) || Number.isNaN(x.hiV))) return null;
  if (acc.length === 0) return { k: "set", items: [] };
  const intervals: Node[] = acc.map((x) => ({ k: "interval", lo: x.lo, hi: x.hi, loOpen: x.loOpen, hiOpen: x.hiOpen }));
  return intervals.length === 1 ? intervals[0]! : { k: "union", items: intervals };
}

/** Intersection of two sorted lists of pieces with numeric endpoints. */
function intersectPieces(a: Piece[], b: Piece[]): Piece[] {
  const out: Piece[] = [];
  for (const x of a) {
    for (const y of b) {
      const lo = x.loV > y.loV || (x.loV === y.loV && x.loOpen) ? { n: x.lo, v: x.loV, open: x.loOpen } : { n: y.lo, v: y.loV, open: y.loOpen };
      const hi = x.hiV < y.hiV || (x.hiV === y.hiV && x.hiOpen) ? { n: x.hi, v: x.hiV, open: x.hiOpen } : { n: y.hi, v: y.hiV, open: y.hiOpen };
      if (lo.v > hi.v || (lo.v === hi.v && (lo.open || hi.open))) continue;
      out.push({ lo: lo.n, hi: hi.n, loOpen: lo.open, hiOpen: hi.open, loV: lo.v, hiV: hi.v });
    }
  }
  return out;
}

function isSetLike(n: Node): boolean {
  return SET_KINDS.has(n.k) || (n.k === "tuple" && n.items.length === 2);
}

function eqRelations(g: Node, p: Node, ctx: Ctx): boolean {
  ctx.reason = "relation";
  const gr = reduceRel(g);
  const pr = reduceRel(p);
  const gIsRel = gr.ops.length > 0;
  const pIsRel = pr.ops.length > 0;
  if (gIsRel && !pIsRel) {
    if (isAssignment(gr)) return eqNodes(gr.items[1]!, p, ctx);
    const s = relationAsSet(gr, ctx);
    if (s !== null && isSetLike(p)) return eqNodes(s, p, ctx);
    if (s === null && isSetLike(p)) return inequalityMatchesSet(gr, p, ctx);
    return false;
  }
  if (pIsRel && !gIsRel) {
    if (pr.ops.length === 1 && (pr.ops[0] === "=" || pr.ops[0] === "in")) {
      const [l, r] = pr.items as [Node, Node];
      // The predicted value is the side that is not a name; math convention puts it on the right.
      if (!isNameLike(l) && isNameLike(r) && pr.ops[0] === "=") return eqNodes(g, l, ctx);
      return eqNodes(g, r, ctx);
    }
    const s = relationAsSet(pr, ctx);
    if (s !== null && isSetLike(g)) return eqNodes(g, s, ctx);
    if (s === null && isSetLike(g)) return inequalityMatchesSet(pr, g, ctx);
    return false;
  }
  // Both relations.
  if (isAssignment(gr) && isAssignment(pr)) {
    const lhsEqual = nodeKey(gr.items[0]!) === nodeKey(pr.items[0]!) || (!ctx.strict && gr.items[0]!.k === pr.items[0]!.k);
    if (lhsEqual && gr.ops[0] === pr.ops[0]) return eqNodes(gr.items[1]!, pr.items[1]!, ctx);
  }
  const gs = relationAsSet(gr, ctx);
  const ps = relationAsSet(pr, ctx);
  if (gs !== null && ps !== null) {
    const gv = relVariable(gr);
    const pv = relVariable(pr);
    if (ctx.strict && gv !== null && pv !== null && gv !== pv) return false;
    return eqNodes(gs, ps, ctx);
  }
  // "x^2 < 9" against "-3 < x < 3": the inequality tested against the set the other one describes.
  if ((gs === null) !== (ps === null) && isInequality(gs === null ? gr : pr)) {
    const [ineq, set, other] = gs === null ? [gr, ps!, pr] : [pr, gs, gr];
    const v1 = [...new Set(ineq.items.flatMap((x) => [...freeSymbols(x)]))];
    const v2 = relVariable(other);
    if (ctx.strict && v1.length === 1 && v2 !== null && v1[0] !== v2) return false;
    return inequalityMatchesSet(ineq, set, ctx);
  }
  if (gr.ops.length === 1 && pr.ops.length === 1) return eqSingleRelation(gr, pr, ctx);
  if (gr.ops.length !== pr.ops.length || gr.ops.some((o, k) => o !== pr.ops[k])) return false;
  return gr.items.every((x, k) => eqNodes(x, pr.items[k]!, ctx));
}

function relVariable(r: Rel): string | null {
  for (const x of r.items) if (x.k === "sym") return x.name;
  // |x − 1| ≤ 3: the variable inside.
  for (const x of r.items) {
    const vars = freeSymbols(x);
    if (vars.size === 1) return [...vars][0]!;
  }
  return null;
}

/**
 * Two single relations: equations are equal when lhs − rhs of one is a non-zero constant multiple of the
 * other's (2x + 4y − 3 = 0 ⇔ y = −x/2 + 3/4); inequalities likewise with a positive multiple, or a negative one
 * when the direction is flipped (x < 1 ⇔ −x > −1).
 */
function eqSingleRelation(g: Rel, p: Rel, ctx: Ctx): boolean {
  const go = g.ops[0]!;
  const po = p.ops[0]!;
  let sign: 1 | -1 | 0;
  if (go === "=" && po === "=") sign = 0;
  else if (go === "!=" && po === "!=") sign = 0;
  else if (go === po && go !== "in" && go !== "notin" && go !== "subset") sign = 1;
  else if (flip(go) === po && go !== "=" && go !== "!=") sign = -1;
  else return false;
  if (!isScalar(g.items[0]!) || !isScalar(g.items[1]!) || !isScalar(p.items[0]!) || !isScalar(p.items[1]!)) {
    if (sign !== 0 && sign !== 1) return false;
    return eqNodes(g.items[0]!, p.items[0]!, ctx) && eqNodes(g.items[1]!, p.items[1]!, ctx);
  }
  const dg: Node = { k: "add", args: [g.items[0]!, { k: "neg", arg: g.items[1]! }] };
  const dp: Node = { k: "add", args: [p.items[0]!, { k: "neg", arg: p.items[1]! }] };
  if (sign === 1 && eqScalars(g.items[0]!, p.items[0]!, ctx) && eqScalars(g.items[1]!, p.items[1]!, ctx)) return true;
  const ratio = constantRatio(dg, dp, ctx);
  if (ratio === null) return false;
  ctx.reason = "relation";
  if (sign === 0) return ratio !== 0;
  return sign === 1 ? ratio > 0 : ratio < 0;
}

function isScalar(n: Node): boolean {
  return !COLLECTIONS.has(n.k) && n.k !== "matrix" && n.k !== "rel" && n.k !== "text";
}

/** If a/b is the same non-zero real constant at every sample point, that constant; otherwise null. */
function constantRatio(a: Node, b: Node, ctx: Ctx): number | null {
  const vars = [...new Set([...freeSymbols(a), ...freeSymbols(b)])].sort();
  let ratio: number | null = null;
  let valid = 0;
  for (const env of samplePoints(vars, 6)) {
    const va = safeNumeric(a, env, ctx);
    const vb = safeNumeric(b, env, ctx);
    if (va === null || vb === null) continue;
    if (Math.hypot(vb.re, vb.im) === 0 || Math.hypot(va.re, va.im) === 0) {
      // Both zero at this point is consistent with proportionality; one zero is not.
      if (Math.hypot(vb.re, vb.im) < 1e-12 && Math.hypot(va.re, va.im) < 1e-12) continue;
      return null;
    }
    const re = (va.re * vb.re + va.im * vb.im) / (vb.re * vb.re + vb.im * vb.im);
    const im = (va.im * vb.re - va.re * vb.im) / (vb.re * vb.re + vb.im * vb.im);
    if (Math.abs(im) > 1e-9 * Math.max(1, Math.abs(re))) return null;
    if (ratio === null) ratio = re;
    else if (Math.abs(re - ratio) > 1e-8 * Math.max(1, Math.abs(ratio))) return null;
    valid++;
  }
  if (valid < (vars.length === 0 ? 1 : 3)) return null;
  return ratio;
}

// ---- ± and matrices -----------------------------------------------------------------------------------------

function hasPm(n: Node): boolean {
  const stack: Node[] = [n];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x.k === "pm") return true;
    if (x.k === "add" || x.k === "mul") stack.push(...x.args);
    else if (x.k === "neg" || x.k === "pct" || x.k === "deg") stack.push(x.arg);
    else if (x.k === "div") stack.push(x.num, x.den);
    else if (x.k === "pow") stack.push(x.base, x.exp);
    else if (x.k === "fn") stack.push(...x.args);
  }
  return false;
}

/** "3 ± 2√2" → the set {3 + 2√2, 3 − 2√2}; inside collections each element expands in place. */
function expandPm(n: Node, ctx: Ctx): Node {
  if (n.k === "list" || n.k === "set") {
    if (!n.items.some(hasPm)) return n;
    const items: Node[] = [];
    for (const it of n.items) {
      const e = expandPm(it, ctx);
      if (e.k === "set" && hasPm(it)) items.push(...e.items);
      else items.push(e);
    }
    return { k: n.k, items };
  }
  if (!isScalar(n) || !hasPm(n)) return n;
  const variants: Node[] = [];
  const choose = (x: Node, signs: number[]): Node => {
    ctx.budget.tick();
    switch (x.k) {
      case "pm": {
        const s = signs.shift() ?? 1;
        const arg = choose(x.arg, signs);
        return (s === 1) !== x.minusFirst ? arg : { k: "neg", arg };
      }
      case "add":
        return { k: "add", args: x.args.map((a) => choose(a, signs)) };
      case "mul":
        return { k: "mul", args: x.args.map((a) => choose(a, signs)) };
      case "neg":
        return { k: "neg", arg: choose(x.arg, signs) };
      case "pct":
        return { k: "pct", arg: choose(x.arg, signs) };
      case "deg":
        return { k: "deg", arg: choose(x.arg, signs) };
      case "div":
        return { k: "div", num: choose(x.num, signs), den: choose(x.den, signs) };
      case "pow":
        return { k: "pow", base: choose(x.base, signs), exp: choose(x.exp, signs) };
      case "fn":
        return { k: "fn", name: x.name, args: x.args.map((a) => choose(a, signs)) };
      default:
        return x;
    }
  };
  let count = 0;
  const countStack: Node[] = [n];
  while (countStack.length > 0) {
    const x = countStack.pop()!;
    if (x.k === "pm") count++;
    if (x.k === "add" || x.k === "mul" || x.k === "fn") countStack.push(...x.args);
    else if (x.k === "neg" || x.k === "pm" || x.k === "pct" || x.k === "deg") countStack.push(x.arg);
    else if (x.k === "div") countStack.push(x.num, x.den);
    else if (x.k === "pow") countStack.push(x.base, x.exp);
  }
  if (count > 4) return n;
  for (let mask = 0; mask < 1 << count; mask++) {
    const signs = Array.from({ length: count }, (_, b) => ((mask >> b) & 1 ? -1 : 1));
    variants.push(choose(n, signs));
  }
  return { k: "set", items: variants };
}

/**
 * Sums, differences, scalar multiples and products of matrices, computed: "I·I" is I, "t/6 (3, 2, -6)ᵀ" is a
 * matrix, "(1, 2)ᵀ + t(3, 4)ᵀ" is (1 + 3t, 2 + 4t)ᵀ. Vectors written as tuples add and scale the same way:
 * "(1, 2) + (2, 3)" is (3, 5), "2⟨1, 2, 3⟩" is ⟨2, 4, 6⟩. Anything else (shapes that do not match) is left as is.
 */
function foldMatrices(n: Node): Node {
  if (n.k === "add" && n.args.length <= 16) {
    const args = n.args.map(foldMatrices);
    if (args.every((a) => a.k === "matrix")) {
      const first = args[0] as Node & { k: "matrix" };
      const h = first.rows.length;
      const w = first.rows[0]!.length;
      if (!args.every((a) => a.k === "matrix" && a.rows.length === h && a.rows.every((r) => r.length === w))) return n;
      return { k: "matrix", rows: first.rows.map((r, i) => r.map((_, j) => ({ k: "add", args: args.map((a) => (a as Node & { k: "matrix" }).rows[i]![j]!) }) as Node)) };
    }
    if (args.every((a) => isVectorTuple(a))) {
      const len = (args[0] as Node & { k: "tuple" }).items.length;
      if (!args.every((a) => (a as Node & { k: "tuple" }).items.length === len)) return n;
      const first = args[0] as Node & { k: "tuple" };
      return { k: "tuple", open: first.open, close: first.close, items: first.items.map((_, j) => ({ k: "add", args: args.map((a) => (a as Node & { k: "tuple" }).items[j]!) }) as Node) };
    }
    return n;
  }
  if (n.k === "neg") {
    const a = foldMatrices(n.arg);
    if (a.k === "matrix") return { k: "matrix", rows: a.rows.map((r) => r.map((c) => ({ k: "neg", arg: c }) as Node)) };
    if (a === n.arg || !isVectorTuple(a)) return n;
    return { ...a, items: a.items.map((c) => ({ k: "neg", arg: c }) as Node) };
  }
  if (n.k === "div" && isScalar(n.den)) {
    const a = foldMatrices(n.num);
    const den = n.den;
    if (a.k === "matrix") return { k: "matrix", rows: a.rows.map((r) => r.map((c) => ({ k: "div", num: c, den }) as Node)) };
    return n;
  }
  if (n.k === "mul" && n.args.length <= 16 && n.args.some((a) => isVectorTuple(a)) && !n.args.some((a) => a.k === "matrix")) {
    // A scalar multiple of a tuple vector: exactly one tuple, every other factor a scalar.
    const tuples = n.args.filter((a) => isVectorTuple(a));
    if (tuples.length !== 1 || !n.args.every((a) => isVectorTuple(a) || isScalar(a))) return n;
    const t = tuples[0] as Node & { k: "tuple" };
    const others = n.args.filter((a) => a !== t);
    return { ...t, items: t.items.map((c) => ({ k: "mul", args: [...others, c] }) as Node) };
  }
  if (n.k === "pow" && n.base.k === "matrix" && n.exp.k === "num" && n.exp.v.d === 1n && n.exp.v.n >= 1n && n.exp.v.n <= 8n) {
    // A small power of a small square matrix: repeated products.
    const m = n.base;
    if (m.rows.length !== m.rows[0]!.length || m.rows.length > 8) return n;
    return foldMatrices({ k: "mul", args: Array.from({ length: Number(n.exp.v.n) }, () => m) });
  }
  if (n.k === "mul" && n.args.some((a) => a.k === "matrix" || (a.k === "add" && a.args.some((b) => b.k === "matrix")) || (a.k === "pow" && a.base.k === "matrix"))) {
    n = { k: "mul", args: n.args.map(foldMatrices) };
  }
  if (n.k === "mul" && n.args.some((a) => a.k === "matrix")) {
    let acc: Node = n.args[0]!;
    for (const b of n.args.slice(1)) {
      if (acc.k === "matrix" && b.k === "matrix") {
        const A = acc.rows;
        const B = b.rows;
        if (A[0]!.length !== B.length) return n;
        acc = {
          k: "matrix",
          rows: A.map((row) => B[0]!.map((_, j) => ({ k: "add", args: row.map((a, t) => ({ k: "mul", args: [a, B[t]![j]!] }) as Node) }) as Node)),
        };
      } else if (acc.k === "matrix") {
        const s = b;
        acc = { k: "matrix", rows: acc.rows.map((r) => r.map((c) => ({ k: "mul", args: [c, s] }) as Node)) };
      } else if (b.k === "matrix") {
        const s = acc;
        acc = { k: "matrix", rows: b.rows.map((r) => r.map((c) => ({ k: "mul", args: [s, c] }) as Node)) };
      } else acc = { k: "mul", args: [acc, b] };
    }
    return acc;
  }
  return n;
}

/** A tuple of scalars written with ( ) or ⟨ ⟩: a vector that sums and scalar multiples apply to. */
function isVectorTuple(n: Node): n is Node & { k: "tuple" } {
  return n.k === "tuple" && n.open === "(" && n.close === ")" && n.items.length >= 2 && n.items.every(isScalar);
}

// ---- unit vectors i, j, k ----------------------------------------------------------------------------------------

const BASIS = ["basis:i", "basis:j", "basis:k"];

function hasBasis(n: Node): boolean {
  if (!isScalar(n)) return false;
  const syms = freeSymbols(n);
  return BASIS.some((b) => syms.has(b));
}

/** The length of a vector (a column or row matrix, or a tuple), or null. */
function vectorLength(n: Node): number | null {
  if (n.k === "matrix") return n.rows.length === 1 ? n.rows[0]!.length : n.rows.every((r) => r.length === 1) ? n.rows.length : null;
  if (n.k === "tuple") return n.items.length;
  return null;
}

/**
 * "3\mathbf{i} − 4\mathbf{j} + 5\mathbf{k}" as the column vector (3, −4, 5): the coefficient of each unit vector,
 * in `dim` components (2 or 3; 3 when k appears or nothing says otherwise). Null when the expression is not a
 * combination of the unit vectors (a constant term left over) or needs more components than `dim`.
 */
function basisVector(n: Node, dim: number | null, ctx: Ctx): Node | null {
  const syms = freeSymbols(n);
  const size = dim ?? (syms.has("basis:k") ? 3 : 2);
  if (size !== 2 && size !== 3) return null;
  const zero = num(rat(0n));
  const at = (unit: string | null): Node => mapLeaves(n, (x) => (x.k === "sym" && BASIS.includes(x.name) ? (x.name === unit ? num(rat(1n)) : zero) : x));
  const rest = at(null);
  const save = ctx.reason;
  const noConstant = scalarCore(rest, zero, ctx);
  ctx.reason = save;
  if (!noConstant) return null;
  if (size === 2 && syms.has("basis:k")) return null;
  const rows = BASIS.slice(0, size).map((b) => [{ k: "add", args: [at(b), { k: "neg", arg: rest }] } as Node]);
  return { k: "matrix", rows };
}

// ---- approximate values ----------------------------------------------------------------------------------------

/**
 * An approximate answer ("y ≈ 4.47", "approximately 15.7 cm", "3.14159…") against an exact value: equal when the
 * exact value rounds to the written digits, that is when they differ by at most half a unit in the last written
 * place (a whole unit for a value cut off with "…"). The rule of math-verify's float_rounding, with the rounding
 * set by the answer's own precision. It applies only to a decimal with at least two significant digits; an
 * approximation written as an integer ("≈ 4") is compared exactly.
 */
function eqApprox(exact: Node, approxNode: Node & { k: "fn" }, ctx: Ctx): boolean {
  const arg = approxNode.args[0]!;
  const trunc = approxNode.name === "approx-trunc";
  // "≈ 33.33%" against 1/3 or against 33.33, as percentages compare.
  if (arg.k === "pct") return eqApproxValue(exact, arg, trunc, ctx) || eqApproxValue(exact, arg.arg, trunc, ctx);
  return eqApproxValue(exact, arg, trunc, ctx);
}

function eqApproxValue(exact: Node, arg: Node, trunc: boolean, ctx: Ctx): boolean {
  const lit = roundedLiteral(arg);
  if (lit === null || freeSymbols(exact).size > 0 || freeSymbols(arg).size > 0) return eqScalars(exact, arg, ctx);
  const va = safeNumeric(arg, new Map(), ctx);
  const ve = safeNumeric(exact, new Map(), ctx);
  if (va === null || ve === null || !isRealValue(va) || !isRealValue(ve) || !Number.isFinite(va.re) || !Number.isFinite(ve.re)) return false;
  // One unit in the last written place, carried through the expression ("1.19 × 10⁻³": 10⁻⁵).
  const bumped = mapLeaves(arg, (x) => (x === lit ? num(ratAdd(lit.v, rat(1n, 10n ** BigInt(Math.max(0, lit.dp!)))), true) : x));
  const vb = safeNumeric(bumped, new Map(), ctx);
  if (vb === null || !Number.isFinite(vb.re)) return false;
  const unit = Math.abs(vb.re - va.re) * (lit.dp! < 0 ? 10 ** -lit.dp! : 1);
  ctx.reason = "approximate";
  const slack = 1e-9 * unit + 1e-12 * Math.abs(va.re);
  if (!trunc) return Math.abs(ve.re - va.re) <= 0.5 * unit + slack;
  // Cut off with "…": the exact value lies between the digits written (rounded, half a unit below) and one unit
  // beyond them, away from zero ("3.14159…" for π, "0.34…" is not 1/3).
  const beyond = va.re >= 0 ? ve.re - va.re : va.re - ve.re;
  return beyond >= -0.5 * unit - slack && beyond <= unit + slack;
}

/** The one decimal literal of an approximate value, if it has at least two significant digits; else null. */
function roundedLiteral(n: Node): (Node & { k: "num" }) | null {
  const found: (Node & { k: "num" })[] = [];
  const stack: Node[] = [n];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x.k === "num" && x.float && x.dp !== undefined) found.push(x);
    else stack.push(...children(x));
  }
  if (found.length !== 1) return null;
  const lit = found[0]!;
  const dp = lit.dp!;
  const mag = lit.v.n < 0n ? -lit.v.n : lit.v.n;
  const mantissa = dp >= 0 ? (mag * 10n ** BigInt(dp)) / lit.v.d : mag / (lit.v.d * 10n ** BigInt(-dp));
  return mantissa >= 10n ? lit : null;
}

/** "−3.14…" is the approximation −(3.14…): the mark goes outside the sign. */
function liftApprox(n: Node): Node {
  if (n.k === "neg" && approxOf(n.arg) !== null) {
    const a = n.arg as Node & { k: "fn" };
    return { k: "fn", name: a.name, args: [{ k: "neg", arg: a.args[0]! }] };
  }
  return n;
}

function approxOf(n: Node): (Node & { k: "fn" }) | null {
  return n.k === "fn" && (n.name === "approx" || n.name === "approx-trunc") ? n : null;
}

// ---- collections --------------------------------------------------------------------------------------------

function eqCollections(g: Node, p: Node, ctx: Ctx): boolean {
  ctx.reason = "set";
  // A one-element list or set against a plain value: {5} vs 5.
  if ((g.k === "list" || g.k === "set") && g.items.length === 1 && !COLLECTIONS.has(p.k)) return eqNodes(g.items[0]!, p, ctx);
  if ((p.k === "list" || p.k === "set") && p.items.length === 1 && !COLLECTIONS.has(g.k)) return eqNodes(g, p.items[0]!, ctx);
  // A column or row vector against a tuple.
  if (g.k === "matrix" && p.k === "tuple") return eqOrdered(matrixAsVector(g), p.items, ctx);
  if (p.k === "matrix" && g.k === "tuple") return eqOrdered(g.items, matrixAsVector(p), ctx);
  if (!COLLECTIONS.has(g.k) || !COLLECTIONS.has(p.k)) return false;

  if (g.k === "interval" || p.k === "interval" || g.k === "union" || p.k === "union") return eqPointSets(g, p, ctx);
  if (g.k === "setminus" || p.k === "setminus" || g.k === "intersect" || p.k === "intersect") return false;

  const gi = (g as { items: Node[] }).items;
  const pi = (p as { items: Node[] }).items;
  if (g.k === "tuple" && p.k === "tuple") return eqOrdered(gi, pi, ctx);
  if (g.k === "tuple" || p.k === "tuple") {
    // A bare list takes the tuple's order; an explicit set cannot equal a tuple (in strict mode).
    const other = g.k === "tuple" ? p : g;
    if (other.k === "list") return g.k === "tuple" ? eqOrdered(gi, assignmentOrder(pi), ctx) : eqOrdered(assignmentOrder(gi), pi, ctx);
    return ctx.strict ? false : eqUnordered(gi, pi, ctx);
  }
  if (g.k === "list" && p.k === "list" && ctx.bareLists === "ordered") return eqOrdered(gi, pi, ctx);
  return eqUnordered(gi, pi, ctx);
}

/**
 * Assignments to single Latin letters ("b = 7, a = 2") in the order of their names, which is the order of the
 * tuple they answer ((a, b), (x, y, z)); anything else in the order written.
 */
function assignmentOrder(items: Node[]): Node[] {
  const names = items.map((x) => (x.k === "rel" && x.ops.length === 1 && x.ops[0] === "=" && x.items[0]!.k === "sym" && /^[A-Za-z]$/.test(x.items[0]!.name) ? x.items[0]!.name : null));
  if (names.some((x) => x === null) || new Set(names).size !== names.length) return items;
  return items.map((x, k) => [names[k]!, x] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((x) => x[1]);
}

function matrixAsVector(m: Node & { k: "matrix" }): Node[] {
  if (m.rows.length === 1) return m.rows[0]!;
  if (m.rows.every((r) => r.length === 1)) return m.rows.map((r) => r[0]!);
  return [m];
}

function eqOrdered(a: Node[], b: Node[], ctx: Ctx): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, k) => eqNodes(x, b[k]!, ctx));
}

/** Multiset equality by bipartite matching, so {a, a, b} ≠ {a, b, b} and matching is order-free. */
function eqUnordered(a: Node[], b: Node[], ctx: Ctx): boolean {
  // Sets: repeated elements count once ("(3,17,3,7)" listed twice is one solution).
  a = dedupe(a, ctx);
  b = dedupe(b, ctx);
  if (a.length !== b.length) return false;
  const n = a.length;
  if (n > 300) return false;
  const memo = new Map<number, boolean>();
  const eq = (i: number, j: number): boolean => {
    const key = i * n + j;
    let v = memo.get(key);
    if (v === undefined) {
      const save = ctx.reason;
      v = eqNodes(a[i]!, b[j]!, ctx);
      ctx.reason = save;
      memo.set(key, v);
    }
    return v;
  };
  // Fast path: same order.
  let sameOrder = true;
  for (let i = 0; i < n && sameOrder; i++) sameOrder = eq(i, i);
  if (sameOrder) return true;
  const matchOfB = new Array<number>(n).fill(-1);
  const tryAssign = (i: number, seen: boolean[]): boolean => {
    for (let j = 0; j < n; j++) {
      if (seen[j] || !eq(i, j)) continue;
      seen[j] = true;
      if (matchOfB[j] === -1 || tryAssign(matchOfB[j]!, seen)) {
        matchOfB[j] = i;
        return true;
      }
    }
    return false;
  };
  for (let i = 0; i < n; i++) if (!tryAssign(i, new Array<boolean>(n).fill(false))) return false;
  return true;
}

function dedupe(xs: Node[], ctx: Ctx): Node[] {
  if (xs.length > 60) return xs;
  const out: Node[] = [];
  const keys = new Set<string>();
  for (const x of xs) {
    const k = nodeKey(x);
    if (keys.has(k)) continue;
    const save = ctx.reason;
    const dup = out.some((y) => eqNodes(y, x, ctx));
    ctx.reason = save;
    if (dup) continue;
    keys.add(k);
    out.push(x);
  }
  return out;
}

interface Piece {
  lo: Node;
  hi: Node;
  loOpen: boolean;
  hiOpen: boolean;
  loV: number;
  hiV: number;
}

/** Intervals and unions of intervals: compared as sorted lists of pieces, adjacent pieces merged. */
function eqPointSets(g: Node, p: Node, ctx: Ctx): boolean {
  const gp = pieces(g, ctx);
  const pp = pieces(p, ctx);
  if (gp === null || pp === null) {
    // A two-element tuple may be an open interval written with parentheses: (1, 3).
    return false;
  }
  if (gp.length !== pp.length) return false;
  return gp.every((x, k) => {
    const y = pp[k]!;
    return x.loOpen === y.loOpen && x.hiOpen === y.hiOpen && eqEndpoint(x.lo, y.lo, ctx) && eqEndpoint(x.hi, y.hi, ctx);
  });
}

function eqEndpoint(a: Node, b: Node, ctx: Ctx): boolean {
  const ia = infSign(a);
  const ib = infSign(b);
  if (ia !== 0 || ib !== 0) return ia === ib;
  return eqNodes(a, b, ctx);
}

function infSign(n: Node): number {
  if (n.k === "sym" && n.name === "inf") return 1;
  if (n.k === "neg" && n.arg.k === "sym" && n.arg.name === "inf") return -1;
  return 0;
}

function pieces(n: Node, ctx: Ctx): Piece[] | null {
  const raw: Node[] = [];
  const collect = (x: Node): boolean => {
    if (x.k === "union") return x.items.every(collect);
    if (x.k === "interval") {
      raw.push(x);
      return true;
    }
    if (x.k === "tuple" && x.items.length === 2 && x.open === "(" && x.close === ")") {
      raw.push({ k: "interval", lo: x.items[0]!, hi: x.items[1]!, loOpen: true, hiOpen: true });
      return true;
    }
    if (x.k === "set") {
      for (const it of x.items) raw.push({ k: "interval", lo: it, hi: it, loOpen: false, hiOpen: false });
      return true;
    }
    return false;
  };
  if (!collect(n)) return null;
  const out: Piece[] = [];
  for (const r of raw) {
    if (r.k !== "interval") return null;
    const loV = endpointValue(r.lo, ctx);
    const hiV = endpointValue(r.hi, ctx);
    if (loV === null || hiV === null) {
      // Symbolic endpoints: keep the written order.
      out.push({ lo: r.lo, hi: r.hi, loOpen: r.loOpen, hiOpen: r.hiOpen, loV: NaN, hiV: NaN });
      continue;
    }
    out.push({ lo: r.lo, hi: r.hi, loOpen: r.loOpen, hiOpen: r.hiOpen, loV, hiV });
  }
  if (out.every((x) => !Number.isNaN(x.loV))) {
    out.sort((a, b) => a.loV - b.loV || a.hiV - b.hiV);
    // Merge pieces that touch: [0, 1) ∪ [1, 2] = [0, 2].
    const merged: Piece[] = [];
    for (const x of out) {
      const last = merged[merged.length - 1];
      if (last !== undefined && (x.loV < last.hiV || (x.loV === last.hiV && !(x.loOpen && last.hiOpen)))) {
        if (x.hiV > last.hiV || (x.hiV === last.hiV && !x.hiOpen)) {
          last.hi = x.hi;
          last.hiV = x.hiV;
          last.hiOpen = x.hiOpen;
        }
        continue;
      }
      merged.push({ ...x });
    }
    return merged;
  }
  return out;
}

function endpointValue(n: Node, ctx: Ctx): number | null {
  const s = infSign(n);
  if (s !== 0) return s * Infinity;
  if (freeSymbols(n).size > 0) return null;
  const v = safeNumeric(n, new Map(), ctx);
  if (v === null || v.im !== 0) return null;
  return v.re;
}

// ---- text ---------------------------------------------------------------------------------------------------

function textOf(n: Node): string | null {
  switch (n.k) {
    case "text":
      return n.text;
    case "sym":
      return n.name;
    case "mul":
      if (n.args.every((a) => a.k === "sym" && a.name.length === 1)) return n.args.map((a) => (a as { name: string }).name).join("");
      return null;
    default:
      return null;
  }
}

/** Multiple-choice letters and words compare case-insensitively, ignoring parentheses: "(C)" = "C" = "c". */
export function normalizeText(s: string): string {
  let t = s.toLowerCase().replace(/\\text\{([^{}]*)\}/g, "$1").replace(/[\s$*]/g, "");
  t = t.replace(/^\\?\(+|\\?\)+$/g, "");
  t = t.replace(/^[.:;,]+|[.:;,]+$/g, "");
  return t;
}

function eqText(g: Node, p: Node): boolean {
  const a = textOf(g);
  const b = textOf(p);
  if (a === null || b === null) return false;
  return normalizeText(a) === normalizeText(b) && normalizeText(a) !== "";
}

// ---- scalars ------------------------------------------------------------------------------------------------

/** −28% is (−28)%: bring percent and degree marks to the top so the rules below see them. */
function liftMarks(n: Node): Node {
  if (n.k === "neg" && (n.arg.k === "pct" || n.arg.k === "deg")) return { k: n.arg.k, arg: { k: "neg", arg: n.arg.arg } };
  return n;
}

function eqScalars(g: Node, p: Node, ctx: Ctx): boolean {
  const ga = approxOf(liftApprox(g));
  const pa = approxOf(liftApprox(p));
  if (ga !== null && pa !== null) return eqNodes(ga.args[0]!, pa.args[0]!, ctx);
  if (pa !== null) return eqApprox(g, pa, ctx);
  if (ga !== null) return eqApprox(p, ga, ctx);
  g = liftMarks(g);
  p = liftMarks(p);
  // Percent: 28% matches 28 and 0.28; degrees: 90° matches 90 and π/2.
  if (g.k === "pct" || p.k === "pct") {
    if (g.k === "pct" && p.k === "pct") return scalarCore(g.arg, p.arg, ctx);
    if (g.k === "pct") return scalarCore(g.arg, p, ctx) || scalarCore({ k: "div", num: g.arg, den: num(rat(100n)) }, p, ctx);
    if (p.k === "pct") return scalarCore(g, p.arg, ctx) || scalarCore(g, { k: "div", num: p.arg, den: num(rat(100n)) }, ctx);
  }
  if (g.k === "deg" || p.k === "deg") {
    if (g.k === "deg" && p.k === "deg") return scalarCore(g.arg, p.arg, ctx);
    const toRad = (x: Node): Node => ({ k: "div", num: { k: "mul", args: [x, sym("pi")] }, den: num(rat(180n)) });
    if (g.k === "deg") return scalarCore(g.arg, p, ctx) || (mentionsPi(p) && scalarCore(toRad(g.arg), p, ctx));
    if (p.k === "deg") return scalarCore(g, p.arg, ctx) || (mentionsPi(g) && scalarCore(g, toRad(p.arg), ctx));
  }
  return scalarCore(g, p, ctx);
}

function mentionsPi(n: Node): boolean {
  return nodeKey(n).includes("pi");
}

function scalarCore(a: Node, b: Node, ctx: Ctx): boolean {
  if (!isScalar(a) || !isScalar(b)) return false;
  if (nodeKey(a) === nodeKey(b)) {
    ctx.reason = "structure";
    return true;
  }
  const float = containsFloat(a) || containsFloat(b);
  const ea = exactValue(a, ctx.budget);
  const eb = ea === null ? null : exactValue(b, ctx.budget);
  if (ea !== null && eb !== null) {
    ctx.reason = "exact";
    if (ratEq(ea, eb)) return true;
    return float && roundedEqualExact(ea, eb, ctx.floatRounding);
  }
  let vars = [...new Set([...freeSymbols(a), ...freeSymbols(b)])].sort();
  if (!ctx.strict) {
    const va = [...freeSymbols(a)].sort();
    const vb = [...freeSymbols(b)].sort();
    if (va.length === vb.length && va.some((x, k) => x !== vb[k])) {
      b = renameSymbols(b, new Map(vb.map((x, k) => [x, va[k]!])));
      vars = va;
    }
  }
  ctx.reason = "numeric";
  let valid = 0;
  const points = samplePoints(vars, vars.length === 0 ? 1 : 7);
  for (const env of points) {
    const sa: NumState = { unstable: false, scale: 0 };
    const sb: NumState = { unstable: false, scale: 0 };
    const va = safeNumeric(a, env, ctx, sa);
    const vb = safeNumeric(b, env, ctx, sb);
    if (va === null || vb === null) {
      if (vars.length === 0) return false;
      continue;
    }
    if (sa.unstable || sb.unstable) return false;
    const finiteA = Number.isFinite(va.re) && Number.isFinite(va.im);
    const finiteB = Number.isFinite(vb.re) && Number.isFinite(vb.im);
    if (!finiteA || !finiteB) {
      if (vars.length === 0) return false;
      continue;
    }
    // Outside one side's real domain (ln(x²) against 2 ln x at x < 0) the point says nothing.
    if (vars.length > 0 && isRealValue(va) !== isRealValue(vb)) continue;
    const scale = Math.max(sa.scale, sb.scale, Math.hypot(va.re, va.im), Math.hypot(vb.re, vb.im));
    const ok = float && vars.length === 0 ? roundedEqualFloat(va, vb, ctx.floatRounding) : closeEnough(va, vb, scale, vars.length === 0 ? 1e-10 : 1e-8);
    if (!ok) return false;
    valid++;
  }
  return valid >= (vars.length === 0 ? 1 : 3);
}

function isRealValue(z: C): boolean {
  return Math.abs(z.im) <= 1e-12 * Math.max(1, Math.abs(z.re));
}

function closeEnough(a: C, b: C, scale: number, rel: number): boolean {
  const d = Math.hypot(a.re - b.re, a.im - b.im);
  const m = Math.max(Math.hypot(a.re, a.im), Math.hypot(b.re, b.im));
  return d <= rel * m || d <= 1e-11 * scale;
}

/** |a − b| within half a unit in the last kept decimal place, or agreeing to 10 significant digits. */
function roundedEqualExact(a: Rational, b: Rational, digits: number): boolean {
  const diff = ratSub(a, b);
  const absDiff = diff.n < 0n ? ratNeg(diff) : diff;
  const tol = rat(5n, 10n ** BigInt(digits + 1));
  if (ratCmp(absDiff, tol) <= 0) return true;
  const mag = a.n < 0n ? ratNeg(a) : a;
  return ratCmp(absDiff, { n: mag.n, d: mag.d * 10n ** 10n }) <= 0;
}

function roundedEqualFloat(a: C, b: C, digits: number): boolean {
  const tol = 0.5 * 10 ** -digits * (1 + 1e-9);
  const m = Math.max(Math.hypot(a.re, a.im), Math.hypot(b.re, b.im));
  const ok = (x: number, y: number): boolean => Math.abs(x - y) <= tol || Math.abs(x - y) <= 1e-10 * m;
  return ok(a.re, b.re) && ok(a.im, b.im);
}

function safeNumeric(n: Node, env: ReadonlyMap<string, C>, ctx: Ctx, st: NumState = { unstable: false, scale: 0 }): C | null {
  try {
    return numericValue(n, env, ctx.budget, st);
  } catch (e) {
    if (e instanceof NotNumeric) return null;
    throw e;
  }
}

function renameSymbols(n: Node, map: Map<string, string>): Node {
  return mapLeaves(n, (x) => (x.k === "sym" && map.has(x.name) ? sym(map.get(x.name)!) : x));
}

/** x replaced by `value` throughout n. */
function substitute(n: Node, x: string, value: Node): Node {
  return mapLeaves(n, (leaf) => (leaf.k === "sym" && leaf.name === x ? value : leaf));
}

/** A copy of a scalar expression with its symbols and numbers mapped by f (other leaves and collections kept). */
function mapLeaves(n: Node, f: (leaf: Node) => Node): Node {
  const walk = (x: Node): Node => {
    switch (x.k) {
      case "sym":
      case "num":
        return f(x);
      case "add":
      case "mul":
        return { k: x.k, args: x.args.map(walk) };
      case "fn":
        return { k: "fn", name: x.name, args: x.args.map(walk) };
      case "neg":
      case "pct":
      case "deg":
        return { k: x.k, arg: walk(x.arg) };
      case "pm":
        return { k: "pm", arg: walk(x.arg), minusFirst: x.minusFirst };
      case "div":
        return { k: "div", num: walk(x.num), den: walk(x.den) };
      case "pow":
        return { k: "pow", base: walk(x.base), exp: walk(x.exp) };
      default:
        return x;
    }
  };
  return walk(n);
}

/**
 * Sample points for the variables: a fixed, seeded sequence (so verdicts are reproducible), spread over
 * positive and negative values of moderate size and never at small integers, where different expressions
 * often coincide.
 */
function samplePoints(vars: string[], count: number): Map<string, C>[] {
  const rng = new Rng(0x5eed + vars.length);
  const out: Map<string, C>[] = [];
  for (let t = 0; t < count; t++) {
    const env = new Map<string, C>();
    vars.forEach((v, j) => {
      const u = rng.nextUint32() / 2 ** 32;
      const mag = 0.35 + 2.3 * u;
      // Every third point (shifted per variable) is negative, so |x| and x, or √(x²) and x, are told apart.
      const neg = (t + j) % 3 === 2;
      env.set(v, { re: neg ? -mag : mag, im: 0 });
    });
    out.push(env);
  }
  return out;
}

export { ratAdd, ratFromDecimal, ratToNumber };
