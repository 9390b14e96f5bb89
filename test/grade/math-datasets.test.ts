/**
 * The MATH data sets' own answers: for every problem, the last \boxed{…} of the solution (the dataset's
 * convention for `answer`) must be extracted and judged equal to `answer` — 500/500 on MATH-500 and
 * 7,500/7,500 on the MATH training split.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { extractAnswer, isEquivalent } from "../../src/grade/index.js";
import { sharedData } from "../helpers.js";
import { readJsonl } from "./upstream.js";

interface MathRow {
  unique_id: string;
  solution: string;
  answer: string;
}

function failures(rows: MathRow[]): string[] {
  const bad: string[] = [];
  for (const r of rows) {
    const extracted = extractAnswer(r.solution, { format: "boxed", joinBoxes: false });
    if (extracted === null || !isEquivalent(r.answer, extracted)) bad.push(`${r.unique_id}: answer ${JSON.stringify(r.answer)} extracted ${JSON.stringify(extracted)}`);
  }
  return bad;
}

describe("MATH answers equal the last boxed answer of their solutions", () => {
  it("MATH-500: 500/500", () => {
    const rows = readJsonl<MathRow>("math500/test.jsonl");
    expect(rows).toHaveLength(500);
    expect(failures(rows)).toEqual([]);
  });

  it("MATH train: 7,500/7,500 over the 7 subject files", () => {
    const files = readdirSync(join(sharedData, "math_train")).filter((f) => f.endsWith(".jsonl"));
    expect(files).toHaveLength(7);
    const rows = files.flatMap((f) => readJsonl<MathRow>(join("math_train", f)));
    expect(rows).toHaveLength(7500);
    expect(failures(rows)).toEqual([]);
  });
});
