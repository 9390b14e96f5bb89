/**
 * Exact rational numbers on BigInt, with size limits: an exact answer is worth having only while it stays
 * cheap, so operations that would create huge numbers throw BudgetExceeded("size") and the caller falls
 * back to floating point.
 */
import { Budget, BudgetExceeded } from "./budget.js";

/** Largest numerator/denominator kept exactly (bits). 2006! has about 19,000 bits. */
export const MAX_EXACT_BITS = 120_000;

export interface Rational {
  readonly n: bigint;
  /** Always positive. */
  readonly d: bigint;
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

export function gcd(a: bigint, b: bigint): bigint {
  a = abs(a);
  b = abs(b);
  while (b !== 0n) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

export function bitLength(x: bigint): number {
  x = abs(x);
  if (x === 0n) return 0;
  // toString(16) is linear in the size and far cheaper than repeated shifts for big numbers.
  const hex = x.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0]!, 16)));
}

function checkSize(x: bigint, budget?: Budget): void {
  // Fast path: numbers below 2^1000 need no measuring.
  if (x < 1n << 1000n && x > -(1n << 1000n)) return;
  const bits = bitLength(x);
  budget?.tick(bits >> 6);
  if (bits > MAX_EXACT_BITS) throw new BudgetExceeded("size");
}

export function rat(n: bigint, d: bigint = 1n, budget?: Budget): Rational {
  if (d === 0n) throw new RangeError("division by zero");
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  checkSize(n, budget);
  checkSize(d, budget);
  if (d !== 1n) {
    const g = gcd(n, d);
    if (g !== 1n) {
      n /= g;
      d /= g;
    }
  }
  return { n, d };
}

export const ZERO = rat(0n);
export const ONE = rat(1n);

export function ratAdd(a: Rational, b: Rational, budget?: Budget): Rational {
  if (a.d === b.d) return rat(a.n + b.n, a.d, budget);
  return rat(a.n * b.d + b.n * a.d, a.d * b.d, budget);
}
export function ratSub(a: Rational, b: Rational, budget?: Budget): Rational {
  return ratAdd(a, { n: -b.n, d: b.d }, budget);
}
export function ratMul(a: Rational, b: Rational, budget?: Budget): Rational {
  return rat(a.n * b.n, a.d * b.d, budget);
}
export function ratDiv(a: Rational, b: Rational, budget?: Budget): Rational {
  if (b.n === 0n) throw new RangeError("division by zero");
  return rat(a.n * b.d, a.d * b.n, budget);
}
export function ratNeg(a: Rational): Rational {
  return { n: -a.n, d: a.d };
}
export function ratEq(a: Rational, b: Rational): boolean {
  return a.n === b.n && a.d === b.d;
}
export function ratIsInt(a: Rational): boolean {
  return a.d === 1n;
}
export function ratCmp(a: Rational, b: Rational): number {
  const l = a.n * b.d;
  const r = b.n * a.d;
  return l < r ? -1 : l > r ? 1 : 0;
}

/** Integer power; refuses results beyond MAX_EXACT_BITS before computing them. */
export function ratPowInt(a: Rational, e: bigint, budget?: Budget): Rational {
  if (e === 0n) return ONE;
  if (a.n === 0n) {
    if (e < 0n) throw new RangeError("division by zero");
    return ZERO;
  }
  const absE = e < 0n ? -e : e;
  if ((a.n === 1n || a.n === -1n) && a.d === 1n) {
    return rat(a.n === -1n && absE % 2n === 1n ? -1n : 1n);
  }
  const bits = Math.max(bitLength(a.n), bitLength(a.d));
  if (absE > BigInt(MAX_EXACT_BITS) || Number(absE) * (bits - 1) > MAX_EXACT_BITS) throw new BudgetExceeded("size");
  budget?.tick(Math.ceil((Number(absE) * bits) / 64));
  const n = a.n ** absE;
  const d = a.d ** absE;
  return e < 0n ? rat(d, n, budget) : rat(n, d, budget);
}

/** Exact k-th root if the rational is a perfect k-th power, else null. */
export function ratRoot(a: Rational, k: number, budget?: Budget): Rational | null {
  if (k === 1) return a;
  if (a.n < 0n) {
    if (k % 2 === 0) return null;
    const r = ratRoot(ratNeg(a), k, budget);
    return r ? ratNeg(r) : null;
  }
  const rn = intRoot(a.n, k, budget);
  const rd = intRoot(a.d, k, budget);
  return rn !== null && rd !== null ? rat(rn, rd) : null;
}

/** Exact integer k-th root of x ≥ 0 or null (Newton's method on BigInt). */
export function intRoot(x: bigint, k: number, budget?: Budget): bigint | null {
  if (x < 2n) return x;
  const K = BigInt(k);
  // Initial guess from floating point, refined by Newton iterations.
  const bits = bitLength(x);
  let r = 1n << BigInt(Math.ceil(bits / k) + 1);
  for (let i = 0; i < 10_000; i++) {
    budget?.tick(4);
    const next = ((K - 1n) * r + x / r ** (K - 1n)) / K;
    if (next >= r) break;
    r = next;
  }
  for (let c = r - 1n < 0n ? 0n : r - 1n; c <= r + 1n; c++) if (c ** K === x) return c;
  return null;
}

export function ratToNumber(a: Rational): number {
  const n = Number(a.n);
  const d = Number(a.d);
  if (Number.isFinite(n) && Number.isFinite(d)) return n / d;
  // Scale both down to keep the quotient meaningful when either overflows a double.
  const shift = BigInt(Math.max(bitLength(a.n), bitLength(a.d)) - 1000);
  const ns = Number(a.n >> (shift > 0n ? shift : 0n));
  const ds = Number(a.d >> (shift > 0n ? shift : 0n));
  if (ds === 0) return a.n < 0n ? -Infinity : Infinity;
  return ns / ds;
}

/** log10 of |a|, accurate for any size (used to compare magnitudes that no double can hold). */
export function ratLog10Abs(a: Rational): number {
  return bigLog10(abs(a.n)) - bigLog10(a.d);
}

function bigLog10(x: bigint): number {
  if (x === 0n) return -Infinity;
  const s = x.toString();
  const head = Number(s.slice(0, 17));
  return Math.log10(head) + (s.length - Math.min(17, s.length));
}

/** Parses decimal text such as "12", "-3.25", ".5", "1e-3" exactly. */
export function ratFromDecimal(text: string): Rational | null {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,6}))?$/.exec(text);
  if (!m) return null;
  const intPart = m[2] ?? "";
  const frac = m[3] ?? "";
  if (intPart === "" && frac === "") return null;
  let n = BigInt((intPart || "0") + frac);
  let d = 10n ** BigInt(frac.length);
  const exp = m[4] ? Number(m[4]) : 0;
  if (Math.abs(exp) > 5000) return null;
  if (exp > 0) n *= 10n ** BigInt(exp);
  else if (exp < 0) d *= 10n ** BigInt(-exp);
  if (m[1] === "-") n = -n;
  return rat(n, d);
}

export function ratToString(a: Rational): string {
  return a.d === 1n ? a.n.toString() : `${a.n}/${a.d}`;
}
