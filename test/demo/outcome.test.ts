/**
 * The demo's plain-language verdict: it must say which part of the paper's finding a run missed, with the sign of
 * the change right (a squeeze that made the thinking longer must not read as "shrank by 0%").
 */
import { describe, expect, it } from "vitest";
import { describeOutcome, describeWaste, type OutcomeInput } from "../../src/demo/outcome.js";
import type { WasteProfile } from "../../src/world/waste.js";

function outcome(base: { acc: number; lenT: number }, squeezed: { acc: number; lenT: number }, rounds?: { acc: number; lenT: number }[]): OutcomeInput {
  const m = (x: { acc: number; lenT: number }) => ({ acc: x.acc, lenT: x.lenT, lenA: x.lenT, auc: x.acc / 2 });
  return {
    base: m(base),
    squeezed: m(squeezed),
    byLevel: { "1": { base: m(base), squeezed: m(squeezed) }, "2": { base: m(base), squeezed: m({ acc: squeezed.acc - 1, lenT: squeezed.lenT + 5 }) } },
    rounds: (rounds ?? [squeezed]).map(m),
  };
}

describe("describeOutcome", () => {
  it("names the paper's finding when thinking is ≥ 35% shorter within 2 points", () => {
    const text = describeOutcome(outcome({ acc: 70, lenT: 200 }, { acc: 69, lenT: 120 }));
    expect(text).toContain("40.0% shorter");
    expect(text).toContain("the paper's finding in miniature");
    expect(text).not.toContain("does not reproduce");
  });

  it("says by how much a run fell short on length and on accuracy", () => {
    const text = describeOutcome(outcome({ acc: 69.7, lenT: 185 }, { acc: 65.7, lenT: 146 }));
    expect(text).toContain("does not reproduce the paper's finding: thinking shrank by 21.1%, less than the 35%");
    expect(text).toContain("accuracy fell by 4.0 points, more than 2");
  });

  it("says the thinking did not shrink when the squeezed model writes longer answers", () => {
    const text = describeOutcome(outcome({ acc: 67.9, lenT: 180 }, { acc: 69.2, lenT: 183 }));
    expect(text).toContain("thinking did not shrink (Len-T +1.7%");
    expect(text).not.toContain("shrank by");
    expect(text).not.toContain("accuracy fell");
  });

  it("reports every round and whether the last one shortened further", () => {
    const further = describeOutcome(outcome({ acc: 70, lenT: 200 }, { acc: 68, lenT: 140 }, [{ acc: 69, lenT: 150 }, { acc: 68, lenT: 140 }]));
    expect(further).toContain("round 1 Len-T 150 at 69.0%; round 2 Len-T 140 at 68.0% — the last round shortened further");
    const not = describeOutcome(outcome({ acc: 70, lenT: 200 }, { acc: 68, lenT: 155 }, [{ acc: 69, lenT: 150 }, { acc: 68, lenT: 155 }]));
    expect(not).toContain("did not shorten further");
  });

  it("says where the change came from on the world, and whether the model had room for the paper's finding", () => {
    const profile = (lenT: number, wording: number, idleChecks: number, usefulChecks: number): WasteProfile => ({
      answers: 100,
      lenT,
      wording,
      idleChecks,
      usefulChecks,
      recognised: 98,
      freeWasteShare: (100 * (wording + idleChecks)) / lenT,
    });
    const tight = describeWaste(profile(185, 38.1, 22.8, 16.2), profile(146, 34.5, 3, 6.6));
    expect(tight).toContain("wording a shorter phrasing says as well 38 → 35");
    expect(tight).toContain("closing restatements) 23 → 3");
    expect(tight).toContain("catch real errors, 16 → 7");
    expect(tight).toContain("32.9% of the base model's Len-T, less than the 35% this demo looks for, so no squeeze of this model gets there without cutting useful checks");
    const roomy = describeWaste(profile(200, 70, 30, 10), profile(120, 20, 5, 10));
    expect(roomy).toContain("50.0% of the base model's Len-T, enough room for the 35%");
    // In the verdict, only when the demo ran on the world.
    const input = outcome({ acc: 69.7, lenT: 185 }, { acc: 65.7, lenT: 146 });
    expect(describeOutcome(input)).not.toContain("Where it came from");
    expect(describeOutcome({ ...input, waste: { base: profile(185, 38.1, 22.8, 16.2), squeezed: profile(146, 34.5, 3, 6.6) } })).toContain("Where it came from");
  });
});
