/**
 * The evaluation plots: per benchmark, the accuracy-vs-token-budget curves of every evaluation on one chart (the
 * AUC in the legend), the response-length histograms, and accuracy and lengths per difficulty level.
 */
import { benchmarkDisplayName } from "../eval/compare.js";
import type { EvalRunData } from "./collect.js";
import { histogram, niceStep, plotId, type Plot, type Row } from "./plot.js";

const LENGTH_BINS = 24;

function benchmarksOf(evals: readonly EvalRunData[]): string[] {
  const names: string[] = [];
  for (const e of evals) for (const b of Object.keys(e.results.benchmarks)) if (!names.includes(b)) names.push(b);
  return names;
}

/** The legend entry of an evaluation on a budget chart: its label and AUC, so the number sits by its curve. */
export function curveSeries(label: string, auc: number): string {
  return `${label} (AUC ${auc.toFixed(1)})`;
}

function budgetCurvePlot(bench: string, evals: readonly EvalRunData[]): Plot {
  const rows: Row[] = [];
  for (const e of evals) {
    const m = e.results.benchmarks[bench];
    if (!m) continue;
    const series = curveSeries(e.info.label, m.auc);
    for (const p of m.budgetCurve) rows.push({ model: e.info.label, series, auc: m.auc, budget: p.budget, acc: p.acc });
  }
  const name = benchmarkDisplayName(bench);
  return {
    id: plotId("budget", bench),
    title: `${name}: accuracy vs token budget`,
    caption: "Acc(b): the share of all samples that are correct within b tokens. The AUC (in the legend) is the mean of Acc(b) over budgets 0…B; higher and further left is better.",
    columns: ["model", "auc", "budget", "acc"],
    rows,
    spec: {
      width: "container",
      height: 260,
      mark: { type: "line", interpolate: "step-after", strokeWidth: 2 },
      encoding: {
        x: { field: "budget", type: "quantitative", title: "token budget b" },
        y: { field: "acc", type: "quantitative", title: "accuracy within budget (%)", scale: { domain: [0, 100] } },
        color: { field: "series", type: "nominal", title: "model", legend: { orient: "bottom", labelLimit: 400 } },
        tooltip: [{ field: "model" }, { field: "budget", title: "budget" }, { field: "acc", title: "Acc %", format: ".1f" }],
      },
    },
  };
}

function lengthHistogramPlot(bench: string, evals: readonly EvalRunData[]): Plot {
  const present = evals.filter((e) => e.samples[bench] !== undefined);
  const max = Math.max(1, ...present.map((e) => e.results.benchmarks[bench]?.budget ?? 1), ...present.flatMap((e) => e.samples[bench].map((s) => s.tokens)));
  const step = niceStep(max, LENGTH_BINS);
  const rows: Row[] = [];
  for (const e of present) {
    const h = histogram(e.samples[bench].map((s) => s.tokens), max, step);
    h.counts.forEach((count, i) => rows.push({ model: e.info.label, binStart: i * step, binEnd: (i + 1) * step, samples: count }));
  }
  return {
    id: plotId("lengths", bench),
    title: `${benchmarkDisplayName(bench)}: response lengths`,
    caption: `Samples per length bin (${step} tokens wide), every evaluation overlaid: a squeezed model's bars move left.`,
    columns: ["model", "binStart", "binEnd", "samples"],
    rows,
    spec: {
      width: "container",
      height: 220,
      mark: { type: "bar", opacity: 0.55, binSpacing: 0 },
      encoding: {
        x: { field: "binStart", type: "quantitative", title: "response tokens", bin: { binned: true, step } },
        x2: { field: "binEnd" },
        y: { field: "samples", type: "quantitative", title: "samples", stack: null },
        color: { field: "model", type: "nominal", title: "model", legend: { orient: "bottom" } },
        tooltip: [{ field: "model" }, { field: "binStart", title: "from" }, { field: "binEnd", title: "to" }, { field: "samples" }],
      },
    },
  };
}

function levelPlot(bench: string, evals: readonly EvalRunData[]): Plot | null {
  const rows: Row[] = [];
  for (const e of evals) {
    const m = e.results.benchmarks[bench];
    if (!m) continue;
    for (const [level, g] of Object.entries(m.byLevel)) rows.push({ model: e.info.label, level: Number(level), samples: g.n, acc: g.acc, lenT: g.lenT, lenA: g.lenA });
  }
  if (rows.length === 0) return null;
  const panel = (field: string, title: string) => ({
    width: 220,
    height: 200,
    mark: { type: "bar" },
    encoding: {
      x: { field: "level", type: "ordinal", title: "level" },
      xOffset: { field: "model", type: "nominal" },
      y: { field, type: "quantitative", title },
      color: { field: "model", type: "nominal", title: "model", legend: { orient: "bottom" } },
      tooltip: [{ field: "model" }, { field: "level" }, { field, title, format: ".1f" }, { field: "samples" }],
    },
  });
  // With no correct sample at all, Len-T has no value to scale to: Vega would warn of an infinite extent and
  // draw an empty axis, so the panel is left out and the caption says why.
  const anyCorrect = rows.some((r) => r.lenT !== null && r.lenT !== undefined);
  return {
    id: plotId("levels", bench),
    title: `${benchmarkDisplayName(bench)}: accuracy and length by difficulty level`,
    caption: anyCorrect
      ? "Per level: Acc (%), Len-T (mean tokens of correct samples; no bar when none is correct) and Len-A (mean tokens of all samples)."
      : "Per level: Acc (%) and Len-A (mean tokens of all samples). No sample is correct, so there is no Len-T to draw.",
    columns: ["model", "level", "samples", "acc", "lenT", "lenA"],
    rows,
    spec: {
      hconcat: [panel("acc", "Acc (%)"), ...(anyCorrect ? [panel("lenT", "Len-T (tokens)")] : []), panel("lenA", "Len-A (tokens)")],
    },
  };
}

/** Every evaluation plot, benchmark by benchmark. */
export function evaluationPlots(evals: readonly EvalRunData[]): Plot[] {
  const plots: Plot[] = [];
  for (const bench of benchmarksOf(evals)) {
    plots.push(budgetCurvePlot(bench, evals), lengthHistogramPlot(bench, evals));
    const levels = levelPlot(bench, evals);
    if (levels) plots.push(levels);
  }
  return plots;
}
