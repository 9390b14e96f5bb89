/**
 * String-level cleanup shared by extraction and comparison: Unicode math symbols to LaTeX, doubled
 * backslashes from over-escaped strings, LaTeX thousands separators, outer math delimiters. All linear.
 */
import { Budget } from "./budget.js";
import { isKnownCommand } from "./lexer.js";
import { lastBoxed } from "./boxed.js";

const UNICODE: Record<string, string> = {
  "−": "-", "–": "-", "—": "-", "×": "\\times ", "÷": "\\div ", "·": "\\cdot ", "⋅": "\\cdot ", "√": "\\sqrt",
  "π": "\\pi ", "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ", "∞": "\\infty ", "∪": "\\cup ", "∩": "\\cap ", "°": "^\\circ ",
  "±": "\\pm ", "∓": "\\mp ", "∈": "\\in ", "…": "\\dots ", "²": "^2", "³": "^3", "′": "'", "\u00a0": " ", "\u2009": " ",
  "\u202f": " ", "€": "", "£": "", "¥": "", "₹": "", "≈": "\\approx ", "⟨": "\\langle ", "⟩": "\\rangle ", "∅": "\\emptyset ",
  "ℝ": "\\mathbb{R}", "½": "\\frac{1}{2}", "⅓": "\\frac{1}{3}", "⅔": "\\frac{2}{3}", "¼": "\\frac{1}{4}", "¾": "\\frac{3}{4}", "θ": "\\theta ", "α": "\\alpha ", "β": "\\beta ", "λ": "\\lambda ",
};

/** Applies the Unicode and escaping fixes. */
export function prepare(s: string, budget: Budget): string {
  budget.tick(s.length >> 6);
  let out = "";
  const hasEnvironment = s.includes("\\begin");
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const rep = UNICODE[c];
    if (rep !== undefined) {
      out += rep;
      continue;
    }
    // "\\frac" from a doubly escaped string means \frac; "\\" before a non-command stays a line break.
    if (c === "\\" && s[i + 1] === "\\" && /[a-zA-Z]/.test(s[i + 2] ?? "") && !hasEnvironment) {
      let j = i + 2;
      while (j < s.length && /[a-zA-Z]/.test(s[j]!)) j++;
      if (isKnownCommand(s.slice(i + 2, j)) || /^(boxed|fbox|le|ge|text)/.test(s.slice(i + 2, j))) {
        continue;
      }
    }
    out += c;
  }
  // LaTeX thousands separators between digit groups: 14{,}916, 32,\!348, 1\,000.
  out = out.replace(/(\d)\{,\}(?=\d{3})/g, "$1");
  out = out.replace(/(\d),\\!\s*(?=\d{3}(?!\d))/g, "$1");
  out = out.replace(/(\d)\\[,;:]\s*(?=\d{3}(?!\d))/g, "$1");
  out = out.replace(/(\d)\s?\{\s?,\s?\}\s?(?=\d{3}(?!\d))/g, "$1");
  return out;
}

/** The answer part of a string: boxed content if boxed, without outer $…$, \(…\), \[…\] and end punctuation. */
export function cleanAnswer(s: string, budget: Budget): string {
  let t = prepare(s.trim(), budget);
  if (t.includes("\\boxed") || t.includes("\\fbox")) {
    const b = lastBoxed(t, budget);
    if (b !== null) t = b.content;
  }
  for (let k = 0; k < 6; k++) {
    const before = t;
    t = t.trim();
    t = t.replace(/^\*\*+|\*\*+$/g, "").trim();
    if (t.startsWith("$$") && t.endsWith("$$") && t.length >= 4) t = t.slice(2, -2);
    else if (t.startsWith("$") && t.endsWith("$") && t.length >= 2) t = t.slice(1, -1);
    else if ((t.startsWith("\\(") && t.endsWith("\\)")) || (t.startsWith("\\[") && t.endsWith("\\]"))) t = t.slice(2, -2);
    t = t.replace(/[.,;:]+$/, "").replace(/\\$/, "");
    if (t === before) break;
  }
  return t.trim();
}

const LOOSE_DROP = /\\left|\\right|\\displaystyle|\\!|\\,|\\;|\\:|\\ |\\quad|\\qquad|\$|\s+/g;

/** A key for exact-text equality: typography removed, \dfrac/\tfrac folded. */
export function looseKey(s: string, budget: Budget): string {
  budget.tick(s.length >> 6);
  return s.replace(LOOSE_DROP, "").replace(/\\[dtc]frac/g, "\\frac").replace(/\^\{\\circ\}/g, "^\\circ").replace(/\\text\{\s*\}/g, "");
}
