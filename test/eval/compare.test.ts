import { describe, expect, it } from "vitest";
import { buildComparison, comparisonMarkdown, comparisonText, type EvalSummary } from "../../src/eval/compare.js";

// The paper's Table 1, R1-Distill-Qwen-7B: base vs TokenSqueeze.
const base: EvalSummary = {
  label: "base",
  benchmarks: {
    math500: { n: 8000, acc: 92.8, lenT: 3638, lenA: 4190, auc: 83.6 },
    aime24: { n: 480, acc: 55.5, lenT: 7543, lenA: 13337, auc: 41.6 },
  },
};
const squeezed: EvalSummary = {
  label: "tokensqueeze",
  benchmarks: {
    math500: { n: 8000, acc: 92.4, lenT: 1773, lenA: 2045, auc: 87.5 },
    aime24: { n: 480, acc: 57.5, lenT: 5157, lenA: 9189, auc: 48.5 },
  },
};

describe("compare", () => {
  it("computes Len-T and Len-A changes relative to the first evaluation", () => {
    const c = buildComparison([base, squeezed]);
    expect(c.benchmarks).toEqual(["math500", "aime24"]);
    expect(c.rows[0].cells.math500!.lenTDelta).toBeUndefined();
    expect(c.rows[1].cells.math500!.lenTDelta).toBeCloseTo((100 * (1773 - 3638)) / 3638, 10); // −51.3%
    expect(c.rows[1].cells.aime24!.lenADelta).toBeCloseTo((100 * (9189 - 13337)) / 13337, 10);
  });

  it("renders Markdown in the Table-1 layout", () => {
    const md = comparisonMarkdown(buildComparison([base, squeezed]));
    const lines = md.trim().split("\n");
    expect(lines[0]).toBe(
      "| Model | MATH-500 Acc | MATH-500 Len-T | MATH-500 Len-A | MATH-500 AUC | AIME24 Acc | AIME24 Len-T | AIME24 Len-A | AIME24 AUC |",
    );
    expect(lines[2]).toBe("| base | 92.8 | 3638 | 4190 | 83.6 | 55.5 | 7543 | 13337 | 41.6 |");
    expect(lines[3]).toBe("| tokensqueeze | 92.4 | 1773 (-51.3%) | 2045 (-51.2%) | 87.5 | 57.5 | 5157 (-31.6%) | 9189 (-31.1%) | 48.5 |");
  });

  it("shows missing benchmarks and missing Len-T as dashes, and aligns the terminal table", () => {
    const partial: EvalSummary = { label: "tiny", benchmarks: { aime24: { n: 480, acc: 0, lenT: null, lenA: 12, auc: 0 } } };
    const c = buildComparison([base, partial]);
    expect(c.rows[1].cells.math500).toBeUndefined();
    const md = comparisonMarkdown(c);
    expect(md).toContain("| tiny | — | — | — | — | 0.0 | — | 12 (-99.9%) | 0.0 |");
    const text = comparisonText(c).trimEnd().split("\n");
    // Only counts are known (no problem ids), so the table says what could not be checked.
    expect(text).toHaveLength(5);
    expect(text[4]).toMatch(/^note: AIME24: problem ids are not in an `eval --json` file/);
    expect(text[0]).toMatch(/MATH-500\s+AIME24/);
    expect(text[1]).toMatch(/Acc\s+Len-T\s+Len-A\s+AUC\s+Acc/);
    // Columns line up: the AUC header ends where the AUC values end.
    const aucEnd = text[1].indexOf("AUC") + 3;
    expect(text[2].slice(0, aucEnd).endsWith("83.6")).toBe(true);
  });

  const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const run = (label: string, problemIds: string[], perProblem: number, lenT: number): EvalSummary => ({
    label,
    benchmarks: { math500: { n: problemIds.length * perProblem, acc: 50, lenT, lenA: lenT, auc: 40, problems: problemIds.length, samplesPerProblem: perProblem, problemIds } },
  });

  it("withholds Δ% between runs of different problems (the −49.4% of five MATH-500 problems against five others) unless allowed", () => {
    const a = run("five", ids("math", 5), 4, 1000);
    const b = run("five-others", ids("other", 5), 4, 506);
    const c = buildComparison([a, b]);
    expect(c.rows[1].cells.math500).toMatchObject({ lenT: 506, mismatch: true });
    expect(c.rows[1].cells.math500!.lenTDelta).toBeUndefined();
    expect(c.mismatches).toEqual([{ label: "five-others", benchmark: "math500", reasons: ["covers other problems: 0 shared, 5 only in five, 5 only in five-others"] }]);
    const text = comparisonText(c);
    expect(text).not.toContain("%)");
    expect(text).toContain("506*");
    expect(text).toContain("their Δ% is withheld (--allow-mismatch shows it)");
    expect(text).toContain("five-others, MATH-500: covers other problems: 0 shared, 5 only in five, 5 only in five-others");

    const allowed = buildComparison([a, b], { allowMismatch: true });
    expect(allowed.rows[1].cells.math500!.lenTDelta).toBeCloseTo(-49.4, 10);
    const shown = comparisonText(allowed);
    expect(shown).toContain("506 (-49.4%)*");
    expect(shown).toContain("Δ% shown anyway (--allow-mismatch)");
    const md = comparisonMarkdown(allowed);
    expect(md).toContain("\\* these evaluations do not cover the same problems");
    expect(md).toContain("- five-others, MATH-500: covers other problems");
  });

  it("withholds Δ% between runs with different samples per problem, and keeps it between identical coverage", () => {
    const a = run("a", ids("p", 5), 4, 1000);
    expect(buildComparison([a, run("fewer-samples", ids("p", 5), 2, 900)]).mismatches[0].reasons).toEqual(["2 samples per problem vs 4 samples per problem in a"]);
    expect(buildComparison([a, run("subset", ids("p", 3), 4, 900)]).mismatches[0].reasons).toEqual(["covers other problems: 3 shared, 2 only in a, 0 only in subset"]);
    const same = buildComparison([a, run("same", [...ids("p", 5)].reverse(), 4, 900)]);
    expect(same.mismatches).toEqual([]);
    expect(same.uncheckedProblems).toEqual([]);
    expect(same.rows[1].cells.math500!.lenTDelta).toBeCloseTo(-10, 10);
    expect(comparisonText(same)).not.toContain("note:");
  });

  it("compares counts when problem ids are unknown (eval --json files)", () => {
    const counts = (label: string, problems: number, per: number | null, n: number): EvalSummary => ({
      label,
      benchmarks: { math500: { n, acc: 50, lenT: 100, lenA: 100, auc: 40, problems, samplesPerProblem: per } },
    });
    expect(buildComparison([counts("a", 5, 4, 20), counts("b", 4, 4, 16)]).mismatches[0].reasons).toEqual(["4 problems vs 5 in a"]);
    expect(buildComparison([counts("a", 5, 4, 20), counts("b", 5, null, 21)]).mismatches[0].reasons).toEqual(["an uneven number of samples per problem vs 4 samples per problem in a"]);
    const same = buildComparison([counts("a", 5, 4, 20), counts("b", 5, 4, 20)]);
    expect(same.mismatches).toEqual([]);
    expect(same.uncheckedProblems).toEqual(["math500"]);
  });
});
