/**
 * The world's waste profile must agree with what the generator knows it wrote: every step's kind and its shortest
 * phrasing come from the trace itself here, and the profile reads them back from the text alone.
 */
import { describe, expect, it } from "vitest";
import { generateProblem } from "../../src/world/expression.js";
import { generateTrace } from "../../src/world/traces.js";
import { wasteProfile } from "../../src/world/waste.js";

const chars = (t: string): number => t.length;

describe("wasteProfile", () => {
  it("splits correct answers' tokens into wording, idle checks (levels 1–2, closing verifications) and useful checks, as the generator wrote them", () => {
    const samples = [];
    let wording = 0;
    let idle = 0;
    let useful = 0;
    let total = 0;
    let n = 0;
    for (let i = 0; i < 300; i++) {
      const level = 1 + (i % 5);
      const t = generateTrace(generateProblem("train", level, 4, Math.floor(i / 5)), 4);
      // Every third sample counts as wrong: it must add nothing but its steps' recognition.
      const correct = i % 3 !== 0;
      samples.push({ level, text: t.response, tokens: t.response.length, correct });
      if (!correct) continue;
      n++;
      total += t.response.length;
      for (const s of t.steps) {
        const check = s.kind === "confirm" || s.kind === "correct" || s.kind === "verify";
        if (check && (level <= 2 || s.kind === "verify")) idle += s.text.length;
        else if (check) useful += s.text.length;
        else wording += s.text.length - s.shortest.length;
      }
    }
    const p = wasteProfile(samples, chars);
    expect(p.answers).toBe(n);
    expect(p.lenT).toBeCloseTo(total / n, 1);
    expect(p.wording).toBeCloseTo(wording / n, 1);
    expect(p.idleChecks).toBeCloseTo(idle / n, 1);
    expect(p.usefulChecks).toBeCloseTo(useful / n, 1);
    expect(p.recognised).toBe(100);
    expect(p.freeWasteShare).toBeCloseTo((100 * (wording + idle)) / total, 1);
    // The world is built to waste: wording and idle checks, and checks that pay on hard levels.
    expect(p.wording).toBeGreaterThan(0);
    expect(p.idleChecks).toBeGreaterThan(0);
    expect(p.usefulChecks).toBeGreaterThan(0);
  });

  it("finds no waste in terse answers without checks, and recognises nothing in another model's prose", () => {
    const terse = "<think>\nCompute 2+3*4.\n\n3*4=12. Now 2+12.\n\n2+12=14.\n\nSo the answer is 14.\n</think>\n\nThe answer is \\boxed{14}.";
    const p = wasteProfile([{ level: 1, text: terse, tokens: 40, correct: 1 }], chars);
    expect(p).toMatchObject({ answers: 1, lenT: 40, wording: 0, idleChecks: 0, usefulChecks: 0, recognised: 100, freeWasteShare: 0 });
    const prose = "<think>\nLet me think about this multiplication in my own way.\n\nI reckon it comes to fourteen.\n</think>\n\nThe answer is \\boxed{14}.";
    const q = wasteProfile([{ level: 1, text: prose, tokens: 30, correct: true }], chars);
    expect(q.recognised).toBe(0);
    expect(q.wording).toBe(0);
  });
});
