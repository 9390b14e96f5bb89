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
    const partial: EvalSummary = { label: "tiny", benchmarks: { aime24: { n: 4, acc: 0, lenT: null, lenA: 12, auc: 0 } } };
    const c = buildComparison([base, partial]);
    expect(c.rows[1].cells.math500).toBeUndefined();
    const md = comparisonMarkdown(c);
    expect(md).toContain("| tiny | — | — | — | — | 0.0 | — | 12 (-99.9%) | 0.0 |");
    const text = comparisonText(c).trimEnd().split("\n");
    expect(text).toHaveLength(4);
    expect(text[0]).toMatch(/MATH-500\s+AIME24/);
    expect(text[1]).toMatch(/Acc\s+Len-T\s+Len-A\s+AUC\s+Acc/);
    // Columns line up: the AUC header ends where the AUC values end.
    const aucEnd = text[1].indexOf("AUC") + 3;
    expect(text[2].slice(0, aucEnd).endsWith("83.6")).toBe(true);
  });
});
