/**
 * `tokensqueeze eval` and `compare` end to end, as a user runs them: the tiny fixture model (accuracy ~0 is
 * expected of it) on real benchmark subsets, fail-fast errors, --limit/--levels, and SIGKILL + resume giving
 * exactly the results of an uninterrupted run.
 */
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { GroupMetrics } from "../../src/eval/metrics.js";
import { describe, expect, it } from "vitest";
import { countInRun, repoRoot, runCli, sharedData, tempDir } from "../helpers.js";

const tinyModel = join(repoRoot, "test", "fixtures", "tiny-llama");
const common = ["--model", tinyModel, "--data-dir", sharedData, "--progress", "none"];

type GroupJson = GroupMetrics;
interface BenchJson extends GroupJson {
  budget: number;
  samplesPerProblem: number;
  budgetCurve: Array<{ budget: number; acc: number }>;
  byLevel: Record<string, GroupJson>;
  bySubject: Record<string, GroupJson>;
  errors: number;
  firstError?: { problemId: string; error: string };
}

function evalJson(args: string[]): { json: Record<string, BenchJson>; stderr: string } {
  const r = runCli(["eval", ...common, ...args, "--json"], { timeoutMs: 180_000 });
  expect(r.status, r.stderr).toBe(0);
  return { json: JSON.parse(r.stdout) as Record<string, BenchJson>, stderr: r.stderr };
}

function sampleRows(dir: string): unknown[] {
  const db = new Database(join(dir, "run.sqlite"), { readonly: true });
  try {
    return db.prepare(`SELECT * FROM eval_samples ORDER BY benchmark, problemId, sampleIndex`).all();
  } finally {
    db.close();
  }
}

function doneItems(dir: string): number {
  return countInRun(dir, `SELECT count(*) AS n FROM _items WHERE stage = 'eval' AND status = 'ok'`);
}

function expectGroup(g: GroupJson, n: number): void {
  expect(g.n).toBe(n);
  for (const key of ["acc", "lenA", "auc", "truncationRate"] as const) {
    expect(typeof g[key], key).toBe("number");
    expect(Number.isFinite(g[key]), key).toBe(true);
  }
  expect(g.acc).toBeGreaterThanOrEqual(0);
  expect(g.acc).toBeLessThanOrEqual(100);
  expect(g.auc).toBeLessThanOrEqual(g.acc);
  // Len-T is a number exactly when something is correct.
  expect(g.lenT === null).toBe(g.acc === 0);
  expect(g.passAtK["1"]).toBeCloseTo(g.acc, 9);
}

describe("tokensqueeze eval (tiny fixture model)", () => {
  it("evaluates MATH-500 and GSM8K subsets and reports every metric", () => {
    const out = join(tempDir(), "run");
    const { json } = evalJson(["--bench", "math500,gsm8k", "--limit", "4", "--samples", "2", "--max-tokens", "24", "--out", out]);
    expect(Object.keys(json)).toEqual(["math500", "gsm8k"]);
    for (const name of ["math500", "gsm8k"]) {
      const m = json[name];
      expectGroup(m, 8);
      expect(m.problems).toBe(4);
      expect(m.samplesPerProblem).toBe(2);
      expect(m.budget).toBe(24);
      expect(Object.keys(m.passAtK)).toEqual(["1", "2"]);
      expect(m.lenA).toBeGreaterThan(0);
      expect(m.lenA).toBeLessThanOrEqual(24);
      expect(m.budgetCurve[0].budget).toBe(0);
      expect(m.budgetCurve[m.budgetCurve.length - 1].budget).toBe(24);
    }
    // MATH-500 has levels and subjects; GSM8K has neither.
    const levels = Object.values(json.math500.byLevel);
    expect(levels.length).toBeGreaterThan(0);
    expect(levels.reduce((a, g) => a + g.n, 0)).toBe(8);
    for (const g of levels) expectGroup(g, g.n);
    expect(Object.values(json.math500.bySubject).reduce((a, g) => a + g.n, 0)).toBe(8);
    expect(json.gsm8k.byLevel).toEqual({});

    // Everything the report needs is stored per sample.
    const rows = sampleRows(out) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(16);
    for (const r of rows) {
      expect(typeof r.text).toBe("string");
      expect(r.tokens).toBeLessThanOrEqual(24);
      expect(["stop", "length"]).toContain(r.finishReason);
      expect([0, 1]).toContain(r.correct);
    }
    const truncated = rows.filter((r) => r.benchmark === "gsm8k" && r.finishReason === "length").length;
    expect(json.gsm8k.truncationRate).toBeCloseTo((100 * truncated) / 8, 9);
    expect(rows.filter((r) => r.benchmark === "math500").every((r) => typeof r.level === "number" && typeof r.subject === "string")).toBe(true);

    // The terminal table, the comparison of the run with its own --json output, and Markdown.
    const table = runCli(["eval", ...common, "--bench", "math500,gsm8k", "--limit", "4", "--samples", "2", "--max-tokens", "24", "--out", out]);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/MATH-500\s+4\s+8\s/);
    expect(table.stdout).toMatch(/GSM8K\s+4\s+8\s/);
    expect(table.stdout).toContain("level ");
    const jsonFile = join(tempDir(), "again.json");
    writeFileSync(jsonFile, JSON.stringify(json));
    const cmp = runCli(["compare", out, jsonFile, "--markdown"]);
    expect(cmp.status, cmp.stderr).toBe(0);
    expect(cmp.stdout).toContain("| Model | MATH-500 Acc | MATH-500 Len-T | MATH-500 Len-A | MATH-500 AUC | GSM8K Acc");
    expect(cmp.stdout).toContain("| again |");
    expect(cmp.stdout).toContain("(+0.0%)");
  });

  it("--limit and --levels restrict the problems", () => {
    const out = join(tempDir(), "run");
    const { json } = evalJson(["--bench", "math500", "--levels", "1,2", "--limit", "3", "--samples", "1", "--max-tokens", "8", "--out", out]);
    const m = json.math500;
    // One of the three prompts (922 tokens) does not fit the tiny model's 512-token context: an error, not a sample.
    expect(m.errors).toBe(1);
    expect(m.firstError?.error).toMatch(/the prompt has \d+ tokens and the model's context is 512/);
    expect(m.problems).toBe(2);
    expect(m.n).toBe(2);
    expect(Object.keys(m.byLevel).every((l) => l === "1" || l === "2")).toBe(true);
    const rows = sampleRows(out) as Array<{ level: number }>;
    expect(rows.map((r) => r.level).every((l) => l === 1 || l === 2)).toBe(true);
  });

  it("evaluates the built-in world benchmark, per level, under its one name", () => {
    const out = join(tempDir(), "run");
    // `world` is another name of `world-test`; results are keyed (and seeded) by the one name.
    const { json } = evalJson(["--bench", "world", "--limit", "5", "--samples", "1", "--max-tokens", "8", "--out", out]);
    expect(Object.keys(json)).toEqual(["world-test"]);
    expect(json["world-test"].problems).toBe(5);
    expect(Object.keys(json["world-test"].byLevel)).toEqual(["1", "2", "3", "4", "5"]);
  });

  it("--prompt chat renders the model's own chat template", () => {
    const out = join(tempDir(), "run");
    evalJson(["--bench", "gsm8k", "--limit", "1", "--samples", "1", "--max-tokens", "8", "--prompt", "chat", "--out", out]);
    const db = new Database(join(out, "run.sqlite"), { readonly: true });
    const { prompt } = db.prepare(`SELECT prompt FROM eval_problems`).get() as { prompt: string };
    db.close();
    expect(prompt.startsWith("<|im_start|>user\n")).toBe(true);
    expect(prompt).toContain("Please reason step by step, and put your final answer within \\boxed{}.");
    expect(prompt.endsWith("<|im_start|>assistant\n")).toBe(true);
  });

  it("killed with SIGKILL mid-way and resumed, gives the same results as an uninterrupted run", async () => {
    // Enough problems that a run at concurrency 1 outlasts several of the runner's commit intervals (≤ 1 s each),
    // however fast the engine gets, so the kill lands mid-run.
    const problems = 150;
    const args = ["--bench", "gsm8k", "--limit", String(problems), "--samples", "2", "--max-tokens", "40", "--seed", "7"];
    // Uninterrupted, with more problems in flight: results must not depend on concurrency either.
    const straightDir = join(tempDir(), "straight");
    const straight = evalJson([...args, "--concurrency", "3", "--out", straightDir]);

    const killedDir = join(tempDir(), "killed");
    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), "eval", ...common, ...args, "--concurrency", "1", "--out", killedDir, "--json"], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let childErr = "";
    child.stderr!.on("data", (d: Buffer) => (childErr += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)));
    const start = Date.now();
    while (doneItems(killedDir) < 3) {
      if (child.exitCode !== null) throw new Error(`eval exited before it could be killed:\n${childErr}`);
      if (Date.now() - start > 120_000) throw new Error(`no progress within 120 s:\n${childErr}`);
      await sleep(20);
    }
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    const atKill = doneItems(killedDir);
    expect(atKill).toBeGreaterThanOrEqual(3);
    expect(atKill).toBeLessThan(problems);

    const resumed = runCli(["eval", ...common, ...args, "--concurrency", "1", "--out", killedDir, "--json", "--progress", "json"], { timeoutMs: 180_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    const done = resumed.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { type: string; resumed?: number })
      .find((e) => e.type === "stage-done");
    expect(done?.resumed).toBe(atKill);

    expect(JSON.parse(resumed.stdout)).toEqual(straight.json);
    expect(sampleRows(killedDir)).toEqual(sampleRows(straightDir));
  });
});

describe("tokensqueeze eval fails fast, before any sampling", () => {
  it("on a missing model folder", () => {
    const out = join(tempDir(), "run");
    const r = runCli(["eval", "--model", "/no/such/model-folder", "--bench", "gsm8k", "--limit", "1", "--data-dir", sharedData, "--out", out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("model folder not found: /no/such/model-folder");
    expect(existsSync(out)).toBe(false);
  });

  it("on an unknown benchmark", () => {
    const out = join(tempDir(), "run");
    const r = runCli(["eval", ...common, "--bench", "math500,no-such-bench", "--out", out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no-such-bench/);
    expect(r.stderr).toMatch(/unknown dataset/);
    expect(existsSync(out)).toBe(false);
  });

  it("on a benchmark its filters leave empty", () => {
    const out = join(tempDir(), "run");
    const r = runCli(["eval", ...common, "--bench", "gsm8k", "--levels", "3", "--out", out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("benchmark gsm8k: no problems left to evaluate (levels 3)");
    expect(existsSync(out)).toBe(false);
  });

  it("on an engine that cannot be reached", async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const out = join(tempDir(), "run");
    const t0 = Date.now();
    const r = runCli(["eval", "--engine", "openai", "--base-url", `http://127.0.0.1:${port}/v1`, "--served-model", "some-model", "--bench", "gsm8k", "--limit", "1", "--data-dir", sharedData, "--out", out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`no server answered: http://127.0.0.1:${port}: http://127.0.0.1:${port}/v1/models`);
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(existsSync(out)).toBe(false);
  });

  it("on bad flag values, naming the flag", () => {
    const r = runCli(["eval", ...common, "--bench", "gsm8k", "--samples", "0"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--samples: expected a positive integer, got "0"');
    const p = runCli(["eval", ...common, "--bench", "gsm8k", "--prompt", "fancy"]);
    expect(p.status).toBe(2);
    expect(p.stderr).toContain("--prompt");
  });
});
