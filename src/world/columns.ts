/**
 * Column-by-column computation: the "decomposed" way to do one operation. Every column combines single digits
 * (plus a carry or borrow), which a small model learns reliably, while computing a big operation in one go
 * (direct) needs the whole carry chain at once, which it does not.
 */
import type { Op } from "./expression.js";

export const PLACE_NAMES = ["ones", "tens", "hundreds", "thousands", "ten-thousands", "hundred-thousands"] as const;
export type PlaceName = (typeof PLACE_NAMES)[number];

/** One column: `calc` is the arithmetic as written (`2+5+1=8`, `17-1-8=8`, `4*6+4=28`). */
export interface Column {
  place: PlaceName;
  calc: string;
  /** The digit written into the result for this column (the last column writes its whole value). */
  digit: number;
  /** Carry (addition, multiplication) or borrow (subtraction) passed to the next column. */
  carry: number;
  /** The column's full value (`15` for 9+6). */
  value: number;
}

function digitsLsbFirst(n: number): number[] {
  return String(n)
    .split("")
    .reverse()
    .map((c) => Number(c));
}

/** Whether an operation has anything to decompose (at least one multi-digit operand). */
export function canDecompose(op: Op, a: number, b: number): boolean {
  if (op === "*") return Math.max(a, b) >= 10;
  return Math.max(a, b) >= 10;
}

/** The columns for `a op b`; multiplication needs a one-digit factor on either side. */
export function columnsFor(op: Op, a: number, b: number): Column[] {
  if (op === "+") return addColumns(a, b);
  if (op === "-") return subColumns(a, b);
  return mulColumns(a, b);
}

function addColumns(a: number, b: number): Column[] {
  const da = digitsLsbFirst(a);
  const db = digitsLsbFirst(b);
  const n = Math.max(da.length, db.length);
  const out: Column[] = [];
  let carry = 0;
  for (let i = 0; i < n; i++) {
    const x = da[i] ?? 0;
    const y = db[i] ?? 0;
    const s = x + y + carry;
    const calc = `${x}+${y}${carry ? "+1" : ""}=${s}`;
    carry = s >= 10 ? 1 : 0;
    out.push({ place: PLACE_NAMES[i], calc, digit: i === n - 1 ? s : s % 10, carry, value: s });
  }
  return out;
}

function subColumns(a: number, b: number): Column[] {
  if (b > a) throw new RangeError(`column subtraction needs a ≥ b, got ${a}-${b}`);
  const da = digitsLsbFirst(a);
  const db = digitsLsbFirst(b);
  const out: Column[] = [];
  let borrow = 0;
  for (let i = 0; i < da.length; i++) {
    const x = da[i];
    const y = db[i] ?? 0;
    const needs = x - borrow - y < 0;
    const top = needs ? x + 10 : x;
    const d = top - borrow - y;
    const calc = `${top}${borrow ? "-1" : ""}-${y}=${d}`;
    borrow = needs ? 1 : 0;
    out.push({ place: PLACE_NAMES[i], calc, digit: d, carry: borrow, value: d });
  }
  return out;
}

function mulColumns(a: number, b: number): Column[] {
  const digitOnLeft = a < 10 && b >= 10;
  const m = digitOnLeft ? a : b;
  const big = digitOnLeft ? b : a;
  if (m >= 10) throw new RangeError(`column multiplication needs a one-digit factor, got ${a}*${b}`);
  const d = digitsLsbFirst(big);
  const out: Column[] = [];
  let carry = 0;
  for (let i = 0; i < d.length; i++) {
    const p = d[i] * m + carry;
    const prod = digitOnLeft ? `${m}*${d[i]}` : `${d[i]}*${m}`;
    const calc = `${prod}${carry ? `+${carry}` : ""}=${p}`;
    carry = Math.floor(p / 10);
    out.push({ place: PLACE_NAMES[i], calc, digit: i === d.length - 1 ? p : p % 10, carry, value: p });
  }
  return out;
}

/** The result the columns spell out (last column whole, then the others' digits), leading zeros dropped. */
export function columnsResult(cols: readonly Column[]): number {
  let s = "";
  for (let i = cols.length - 1; i >= 0; i--) s += String(cols[i].digit);
  return Number(s);
}

/** Column phrasings: terse (`ones 9+6=15`) or wordy (`ones: 9+6=15, write 5 carry 1`). */
export const COLUMN_STYLES = 2;

export function renderColumns(cols: readonly Column[], style: number): string {
  if (style === 0) return cols.map((c) => `${c.place} ${c.calc}`).join(", ");
  return cols
    .map((c, i) => {
      const last = i === cols.length - 1;
      const note = last ? "" : `, write ${c.value % 10}${c.carry ? ` carry ${c.carry}` : ""}`;
      return `${c.place}: ${c.calc}${note}`;
    })
    .join("; ");
}

const PLACE_ALT = PLACE_NAMES.slice()
  .sort((x, y) => y.length - x.length)
  .join("|");
const CALC = String.raw`\d+(?:[-+*]\d+)+=\d+`;
/** One column in either style. */
export const COLUMN_PATTERN = new RegExp(String.raw`(${PLACE_ALT})(:?) (${CALC})(, write \d(?: carry \d)?)?`, "g");
/** A whole column list (used inside step patterns). */
export const COLUMNS_SLOT = String.raw`(?:${PLACE_ALT}):? ${CALC}(?:, write \d(?: carry \d)?)?(?:(?:, |; )(?:${PLACE_ALT}):? ${CALC}(?:, write \d(?: carry \d)?)?)*`;

export interface ParsedColumns {
  places: string[];
  calcs: string[];
  /** 0 terse, 1 wordy, -1 mixed. */
  style: number;
}

export function parseColumns(text: string): ParsedColumns {
  const places: string[] = [];
  const calcs: string[] = [];
  const styles = new Set<number>();
  for (const m of text.matchAll(COLUMN_PATTERN)) {
    places.push(m[1]);
    calcs.push(m[3]);
    styles.add(m[2] === ":" ? 1 : 0);
  }
  return { places, calcs, style: styles.size === 1 ? [...styles][0] : -1 };
}

/** Renders parsed columns tersely (for the shortest phrasing of a sampled step, whatever its arithmetic). */
export function renderParsedColumnsTerse(p: ParsedColumns): string {
  return p.places.map((pl, i) => `${pl} ${p.calcs[i]}`).join(", ");
}
