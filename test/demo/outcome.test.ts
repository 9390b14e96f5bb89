/**
 * The demo's plain-language verdict: it must say which part of the paper's finding a run missed, with the sign of
 * the change right (a squeeze that made the thinking longer must not read as "shrank by 0%").
 */
import { describe, expect, it } from "vitest";
import { describeOutcome, type OutcomeInput } from "../../src/demo/outcome.js";

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
});
