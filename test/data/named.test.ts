import { describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.js";
import { runCli, sharedData } from "../helpers.js";

const expectedCounts: Record<string, number> = {
  math500: 500,
  "math-train": 7500,
  aime24: 30,
  aime25: 30,
  amc23: 40,
  gsm8k: 1319,
  "gsm8k-train": 7473,
};

interface Summary {
  count: number;
  answerEmpty: number;
  skippedRows: number;
  levels: Record<string, number>;
  subjects: Record<string, number>;
  fields: string[];
  paths: string[];
  notes: string[];
}

describe("tokensqueeze data inspect <name> --data-dir <shared data> --json", () => {
  for (const [name, count] of Object.entries(expectedCounts)) {
    it(`${name}: exactly ${count} problems, none with an empty answer`, () => {
      const r = runCli(["data", "inspect", name, "--data-dir", sharedData, "--json"]);
      expect(r.status, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout) as Summary;
      expect(s.count).toBe(count);
      expect(s.answerEmpty).toBe(0);
      expect(s.skippedRows).toBe(0);
    });
  }

  it("math500's level and subject histograms match SOURCES.md", () => {
    const r = runCli(["data", "inspect", "math500", "--data-dir", sharedData, "--json"]);
    const s = JSON.parse(r.stdout) as Summary;
    expect(s.levels).toEqual({ "1": 43, "2": 90, "3": 105, "4": 128, "5": 134 });
    expect(s.subjects).toEqual({
      Algebra: 124,
      "Counting & Probability": 38,
      Geometry: 41,
      "Intermediate Algebra": 97,
      "Number Theory": 62,
      Prealgebra: 82,
      Precalculus: 56,
    });
    expect(s.fields).toEqual(["answer", "level", "problem", "solution", "subject", "unique_id"]);
  });
});

describe("named datasets, loaded in process", () => {
  it("every problem of every dataset has a question, a non-empty answer and a unique id", async () => {
    for (const [name, count] of Object.entries(expectedCounts)) {
      const ds = await loadDataset(name, { dataDir: sharedData });
      expect(ds.problems).toHaveLength(count);
      expect(new Set(ds.problems.map((p) => p.id)).size).toBe(count);
      for (const p of ds.problems) {
        expect(p.answer.trim(), `${name} ${p.id}`).not.toBe("");
        expect(p.answer, `${name} ${p.id}`).toBe(p.answer.trim());
        expect(p.question.trim(), `${name} ${p.id}`).not.toBe("");
        expect(p.meta.source).toBe(name);
      }
    }
  });

  it("AIME24 drops zero padding: '025' → '25'", async () => {
    const ds = await loadDataset("aime24", { dataDir: sharedData });
    const byId = new Map(ds.problems.map((p) => [p.id, p]));
    expect(byId.get("aime24-67")!.answer).toBe("25"); // stored as "025"
    expect(byId.get("aime24-60")!.answer).toBe("204");
    expect(ds.problems.filter((p) => p.answer.startsWith("0"))).toEqual([]);
  });

  it("AMC23 float answers become integers: 27.0 → '27'", async () => {
    const ds = await loadDataset("amc23", { dataDir: sharedData });
    expect(ds.problems[0]).toMatchObject({ id: "amc23-0", answer: "27" });
    expect(ds.problems.every((p) => /^-?\d+$/.test(p.answer))).toBe(true);
    expect(ds.problems.some((p) => p.answer.startsWith("-"))).toBe(true); // -1.0 → "-1"
  });

  it("AIME25 integer answers and ids", async () => {
    const ds = await loadDataset("aime25", { dataDir: sharedData });
    expect(ds.problems[0]).toMatchObject({ id: "2025-I-1", answer: "70" });
    expect(ds.problems[29]).toMatchObject({ id: "2025-II-15", answer: "240" });
  });

  it("GSM8K takes the number after ####, without thousands separators", async () => {
    const test = await loadDataset("gsm8k", { dataDir: sharedData });
    const byId = new Map(test.problems.map((p) => [p.id, p]));
    expect(byId.get("gsm8k-test-1")!.answer).toBe("18");
    expect(byId.get("gsm8k-test-147")!.answer).toBe("2125"); // "#### 2,125"
    expect(test.problems.every((p) => /^-?\d+(\.\d+)?$/.test(p.answer))).toBe(true);
    const train = await loadDataset("gsm8k-train", { dataDir: sharedData });
    expect(train.problems.every((p) => /^-?\d+(\.\d+)?$/.test(p.answer))).toBe(true);
    expect(train.problems[0].id).toBe("gsm8k-train-1");
  });

  it("MATH: integer levels, null geometry levels left unset, subjects, PRM800K ids", async () => {
    const ds = await loadDataset("math-train", { dataDir: sharedData });
    const unlevelled = ds.problems.filter((p) => p.meta.level === undefined).map((p) => p.id);
    expect(unlevelled.sort()).toEqual(["train/geometry/377.json", "train/geometry/471.json"]);
    expect(new Set(ds.problems.map((p) => p.meta.subject)).size).toBe(7);
    expect(ds.paths).toHaveLength(7);
    // The two empty \boxed{} answers in the source are corrected, and the correction is reported.
    const byId = new Map(ds.problems.map((p) => [p.id, p]));
    expect(byId.get("train/number_theory/7115.json")!.answer).toBe("0");
    expect(ds.notes).toHaveLength(2);
    const m500 = await loadDataset("math500", { dataDir: sharedData });
    expect(m500.problems.find((p) => p.id === "test/precalculus/807.json")!.answer).toBe("\\left( 3, \\frac{\\pi}{2} \\right)");
  });

  it("level filter and limit", async () => {
    const hard = await loadDataset("math500", { dataDir: sharedData, levels: [5] });
    expect(hard.problems).toHaveLength(134);
    expect(hard.loadedCount).toBe(500);
    const few = await loadDataset("math500", { dataDir: sharedData, levels: [4, 5], limit: 10 });
    expect(few.problems).toHaveLength(10);
    expect(few.problems.every((p) => p.meta.level === 4 || p.meta.level === 5)).toBe(true);
  });
});
