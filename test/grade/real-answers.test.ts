/**
 * Answers the way real reasoning models write them (issue 16): every case of real-answers.cases.ts must get its
 * expected verdict from `grade(gold, response)` with the default options — 100%, negatives included — and every
 * category must hold at least 10 cases.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { grade } from "../../src/grade/index.js";
import { repoRoot } from "../helpers.js";
import { CASES, CATEGORIES } from "./real-answers.cases.js";

describe("real reasoning-model answers (test/grade/real-answers.cases.ts)", () => {
  it("has at least 150 cases, at least 10 per category, negatives in every category, each with a reason", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(150);
    for (const c of CATEGORIES) {
      const rows = CASES.filter((x) => x.category === c);
      expect(rows.length, c).toBeGreaterThanOrEqual(10);
      expect(rows.some((x) => !x.equal), `${c} has a negative case`).toBe(true);
    }
    for (const x of CASES) expect(x.reason.trim(), JSON.stringify(x)).not.toBe("");
    const counts = Object.fromEntries(CATEGORIES.map((c) => [c, CASES.filter((x) => x.category === c).length]));
    console.log(`real-answer cases: ${CASES.length} (${JSON.stringify(counts)})`);
  });

  it.each(CASES.map((c, k) => [`${c.category} #${k}: ${c.reason}`, c] as const))("%s", (_name, c) => {
    const r = grade(c.gold, c.response);
    expect(r.equal, `gold ${JSON.stringify(c.gold)} response ${JSON.stringify(c.response)} → ${JSON.stringify(r)}`).toBe(c.equal);
  });
});

describe("docs/GRADER.md's table of the real-answer cases", () => {
  it("lists every category with its current counts", () => {
    const doc = readFileSync(join(repoRoot, "docs", "GRADER.md"), "utf8");
    const start = doc.indexOf("<!-- real-answers:start -->");
    const end = doc.indexOf("<!-- real-answers:end -->");
    expect(start >= 0 && end > start, "docs/GRADER.md lacks the real-answers markers").toBe(true);
    const rows = new Map<string, number[]>();
    for (const line of doc.slice(start, end).split("\n")) {
      const m = /^\|\s*([\w-]+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|/.exec(line);
      if (m) rows.set(m[1]!, [Number(m[2]), Number(m[3])]);
    }
    for (const c of [...CATEGORIES, "all"]) {
      const cases = c === "all" ? CASES : CASES.filter((x) => x.category === c);
      expect(rows.get(c), c).toEqual([cases.length, cases.filter((x) => !x.equal).length]);
    }
  });
});
