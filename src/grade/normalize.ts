/**
 * String-level cleanup shared by extraction and comparison: Unicode math symbols to LaTeX, doubled
 * backslashes from over-escaped strings, LaTeX thousands separators, outer math delimiters. All linear.
 */
import { Budget } from "./budget.js";
import { isKnownCommand } from "./lexer.js";
import { boxedAnswer } from "./boxed.js";

const UNICODE: Record<string, string> = {
  "−": "-", "–": "-", "—": "-", "×": "\\times ", "÷": "\\div ", "·": "\\cdot ", "⋅": "\\cdot ", "√": "\\sqrt",
  "π": "\\pi ", "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ", "∞": "\\infty ", "∪": "\\cup ", "∩": "\\cap ", "°": "^\\circ ",
  "±": "\\pm ", "∓": "\\mp ", "∈": "\\in ", "…": "\\dots ", "⁄": "/", "∕": "/", "′": "'", "\u00a0": " ", "\u2009": " ",
  "\u202f": " ", "€": "", "£": "", "¥": "", "₹": "", "≈": "\\approx ", "⟨": "\\langle ", "⟩": "\\rangle ", "∅": "\\emptyset ",
  "ℝ": "\\mathbb{R}", "θ": "\\theta ", "α": "\\alpha ", "β": "\\beta ", "λ": "\\lambda ",
};

const SUPERSCRIPT: Record<string, string> = {
  "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9", "⁻": "-", "⁺": "+",
};

/** Vulgar fractions: numerator and denominator. */
const VULGAR: Record<string, [number, number]> = {
  "½": [1, 2], "⅓": [1, 3], "⅔": [2, 3], "¼": [1, 4], "¾": [3, 4], "⅕": [1, 5], "⅖": [2, 5], "⅗": [3, 5], "⅘": [4, 5],
  "⅙": [1, 6], "⅚": [5, 6], "⅛": [1, 8], "⅜": [3, 8], "⅝": [5, 8], "⅞": [7, 8],
};

/** Applies the Unicode and escaping fixes. */
export function prepare(s: string, budget: Budget): string {
  budget.tick(s.length >> 6);
  let out = "";
  const hasEnvironment = s.includes("\\begin");
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (s.charCodeAt(i) < 128) {
      // "\\frac" from a doubly escaped string means \frac; "\\" before a non-command stays a line break.
      if (c === "\\" && s[i + 1] === "\\" && /[a-zA-Z]/.test(s[i + 2] ?? "") && !hasEnvironment) {
        let j = i + 2;
        while (j < s.length && /[a-zA-Z]/.test(s[j]!)) j++;
        if (isKnownCommand(s.slice(i + 2, j)) || /^(boxed|fbox|le|ge|text)/.test(s.slice(i + 2, j))) continue;
      }
      out += c;
      continue;
    }
    // Superscripts as one exponent: "10⁻³" is 10^{-3}.
    if (SUPERSCRIPT[c] !== undefined) {
      let exp = "";
      while (i < s.length && SUPERSCRIPT[s[i]!] !== undefined) exp += SUPERSCRIPT[s[i++]!];
      i--;
      out += exp.length === 1 ? `^${exp}` : `^{${exp}}`;
      continue;
    }
    const frac = VULGAR[c];
    if (frac !== undefined) {
      // "3½" is a mixed number; a lone "½" is kept readable as a number in prose ("The probability is ½.").
      out += /\d$/.test(out) ? `\\frac{${frac[0]}}{${frac[1]}}` : `{${frac[0]}/${frac[1]}}`;
      continue;
    }
    out += UNICODE[c] ?? c;
  }
  // "2 x 10^3" in plain text: the x is a times sign.
  out = out.replace(/(\d)\s*x\s*10\s*\^/g, "$1\\times 10^");
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
    // "\\boxed{3} or \\boxed{-4}" is the answer "3, -4", as in extraction.
    const b = boxedAnswer(t, budget, true);
    if (b !== null) t = b.value;
  }
  for (let k = 0; k < 6; k++) {
    const before = t;
    t = t.trim();
    t = t.replace(/^\*\*+|\*\*+$/g, "").trim();
    if (t.startsWith("$$") && t.endsWith("$$") && t.length >= 4) t = t.slice(2, -2);
    else if (t.startsWith("$") && t.endsWith("$") && t.length >= 2) t = t.slice(1, -1);
    else if ((t.startsWith("\\(") && t.endsWith("\\)")) || (t.startsWith("\\[") && t.endsWith("\\]"))) t = t.slice(2, -2);
    // End punctuation goes, but not the "..." of a repeating decimal ("0.333...").
    if (!/\d\.{3}$/.test(t)) t = t.replace(/[.,;:]+$/, "");
    t = t.replace(/\\$/, "");
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
