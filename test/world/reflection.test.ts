/**
 * Reflection in the world (issue 11): marker counting, the results a reflection changed (fixed / broke), the
 * report's reflection section on hand-written samples, and the generator's reflection mix on every level.
 */
import { describe, expect, it } from "vitest";
import { analyzeResponse, countWords, reflectionMarkers } from "../../src/world/analysis.js";
import { generateProblem, MAX_LEVEL, MIN_LEVEL } from "../../src/world/expression.js";
import { worldReport, type WorldSample } from "../../src/world/report.js";
import { CONFIRM_TEMPLATES } from "../../src/world/templates.js";
import { generateTrace } from "../../src/world/traces.js";

function response(steps: string[], answer: number): string {
  return `<think>\n${steps.join("\n\n")}\n</think>\n\nThe answer is \\boxed{${answer}}.`;
}

const FIXED = response(
  [
    "Compute 47*8+5.",
    "47*8=386. Now 386+5.",
    "Wait, let me double-check that. ones: 7*8=56, write 6 carry 5; tens: 4*8+5=37, so 47*8=376. That doesn't match: 47*8 is 376, not 386. Now 376+5.",
    "376+5=381.",
    "So the answer is 381.",
  ],
  381,
);
const BROKE = response(["Compute 47*8+5.", "47*8=376. Now 376+5.", "Check: 47*8=366, not 376. Now 366+5.", "366+5=371.", "So the answer is 371."], 371);
const NEITHER = response(["Compute 47*8.", "47*8=386.", "Check: 47*8=366, not 386.", "So the answer is 366."], 366);
const CONFIRMED = response(
  ["Compute 7+8.", "7+8=15.", "Hmm, is 7+8 really 15? 7+8=15. Yes, it is.", "Verify: 7+8=15.", "So the answer is 15."],
  15,
);
const PLAIN = response(["Compute 7+8.", "7+8=15.", "So the answer is 15."], 15);

describe("reflection markers", () => {
  it("count R1's markers as whole words, case-insensitively, double-check once", () => {
    expect(reflectionMarkers("Wait, let me double-check that. Hmm, alternatively I verify it. Let me check: checking, rechecked.")).toEqual([
      "Wait",
      "double-check",
      "Hmm",
      "alternatively",
      "verify",
      "check",
      "checking",
      "rechecked",
    ]);
    expect(reflectionMarkers("The waiter checked in; hmmm. Verification done.")).toEqual(["checked", "hmmm", "Verification"]);
    expect(reflectionMarkers("17+25=42. Now 42*3. So the answer is 126.")).toEqual([]);
    expect(countWords("  47*8=376.  Now 376+5.\n\nDone ")).toBe(4);
    expect(countWords("")).toBe(0);
  });

  it("are counted in the thinking only", () => {
    const a = analyzeResponse(CONFIRMED);
    expect(a.markers).toBe(2); // "Hmm", "Verify"
    expect(a.thinkingWords).toBe(countWords(a.thinking));
    expect(analyzeResponse("<think>\n7+8=15.\n</think>\n\nWait, the answer is \\boxed{15}.").markers).toBe(0);
  });
});

describe("results changed by reflection", () => {
  it("judge a correction fixed, broke or neither against the true arithmetic", () => {
    expect(analyzeResponse(FIXED).changes).toEqual([{ step: 2, from: 386, to: 376, outcome: "fixed" }]);
    expect(analyzeResponse(BROKE).changes).toEqual([{ step: 2, from: 376, to: 366, outcome: "broke" }]);
    expect(analyzeResponse(NEITHER).changes).toEqual([{ step: 2, from: 386, to: 366, outcome: "neither" }]);
    expect(analyzeResponse(CONFIRMED).changes).toEqual([]);
    // A "correction" that restates the written value changes nothing.
    expect(analyzeResponse(response(["Compute 47*8.", "47*8=376.", "Check: 47*8=376, not 376.", "So the answer is 376."], 376)).changes).toEqual([]);
  });

  it("count a confirmation that recomputed another value than the one written as a change (the chain goes on from the checked value)", () => {
    const misjudged = response(
      [
        "Compute 47*8+5.",
        "47*8=386. Now 386+5.",
        "Wait, let me double-check that. ones: 7*8=56, write 6 carry 5; tens: 4*8+5=37, so 47*8=376. Yes, that's right. Now 376+5.",
        "376+5=381.",
        "So the answer is 381.",
      ],
      381,
    );
    const a = analyzeResponse(misjudged);
    expect(a.unknownSteps).toBe(0);
    expect(a.steps[2]!.kind).toBe("confirm");
    expect(a.changes).toEqual([{ step: 2, from: 386, to: 376, outcome: "fixed" }]);
    // A confirmation of the value written before changes nothing, with or without the expression put back.
    const agreed = response(["Compute 47*8+5.", "47*8=376. Now 376+5.", "Check: 47*8=376. Correct. Now 376+5.", "376+5=381.", "So the answer is 381."], 381);
    expect(analyzeResponse(agreed).changes).toEqual([]);
    expect(analyzeResponse(agreed).unknownSteps).toBe(0);
  });

  it("recognise every reflection kind, with and without markers", () => {
    for (const text of [FIXED, BROKE, NEITHER, CONFIRMED]) {
      const a = analyzeResponse(text);
      expect(a.unknownSteps).toBe(0);
      expect(a.hasReflection).toBe(true);
      expect(a.usesDepth).toBe(true);
    }
    expect(analyzeResponse(PLAIN).hasReflection).toBe(false);
    expect(analyzeResponse(CONFIRMED).steps.map((s) => s.kind)).toEqual(["intro", "direct", "confirm", "verify", "conclude"]);
  });
});

describe("the report's reflection section", () => {
  const sample = (problemId: string, level: number, text: string, correct: boolean): WorldSample => ({ problemId, level, sampleIndex: 0, text, tokens: 50, correct });
  const samples = [
    sample("a", 1, CONFIRMED, true),
    sample("b", 1, PLAIN, true),
    sample("c", 1, PLAIN, false),
    sample("d", 4, FIXED, true),
    sample("e", 4, BROKE, false),
    sample("f", 4, NEITHER, false),
    sample("g", 4, PLAIN, false),
  ];
  const r = worldReport(samples, (t) => t.length).reflection;

  it("gives the share of reflecting samples and markers per 1,000 words", () => {
    expect(r.shareByLevel).toEqual({ 1: 33.33, 4: 75 });
    const words = samples.reduce((n, s) => n + analyzeResponse(s.text).thinkingWords, 0);
    const markers = samples.reduce((n, s) => n + analyzeResponse(s.text).markers, 0);
    expect(markers).toBe(2 + 2 + 1 + 1); // CONFIRMED: Hmm, Verify; FIXED: Wait, double-check; BROKE, NEITHER: Check
    expect(r.markersPer1000Words).toBeCloseTo((1000 * markers) / words, 2);
  });

  it("compares accuracy with and without reflection per level and pooled", () => {
    expect(r.accuracyByLevel["1"]).toEqual({ withDepth: { samples: 1, accuracy: 100 }, withoutDepth: { samples: 2, accuracy: 50 }, gap: 50 });
    expect(r.accuracyByLevel["4"].withDepth).toEqual({ samples: 3, accuracy: 33.33 });
    expect(r.accuracyByLevel["4"].withoutDepth).toEqual({ samples: 1, accuracy: 0 });
    expect(r.easy.gap).toBe(50);
    expect(r.hard.gap).toBe(33.33);
  });

  it("tallies the results reflections changed", () => {
    expect(r.changes).toEqual({ samples: 3, fixed: 1, broke: 1, neither: 1, accuracy: 33.33 });
    expect(r.changesHard).toEqual(r.changes);
    expect(r.changesByLevel["1"]).toEqual({ samples: 0, fixed: 0, broke: 0, neither: 0, accuracy: null });
  });
});

describe("generated traces reflect like R1 in miniature", () => {
  it("on every level most traces reflect, at 5-25 markers per 1,000 thinking words; easy levels only confirm, hard ones correct real errors", () => {
    let markers = 0;
    let words = 0;
    const leads = new Set<number>();
    for (let level = MIN_LEVEL; level <= MAX_LEVEL; level++) {
      let reflecting = 0;
      let fixes = 0;
      const n = 400;
      for (let i = 0; i < n; i++) {
        const t = generateTrace(generateProblem("train", level, 9, i), 9, 0);
        const a = analyzeResponse(t.response);
        if (a.hasReflection) reflecting++;
        markers += a.markers;
        words += a.thinkingWords;
        for (const c of a.changes) expect(c.outcome).toBe("fixed");
        fixes += a.changes.length;
        for (const s of t.steps) if (s.kind === "confirm" || s.kind === "correct") leads.add(s.phrasing);
      }
      expect(reflecting / n).toBeGreaterThanOrEqual(0.7);
      if (level <= 2) expect(fixes).toBe(0);
      if (level >= 4) expect(fixes / n).toBeGreaterThan(0.1);
    }
    expect((1000 * markers) / words).toBeGreaterThanOrEqual(5);
    expect((1000 * markers) / words).toBeLessThanOrEqual(25);
    expect(leads.size).toBe(CONFIRM_TEMPLATES.length);
  });
});
