/**
 * The upstream graders' own labelled test cases (math-verify, Hendrycks MATH), run through our grader with each
 * row's harness honoured. Every math-verify row where we decide differently must be listed, with the reason, in
 * docs/GRADER.md — the test compares the actual disagreement set with that list, so the doc cannot go stale.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { extractAnswer, extractChoice, isEquivalent } from "../../src/grade/index.js";
import { parseForCheck } from "../../src/grade/compare.js";
import { repoRoot } from "../helpers.js";
import { documentedIds, readJsonl, verdictForMathVerifyRow, type MathVerifyRow } from "./upstream.js";

describe("math-verify's test cases", () => {
  const rows = readJsonl<MathVerifyRow>("grader_tests/math_verify_cases.jsonl");

  it("agree with at least 95% of the expected verdicts, and every disagreement is documented", () => {
    expect(rows.length).toBe(191);
    const disagreements = new Set<string>();
    for (const r of rows) {
      const v = verdictForMathVerifyRow(r);
      if (v.equal !== r.expected) disagreements.add(r.id);
    }
    const agreement = 1 - disagreements.size / rows.length;
    console.log(`math-verify cases: ${rows.length - disagreements.size}/${rows.length} agree (${(100 * agreement).toFixed(1)}%)`);
    expect(agreement).toBeGreaterThanOrEqual(0.95);
    const doc = readFileSync(join(repoRoot, "docs", "GRADER.md"), "utf8");
    const documented = documentedIds(doc, "math-verify-disagreements");
    expect([...disagreements].sort()).toEqual([...documented].sort());
  });
});

describe("Hendrycks MATH is_equiv test cases", () => {
  const rows = readJsonl<{ id: string; gold: string; prediction: string; expected: boolean }>("grader_tests/hendrycks_math_equivalence_cases.jsonl");
  // is_equiv compares normalised strings, so the order of a list matters there: bare lists compare in order.
  it.each(rows.map((r) => [r.id, r] as const))("%s", (_id, r) => {
    expect(isEquivalent(r.gold, r.prediction, { bareLists: "ordered" })).toBe(r.expected);
  });
  it("covers all 16 cases", () => expect(rows.length).toBe(16));
});

describe("math-verify's extraction test cases", () => {
  interface ExtractionRow {
    id: string;
    input: string;
    config: { type: string; kwargs: Record<string, unknown> };
    expected_parse?: string[];
    check: string;
    expected_value?: string | null;
  }
  const rows = readJsonl<ExtractionRow>("grader_tests/math_verify_extraction_cases.jsonl");

  it.each(rows.map((r) => [r.id, r] as const))("%s", (_id, r) => {
    const k = r.config.kwargs;
    if (r.config.type === "StringExtractionConfig") {
      const m = extractChoice(r.input, { choices: k.strings as string[] | undefined, lowercase: (k.lowercase as boolean | undefined) ?? true });
      expect(m === null ? [] : [m.value, m.original]).toEqual(r.expected_parse);
      return;
    }
    // LatexExtractionConfig with fallback_mode="no_fallback": a result exists only if something parses.
    const priority = (k.boxed_match_priority as number | undefined) ?? 50;
    const norm = (k.normalization_config as { kwargs: { malformed_operators: boolean } } | undefined)?.kwargs;
    const extracted = extractAnswer(r.input, { boxed: priority >= 0, preferPhrase: priority > 50, fallback: false });
    const parsed = extracted === null ? null : parseForCheck(extracted, { shorthand: norm?.malformed_operators ?? true });
    const results = parsed === null ? [] : [extracted!];
    if (r.check === "len(result) == 1") expect(results).toHaveLength(1);
    else if (r.check === "len(result) == 0") expect(results).toHaveLength(0);
    else {
      expect(results).toHaveLength(1);
      expect(isEquivalent(r.expected_value!, results[0]!)).toBe(true);
    }
  });
  it("covers all 12 cases", () => expect(rows.length).toBe(12));
});
