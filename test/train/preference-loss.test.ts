/**
 * The pure stage-3 objectives (src/train/preference-loss.ts) against the shared loss vectors
 * (trainer/tests/loss_vectors.json, made by trainer/tests/make_loss_vectors.py), which the Python/torch
 * implementation (trainer/tokensqueeze_trainer/loss.py) is tested against too.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { batchLoss, pairLoss, type PairLogps, type PreferenceLossSettings } from "../../src/train/preference-loss.js";
import { repoRoot } from "../helpers.js";

interface VectorCase {
  name: string;
  covers: string;
  settings: PreferenceLossSettings;
  pairs: PairLogps[];
  expected: {
    loss: number;
    dpo: number;
    sft: number;
    margin: number;
    chosenReward: number;
    rejectedReward: number;
    rewardAccuracy: number;
    dPolicyChosen: number[];
    dPolicyRejected: number[];
    pairs: Array<{ loss: number; dpo: number; sft: number; margin: number }>;
  };
}

interface Vectors {
  tolerance: { relative: number; absolute: number };
  cases: VectorCase[];
  invalid: Array<{ name: string; settings: PreferenceLossSettings; pairs: Array<Record<string, number | string>> }>;
}

const vectors = JSON.parse(readFileSync(join(repoRoot, "trainer", "tests", "loss_vectors.json"), "utf8")) as Vectors;
const { relative, absolute } = vectors.tolerance;

function expectNear(actual: number, expected: number, what: string): void {
  expect(Number.isFinite(actual), `${what}: ${actual} is not finite`).toBe(true);
  const err = Math.abs(actual - expected);
  expect(err <= Math.max(absolute, relative * Math.abs(expected)), `${what}: ${actual} vs ${expected}`).toBe(true);
}

/** "NaN" / "-Infinity" in the JSON stand for those numbers. */
function numbers(pair: Record<string, number | string>): PairLogps {
  return Object.fromEntries(Object.entries(pair).map(([k, v]) => [k, typeof v === "string" ? Number(v) : v])) as unknown as PairLogps;
}

describe("preference loss: shared vectors", () => {
  it("cover every objective, batches and large |z|", () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(20);
    expect(new Set(vectors.cases.map((c) => c.settings.objective))).toEqual(new Set(["dpo", "sft", "dpo+sft", "dpo-l+sft"]));
    expect(vectors.cases.some((c) => c.pairs.length >= 4)).toBe(true);
    expect(vectors.cases.some((c) => Math.abs(c.expected.margin) >= 500)).toBe(true);
  });

  it.each(vectors.cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const b = batchLoss(c.pairs, c.settings);
    for (const key of ["loss", "dpo", "sft", "margin", "chosenReward", "rejectedReward", "rewardAccuracy"] as const) {
      expectNear(b[key], c.expected[key], key);
    }
    const n = c.pairs.length;
    c.pairs.forEach((p, i) => {
      const own = pairLoss(p, c.settings);
      for (const key of ["loss", "dpo", "sft", "margin"] as const) expectNear(own[key], c.expected.pairs[i][key], `pair ${i} ${key}`);
      // Gradients of the MEAN loss: each pair's own gradient divided by the count.
      expectNear(b.pairGradients[i].dPolicyChosen, c.expected.dPolicyChosen[i], `pair ${i} dPolicyChosen`);
      expectNear(b.pairGradients[i].dPolicyRejected, c.expected.dPolicyRejected[i], `pair ${i} dPolicyRejected`);
      expectNear(own.dPolicyChosen / n, c.expected.dPolicyChosen[i], `pair ${i} own dPolicyChosen / n`);
      expectNear(own.dPolicyRejected / n, c.expected.dPolicyRejected[i], `pair ${i} own dPolicyRejected / n`);
    });
    // The batch's gradient fields are the means of the pairs' own gradients = the sums of the mean's gradients.
    const sum = (xs: number[]): number => xs.reduce((a, x) => a + x, 0);
    expectNear(b.dPolicyChosen, sum(c.expected.dPolicyChosen), "batch dPolicyChosen");
    expectNear(b.dPolicyRejected, sum(c.expected.dPolicyRejected), "batch dPolicyRejected");
  });

  it.each(vectors.invalid.map((c) => [c.name, c] as const))("refuses %s with a RangeError", (_name, c) => {
    const pairs = c.pairs.map(numbers);
    expect(() => batchLoss(pairs, c.settings)).toThrow(RangeError);
    if (pairs.length > 0) expect(() => pairLoss(pairs[0], c.settings)).toThrow(/preference loss/);
  });
});

describe("preference loss: definitions", () => {
  const s: PreferenceLossSettings = { objective: "dpo-l+sft", beta: 0.1, lambda: 1, eta: 0.5 };
  const p: PairLogps = { policyChosen: -40, policyRejected: -90, refChosen: -42, refRejected: -85, chosenTokens: 30, rejectedTokens: 120 };

  it("dpo-l+sft equals dpo+sft when the lengths are equal, and dpo-l+sft with λ = 0", () => {
    const equal = { ...p, rejectedTokens: p.chosenTokens };
    expect(pairLoss(equal, s).loss).toBeCloseTo(pairLoss(equal, { ...s, objective: "dpo+sft" }).loss, 14);
    expect(pairLoss(p, { ...s, lambda: 0 }).loss).toBeCloseTo(pairLoss(p, { ...s, objective: "dpo+sft" }).loss, 14);
  });

  it("the length margin lowers z when the rejected response is longer", () => {
    const l = pairLoss(p, s);
    const plain = pairLoss(p, { ...s, objective: "dpo+sft" });
    expect(l.margin).toBeCloseTo(plain.margin - Math.log(120 / 30), 12);
    expect(l.dpo).toBeGreaterThan(plain.dpo);
  });

  it("gradients match central finite differences", () => {
    for (const objective of ["dpo", "sft", "dpo+sft", "dpo-l+sft"] as const) {
      const st = { ...s, objective };
      const g = pairLoss(p, st);
      const h = 1e-5;
      const fd = (key: "policyChosen" | "policyRejected"): number =>
        (pairLoss({ ...p, [key]: p[key] + h }, st).loss - pairLoss({ ...p, [key]: p[key] - h }, st).loss) / (2 * h);
      expect(g.dPolicyChosen).toBeCloseTo(fd("policyChosen"), 8);
      expect(g.dPolicyRejected).toBeCloseTo(fd("policyRejected"), 8);
    }
  });

  it("reward accuracy is the share of pairs with chosenReward > rejectedReward", () => {
    const worse = { ...p, policyChosen: -50 };
    expect(batchLoss([p, worse, p, p], s).rewardAccuracy).toBe(0.75);
  });
});
