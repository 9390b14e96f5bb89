/** The `tokensqueeze grade` command as a user runs it, and the worker pool against in-thread grading. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GraderPool, gradeBatch, gradeMany, type GradeItem } from "../../src/grade/index.js";
import { runCli, tempDir } from "../helpers.js";
import { readJsonl } from "./upstream.js";

describe("tokensqueeze grade", () => {
  it("writes each row back with extracted and equal", () => {
    const dir = tempDir();
    const file = join(dir, "in.jsonl");
    const rows = [
      { id: "a", gold: "\\frac{1}{2}", prediction: "<think>hmm</think> so the answer is $\\boxed{0.5}$." },
      { id: "b", gold: "3", prediction: "<think>still going" },
      { id: "c", gold: 72, prediction: "72" },
      { id: "d", gold: "(1,2)", prediction: "\\boxed{(2,1)}" },
    ];
    writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n\n");
    const r = runCli(["grade", "--input", file]);
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(out).toEqual([
      { ...rows[0], extracted: "0.5", equal: true },
      { ...rows[1], extracted: null, equal: false },
      { ...rows[2], extracted: "72", equal: true },
      { ...rows[3], extracted: "(2,1)", equal: false },
    ]);
    expect(r.stderr).toContain("graded 4 rows: 2 equal");
  });

  it("renames the input fields", () => {
    const file = join(tempDir(), "in.jsonl");
    writeFileSync(file, JSON.stringify({ answer: "5", response: "\\boxed{5}" }) + "\n");
    const r = runCli(["grade", "--input", file, "--gold-field", "answer", "--prediction-field", "response", "--timeout-ms", "200"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ answer: "5", response: "\\boxed{5}", extracted: "5", equal: true });
  });

  it.each([
    ["a missing field", '{"gold":"1","prediction":"1"}\n{"gold":"2"}\n', ':2: field "prediction": missing'],
    ["a non-string field", '{"gold":["1"],"prediction":"1"}\n', ':1: field "gold": must be a string'],
    // Read like every data file (src/data/records.ts): invalid JSON names line, field and column.
    ["invalid JSON", '{"gold":"1","prediction":"1"}\n{"gold": \n', ':2: field "gold": malformed JSON at column 10: expected a value, got the end of the line'],
    ["a non-object line", "[1,2]\n", ":1: expected a JSON object per row, got an array"],
    ["an empty file", "\n\n", ":1: empty file: no rows"],
  ])("rejects %s with file, line and field (exit 2), writing nothing", (_what, content, message) => {
    const file = join(tempDir(), "bad.jsonl");
    writeFileSync(file, content);
    const r = runCli(["grade", "--input", file]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(file + message);
  });

  it("rejects a bad option value (exit 2)", () => {
    const file = join(tempDir(), "in.jsonl");
    writeFileSync(file, '{"gold":"1","prediction":"1"}\n');
    const r = runCli(["grade", "--input", file, "--timeout-ms", "soon"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--timeout-ms");
  });
});

describe("GraderPool", () => {
  const math = readJsonl<{ answer: string; solution: string }>("math500/test.jsonl");
  const items: GradeItem[] = math.map((r, k) => ({ gold: r.answer, prediction: k % 3 === 0 ? `${r.solution}\n\nWait, no: \\boxed{${k}}` : r.solution }));

  it("gives the same results as in-thread grading, in input order", async () => {
    const pool = new GraderPool({ workers: 2, chunk: 16 });
    try {
      const viaPool = await pool.grade(items);
      expect(viaPool).toEqual(gradeMany(items));
      // A pool is reusable.
      expect(await pool.grade(items.slice(0, 10))).toEqual(gradeMany(items.slice(0, 10)));
    } finally {
      await pool.close();
    }
  });

  it("kills a worker that makes no progress within the bound, fails that item, and finishes the rest", async () => {
    // A 1 ms bound with no grace: starting a worker alone takes longer, so the watchdog must fire; each firing
    // fails one item and replaces the worker, so the batch still completes.
    const pool = new GraderPool({ workers: 1, timeoutMs: 1, graceMs: 0, chunk: 2 });
    try {
      const res = await pool.grade(items.slice(0, 4));
      expect(res).toHaveLength(4);
      expect(res.some((r) => r.timedOut === true && r.reason.startsWith("killed"))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("gradeBatch returns results in input order whichever path it takes", async () => {
    expect(await gradeBatch(items, { workers: 2 })).toEqual(gradeMany(items));
    expect(await gradeBatch(items.slice(0, 5), { workers: 1 })).toEqual(gradeMany(items.slice(0, 5)));
  });
});
