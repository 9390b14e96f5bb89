/**
 * Runs the upstream graders' labelled cases (shared/data/grader_tests) through our grader, honouring each row's
 * harness and config: how the upstream test parsed and compared the pair.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { extractAnswer, judge } from "../../src/grade/index.js";
import { sharedData } from "../helpers.js";

export interface MathVerifyRow {
  id: string;
  gold: string;
  prediction: string;
  expected: boolean;
  harness: "compare_strings" | "parse_verify_defaults" | "sympy_expr_eq";
  config: { match_types?: string[] | null; float_rounding?: number; strict?: boolean; allow_set_relation_comp?: boolean };
}

export function readJsonl<T>(rel: string): T[] {
  return readFileSync(join(sharedData, rel), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);
}

/** SymPy constructor text (Rational(1, 3), Float(0.333)) as the LaTeX it stands for. */
function sympyToLatex(s: string): string {
  return s.replace(/Rational\((-?\d+),\s*(\d+)\)/g, "\\frac{$1}{$2}").replace(/Float\(([-\d.]+)\)/g, "$1");
}

export interface RowVerdict {
  gold: string | null;
  prediction: string | null;
  equal: boolean;
}

export function verdictForMathVerifyRow(r: MathVerifyRow): RowVerdict {
  const c = r.config;
  if (r.harness === "sympy_expr_eq") {
    const g = sympyToLatex(r.gold);
    const p = sympyToLatex(r.prediction);
    return { gold: g, prediction: p, equal: judge(g, p, { floatRounding: c.float_rounding }).equal };
  }
  // compare_strings parses both sides with the same extraction; ["expr"]-only tests read plain numbers, where a
  // comma followed by other than three digits is a decimal comma ("1,22" = 1.22).
  const exprOnly = Array.isArray(c.match_types) && c.match_types.length === 1 && c.match_types[0] === "expr";
  const g = extractAnswer(r.gold);
  const p = extractAnswer(r.prediction);
  if (g === null || p === null) return { gold: g, prediction: p, equal: false };
  const v = judge(g, p, { floatRounding: c.float_rounding ?? 6, strict: c.strict ?? true, decimalComma: exprOnly });
  return { gold: g, prediction: p, equal: v.equal };
}

/** The ids listed between the given markers in docs/GRADER.md (first column of a Markdown table). */
export function documentedIds(markdown: string, marker: string): Set<string> {
  const start = markdown.indexOf(`<!-- ${marker}:start -->`);
  const end = markdown.indexOf(`<!-- ${marker}:end -->`);
  if (start < 0 || end < 0) throw new Error(`docs/GRADER.md lacks the ${marker} markers`);
  const ids = new Set<string>();
  for (const line of markdown.slice(start, end).split("\n")) {
    const m = /^\|\s*`([^`]+)`\s*\|/.exec(line);
    if (m) ids.add(m[1]!);
  }
  return ids;
}
