/**
 * `tokensqueeze demo`: the whole method on the built-in model, as the paper reports it.
 *
 *   <out>/base-eval        the base model on the held-out problems (an evaluation run)
 *   <out>/squeeze          stages 1–3 on training problems (a squeeze run; the trained model in <out>/squeeze/model)
 *   <out>/squeezed-eval    the squeezed model on the same held-out problems
 *   <out>/round-<r>/…      rounds 2, 3, …: the same from the previous round's model (`--rounds`)
 *   <out>/demo.json        the summary (what `--json` prints)
 *
 * Every part is a resumable run, so running the demo again after Ctrl-C continues where it stopped and a finished
 * part is skipped in a moment. The table is the paper's Table 1 (Acc / Len-T (Δ%) / Len-A (Δ%) / AUC) overall and
 * per difficulty level, computed from the stored samples.
 */
import { join, resolve } from "node:path";
import type { RunConfig } from "../config/schema.js";
import type { Engine } from "../engines/engine.js";
import { openEngine, withResolvedModelPath } from "../engines/factory.js";
import { buildComparison, type BenchmarkSummary, type EvalSummary } from "../eval/compare.js";
import type { EvalReport } from "../eval/evaluate.js";
import type { BenchmarkMetrics, GroupMetrics } from "../eval/metrics.js";
import { runEvaluation } from "../eval/run.js";
import { roundDir, runSqueezeRounds, withModel } from "../squeeze/rounds.js";
import type { TrainSummary } from "../squeeze/train.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import type { ProgressReporter } from "../util/progress.js";
import { formatDifferences, paperDifferences } from "./config-differences.js";
import { describeOutcome } from "./outcome.js";
import { wasteOfRuns } from "./waste-of-runs.js";
import type { WasteProfile } from "../world/waste.js";

/** What the demo and the ablation both take: a configuration, a directory of runs, and how to run them. */
export interface PipelineRunOptions {
  /** The resolved configuration (the `demo`, `demo-quick` or `ci` preset and any overrides). */
  config: RunConfig;
  /** The directory of runs; the same directory again resumes. */
  out: string;
  /** Gradient threads for stage 3 (default: one per core). */
  threads?: number;
  progress?: ProgressReporter;
  signal?: AbortSignal;
  handleSignals?: boolean;
  resumeCommand?: string;
  argv?: readonly string[];
  cwd?: string;
}

export interface DemoOptions extends PipelineRunOptions {
  /** Squeeze rounds, each from the previous round's model (default: the config's `rounds`, 1 = the paper's one offline round). */
  rounds?: number;
  /** Called after each part with its name and seconds, for the command's own progress line. */
  onPart?: (part: DemoPart) => void;
}

export interface DemoPart {
  name: string;
  index: number;
  of: number;
  seconds: number;
}

/** The headline metrics of one evaluation (acc and AUC in %, lengths in tokens). */
export interface Headline {
  acc: number;
  lenT: number | null;
  lenA: number;
  auc: number;
  samples: number;
  problems: number;
}

export interface DemoRound {
  round: number;
  squeezeRun: string;
  evalRun: string;
  /** The squeezed model folder of this round. */
  model: string;
  metrics: Headline;
  byLevel: Record<string, Headline>;
  training: Pick<TrainSummary, "steps" | "pairs" | "lossFirst" | "lossLast" | "heldOutRewardAccuracy" | "seconds">;
  pairs: number;
}

export interface DemoResult {
  out: string;
  benchmark: string;
  base: Headline;
  /** The last round's model. */
  squeezed: Headline;
  byLevel: Record<string, { base: Headline; squeezed: Headline }>;
  rounds: DemoRound[];
  baseRun: string;
  /** The last round's model folder. */
  model: string;
  /** The Table-1 comparison, as printed. */
  table: string;
  /** What changed, in plain language (and honestly, when the squeeze did not work). */
  summary: string;
  /** Where the demo's settings differ from the paper's. */
  differences: string[];
  /** On the built-in world: where the base and the last round's correct answers spend their tokens (src/world/waste.ts). */
  waste?: { base: WasteProfile; squeezed: WasteProfile };
  /** The HTML report of the whole demo (`<out>/report.html`). */
  report: string;
  seconds: number;
}

function headline(m: GroupMetrics): Headline {
  return { acc: m.acc, lenT: m.lenT, lenA: m.lenA, auc: m.auc, samples: m.n, problems: m.problems };
}

function byLevel(m: BenchmarkMetrics): Record<string, Headline> {
  return Object.fromEntries(Object.entries(m.byLevel).map(([level, g]) => [level, headline(g)]));
}

/** One row of the table: "overall" and every level as columns, so `compare`'s Table-1 layout prints it. */
function summaryRow(label: string, m: BenchmarkMetrics): EvalSummary {
  const cell = (g: GroupMetrics): BenchmarkSummary => ({ n: g.n, acc: g.acc, lenT: g.lenT, lenA: g.lenA, auc: g.auc });
  const benchmarks: Record<string, BenchmarkSummary> = { overall: cell(m) };
  for (const [level, g] of Object.entries(m.byLevel)) benchmarks[`level ${level}`] = cell(g);
  return { label, benchmarks };
}

/**
 * The paper's Table 1 turned on its side: a block of rows per group (overall, then each level), one row per
 * model, columns Acc / Len-T (Δ%) / Len-A (Δ%) / AUC — readable in a terminal however many levels there are.
 * The Δ% are `compare`'s (against the first row of the block).
 */
export function formatTable1(rows: readonly EvalSummary[]): string {
  const comparison = buildComparison(rows);
  const withDelta = (v: number | null, d: number | undefined) =>
    v === null ? "—" : `${Math.round(v)}${d === undefined ? "" : ` (${d >= 0 ? "+" : "−"}${Math.abs(d).toFixed(1)}%)`}`;
  const header = ["", "model", "Acc", "Len-T (Δ%)", "Len-A (Δ%)", "AUC"];
  const body: string[][] = [];
  for (const group of comparison.benchmarks) {
    comparison.rows.forEach((r, i) => {
      const c = r.cells[group];
      body.push([i === 0 ? group : "", r.label, ...(c ? [c.acc.toFixed(1), withDelta(c.lenT, c.lenTDelta), withDelta(c.lenA, c.lenADelta), c.auc.toFixed(1)] : ["—", "—", "—", "—"])]);
    });
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
  return [line(header), ...body.map(line)].join("\n") + "\n";
}

/** The first benchmark's metrics of an evaluation (the demo evaluates one benchmark). */
function firstBenchmark(report: EvalReport): [string, BenchmarkMetrics] {
  const entry = Object.entries(report.benchmarks)[0];
  if (entry === undefined) throw new Error("the evaluation has no benchmark");
  return entry;
}

export function demoPaths(out: string, round: number): { squeeze: string; eval: string } {
  const base = roundDir(out, round);
  return { squeeze: join(base, "squeeze"), eval: join(base, "squeezed-eval") };
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const t0 = performance.now();
  const cwd = opts.cwd ?? process.cwd();
  const out = resolve(cwd, opts.out);
  const rounds = opts.rounds ?? opts.config.rounds;
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`runDemo: rounds must be a positive integer, got ${rounds}`);
  const config = withResolvedModelPath(opts.config, cwd);
  const parts = 1 + 2 * rounds;
  let partIndex = 0;
  let partName = "";
  let partStart = 0;
  const beginPart = (name: string): void => {
    partIndex++;
    partName = name;
    partStart = performance.now();
    opts.progress?.log(`demo [${partIndex}/${parts}] ${name}`);
  };
  const endPart = (): void => opts.onPart?.({ name: partName, index: partIndex, of: parts, seconds: (performance.now() - partStart) / 1000 });
  const common = { progress: opts.progress, signal: opts.signal, handleSignals: opts.handleSignals, resumeCommand: opts.resumeCommand, argv: opts.argv, cwd };
  const label = (round: number): string => (rounds > 1 ? ` (round ${round})` : "");

  // One engine per model: the base model serves its evaluation and round 1's sampling and refinement; each trained
  // model serves its evaluation and the next round's (runSqueezeRounds hands it over).
  const engine: Engine = await openEngine(config.engine, { cwd });
  const baseRun = join(out, "base-eval");
  const roundResults: DemoRound[] = [];
  const roundMetrics: BenchmarkMetrics[] = [];
  let baseReport: EvalReport | undefined;
  let waste: DemoResult["waste"];
  try {
    // The metrics come with each evaluation (computed from its stored samples): nothing is read back.
    beginPart("evaluate the base model");
    baseReport = await runEvaluation({ ...common, config, outDir: baseRun, engine });
    endPart();
    await runSqueezeRounds({
      ...common,
      config,
      dir: demoPaths(out, 1).squeeze,
      runDir: (round) => demoPaths(out, round).squeeze,
      rounds,
      engine,
      create: true,
      threads: opts.threads,
      trainBackend: "embedded",
      onRound: ({ round }) => beginPart(`squeeze: sample → select → refine → pairs → train${label(round)}`),
      afterRound: async ({ round, model, result }, trained) => {
        endPart();
        const training = result.training;
        if (training === undefined) throw new Error("the squeeze ran no training");
        const paths = demoPaths(out, round);
        beginPart(`evaluate the squeezed model${label(round)}`);
        const [, metrics] = firstBenchmark(await runEvaluation({ ...common, config: withModel(config, model), outDir: paths.eval, engine: trained }));
        endPart();
        roundMetrics.push(metrics);
        roundResults.push({
          round,
          squeezeRun: paths.squeeze,
          evalRun: paths.eval,
          model,
          metrics: headline(metrics),
          byLevel: byLevel(metrics),
          training: { steps: training.steps, pairs: training.pairs, lossFirst: training.lossFirst, lossLast: training.lossLast, heldOutRewardAccuracy: training.heldOutRewardAccuracy, seconds: training.seconds },
          pairs: result.summary.pairs,
        });
      },
    });
    const [benchmark] = firstBenchmark(baseReport);
    const profiles = await wasteOfRuns([baseRun, roundResults[roundResults.length - 1].evalRun], benchmark, engine, (m) => opts.progress?.log(`demo: ${m}`));
    waste = profiles && { base: profiles[0], squeezed: profiles[1] };
  } finally {
    await engine.close();
  }

  const [benchmark, baseMetrics] = firstBenchmark(baseReport!);
  const last = roundResults[roundResults.length - 1];
  const rows = [summaryRow("base", baseMetrics), ...roundMetrics.map((m, i) => summaryRow(rounds > 1 ? `round ${i + 1}` : "squeezed", m))];
  const table = formatTable1(rows);
  const levels = Object.keys(baseMetrics.byLevel);
  const byLevelPair = Object.fromEntries(levels.map((l) => [l, { base: headline(baseMetrics.byLevel[l]), squeezed: last.byLevel[l] }]));
  const base = headline(baseMetrics);
  const result: DemoResult = {
    out,
    benchmark,
    base,
    squeezed: last.metrics,
    byLevel: byLevelPair,
    rounds: roundResults,
    baseRun,
    model: last.model,
    table,
    summary: describeOutcome({ base, squeezed: last.metrics, byLevel: byLevelPair, rounds: roundResults.map((r) => r.metrics), waste }),
    differences: formatDifferences(paperDifferences(opts.config)),
    waste,
    report: join(out, "report.html"),
    seconds: 0,
  };
  // demo.json first: the report shows it. Then again with the time the report took.
  const writeSummary = () => {
    result.seconds = (performance.now() - t0) / 1000;
    writeFileAtomic(join(out, "demo.json"), JSON.stringify(demoJson(result), null, 2) + "\n");
  };
  writeSummary();
  // Loaded here: the report inlines the plotting libraries, which nothing before this point needs.
  const { writeReport } = await import("../report/index.js");
  await writeReport({ inputs: [out], out: result.report, title: "TokenSqueeze demo", cwd });
  writeSummary();
  return result;
}

/** The `--json` shape: headline metrics, per level, the runs and the squeezed model. */
export function demoJson(r: DemoResult): Record<string, unknown> {
  return {
    base: r.base,
    squeezed: r.squeezed,
    byLevel: r.byLevel,
    rounds: r.rounds,
    benchmark: r.benchmark,
    out: r.out,
    runs: { base: r.baseRun, squeeze: r.rounds.map((x) => x.squeezeRun), squeezed: r.rounds.map((x) => x.evalRun) },
    model: r.model,
    report: r.report,
    summary: r.summary,
    differences: r.differences,
    ...(r.waste === undefined ? {} : { waste: r.waste }),
    seconds: r.seconds,
  };
}

export function formatDemo(r: DemoResult): string {
  const lines = [
    `TokenSqueeze on ${r.benchmark}: base model vs squeezed model (${r.base.problems} problems × ${Math.round(r.base.samples / Math.max(1, r.base.problems))} samples)`,
    "",
    r.table.trimEnd(),
    "",
    r.summary,
    "",
  ];
  if (r.differences.length > 0) {
    lines.push("Settings that differ from the paper's (they fit a laptop; see `config show --preset`):");
    for (const d of r.differences) lines.push(`  ${d}`);
    lines.push("");
  }
  lines.push(`Runs: ${r.out} (base-eval, squeeze, squeezed-eval); squeezed model: ${r.model}`);
  lines.push(`Report: ${r.report}`);
  lines.push(`Took ${formatSeconds(r.seconds)}.`);
  return lines.join("\n") + "\n";
}

function formatSeconds(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${Math.round(s - 60 * m)} s` : `${s.toFixed(1)} s`;
}
