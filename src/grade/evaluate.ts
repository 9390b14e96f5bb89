/**
 * Evaluation of expression trees: exactly over the rationals where the value is rational (so 1/2004! and
 * 1/2006! differ however small they are), and numerically over the complex numbers otherwise — at the
 * variables' sample points when there are variables. Both charge the budget; numeric evaluation flags results
 * that lost their meaning to overflow or underflow so the caller does not trust them.
 */
import type { Node } from "./ast.js";
import { Budget, BudgetExceeded } from "./budget.js";
import {
  ONE, ZERO, intRoot, rat, ratAdd, ratCmp, ratDiv, ratIsInt, ratMul, ratNeg, ratPowInt, ratRoot, ratToNumber, type Rational,
} from "./rational.js";

/** Largest n for which n! is computed exactly. */
const MAX_EXACT_FACTORIAL = 5000n;

/** Exact rational value, or null when the value is not (cheaply, provably) rational. */
export function exactValue(n: Node, budget: Budget): Rational | null {
  try {
    return exact(n, budget);
  } catch (e) {
    if (e instanceof BudgetExceeded && e.why === "size") return null;
    if (e instanceof RangeError) return null;
    throw e;
  }
}

function exact(n: Node, budget: Budget): Rational | null {
  budget.tick();
  switch (n.k) {
    case "num":
      return n.v;
    case "add": {
      let acc = ZERO;
      for (const a of n.args) {
        const v = exact(a, budget);
        if (v === null) return null;
        acc = ratAdd(acc, v, budget);
      }
      return acc;
    }
    case "mul": {
      let acc = ONE;
      for (const a of n.args) {
        const v = exact(a, budget);
        if (v === null) return null;
        acc = ratMul(acc, v, budget);
      }
      return acc;
    }
    case "neg": {
      const v = exact(n.arg, budget);
      return v === null ? null : ratNeg(v);
    }
    case "div": {
      const a = exact(n.num, budget);
      if (a === null) return null;
      const b = exact(n.den, budget);
      if (b === null) return null;
      return ratDiv(a, b, budget);
    }
    case "pow": {
      const b = exact(n.base, budget);
      if (b === null) return null;
      const e = exact(n.exp, budget);
      if (e === null) return null;
      if (ratIsInt(e)) return ratPowInt(b, e.n, budget);
      if (e.d > 64n) return null;
      const root = ratRoot(b, Number(e.d), budget);
      return root === null ? null : ratPowInt(root, e.n, budget);
    }
    case "pct": {
      const v = exact(n.arg, budget);
      return v === null ? null : ratDiv(v, rat(100n));
    }
    case "deg":
      return exact(n.arg, budget);
    case "fn":
      return exactFunction(n.name, n.args, budget);
    default:
      return null;
  }
}

function exactInt(n: Node, budget: Budget): bigint | null {
  const v = exact(n, budget);
  return v !== null && v.d === 1n ? v.n : null;
}

function exactFunction(name: string, args: Node[], budget: Budget): Rational | null {
  switch (name) {
    case "sqrt": {
      const x = exact(args[0]!, budget);
      const k = exactInt(args[1]!, budget);
      if (x === null || k === null || k < 1n || k > 64n) return null;
      return ratRoot(x, Number(k), budget);
    }
    case "fact":
    case "dfact": {
      const k = exactInt(args[0]!, budget);
      if (k === null || k < 0n || k > MAX_EXACT_FACTORIAL) return null;
      const step = name === "fact" ? 1n : 2n;
      let p = 1n;
      for (let i = k; i > 1n; i -= step) {
        p *= i;
        budget.tick(4);
      }
      return rat(p, 1n, budget);
    }
    case "binom": {
      const a = exactInt(args[0]!, budget);
      const b = exactInt(args[1]!, budget);
      if (a === null || b === null || a < 0n || b < 0n) return null;
      if (b > a) return ZERO;
      const k = b < a - b ? b : a - b;
      if (k > 20000n) return null;
      let p = 1n;
      for (let i = 0n; i < k; i++) {
        p = (p * (a - i)) / (i + 1n);
        budget.tick(4);
      }
      return rat(p, 1n, budget);
    }
    case "abs": {
      const v = exact(args[0]!, budget);
      return v === null ? null : v.n < 0n ? ratNeg(v) : v;
    }
    case "floor":
    case "ceil": {
      const v = exact(args[0]!, budget);
      if (v === null) return null;
      let q = v.n / v.d;
      if (v.n < 0n && q * v.d !== v.n) q -= 1n; // BigInt division truncates toward zero
      if (name === "ceil" && q * v.d !== v.n) q += 1n;
      return rat(q);
    }
    case "mod": {
      const a = exactInt(args[0]!, budget);
      const m = exactInt(args[1]!, budget);
      if (a === null || m === null || m === 0n) return null;
      return rat(((a % m) + m) % m);
    }
    case "gcd":
    case "lcm": {
      const vals = args.map((a) => exactInt(a, budget));
      if (vals.some((v) => v === null) || vals.length === 0) return null;
      let acc = vals[0]! < 0n ? -vals[0]! : vals[0]!;
      for (const v0 of vals.slice(1)) {
        const v = v0! < 0n ? -v0! : v0!;
        const g = gcdBig(acc, v);
        acc = name === "gcd" ? g : g === 0n ? 0n : (acc / g) * v;
      }
      return rat(acc);
    }
    case "max":
    case "min": {
      const vals = args.map((a) => exact(a, budget));
      if (vals.some((v) => v === null) || vals.length === 0) return null;
      return vals.reduce((a, b) => ((ratCmp(a!, b!) > 0) === (name === "max") ? a : b))!;
    }
    default:
      return null;
  }
}

function gcdBig(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

// ---- numeric evaluation over the complex numbers ------------------------------------------------------------

export interface C {
  re: number;
  im: number;
}

export class NotNumeric extends Error {}

export interface NumState {
  /** Set when an intermediate result overflowed or underflowed: the final value cannot be trusted. */
  unstable: boolean;
  /** Largest magnitude seen along the way: the scale of rounding noise in the result. */
  scale: number;
}

const cx = (re: number, im = 0): C => ({ re, im });
const isReal = (z: C): boolean => z.im === 0;
const cabs = (z: C): number => Math.hypot(z.re, z.im);
const cadd = (a: C, b: C): C => cx(a.re + b.re, a.im + b.im);
const cmul = (a: C, b: C): C => (a.im === 0 && b.im === 0 ? cx(a.re * b.re) : cx(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re));
function cdiv(a: C, b: C): C {
  if (a.im === 0 && b.im === 0) return cx(a.re / b.re);
  const d = b.re * b.re + b.im * b.im;
  return cx((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d);
}
const cexp = (z: C): C => (z.im === 0 ? cx(Math.exp(z.re)) : cx(Math.exp(z.re) * Math.cos(z.im), Math.exp(z.re) * Math.sin(z.im)));
const clog = (z: C): C => (z.im === 0 && z.re > 0 ? cx(Math.log(z.re)) : cx(Math.log(cabs(z)), Math.atan2(z.im, z.re)));
function csqrt(z: C): C {
  if (z.im === 0) return z.re >= 0 ? cx(Math.sqrt(z.re)) : cx(0, Math.sqrt(-z.re));
  const r = cabs(z);
  const re = Math.sqrt((r + z.re) / 2);
  const im = Math.sign(z.im) * Math.sqrt((r - z.re) / 2);
  return cx(re, im);
}
function csin(z: C): C {
  return z.im === 0 ? cx(Math.sin(z.re)) : cx(Math.sin(z.re) * Math.cosh(z.im), Math.cos(z.re) * Math.sinh(z.im));
}
function ccos(z: C): C {
  return z.im === 0 ? cx(Math.cos(z.re)) : cx(Math.cos(z.re) * Math.cosh(z.im), -Math.sin(z.re) * Math.sinh(z.im));
}

/** Real-valued power with the school convention for odd roots of negatives: (-8)^(1/3) = -2. */
function cpow(base: C, exp: C, expExact: Rational | null): C {
  if (isReal(base) && isReal(exp)) {
    const b = base.re;
    const e = exp.re;
    if (b >= 0 || Number.isInteger(e)) return cx(Math.pow(b, e));
    if (expExact !== null && expExact.d % 2n === 1n) {
      const mag = Math.pow(-b, e);
      return cx(expExact.n % 2n === 0n ? mag : -mag);
    }
  }
  if (base.re === 0 && base.im === 0) return exp.re > 0 ? cx(0) : cx(Infinity);
  if (isReal(exp) && Number.isInteger(exp.re) && Math.abs(exp.re) <= 64) {
    let r = cx(1);
    for (let k = 0; k < Math.abs(exp.re); k++) r = cmul(r, base);
    return exp.re < 0 ? cdiv(cx(1), r) : r;
  }
  return cexp(cmul(exp, clog(base)));
}

/** Lanczos approximation of Γ(x) for real x. */
function gamma(x: number): number {
  if (Number.isInteger(x) && x <= 0) return NaN;
  if (x < 0.5) return Math.PI / (Math.sin(Math.PI * x) * gamma(1 - x));
  if (Number.isInteger(x) && x <= 171) {
    let p = 1;
    for (let k = 2; k < x; k++) p *= k;
    return p;
  }
  const g = 7;
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  x -= 1;
  let a = c[0]!;
  const t = x + g + 0.5;
  for (let k = 1; k < g + 2; k++) a += c[k]! / (x + k);
  return Math.sqrt(2 * Math.PI) * Math.pow(t, x + 0.5) * Math.exp(-t) * a;
}

/** A fixed smooth function standing in for an unknown f, g, h: the same name always gives the same values. */
function unknownFunction(name: string, args: C[]): C {
  let h = 2166136261;
  for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 16777619) >>> 0;
  const a = 0.5 + (h % 1000) / 1000;
  const b = ((h >>> 10) % 1000) / 1000;
  let acc = cx(b);
  args.forEach((z, k) => {
    acc = cadd(acc, cadd(csin(cmul(cx(a + k * 0.37), z)), cmul(cx(0.3 + k * 0.11), z)));
  });
  return acc;
}

export function numericValue(n: Node, env: ReadonlyMap<string, C>, budget: Budget, state: NumState): C {
  const z = numeric(n, env, budget, state);
  return z;
}

function track(z: C, state: NumState, inputsFinite: boolean, inputsNonZero: boolean): C {
  const m = cabs(z);
  if (!Number.isFinite(m)) {
    if (inputsFinite) state.unstable = true;
  } else {
    if (m > state.scale) state.scale = m;
    if (inputsNonZero && m < 1e-280) state.unstable = true;
  }
  return z;
}

function numeric(n: Node, env: ReadonlyMap<string, C>, budget: Budget, st: NumState): C {
  budget.tick();
  switch (n.k) {
    case "num": {
      const v = ratToNumber(n.v);
      if (!Number.isFinite(v) || (v === 0 && n.v.n !== 0n)) {
        // Huge literals: scale through the exact ratio.
        st.unstable = true;
      }
      return track(cx(v), st, true, false);
    }
    case "sym": {
      switch (n.name) {
        case "pi":
          return cx(Math.PI);
        case "e":
          return cx(Math.E);
        case "i":
          return cx(0, 1);
        case "inf":
          return cx(Infinity);
      }
      const v = env.get(n.name);
      if (v === undefined) throw new NotNumeric(`unbound ${n.name}`);
      return v;
    }
    case "add": {
      let acc = cx(0);
      for (const a of n.args) acc = cadd(acc, numeric(a, env, budget, st));
      return track(acc, st, false, false);
    }
    case "mul": {
      let acc = cx(1);
      let finite = true;
      let nonZero = true;
      for (const a of n.args) {
        const v = numeric(a, env, budget, st);
        finite &&= Number.isFinite(v.re) && Number.isFinite(v.im);
        nonZero &&= v.re !== 0 || v.im !== 0;
        acc = cmul(acc, v);
      }
      return track(acc, st, finite, nonZero);
    }
    case "neg": {
      const v = numeric(n.arg, env, budget, st);
      return cx(-v.re, -v.im);
    }
    case "div": {
      const a = numeric(n.num, env, budget, st);
      const b = numeric(n.den, env, budget, st);
      return track(cdiv(a, b), st, isFiniteC(a) && isFiniteC(b) && cabs(b) !== 0, cabs(a) !== 0);
    }
    case "pow": {
      const b = numeric(n.base, env, budget, st);
      const e = numeric(n.exp, env, budget, st);
      const ee = n.exp.k === "num" || n.exp.k === "div" || n.exp.k === "neg" ? exactValue(n.exp, budget) : null;
      return track(cpow(b, e, ee), st, isFiniteC(b) && isFiniteC(e) && cabs(b) !== 0, cabs(b) !== 0);
    }
    case "pct":
      return cdiv(numeric(n.arg, env, budget, st), cx(100));
    case "deg":
      return numeric(n.arg, env, budget, st);
    case "fn":
      return numericFunction(n.name, n.args, env, budget, st);
    default:
      throw new NotNumeric(`not a number: ${n.k}`);
  }
}

const isFiniteC = (z: C): boolean => Number.isFinite(z.re) && Number.isFinite(z.im);

function realArg(z: C): number {
  if (Math.abs(z.im) > 1e-12 * Math.max(1, Math.abs(z.re))) return NaN;
  return z.re;
}

function numericFunction(name: string, args: Node[], env: ReadonlyMap<string, C>, budget: Budget, st: NumState): C {
  const v = (k: number): C => numeric(args[k]!, env, budget, st);
  if (name.startsWith("apply:")) return unknownFunction(name, args.map((_, k) => v(k)));
  switch (name) {
    case "sqrt": {
      const x = v(0);
      const k = args[1]!.k === "num" ? Number((args[1] as { v: Rational }).v.n) : realArg(v(1));
      if (k === 2) return csqrt(x);
      if (!Number.isFinite(k) || k === 0) return cx(NaN);
      return cpow(x, cx(1 / k), Number.isInteger(k) ? rat(1n, BigInt(k)) : null);
    }
    case "sin":
      return csin(v(0));
    case "cos":
      return ccos(v(0));
    case "tan":
      return cdiv(csin(v(0)), ccos(v(0)));
    case "sec":
      return cdiv(cx(1), ccos(v(0)));
    case "csc":
      return cdiv(cx(1), csin(v(0)));
    case "cot":
      return cdiv(ccos(v(0)), csin(v(0)));
    case "arcsin":
      return cx(Math.asin(realArg(v(0))));
    case "arccos":
      return cx(Math.acos(realArg(v(0))));
    case "arctan":
      return cx(Math.atan(realArg(v(0))));
    case "arccot":
      return cx(Math.PI / 2 - Math.atan(realArg(v(0))));
    case "arcsec":
      return cx(Math.acos(1 / realArg(v(0))));
    case "arccsc":
      return cx(Math.asin(1 / realArg(v(0))));
    case "sinh":
      return cx(Math.sinh(realArg(v(0))));
    case "cosh":
      return cx(Math.cosh(realArg(v(0))));
    case "tanh":
      return cx(Math.tanh(realArg(v(0))));
    case "coth":
      return cx(1 / Math.tanh(realArg(v(0))));
    case "sech":
      return cx(1 / Math.cosh(realArg(v(0))));
    case "csch":
      return cx(1 / Math.sinh(realArg(v(0))));
    case "arsinh":
      return cx(Math.asinh(realArg(v(0))));
    case "arcosh":
      return cx(Math.acosh(realArg(v(0))));
    case "artanh":
      return cx(Math.atanh(realArg(v(0))));
    case "ln":
      return clog(v(0));
    case "log":
      // \log without a base is the natural logarithm (as in SymPy); \log_b x has args [x, b].
      return args.length > 1 ? cdiv(clog(v(0)), clog(v(1))) : clog(v(0));
    case "log10":
      return cdiv(clog(v(0)), cx(Math.LN10));
    case "abs":
    case "norm":
      return cx(cabs(v(0)));
    case "floor":
      return cx(Math.floor(realArg(v(0))));
    case "ceil":
      return cx(Math.ceil(realArg(v(0))));
    case "sgn":
    case "sign":
      return cx(Math.sign(realArg(v(0))));
    case "fact": {
      const x = realArg(v(0));
      const r = gamma(x + 1);
      if (!Number.isFinite(r) && Number.isFinite(x) && !(Number.isInteger(x) && x < 0)) st.unstable = true;
      return cx(r);
    }
    case "dfact": {
      const x = realArg(v(0));
      if (!Number.isInteger(x) || x < -1 || x > 300) {
        if (x > 300) st.unstable = true;
        return cx(x > 300 ? Infinity : NaN);
      }
      let p = 1;
      for (let k = x; k > 1; k -= 2) p *= k;
      return cx(p);
    }
    case "binom": {
      const a = realArg(v(0));
      const b = realArg(v(1));
      if (Number.isInteger(a) && Number.isInteger(b) && a >= 0 && b >= 0) {
        if (b > a) return cx(0);
        let p = 1;
        const k = Math.min(b, a - b);
        if (k > 2000) {
          st.unstable = true;
          return cx(Infinity);
        }
        for (let i = 0; i < k; i++) p = (p * (a - i)) / (i + 1);
        return track(cx(p), st, true, true);
      }
      return cx(gamma(a + 1) / (gamma(b + 1) * gamma(a - b + 1)));
    }
    case "max":
    case "min": {
      const xs = args.map((_, k) => realArg(v(k)));
      return cx(name === "max" ? Math.max(...xs) : Math.min(...xs));
    }
    case "gcd":
    case "lcm":
    case "mod": {
      const xs = args.map((a) => {
        const e = exactValue(a, budget);
        if (e === null || e.d !== 1n) throw new NotNumeric(`${name} of a non-integer`);
        return e;
      });
      const r = exactFunction(name, xs.map((x) => ({ k: "num", v: x, float: false }) as Node), budget);
      if (r === null) throw new NotNumeric(name);
      return cx(Number(r.n) / Number(r.d));
    }
    case "Re":
      return cx(v(0).re);
    case "Im":
      return cx(v(0).im);
    case "arg": {
      const z = v(0);
      return cx(Math.atan2(z.im, z.re));
    }
    case "cis": {
      const t = v(0);
      return cexp(cmul(cx(0, 1), t));
    }
    default:
      // Sums, products, integrals, limits, decorations: compared by structure only.
      throw new NotNumeric(`no numeric value for ${name}`);
  }
}

export { cabs, intRoot };
