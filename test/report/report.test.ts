/**
 * `tokensqueeze report` end to end in real headless Chromium: small real runs made once for the file with the ci
 * preset (an evaluation of the base model, a squeeze run before and after training, an evaluation of the trained
 * model, laid out as a demo directory, and an evaluation of other problems), then reports of each mix opened in
 * light and dark mode. Screenshots and the measured open times go to the artifacts folder the test prints.
 */
import Database from "better-sqlite3";
import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEvalRun } from "../../src/eval/results.js";
import { writeReport } from "../../src/report/index.js";
import { runCliAsync as runCli, tempDir } from "../helpers.js";
import { artifactsDir, launchChromium, openReport, parseCsv, type OpenedReport } from "./browser.js";

const BENCH = "world-test";
const squeezeArgs = [
  "--preset",
  "ci",
  // 12 problems and 6 samples give the tiny ci run several problems with 0 < p < 1 (so pairs and refined steps);
  // 128 tokens keep it quick (level-1 answers finish); no held-out share, so all of its few pairs train.
  "--limit",
  "12",
  "--samples",
  "6",
  "--max-tokens",
  "128",
  "--set",
  "training.steps=2",
  "--set",
  "training.heldOutFraction=0",
  "--progress",
  "none",
];

async function cli(args: string[]): Promise<string> {
  const r = await runCli(args, { timeoutMs: 600_000 });
  expect(r.status, `${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

function query<T>(dir: string, sql: string): T[] {
  const db = new Database(join(dir, "run.sqlite"), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** Every plot's CSV holds exactly the numbers its Vega view draws, column by column and row by row. */
function expectCsvMatchesViews(page: OpenedReport): void {
  for (const [id, text] of Object.entries(page.csv)) {
    const csv = parseCsv(text);
    const view = page.viewRows[id];
    expect(csv.length, id).toBe(view.length);
    expect(csv.length, id).toBeGreaterThan(0);
    csv.forEach((row, i) => {
      for (const [col, value] of Object.entries(row)) {
        const drawn = view[i][col];
        if (value === "") expect(drawn ?? null, `${id} row ${i} ${col}`).toBeNull();
        else if (typeof drawn === "number") expect(Number(value), `${id} row ${i} ${col}`).toBe(drawn);
        else expect(value, `${id} row ${i} ${col}`).toBe(drawn);
      }
    });
  }
}

function expectEveryPlotDrawn(page: OpenedReport): void {
  expect(Object.keys(page.marks).length).toBeGreaterThan(0);
  for (const [id, n] of Object.entries(page.marks)) expect(n, `marks drawn in ${id}`).toBeGreaterThan(0);
  expect(page.problems).toEqual([]);
}

describe("tokensqueeze report", () => {
  let root: string;
  let demo: string;
  let untrained: string;
  let other: string;
  let browser: Browser;
  const artifacts = artifactsDir("report");
  const figures: Record<string, unknown> = {};

  beforeAll(async () => {
    root = tempDir("ts-report-");
    demo = join(root, "demo");
    mkdirSync(demo);
    untrained = join(root, "untrained");
    other = join(root, "other-eval");
    const squeezed = (async () => {
      await cli(["squeeze", ...squeezeArgs, "--out", join(demo, "squeeze")]);
      cpSync(join(demo, "squeeze"), untrained, { recursive: true });
      await cli(["train", "--run", join(demo, "squeeze"), "--threads", "1", "--progress", "none"]);
      await cli(["eval", "--preset", "ci", "--model", join(demo, "squeeze", "model"), "--out", join(demo, "squeezed-eval"), "--progress", "none"]);
    })();
    await cli(["eval", "--preset", "ci", "--out", join(demo, "base-eval"), "--progress", "none"]);
    // `other` gets 16 tokens: too few for any answer to finish, so the report must also render an evaluation with no
    // correct sample (no Len-T to draw) without a console warning.
    await cli(["eval", "--preset", "ci", "--limit", "2", "--samples", "1", "--max-tokens", "16", "--out", other, "--progress", "none"]);
    await squeezed;
    browser = await launchChromium();
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    writeFileSync(join(artifacts, "figures.json"), JSON.stringify(figures, null, 2) + "\n");
    console.log(`report test artifacts (screenshots, figures.json): ${artifacts}`);
  });

  it("renders a demo directory: both evaluations on one budget chart, every stage, CSVs equal to the plotted numbers, light and dark", async () => {
    const out = join(root, "demo.html");
    const result = await writeReport({ inputs: [demo], out });
    expect(result.path).toBe(out);
    expect(result.missing).toEqual([]);
    // Budget, lengths, levels; stage 1 (2), stage 2 (2), stage 3 (4).
    expect(result.plots).toBe(11);
    const bytes = statSync(out).size;
    expect(result.bytes).toBe(bytes);
    expect(bytes).toBeLessThan(5 * 1024 * 1024);
    figures.demoBytes = bytes;

    const light = await openReport(browser, out, "light", join(artifacts, "demo-light.png"));
    const dark = await openReport(browser, out, "dark", join(artifacts, "demo-dark.png"));
    figures.demoOpenMs = { light: Math.round(light.openMs), dark: Math.round(dark.openMs) };
    for (const page of [light, dark]) {
      expectEveryPlotDrawn(page);
      expectCsvMatchesViews(page);
    }
    // The page and the plots follow the colour scheme.
    expect(light.background).not.toBe(dark.background);
    expect(light.axisLabelFill).not.toBeNull();
    expect(dark.axisLabelFill).not.toBe(light.axisLabelFill);

    // Both evaluations' curves on one chart, each legend entry carrying its AUC.
    const budgetId = `budget-${BENCH}`;
    expect(light.lines[budgetId]).toBe(2);
    const base = readEvalRun(join(demo, "base-eval")).benchmarks[BENCH];
    const squeezed = readEvalRun(join(demo, "squeezed-eval")).benchmarks[BENCH];
    expect(light.legends[budgetId]).toEqual([`base-eval (AUC ${base.auc.toFixed(1)})`, `squeezed-eval (AUC ${squeezed.auc.toFixed(1)})`]);
    // The CSV's curve is the budget curve the metrics define, for each model.
    const curve = parseCsv(light.csv[budgetId]);
    expect(curve.filter((r) => r.model === "base-eval").map((r) => [Number(r.budget), Number(r.acc)])).toEqual(base.budgetCurve.map((p) => [p.budget, p.acc]));
    expect(curve.filter((r) => r.model === "squeezed-eval").map((r) => [Number(r.budget), Number(r.acc)])).toEqual(squeezed.budgetCurve.map((p) => [p.budget, p.acc]));

    // Stage 1 and stage 3 numbers straight from the run's tables.
    const squeeze = join(demo, "squeeze");
    const passRates = query<{ passRate: number; n: number }>(squeeze, "SELECT passRate, count(*) AS n FROM selections GROUP BY passRate ORDER BY passRate");
    expect(parseCsv(light.csv["passrate-squeeze"]).map((r) => [Number(r.passRate), Number(r.problems)])).toEqual(passRates.map((r) => [r.passRate, r.n]));
    const steps = query<{ step: number; loss: number; dpo: number; sft: number }>(squeeze, "SELECT step, loss, dpo, sft FROM train_steps ORDER BY step");
    expect(steps).toHaveLength(2);
    const loss = parseCsv(light.csv["train-loss-squeeze"]);
    expect(loss.filter((r) => r.series === "loss").map((r) => [Number(r.step), Number(r.value)])).toEqual(steps.map((s) => [s.step, s.loss]));
    expect(loss.filter((r) => r.series === "SFT term").map((r) => Number(r.value))).toEqual(steps.map((s) => s.sft));

    // Refined steps side by side with the deleted words visible (the fixture run rewrites some steps).
    const accepted = query<{ n: number }>(squeeze, "SELECT count(*) AS n FROM refined_steps WHERE accepted IS NOT NULL")[0].n;
    expect(accepted).toBeGreaterThan(0);
    expect(light.deletions).toBeGreaterThan(0);
    expect(light.text).toContain("Original vs refined steps");
    // Configuration and model identities, collapsed.
    const html = readFileSync(out, "utf8");
    expect(html).toMatch(/<details id="configuration">/);
    expect(html).toContain(join(demo, "squeeze", "model"));
    expect(light.text).not.toContain("not in this run");
  });

  it("renders an evaluation-only run and says the squeeze stages are not in it", async () => {
    const out = join(root, "eval-only.html");
    const result = await writeReport({ inputs: [join(demo, "base-eval")], out });
    expect(result.plots).toBe(3);
    expect(result.missing).toEqual(["squeeze stages: no squeeze run among the inputs"]);
    const page = await openReport(browser, out, "light", join(artifacts, "eval-only-light.png"));
    expectEveryPlotDrawn(page);
    expectCsvMatchesViews(page);
    expect(page.lines[`budget-${BENCH}`]).toBe(1);
    expect(page.text).toContain("not in this run: no squeeze run among the inputs");
  });

  it("renders a squeeze run without training: stages 1–2 drawn, stage 3 and the evaluation said to be missing", async () => {
    const out = join(root, "untrained.html");
    const result = await writeReport({ inputs: [untrained], out });
    expect(result.plots).toBe(4);
    expect(result.missing).toEqual(["evaluation: no evaluation run among the inputs", "untrained: stage 3: no training steps are stored (`tokensqueeze train --run …`; the TRL backend keeps its metrics outside the run)"]);
    const page = await openReport(browser, out, "dark", join(artifacts, "untrained-dark.png"));
    expectEveryPlotDrawn(page);
    expectCsvMatchesViews(page);
    expect(Object.keys(page.marks).sort()).toEqual(["acceptance-untrained", "pairs-per-problem-untrained", "passrate-untrained", "step-lengths-untrained"]);
    expect(page.text).toContain("not in this run: no training steps are stored");
    expect(page.text).toContain("not in this run: no evaluation among the inputs");
  });

  it("renders an interrupted demo directory: what it has, and the parts not run yet", async () => {
    const partial = join(root, "partial-demo");
    cpSync(join(demo, "base-eval"), join(partial, "base-eval"), { recursive: true });
    cpSync(untrained, join(partial, "squeeze"), { recursive: true });
    const out = join(root, "partial.html");
    const result = await writeReport({ inputs: [partial], out });
    expect(result.plots).toBe(7);
    expect(result.missing[0]).toBe(`demo: ${join(partial, "squeezed-eval")}: not run yet`);
    const page = await openReport(browser, out, "light");
    expectEveryPlotDrawn(page);
    expect(page.text).toContain(`not in this run: ${join(partial, "squeezed-eval")} has not run yet`);

    // An evaluation stopped before its first sample is named, not fatal.
    const stopped = join(root, "stopped-demo");
    cpSync(join(demo, "base-eval"), join(stopped, "base-eval"), { recursive: true });
    cpSync(join(demo, "squeezed-eval"), join(stopped, "squeezed-eval"), { recursive: true });
    const db = new Database(join(stopped, "squeezed-eval", "run.sqlite"));
    db.prepare("DELETE FROM eval_samples").run();
    db.close();
    const r2 = await writeReport({ inputs: [stopped], out: join(root, "stopped.html") });
    expect(r2.missing.slice(0, 2)).toEqual([`demo: ${join(stopped, "squeeze")}: not run yet`, `evaluation ${join(stopped, "squeezed-eval")}: no samples yet`]);
    expect(r2.plots).toBe(3);
    expect(readFileSync(r2.path, "utf8")).toContain(`not in this run: the evaluation ${join(stopped, "squeezed-eval")} has no samples yet`);
  });

  it("the CLI prints compare's table, says when evaluations cover different problems, and withholds Δ% unless --allow-mismatch", async () => {
    const out = join(root, "mismatch.html");
    const r = await runCli(["report", join(demo, "base-eval"), other, "-o", out]);
    expect(r.status, r.stderr).toBe(0);
    const compare = await runCli(["compare", join(demo, "base-eval"), other]);
    expect(compare.status, compare.stderr).toBe(0);
    // The same headline table (and notes) as compare.
    expect(r.stdout.startsWith(compare.stdout)).toBe(true);
    expect(compare.stdout).toContain("other-eval, world-test: covers other problems: 2 shared, 2 only in base-eval, 0 only in other-eval; 1 sample per problem vs 2 samples per problem in base-eval");
    expect(compare.stdout).toContain("their Δ% is withheld (--allow-mismatch shows it)");
    expect(compare.stdout).not.toMatch(/%\)/);
    const page = await openReport(browser, out, "light");
    expectEveryPlotDrawn(page);
    expect(page.text).toContain("their Δ% is withheld");

    const allowed = await runCli(["compare", join(demo, "base-eval"), other, "--allow-mismatch"]);
    expect(allowed.status, allowed.stderr).toBe(0);
    expect(allowed.stdout).toMatch(/\([+-]\d+\.\d%\)\*/);
    expect(allowed.stdout).toContain("Δ% shown anyway (--allow-mismatch)");
  });

  it("refuses what is not a run, with exit code 2", async () => {
    const r = await runCli(["report", join(root, "missing"), "-o", join(root, "x.html")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`report: ${join(root, "missing")}: no such run or directory`);
    const notRun = tempDir();
    const r2 = await runCli(["report", notRun, "-o", join(root, "x.html")]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain("not a run (no run.sqlite) and not a demo directory");
  });
});
