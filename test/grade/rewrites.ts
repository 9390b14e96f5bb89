/**
 * Generates labelled (gold, prediction) pairs from benchmark answers by rewrites whose effect on equivalence is
 * known: equivalence-preserving ones (\frac → a/b, decimals, \left/\right, spacing, reordered lists, "x = ",
 * units, degrees, percent, thousands separators …) give label true, equivalence-breaking ones (off-by-one,
 * swapped tuple, sign change, wrong factorial …) give label false. Used by the differential test against
 * math-verify and by bench/grader.ts. Deterministic for a given seed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../../src/util/rng.js";
import { sharedData } from "../helpers.js";

export interface LabelledPair {
  id: string;
  gold: string;
  /** The rewritten answer as a model would box it. */
  answer: string;
  /** The full prediction text (the answer inside a response template). */
  prediction: string;
  /** True when the rewrite preserves equivalence. */
  label: boolean;
  rule: string;
}

type Rewrite = { rule: string; label: boolean; apply: (g: string, rng: Rng) => string | null };

const INT = /^-?\d+$/;
/** Answers written with thousands separators ("58,500", "10,\\!080"): not lists, whatever their commas. */
const THOUSANDS = /^\\?\$?\d{1,3}(,(\\!)?\s?\d{3})+$/;
const FRAC = /^(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}$/;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return Math.abs(a);
}

/** Top-level comma split (outside braces/brackets); null when there is no top-level comma. */
function topLevelItems(s: string): string[] | null {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && (s[i + 1] === "{" || s[i + 1] === "}")) {
      cur += c + s[i + 1];
      i++;
      continue;
    }
    if ("{([".includes(c)) depth++;
    if ("})]".includes(c)) depth--;
    if (c === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
    } else cur += c;
  }
  out.push(cur.trim());
  return out.length > 1 && out.every((x) => x !== "") ? out : null;
}

function isPlainTuple(g: string): string[] | null {
  const m = /^\\left\(\s*(.*)\s*\\right\)$|^\((.*)\)$/.exec(g.trim());
  if (!m) return null;
  const inner = (m[1] ?? m[2])!;
  const items = topLevelItems(inner);
  return items !== null && items.length >= 2 ? items : null;
}

const PRESERVING: Rewrite[] = [
  { rule: "dfrac", label: true, apply: (g) => (g.includes("\\frac") ? g.replace(/\\frac/g, "\\dfrac") : null) },
  {
    rule: "frac-to-slash",
    label: true,
    apply: (g) => {
      const m = FRAC.exec(g);
      return m ? `${m[1]}${m[2]}/${m[3]}` : null;
    },
  },
  {
    rule: "frac-to-decimal",
    label: true,
    apply: (g) => {
      const m = FRAC.exec(g);
      if (!m) return null;
      const [p, q] = [Number(m[2]), Number(m[3])];
      let d = q / gcd(p, q);
      while (d % 2 === 0) d /= 2;
      while (d % 5 === 0) d /= 5;
      const v = (m[1] === "-" ? -1 : 1) * (p / q);
      // Terminating decimals exactly; others to 10 places (equal at the default 6-place rounding).
      return d === 1 ? String(v) : v.toFixed(10);
    },
  },
  {
    rule: "left-right",
    label: true,
    apply: (g) => (/[()[\]]/.test(g) && !g.includes("\\left") && !g.includes("\\begin") ? g.replace(/\(/g, "\\left(").replace(/\)/g, "\\right)").replace(/\[/g, "\\left[").replace(/\]/g, "\\right]") : null),
  },
  { rule: "spaces-removed", label: true, apply: (g) => (/ /.test(g) && !THOUSANDS.test(g) && !/\\[a-zA-Z]+ [a-zA-Z]/.test(g) && !g.includes("\\text") && !g.includes("\\mbox") ? g.replace(/ /g, "") : null) },
  {
    rule: "spaces-added",
    label: true,
    apply: (g) => (/[+=,]/.test(g) && !THOUSANDS.test(g) && !g.includes("\\text") && !g.includes("\\begin") ? g.replace(/([+=,])/g, " $1 ").replace(/\s+/g, " ").trim() : null),
  },
  {
    rule: "list-reordered",
    label: true,
    apply: (g) => {
      if (g.includes("\\begin") || /^[([]|^\\\{/.test(g.trim()) || g.includes("\\text") || THOUSANDS.test(g)) return null;
      const items = topLevelItems(g);
      if (items === null || new Set(items).size !== items.length) return null;
      return [...items].reverse().join(", ");
    },
  },
  {
    rule: "set-reordered",
    label: true,
    apply: (g) => {
      const m = /^\\\{(.*)\\\}$/.exec(g.trim());
      if (!m) return null;
      const items = topLevelItems(m[1]!);
      return items === null ? null : `\\{${[...items].reverse().join(", ")}\\}`;
    },
  },
  {
    rule: "x-equals",
    label: true,
    apply: (g) => (INT.test(g) || FRAC.test(g) || /\\sqrt|\\pi/.test(g)) && !g.includes("=") && !/[a-z]\b/.test(g.replace(/\\[a-zA-Z]+/g, "")) ? `x = ${g}` : null,
  },
  { rule: "units", label: true, apply: (g) => (INT.test(g) ? `${g} \\text{ cm}` : null) },
  { rule: "degrees", label: true, apply: (g) => (INT.test(g) ? `${g}^\\circ` : null) },
  { rule: "percent", label: true, apply: (g) => (INT.test(g) ? `${g}\\%` : null) },
  {
    rule: "thousands",
    label: true,
    apply: (g) => (INT.test(g) && Math.abs(Number(g)) >= 1000 ? Number(g).toLocaleString("en-US") : null),
  },
  { rule: "integer-dot-zero", label: true, apply: (g) => (INT.test(g) ? `${g}.0` : null) },
  {
    rule: "shorthand",
    label: true,
    apply: (g) => {
      const r = g.replace(/\\frac\{(\d)\}\{(\d)\}/g, "\\frac$1$2").replace(/\\sqrt\{(\d)\}/g, "\\sqrt$1");
      return r !== g ? r : null;
    },
  },
  {
    rule: "coefficient-commuted",
    label: true,
    apply: (g) => {
      const m = /^(\d+)\s*\\(sqrt\{\d+\}|pi)$/.exec(g);
      return m ? `\\${m[2]} \\cdot ${m[1]}` : null;
    },
  },
  {
    rule: "times-explicit",
    label: true,
    apply: (g) => {
      const m = /^(\d+)\s*\\sqrt\{(\d+)\}$/.exec(g);
      return m ? `${m[1]} \\times \\sqrt{${m[2]}}` : null;
    },
  },
  {
    rule: "sum-commuted",
    label: true,
    apply: (g) => {
      const m = /^([^+\-(){}]+)\s*\+\s*([^+\-(){}]+)$/.exec(g);
      return m && !g.includes("\\begin") && !g.includes("=") ? `${m[2]!.trim()} + ${m[1]!.trim()}` : null;
    },
  },
  {
    rule: "mixed-number",
    label: true,
    apply: (g) => {
      const m = FRAC.exec(g);
      if (!m || m[1] === "-") return null;
      const [p, q] = [Number(m[2]), Number(m[3])];
      if (p <= q || p % q === 0) return null;
      return `${Math.floor(p / q)}\\frac{${p % q}}{${q}}`;
    },
  },
  {
    rule: "terms-reordered",
    label: true,
    apply: (g) => {
      // Top-level terms of a sum, reversed with their signs: x^3+3x-6 → -6 + 3x + x^3.
      if (/[=,\\{}()[\]]/.test(g.replace(/\\(sqrt|pi|frac)\{?/g, "").replace(/[{}]/g, "")) && !/^[^=,()[\]]*$/.test(g)) return null;
      if (g.includes("\\begin") || g.includes("\\text") || g.includes("=") || g.includes(",")) return null;
      const terms: string[] = [];
      let depth = 0;
      let cur = "";
      for (let i = 0; i < g.length; i++) {
        const c = g[i]!;
        if ("{([".includes(c)) depth++;
        if ("})]".includes(c)) depth--;
        if ((c === "+" || c === "-") && depth === 0 && cur.trim() !== "" && !/[\^_]$/.test(cur.trim())) {
          terms.push(cur.trim());
          cur = c;
        } else cur += c;
      }
      terms.push(cur.trim());
      if (terms.length < 2) return null;
      const signed = terms.map((t) => (t.startsWith("-") || t.startsWith("+") ? t : `+${t}`));
      const out = signed.reverse().join(" ").replace(/^\+/, "");
      return out.replace(/\s+/g, " ").trim();
    },
  },
  {
    rule: "decimal-to-fraction",
    label: true,
    apply: (g) => {
      const m = /^(-?)(\d*)\.(\d+)$/.exec(g);
      if (!m) return null;
      const den = 10 ** m[3]!.length;
      const n = Number((m[2] || "0") + m[3]);
      const k = gcd(n, den);
      return `${m[1]}\\frac{${n / k}}{${den / k}}`;
    },
  },
  {
    rule: "denominator-rationalised",
    label: true,
    apply: (g) => {
      const m = /^\\frac\{\\sqrt\{(\d+)\}\}\{(\d+)\}$/.exec(g);
      return m && m[1] === m[2] ? `\\frac{1}{\\sqrt{${m[1]}}}` : null;
    },
  },
  { rule: "boxed-bare", label: true, apply: (g) => g },
];

const BREAKING: Rewrite[] = [
  {
    rule: "off-by-one",
    label: false,
    apply: (g) => {
      const ms = [...g.matchAll(/\d+/g)];
      if (ms.length === 0 || g.includes("_") || THOUSANDS.test(g)) return null;
      // With a unit ("864 \\mbox{ inches}^2") change the number, not the unit's exponent.
      const m = /\\(text|mbox)/.test(g) ? ms[0]! : ms[ms.length - 1]!;
      const v = BigInt(m[0]) + 1n;
      return g.slice(0, m.index) + v.toString() + g.slice(m.index! + m[0].length);
    },
  },
  {
    rule: "sign-flipped",
    label: false,
    apply: (g) => {
      if (INT.test(g) && g !== "0") return g.startsWith("-") ? g.slice(1) : `-${g}`;
      const m = FRAC.exec(g);
      if (m) return m[1] === "-" ? g.slice(1) : `-${g}`;
      return null;
    },
  },
  {
    rule: "tuple-swapped",
    label: false,
    apply: (g) => {
      const items = isPlainTuple(g);
      if (items === null || items[0] === items[1]) return null;
      return `(${[items[1], items[0], ...items.slice(2)].join(", ")})`;
    },
  },
  {
    rule: "numerator-changed",
    label: false,
    apply: (g) => {
      const m = FRAC.exec(g);
      return m ? `${m[1]}\\frac{${Number(m[2]) + 1}}{${m[3]}}` : null;
    },
  },
  {
    rule: "factorial-changed",
    label: false,
    apply: (g) => {
      // Only for some integer answers, so that this one known failure of other graders does not dominate.
      if (!INT.test(g) || Math.abs(Number(g)) % 10 !== 3) return null;
      const n = 2000 + (Math.abs(Number(g)) % 100);
      return `__gold__\\frac{1}{${n}!}__pred__\\frac{1}{${n + 2}!}`;
    },
  },
  {
    rule: "radicand-changed",
    label: false,
    apply: (g) => {
      const m = /\\sqrt\{(\d+)\}/.exec(g);
      return m ? g.replace(m[0], `\\sqrt{${Number(m[1]) + 1}}`) : null;
    },
  },
  {
    rule: "interval-bracket-flipped",
    label: false,
    apply: (g) => {
      // Flip the bracket at the first finite endpoint: (3, 4] → [3, 4], (-\infty, 0] → (-\infty, 0).
      const m = /^\s*(\\left)?([([])\s*([^,]+),\s*([^)\]]+?)\s*(\\right)?([)\]])/.exec(g);
      if (!m || !/\\infty|\]|\[/.test(g) || g.includes("\\begin")) return null;
      const flip = (c: string): string => ({ "(": "[", "[": "(", ")": "]", "]": ")" })[c]!;
      if (!m[3]!.includes("infty")) return g.replace(m[2]!, flip(m[2]!));
      if (m[4]!.includes("infty")) return null;
      const at = m.index + m[0].length - 1;
      return g.slice(0, at) + flip(m[6]!) + g.slice(at + 1);
    },
  },
  {
    rule: "decimal-too-coarse",
    label: false,
    apply: (g) => {
      const m = FRAC.exec(g);
      if (!m) return null;
      const [p, q] = [Number(m[2]), Number(m[3])];
      let d = q / gcd(p, q);
      while (d % 2 === 0) d /= 2;
      while (d % 5 === 0) d /= 5;
      if (d === 1) return null;
      return ((m[1] === "-" ? -1 : 1) * (p / q)).toFixed(2);
    },
  },
  {
    rule: "term-dropped",
    label: false,
    apply: (g) => {
      const m = /^(.+?)\s*\+\s*(\d+)$/.exec(g);
      return m && !g.includes("\\begin") && !g.includes("=") && !g.includes(",") ? m[1]!.trim() : null;
    },
  },
  {
    rule: "pi-dropped",
    label: false,
    apply: (g) => {
      const m = /^(\d+)\s*\\pi$/.exec(g);
      return m ? m[1]! : null;
    },
  },
  {
    rule: "variable-renamed",
    label: false,
    apply: (g) => (/^[^\\]*\bx\b/.test(g) && !g.includes("=") && !g.includes("\\") ? g.replace(/\bx\b/g, "t") : null),
  },
];

const TEMPLATES = [
  (a: string): string => `The answer is $\\boxed{${a}}$.`,
  (a: string): string => `\\boxed{${a}}`,
  (a: string): string => `<think>\nLet me work this out. Maybe it is 17? No.\n</think>\n\nTherefore the answer is $\\boxed{${a}}$.`,
  (a: string): string => `Final Answer: The final answer is $${a}$. I hope it is correct.`,
];

export function benchmarkGolds(): { id: string; gold: string }[] {
  const golds: { id: string; gold: string }[] = [];
  const read = (rel: string): Record<string, unknown>[] =>
    readFileSync(join(sharedData, rel), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const r of read("math500/test.jsonl")) golds.push({ id: String(r.unique_id), gold: String(r.answer) });
  for (const r of read("aime24/test.jsonl")) golds.push({ id: `aime24-${String(r.id)}`, gold: String(Number(r.answer)) });
  for (const r of read("aime25/test.jsonl")) golds.push({ id: `aime25-${String(r.id)}`, gold: String(r.answer) });
  for (const r of read("amc23/test.jsonl")) golds.push({ id: `amc23-${String(r.id)}`, gold: String(Number(r.answer)) });
  return golds;
}

/** Up to `perGold` pairs per benchmark answer, mixing preserving and breaking rewrites. */
export function generatePairs(seed = 20251126, perGold = 4, perNonIntegerGold = 10): LabelledPair[] {
  const out: LabelledPair[] = [];
  for (const { id, gold } of benchmarkGolds()) {
    const rng = Rng.fromParts("grader-differential", seed, id);
    const candidates: { rule: string; label: boolean; gold: string; answer: string }[] = [];
    for (const rw of [...PRESERVING, ...BREAKING]) {
      const a = rw.apply(gold, rng);
      if (a === null) continue;
      if (a.startsWith("__gold__")) {
        const [g2, p2] = a.slice("__gold__".length).split("__pred__") as [string, string];
        candidates.push({ rule: rw.rule, label: rw.label, gold: g2, answer: p2 });
      } else if (a !== gold || rw.rule === "boxed-bare") candidates.push({ rule: rw.rule, label: rw.label, gold, answer: a });
    }
    // Keep every breaking candidate's chance comparable to the preserving ones: shuffle, then take perGold.
    for (let k = candidates.length - 1; k > 0; k--) {
      const j = rng.nextUint32() % (k + 1);
      [candidates[k], candidates[j]] = [candidates[j]!, candidates[k]!];
    }
    for (const c of candidates.slice(0, INT.test(gold) ? perGold : perNonIntegerGold)) {
      const template = TEMPLATES[rng.nextUint32() % TEMPLATES.length]!;
      out.push({ id: `${id}#${c.rule}`, gold: c.gold, answer: c.answer, prediction: template(c.answer), label: c.label, rule: c.rule });
    }
  }
  return out;
}
