/**
 * `tokensqueeze demo` and `ablate` end to end on the built-in model at CI sizes (the `ci` preset, on easy levels, with
 * room for most level-2 answers too), through the CLI as a user runs them.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "../../src/store/index.js";
import { countInRun, runCliAsync, tempDir } from "../helpers.js";

/** The smallest demo that still has pairs to train on. */
const CI_DEMO = [
  "--preset", "ci",
  "--set", "sampling.maxTokens=384",
  "--set", "evaluation.maxTokens=384",
  "--set", "datasets.0.limit=6",
  "--threads", "1",
  "--progress", "none",
];

interface Headline {
  acc: number;
  lenT: number | null;
  lenA: number;
  auc: number;
  samples: number;
  problems: number;
}

function checkHeadline(h: Headline, samples: number): void {
  expect(h.samples).toBe(samples);
  for (const v of [h.acc, h.auc]) {
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(100);
  }
  expect(h.lenA).toBeGreaterThan(0);
  expect(h.lenA).toBeLessThanOrEqual(384);
  if (h.lenT !== null) expect(h.lenT).toBeGreaterThan(0);
}

describe("tokensqueeze demo", () => {
  const out = join(tempDir("ts-demo-"), "demo");
  let first: { status: number | null; stdout: string; stderr: string };

  beforeAll(async () => {
    first = await runCliAsync(["demo", ...CI_DEMO, "--out", out, "--json"], { timeoutMs: 600_000 });
  }, 620_000);

  it("evaluates, squeezes, trains and evaluates again, and prints the summary as JSON", () => {
    expect(first.status, first.stderr).toBe(0);
    const r = JSON.parse(first.stdout);
    // ci preset: 4 held-out problems × 2 samples.
    checkHeadline(r.base, 8);
    checkHeadline(r.squeezed, 8);
    expect(Object.keys(r.byLevel).length).toBeGreaterThan(0);
    for (const l of Object.values(r.byLevel) as Array<{ base: Headline; squeezed: Headline }>) {
      expect(l.base.samples).toBe(l.squeezed.samples);
    }
    expect(r.rounds).toHaveLength(1);
    expect(r.rounds[0].training.steps).toBeGreaterThan(0);
    expect(r.rounds[0].pairs).toBeGreaterThan(0);
    expect(existsSync(join(r.model, "model.safetensors"))).toBe(true);
    expect(r.model).toBe(join(out, "squeeze", "model"));
    expect(existsSync(r.report)).toBe(true);
    expect(r.seconds).toBeGreaterThan(0);
    // The paper comparison is stated either way, and where the settings differ from the paper's.
    expect(r.summary).toMatch(/paper's finding/);
    // On the world, where the tokens went: the world's own analysis recognises the built-in model's steps.
    expect(r.summary).toMatch(/Where it came from/);
    expect(r.waste.base.recognised).toBeGreaterThan(80);
    expect(r.waste.base.answers).toBeGreaterThan(0);
    expect(r.waste.base.lenT).toBeCloseTo(r.base.lenT, 0);
    expect(r.differences).toContain("sampling.n = 4 (paper: 32)");
    expect(JSON.parse(readFileSync(join(out, "demo.json"), "utf8")).base).toEqual(r.base);
    // Both evaluations are stored runs: 8 samples each.
    expect(countInRun(join(out, "base-eval"), "select count(*) as n from eval_samples")).toBe(8);
    expect(countInRun(join(out, "squeezed-eval"), "select count(*) as n from eval_samples")).toBe(8);
  });

  it("resumes: run again, it recomputes nothing and prints the same table", async () => {
    const again = await runCliAsync(["demo", ...CI_DEMO, "--out", out], { timeoutMs: 300_000 });
    expect(again.status, again.stderr).toBe(0);
    const r = JSON.parse(readFileSync(join(out, "demo.json"), "utf8"));
    const table = again.stdout;
    expect(table).toMatch(/^overall\s+base\s/m);
    expect(table).toMatch(/^\s+squeezed\s/m);
    // The text table shows the same numbers as the JSON.
    expect(table).toContain(r.base.acc.toFixed(1));
    expect(table).toContain(r.squeezed.auc.toFixed(1));
    expect(table).toMatch(/Settings that differ from the paper's/);
    // Finished stages were skipped: the squeeze run has one record per stage run, not two.
    expect(countInRun(join(out, "squeeze"), "select count(*) as n from train_steps")).toBe(r.rounds[0].training.steps);
  }, 320_000);

  it("--rounds 2 on the same directory keeps round 1 and adds a round sampled from round 1's model", async () => {
    const before = JSON.parse(readFileSync(join(out, "demo.json"), "utf8"));
    const two = await runCliAsync(["demo", ...CI_DEMO, "--rounds", "2", "--out", out, "--json"], { timeoutMs: 600_000 });
    expect(two.status, two.stderr).toBe(0);
    const r = JSON.parse(two.stdout);
    expect(r.rounds.map((x: { round: number }) => x.round)).toEqual([1, 2]);
    // Round 1 was read back, not redone.
    expect(r.rounds[0].metrics).toEqual(before.rounds[0].metrics);
    expect(r.base).toEqual(before.base);
    // Round 2 lives in round-2/, sampled from round 1's trained model, and its model is the demo's result.
    const round2 = join(out, "round-2", "squeeze");
    expect(r.rounds[1].squeezeRun).toBe(round2);
    expect(r.rounds[1].evalRun).toBe(join(out, "round-2", "squeezed-eval"));
    expect(r.model).toBe(join(round2, "model"));
    expect(r.squeezed).toEqual(r.rounds[1].metrics);
    checkHeadline(r.squeezed, 8);
    const store = RunStore.open(round2, { readonly: true });
    try {
      expect(store.model.name).toBe(before.model);
    } finally {
      store.close();
    }
    expect(countInRun(join(out, "round-2", "squeezed-eval"), "select count(*) as n from eval_samples")).toBe(8);
    expect(r.summary).toMatch(/Rounds: round 1 .*; round 2 /);
  }, 620_000);

  it("says which flag is wrong (exit 2)", async () => {
    const bad = await runCliAsync(["demo", "--rounds", "0", "--out", join(tempDir(), "x")]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--rounds/);
  });
});

describe("tokensqueeze ablate", () => {
  it("trains the method and an arm from one set of samples and prints one table with the paper's findings", async () => {
    const out = join(tempDir("ts-ablate-"), "ablate");
    const r = await runCliAsync(["ablate", ...CI_DEMO, "--arms", "shortest", "--out", out, "--json"], { timeoutMs: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.rows.map((x: { name: string }) => x.name)).toEqual(["base model", "q-dyn", "shortest"]);
    for (const row of j.rows) {
      expect(row.acc).toBeGreaterThanOrEqual(0);
      expect(row.acc).toBeLessThanOrEqual(100);
      // On the world every row says where its correct answers' tokens go.
      expect(row.waste.recognised).toBeGreaterThan(80);
      expect(row.waste.wording + row.waste.idleChecks + row.waste.usefulChecks).toBeLessThanOrEqual(row.waste.lenT);
    }
    // Sampled once: the arm's copy holds the method's samples and did not sample again.
    const samples = countInRun(join(out, "q-dyn", "squeeze"), "select count(*) as n from samples");
    expect(samples).toBeGreaterThan(0);
    expect(countInRun(join(out, "shortest", "squeeze"), "select count(*) as n from samples")).toBe(samples);
    expect(countInRun(join(out, "shortest", "squeeze"), "select count(*) as n from _stages where name = 'sample' and status = 'complete'")).toBe(1);
    // q-dyn vs shortest on levels 4–5 is checked; the arms that did not run leave their findings open.
    const findings = j.findings as Array<{ claim: string; holds: boolean | null }>;
    expect(findings).toHaveLength(3);
    expect(findings.filter((f) => f.holds === null)).toHaveLength(2);
  }, 620_000);

  it("rejects an unknown arm (exit 2)", async () => {
    const bad = await runCliAsync(["ablate", "--arms", "nope", "--out", join(tempDir(), "x")]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--arms: unknown arm "nope"/);
  });
});
