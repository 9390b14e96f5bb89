import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempDir } from "../helpers.js";

describe("tokensqueeze world", () => {
  it("generate writes problems with traces as JSONL", () => {
    const r = runCli(["world", "generate", "--count", "4", "--traces", "2", "--seed", "3"]);
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(rows).toHaveLength(4);
    expect(rows.map((x) => x.level)).toEqual([1, 2, 3, 4]);
    for (const row of rows) {
      expect(row.split).toBe("train");
      expect(row.traces).toHaveLength(2);
      expect(row.traces[0].response).toContain(`\\boxed{${row.answer}}`);
    }
    const h = runCli(["world", "generate", "--split", "heldout", "--level", "5", "--count", "3", "--traces", "0"]);
    expect(h.status, h.stderr).toBe(0);
    const held = h.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(held.map((x) => x.id)).toEqual(["world-L5-heldout-0000", "world-L5-heldout-0001", "world-L5-heldout-0002"]);
  });

  it("rejects bad flags with exit 2", () => {
    expect(runCli(["world", "generate", "--split", "test"]).status).toBe(2);
    expect(runCli(["world", "generate", "--level", "9"]).status).toBe(2);
    expect(runCli(["world", "report", "--limit", "500"]).status).toBe(2);
    expect(runCli(["world", "report", "--model", "/no/such/model", "--limit", "1"]).status).toBe(2);
  });

  it("report evaluates held-out problems and prints the world metrics as JSON", () => {
    const out = join(tempDir(), "run");
    const r = runCli(["world", "report", "--limit", "5", "--samples", "2", "--max-tokens", "400", "--out", out, "--json", "--progress", "none"], { timeoutMs: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.problems).toBe(5);
    expect(j.samples).toBe(10);
    expect(Object.keys(j.accuracyByLevel)).toEqual(["1", "2", "3", "4", "5"]);
    for (const k of ["medianLengthCV", "compressibleShare", "samplingSeconds"]) expect(typeof j[k]).toBe("number");
    expect("depthGapHard" in j && "depthGapEasy" in j).toBe(true);
    expect(j.compressibleShare).toBeGreaterThan(0);
    // A trained model writes steps the templates recognise.
    expect(j.unknownStepShare).toBeLessThan(0.2);
  });
});
