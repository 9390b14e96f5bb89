/**
 * Differential test against Python math-verify (the project venv's PyPI package, called through
 * test/reference/math_verify_grader.py) on pairs generated from the benchmark answers by rewrites whose effect
 * on equivalence is known (test/grade/rewrites.ts). Requires agreement ≥ 98.5%; writes every disagreement to a
 * file (path printed) and requires that on each one our verdict is the one the rewrite's label supports, and
 * that its rewrite rule is explained in docs/GRADER.md.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { grade } from "../../src/grade/index.js";
import { repoRoot, requireVenvPython, tempDir } from "../helpers.js";
import { generatePairs } from "./rewrites.js";
import { documentedIds } from "./upstream.js";

interface MvVerdict {
  id: string;
  equal: boolean;
  pred_parsed: string[];
}

describe("differential test against Python math-verify", () => {
  it("agrees on ≥ 98.5% of ≥ 2,000 generated pairs; where it does not, ours matches the label", () => {
    const python = requireVenvPython();
    const pairs = generatePairs();
    expect(pairs.length).toBeGreaterThanOrEqual(2000);
    const input = pairs.map((p) => JSON.stringify({ id: p.id, gold: p.gold, prediction: p.prediction })).join("\n") + "\n";
    const run = spawnSync(python, [join(repoRoot, "test", "reference", "math_verify_grader.py")], {
      input,
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
      timeout: 600_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const mv = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as MvVerdict);
    expect(mv).toHaveLength(pairs.length);

    let agree = 0;
    let oursRight = 0;
    let mvRight = 0;
    const disagreements: object[] = [];
    const disagreementRules = new Set<string>();
    const oursWrong: string[] = [];
    pairs.forEach((p, k) => {
      expect(mv[k]!.id).toBe(p.id);
      const ours = grade(p.gold, p.prediction);
      const theirs = mv[k]!.equal;
      if (ours.equal === p.label) oursRight++;
      if (theirs === p.label) mvRight++;
      if (ours.equal === theirs) {
        agree++;
        return;
      }
      disagreementRules.add(p.rule);
      if (ours.equal !== p.label) oursWrong.push(`${p.id}: gold ${JSON.stringify(p.gold)} answer ${JSON.stringify(p.answer)} label ${p.label}`);
      disagreements.push({ ...p, ours: ours.equal, ourExtracted: ours.extracted, ourReason: ours.reason, mathVerify: theirs, mathVerifyParsed: mv[k]!.pred_parsed });
    });
    const file = join(tempDir("grader-differential-"), "disagreements.jsonl");
    writeFileSync(file, disagreements.map((d) => JSON.stringify(d)).join("\n") + "\n");
    const n = pairs.length;
    const pct = (x: number): string => `${((100 * x) / n).toFixed(2)}%`;
    console.log(
      `differential: ${n} pairs (${pairs.filter((p) => p.label).length} equivalent, ${pairs.filter((p) => !p.label).length} not); ` +
        `agreement ${agree}/${n} = ${pct(agree)}; accuracy vs labels: ours ${oursRight}/${n} = ${pct(oursRight)}, ` +
        `math-verify ${mvRight}/${n} = ${pct(mvRight)}; ${disagreements.length} disagreements written to ${file}`,
    );
    expect(agree / n).toBeGreaterThanOrEqual(0.985);
    expect(oursWrong).toEqual([]);
    const documented = documentedIds(readFileSync(join(repoRoot, "docs", "GRADER.md"), "utf8"), "differential-disagreements");
    expect([...disagreementRules].filter((r) => !documented.has(r))).toEqual([]);
  });
});
